package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/synthveg"
)

// TestDataParallelFlags checks that --devices asks for a backend that can split a step, and says so.
func TestDataParallelFlags(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if _, err := synthveg.Generate(data, synthveg.Options{Classes: 2, Train: 2, Test: 1, Validation: 1, Size: 32, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args       []string
		wantStderr string
	}{
		{[]string{"bench", "--backend", "go", "--data", data, "--devices", "2"}, "data parallel needs an XLA backend (--backend xla:cuda)"},
		{[]string{"bench", "--backend", "go", "--data", data, "--devices", "1"}, "data parallel needs an XLA backend"},
		{[]string{"train", "--backend", "go", "--data", data, "--out", filepath.Join(t.TempDir(), "run"), "--devices", "2"}, "data parallel over 2 devices needs an XLA backend"},
		{[]string{"train", "--backend", "go", "--data", data, "--out", filepath.Join(t.TempDir(), "run"), "--devices", "-1"}, "devices -1"},
	} {
		t.Run(strings.Join(tc.args[:1], " ")+" "+strings.Join(tc.args[len(tc.args)-2:], " "), func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if code != 1 || !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, stderr, tc.wantStderr)
			}
		})
	}
}
