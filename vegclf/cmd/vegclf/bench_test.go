package main

import (
	"encoding/json"
	"os"
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
		{[]string{"bench", "--backend", "go", "--data", data, "--devices", "2"}, "data parallel needs an XLA backend (xla:cuda); Go Backend runs on one device (on the command line: --backend xla:cuda)"},
		{[]string{"bench", "--backend", "go", "--data", data, "--devices", "1"}, "data parallel needs an XLA backend"},
		{[]string{"train", "--backend", "go", "--data", data, "--out", filepath.Join(t.TempDir(), "run"), "--devices", "2"}, "data parallel needs an XLA backend (xla:cuda): 2 devices asked for; Go Backend runs on one device (on the command line: --backend xla:cuda)"},
		// An invalid value is a usage mistake (exit 2, issue 37), where a backend that cannot split is a failure.
		{[]string{"train", "--backend", "go", "--data", data, "--out", filepath.Join(t.TempDir(), "run"), "--devices", "-1"}, "--devices -1"},
	} {
		t.Run(strings.Join(tc.args[:1], " ")+" "+strings.Join(tc.args[len(tc.args)-2:], " "), func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			want := 1
			if strings.HasPrefix(tc.wantStderr, "--") {
				want = 2
			}
			if code != want || !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, want, tc.wantStderr)
			}
		})
	}
}

// TestBenchLoadingOnly: --loading-only measures data loading over the train split and nothing else.
func TestBenchLoadingOnly(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if _, err := synthveg.Generate(data, synthveg.Options{Classes: 2, Train: 6, Test: 1, Validation: 1, Size: 48, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "figures.json")
	code, stdout, stderr := runCLI(t, "bench", "--backend", "go", "--data", data, "--image-size", "32", "--loading-only", "--json", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	content, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var figures map[string]float64
	if err := json.Unmarshal(content, &figures); err != nil {
		t.Fatal(err)
	}
	if len(figures) != 1 || figures["data_loading_images_per_second"] <= 0 {
		t.Errorf("figures %v, want data_loading_images_per_second alone", figures)
	}
	if !strings.Contains(stdout, "data loading images/s") || strings.Contains(stdout, "inference") {
		t.Errorf("the table measures more than loading:\n%s", stdout)
	}
}

// TestBenchTable: bench --table prints the GPU check's table of a folder's figures and exits 0, or 1
// naming a missing vegclf figure. (No measuring: JSON files as the check leaves them.)
func TestBenchTable(t *testing.T) {
	dir := t.TempDir()
	figures := `{"inference_images_per_second": 30, "frozen_step_images_per_second": 20, "finetune_step_images_per_second": 10}`
	for _, name := range []string{"vegclf_float32", "vegclf_bfloat16", "torch_eager_float32", "torch_eager_bfloat16"} {
		if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(figures), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := runCLI(t, "bench", "--table", dir)
	if code != 0 || !strings.Contains(stdout, "| float32 | fine-tune step | 10.0 | 10.0 | - | 1.00 | - |") {
		t.Errorf("complete figures: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if err := os.Remove(filepath.Join(dir, "vegclf_bfloat16.json")); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "bench", "--table", dir); code != 1 || !strings.Contains(stderr, "vegclf bfloat16 inference") {
		t.Errorf("vegclf's bfloat16 figures missing: exit %d, stderr %q", code, stderr)
	}
}
