package main

import (
	"encoding/json"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/predict"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// TestMultiLabelPredictEval runs predict (text and JSON) and eval --labels on a multi-label checkpoint
// (random weights) whose thresholds make its decisions certain: 0 for "box" (every image has it), 1 for
// "disc" (none has). Predictions list box alone with its probability; eval reports the multi-label
// figures.
func TestMultiLabelPredictEval(t *testing.T) {
	dir := t.TempDir()
	m := zoo.MustNew("resnet18", nn.Head{NumClasses: 2})
	store := model.NewStore()
	if err := m.Init(store, 5, nil); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(dir, "multi.ckpt")
	meta := checkpoint.Meta{Arch: "resnet18", Head: m.Head, Classes: []string{"box", "disc"}, ImageSize: 32,
		Normalization: data.HalfNormalization, Phase: "finetune", Epoch: 1, MultiLabel: true, Thresholds: []float64{0, 1}}
	if err := checkpoint.Save(ckpt, store, meta); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeImage(t, filepath.Join(dir, "images", "a.png"), color.NRGBA{200, 30, 30, 255})
	writeImage(t, filepath.Join(dir, "images", "b.png"), color.NRGBA{30, 30, 200, 255})

	code, stdout, stderr := runCLI(t, "predict", "--run", ckpt, "--topk", "2", filepath.Join(dir, "images", "a.png"))
	if code != 0 || !strings.Contains(stdout, "1. box") || strings.Contains(stdout, "disc") {
		t.Errorf("predict: exit %d, want box alone listed:\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "predict", "--run", ckpt, "--json", filepath.Join(dir, "images", "b.png"))
	var p predict.Prediction
	if code != 0 || json.Unmarshal([]byte(stdout), &p) != nil || len(p.Top) != 1 || p.Top[0].Label != "box" || !(p.Top[0].Prob > 0 && p.Top[0].Prob < 1) {
		t.Errorf("predict --json: exit %d, %+v:\n%s%s", code, p, stdout, stderr)
	}

	labels := filepath.Join(dir, "labels.csv")
	if err := os.WriteFile(labels, []byte("path,label,split\nimages/a.png,box;disc,train\nimages/b.png,box,validation\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI(t, "eval", "--run", ckpt, "--labels", labels)
	// b.png is box alone: decided right, an exact match, box's AP 1 and disc's undefined.
	for _, want := range []string{"mAP: 1.0000", "exact match: 100.00% (1 of 1)", "micro F1: 1.0000", "threshold", "box"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("eval --labels: exit %d, output lacks %q:\n%s%s", code, want, stdout, stderr)
		}
	}
}
