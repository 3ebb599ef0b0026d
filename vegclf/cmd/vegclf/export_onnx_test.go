package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/onnxmodel"
)

// TestExportONNX exports a trained run as ONNX, and checks that bad input is a clear error that leaves
// nothing behind: a folder that is no run, an --out that cannot be written, no ONNX Runtime library, a
// format that does not exist.
func TestExportONNX(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	if !onnxmodel.Available {
		t.Skip("built without cgo: no ONNX export")
	}
	if _, err := backend.ONNXRuntime(); err != nil {
		if os.Getenv("VEGCLF_REQUIRE_ONNX") != "" {
			t.Fatal(err)
		}
		t.Skipf("ONNX Runtime is not installed: %v", err)
	}
	run := tinyRun(t, tinyData(t))
	dir := t.TempDir()
	out := filepath.Join(dir, "model.onnx")
	code, stdout, stderr := runCLI(t, "export", "--run", run, "--format", "onnx", "--out", out)
	if code != 0 || !strings.Contains(stdout, "Wrote "+out+" (ONNX: resnet18") || !strings.Contains(stdout, "input pixel_values [batch, 3, 32, 32], half normalization; output logits [batch, 2]") {
		t.Fatalf("export: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if info, err := os.Stat(out); err != nil || info.Size() < 1<<20 {
		t.Fatalf("the ONNX file: %v, %v", info, err)
	}

	notARun := t.TempDir()
	aFile := filepath.Join(dir, "a-file")
	if err := os.WriteFile(aFile, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  string
		args []string
		want []string
	}{
		{"not a run", "", []string{"--run", notARun, "--out", filepath.Join(dir, "x.onnx")}, []string{notARun, "best.ckpt"}},
		{"unwritable out", "", []string{"--run", run, "--out", filepath.Join(aFile, "x.onnx")}, []string{"a-file", "not a directory"}},
		{"no library", filepath.Join(dir, "none", "libonnxruntime.so.1"), []string{"--run", run, "--out", filepath.Join(dir, "y.onnx")}, []string{"none/libonnxruntime.so.1", "setup.sh --onnx"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv(backend.ONNXRuntimeEnv, tc.env)
			}
			before, _ := os.ReadDir(dir)
			code, _, stderr := runCLI(t, append([]string{"export", "--format", "onnx"}, tc.args...)...)
			if code == 0 {
				t.Fatal("exit 0")
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
			if after, _ := os.ReadDir(dir); len(after) != len(before) {
				t.Errorf("the failed export left files: %v, before %v", after, before)
			}
		})
	}
	if code, _, stderr := runCLI(t, "export", "--run", run, "--format", "tflite", "--out", out); code != 2 || !strings.Contains(stderr, `--format "tflite": want pth or onnx`) {
		t.Errorf("an unknown format: exit %d, %s", code, stderr)
	}
}
