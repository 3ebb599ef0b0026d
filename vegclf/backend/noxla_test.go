//go:build !cgo

package backend

import (
	"strings"
	"testing"
)

// TestSelectWithoutXLA: a build without cgo has no XLA, so the automatic choice is the Go backend, said
// why, and an XLA backend asked for is an error that says how to get one, whatever plugins are present.
func TestSelectWithoutXLA(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		spec, wantConfig, wantErr string
	}{
		{"", "go", ""},
		{"auto", "go", ""},
		{"go", "go", ""},
		{"xla:cuda", "", "xla:cuda needs XLA, which this vegclf was built without (CGO_ENABLED=0)"},
		{"xla:cpu", "", "xla:cpu needs XLA"},
		{"cuda", "", "cuda needs XLA"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			c, err := Select(Environment{Spec: tc.spec, HasGPU: true, PluginDirs: []string{dir}})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || c.Config != tc.wantConfig {
				t.Fatalf("Select(%q) = %v, %v; want %s", tc.spec, c, err, tc.wantConfig)
			}
			if tc.spec != "go" && !strings.Contains(c.Reason, "built without cgo") {
				t.Errorf("reason %q does not say the build has no XLA", c.Reason)
			}
		})
	}
}
