package main

import (
	"strings"
	"testing"
)

func TestBackendCommand(t *testing.T) {
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir()) // No XLA plugin, whatever the machine has.
	for _, tc := range []struct {
		args       []string
		code       int
		wantOut    []string
		wantStderr string
	}{
		{[]string{"backend", "--backend", "go"}, 0, []string{"Backend: go\n", "Why: asked for go\n", "Devices: 1\n", "Check: a matrix product and a convolution computed right", "JPEG decoder: libjpeg-turbo 2."}, ""},
		{[]string{"backend"}, 0, []string{"Backend: go\n", "Why: no XLA plugin is installed"}, ""},
		{[]string{"backend", "--backend", "xla:cuda"}, 1, nil, "jax-cuda13-pjrt"},
		{[]string{"backend", "extra"}, 2, nil, "unexpected arguments"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Setenv("GOMLX_BACKEND", "")
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.code, tc.wantStderr)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout %q lacks %q", stdout, w)
				}
			}
		})
	}
}
