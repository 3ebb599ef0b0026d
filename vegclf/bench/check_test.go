package bench

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckParallel: data parallel passes while the split steps' losses stay within
// ParallelLossTolerance of one device's, and fails at or past it or without the figures. (No computing:
// figures as DataParallel writes them.)
func TestCheckParallel(t *testing.T) {
	for _, tc := range []struct {
		name    string
		res     Result
		verdict string // The verdict's start.
		fails   bool
	}{
		{"agree", Result{"devices": 2, "parallel_loss_max_rel_diff": 3e-7, "parallel_speedup": 1.85}, "ok (2 devices, loss rel. diff 3e-07, speed-up 1.85x)", false},
		{"just under", Result{"devices": 8, "parallel_loss_max_rel_diff": 9.9e-4, "parallel_speedup": 6}, "ok (8 devices", false},
		{"at the tolerance", Result{"devices": 2, "parallel_loss_max_rel_diff": 1e-3, "parallel_speedup": 1.9}, "FAILED (2 devices, loss rel. diff 0.001", true},
		{"NaN", Result{"devices": 2, "parallel_loss_max_rel_diff": math.NaN(), "parallel_speedup": 1.9}, "FAILED", true},
		{"no figures", Result{}, "FAILED (no devices)", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verdict, err := CheckParallel(tc.res)
			if !strings.HasPrefix(verdict, tc.verdict) || (err != nil) != tc.fails {
				t.Errorf("CheckParallel(%v) = %q, %v; want %q..., failing %v", tc.res, verdict, err, tc.verdict, tc.fails)
			}
		})
	}
}

// TestWriteCheckTable writes the GPU check's figures as its run leaves them (torch.compile failed in
// float32 and was not run in bfloat16) and checks the table's rows and ratios, the notes, and that a
// missing vegclf or PyTorch eager figure fails it, naming the figure.
func TestWriteCheckTable(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"float32", "bfloat16"} {
		write("vegclf_"+p+".json", `{"inference_images_per_second": 300, "frozen_step_images_per_second": 150, "finetune_step_images_per_second": 100, "peak_memory_mb": 1}`)
		write("torch_eager_"+p+".json", `{"inference_images_per_second": 200, "frozen_step_images_per_second": 100, "finetune_step_images_per_second": 80}`)
	}
	write("torch_compile_float32.json", `{"error": "torch.compile needs PyTorch 2.0"}`)
	var out strings.Builder
	if err := WriteCheckTable(&out, dir); err != nil {
		t.Fatalf("complete figures: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"| precision | measure | vegclf img/s | PyTorch eager | torch.compile | vegclf/eager | vegclf/compile |",
		"| float32 | inference | 300.0 | 200.0 | - | 1.50 | - |",
		"| bfloat16 | fine-tune step | 100.0 | 80.0 | - | 1.25 | - |",
		"torch.compile float32: torch.compile needs PyTorch 2.0",
		"torch.compile bfloat16: not measured",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table without %q:\n%s", want, out.String())
		}
	}
	write("torch_compile_bfloat16.json", `{"inference_images_per_second": 600}`)
	write("torch_eager_bfloat16.json", `{"inference_images_per_second": 200}`)
	out.Reset()
	err := WriteCheckTable(&out, dir)
	if err == nil || !strings.Contains(err.Error(), "torch_eager bfloat16 frozen step") || strings.Contains(err.Error(), "vegclf") {
		t.Errorf("eager's bfloat16 steps missing: error %v", err)
	}
	if !strings.Contains(out.String(), "| bfloat16 | inference | 300.0 | 200.0 | 600.0 | 1.50 | 0.50 |") {
		t.Errorf("the torch.compile figure is not compared:\n%s", out.String())
	}
}
