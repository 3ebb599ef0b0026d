package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/predict"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/synthveg"
)

// TestTrainEvalPredictCLI runs the recipe from the command line on generated data, then evaluates and
// predicts with the saved run.
func TestTrainEvalPredictCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	if _, err := synthveg.Generate(dataDir, synthveg.Options{Classes: 3, Train: 12, Validation: 4, Size: 40, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	code, stdout, stderr := runCLI(t, "train", "--data", dataDir, "--out", out, "--arch", "resnet18", "--weights", "none",
		"--image-size", "32", "--batch", "8", "--frozen-epochs", "1", "--finetune-epochs", "1", "--lr", "1e-3",
		"--finetune-lr", "1e-3", "--test-fraction", "0.25")
	if code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"Backend: go", "3 classes, 27 train, 9 test, 12 validation images", "The data has no test split: 25% of each class",
		"random initialization", "Transfer learning: backbone frozen", "Fine-tuning: all layers trained",
		"Best checkpoint:", "Predictions of the best checkpoint on validation images:",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("train output lacks %q:\n%s", want, stdout)
		}
	}
	if !regexp.MustCompile(`(?m)^Validation: \d+\.\d\d%, \d+\.\d{6}$`).MatchString(stdout) {
		t.Errorf("no validation line in the tutorial's format:\n%s", stdout)
	}
	for _, f := range []string{runfolder.ConfigFile, runfolder.MetricsFile, runfolder.BestFile, runfolder.LastFile, runfolder.SummaryFile, runfolder.SummaryTxtFile} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("run folder: %v", err)
		}
	}

	code, stdout, stderr = runCLI(t, "eval", "--run", out, "--split", filepath.Join(dataDir, "validation"), "--tta")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Accuracy:", "Per-class accuracy:", "Bean", "Confusion matrix"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("eval output lacks %q:\n%s", want, stdout)
		}
	}

	img := filepath.Join(dataDir, "validation", "Carrot", "0001.jpg")
	code, stdout, stderr = runCLI(t, "predict", "--run", out, "--topk", "2", "--json", "--tta", img)
	if code != 0 {
		t.Fatalf("predict --run: exit %d: %s", code, stderr)
	}
	var p predict.Prediction
	if err := json.Unmarshal([]byte(stdout), &p); err != nil || len(p.Top) != 2 || p.Image != img {
		t.Errorf("predict --run output %q: %v", stdout, err)
	}
	for _, c := range p.Top {
		if c.Label != "Bean" && c.Label != "Carrot" && c.Label != "Eggplant" {
			t.Errorf("predicted label %q is not one of the run's classes", c.Label)
		}
	}

	svg := filepath.Join(dir, "lr.svg")
	code, stdout, stderr = runCLI(t, "lr-find", "--data", dataDir, "--arch", "resnet18", "--weights", "none", "--image-size", "32",
		"--batch", "8", "--phase", "frozen", "--steps", "30", "--svg", svg)
	if code != 0 || !strings.Contains(stdout, "Suggested learning rate:") {
		t.Errorf("lr-find: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if content, err := os.ReadFile(svg); err != nil || !strings.Contains(string(content), "<svg") || !strings.Contains(string(content), "learning rate (log scale)") {
		t.Errorf("lr-find SVG: %v", err)
	}

	// Usage errors and a run folder that already holds a run.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"train", "--data", dataDir}, 2, "--out is required"},
		{[]string{"train", "--out", out, "--data", dataDir}, 1, "already holds a run (last.ckpt): continue it with --resume, or give another --out"},
		{[]string{"eval", "--run", out}, 2, "want --run RUNDIR and one of --split DIR, --labels FILE, or folders"},
		{[]string{"eval", "--run", out, "--split", "x", "--labels", "y.csv"}, 2, "want --run RUNDIR and one of --split DIR, --labels FILE, or folders"},
		{[]string{"eval", "--run", out, "--split", dataDir}, 1, "differ from the model's"},
		{[]string{"predict", "--run", filepath.Join(dir, "nope"), img}, 1, "nope"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}
