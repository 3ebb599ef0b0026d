package notebook

import (
	"strings"
	"testing"
)

func TestEnvReaders(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		set         bool
		read        func() any
		want        any
		wantPanic   string
	}{
		{"int unset", "", false, func() any { return EnvInt("VEGCLF_TEST_N", 16) }, 16, ""},
		{"int", " 32 ", true, func() any { return EnvInt("VEGCLF_TEST_N", 16) }, 32, ""},
		{"int not a number", "sixteen", true, func() any { return EnvInt("VEGCLF_TEST_N", 16) }, nil, `VEGCLF_TEST_N="sixteen" is not a whole number`},
		{"float", "3e-4", true, func() any { return EnvFloat("VEGCLF_TEST_N", 1e-4) }, 3e-4, ""},
		{"float unset", "", false, func() any { return EnvFloat("VEGCLF_TEST_N", 1e-4) }, 1e-4, ""},
		{"float not a number", "1e-3x", true, func() any { return EnvFloat("VEGCLF_TEST_N", 1e-4) }, nil, `VEGCLF_TEST_N="1e-3x" is not a number`},
		{"set, empty", "", true, func() any { return EnvSet("test_n") }, true, ""},
		{"not set", "", false, func() any { return EnvSet("test_n") }, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.set {
				t.Setenv("VEGCLF_TEST_N", tc.value)
			}
			defer func() {
				r := recover()
				if tc.wantPanic == "" && r != nil {
					t.Fatalf("panic %v", r)
				}
				if tc.wantPanic != "" && (r == nil || !strings.Contains(r.(string), tc.wantPanic)) {
					t.Fatalf("panic %v, want %q", r, tc.wantPanic)
				}
			}()
			if got := tc.read(); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
