package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ParallelLossTolerance is the largest relative difference between the losses of the fine-tune steps
// split across devices and those on one device that data parallel passes with: the same float32 steps,
// their sums taken in other orders.
const ParallelLossTolerance = 1e-3

// CheckParallel judges DataParallel's figures: it returns the verdict ("ok (2 devices, loss rel. diff
// 3.1e-07, speed-up 1.85x)", or "FAILED (...)"), and an error when the losses differ by
// ParallelLossTolerance or more, or a figure is missing.
func CheckParallel(res Result) (string, error) {
	for _, key := range []string{"devices", "parallel_loss_max_rel_diff", "parallel_speedup"} {
		if _, ok := res[key]; !ok {
			return "FAILED (no " + key + ")", fmt.Errorf("data parallel: no %s among the figures", key)
		}
	}
	d := res["parallel_loss_max_rel_diff"]
	about := fmt.Sprintf("(%d devices, loss rel. diff %.2g, speed-up %.2fx)", int(res["devices"]), d, res["parallel_speedup"])
	if !(d < ParallelLossTolerance) {
		return "FAILED " + about, fmt.Errorf("data parallel: the split steps' losses differ from one device's by %.2g (relative), not under %g", d, ParallelLossTolerance)
	}
	return "ok " + about, nil
}

// checkRows are the figures the GPU check's table compares, and their names there.
var checkRows = []struct{ Key, Name string }{
	{"inference_images_per_second", "inference"},
	{"frozen_step_images_per_second", "frozen step"},
	{"finetune_step_images_per_second", "fine-tune step"},
}

// readFigures reads a JSON file of figures (vegclf bench --json, or PyTorch's bench_torch_steps.py),
// and the error message the PyTorch script writes there when it could not measure ("" for none). A file
// that is missing or not JSON holds no figures.
func readFigures(path string) (Result, string) {
	content, err := os.ReadFile(path)
	if err != nil {
		return Result{}, ""
	}
	var raw map[string]any
	if err := json.Unmarshal(content, &raw); err != nil {
		return Result{}, ""
	}
	res := Result{}
	for k, v := range raw {
		if f, ok := v.(float64); ok {
			res[k] = f
		}
	}
	msg, _ := raw["error"].(string)
	return res, msg
}

// WriteCheckTable writes the GPU check's table (scripts/gpu-check.sh) of the figures in dir: images/s of
// vegclf (vegclf_PRECISION.json), PyTorch eager (torch_eager_PRECISION.json) and torch.compile
// (torch_compile_PRECISION.json) in float32 and bfloat16, and vegclf's ratios to both. It fails, after
// the table, when a vegclf or PyTorch eager figure is missing; torch.compile may be unavailable (PyTorch
// before 2.0, or no time left) and is reported, not required.
func WriteCheckTable(w io.Writer, dir string) error {
	figure := func(v float64) string {
		if v == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f", v)
	}
	ratio := func(a, b float64) string {
		if a == 0 || b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", a/b)
	}
	fmt.Fprintln(w, "| precision | measure | vegclf img/s | PyTorch eager | torch.compile | vegclf/eager | vegclf/compile |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	var missing, notes []string
	for _, p := range []string{"float32", "bfloat16"} {
		ours, _ := readFigures(filepath.Join(dir, "vegclf_"+p+".json"))
		eager, _ := readFigures(filepath.Join(dir, "torch_eager_"+p+".json"))
		compiled, compileErr := readFigures(filepath.Join(dir, "torch_compile_"+p+".json"))
		for _, row := range checkRows {
			o, e, c := ours[row.Key], eager[row.Key], compiled[row.Key]
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", p, row.Name, figure(o), figure(e), figure(c), ratio(o, e), ratio(o, c))
		}
		for _, side := range []struct {
			name    string
			figures Result
		}{{"vegclf", ours}, {"torch_eager", eager}} {
			for _, row := range checkRows {
				if side.figures[row.Key] == 0 {
					missing = append(missing, side.name+" "+p+" "+row.Name)
				}
			}
		}
		switch {
		case compileErr != "":
			notes = append(notes, fmt.Sprintf("torch.compile %s: %s", p, compileErr[:min(len(compileErr), 300)]))
		case len(compiled) == 0:
			notes = append(notes, "torch.compile "+p+": not measured")
		}
	}
	for _, n := range notes {
		fmt.Fprintf(w, "\n%s\n", n)
	}
	if len(missing) > 0 {
		fmt.Fprintf(w, "\nmissing figures: %s\n", strings.Join(missing, ", "))
		return errors.New("the GPU check's table misses figures: " + strings.Join(missing, ", "))
	}
	return nil
}
