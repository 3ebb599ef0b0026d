package train

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/evaluate"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/predict"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
)

// multiLabelShapes are the generated multi-label set's classes, each a shape of its own colour.
var multiLabelShapes = []string{"bar", "box", "disc"}

// generateMultiLabel writes a multi-label set of size x size PNGs under dir/images, each holding one or
// two of multiLabelShapes at random places on a noisy grey background, and dir/labels.csv listing them
// ("path,label,split", labels separated by ';'): perSplit[split] images per split. It returns the CSV's
// path.
func generateMultiLabel(t *testing.T, dir string, size int, perSplit map[string]int, seed uint64) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5a4e))
	colours := []color.NRGBA{{220, 40, 40, 255}, {40, 180, 40, 255}, {40, 60, 220, 255}}
	var rows []string
	for _, split := range []string{"train", "test", "validation"} {
		for i := range perSplit[split] {
			img := image.NewNRGBA(image.Rect(0, 0, size, size))
			for p := 0; p < len(img.Pix); p += 4 {
				g := uint8(110 + rng.IntN(40))
				img.Pix[p], img.Pix[p+1], img.Pix[p+2], img.Pix[p+3] = g, g, g, 255
			}
			classes := rng.Perm(len(multiLabelShapes))[:1+rng.IntN(2)]
			slices.Sort(classes)
			var names []string
			for _, c := range classes {
				names = append(names, multiLabelShapes[c])
				r := size/6 + rng.IntN(size/6)
				cx, cy := r+rng.IntN(size-2*r), r+rng.IntN(size-2*r)
				for y := cy - r; y < cy+r; y++ {
					for x := cx - r; x < cx+r; x++ {
						dx, dy := x-cx, y-cy
						inside := map[string]bool{"bar": dy*3 > -r && dy*3 < r, "box": true, "disc": dx*dx+dy*dy < r*r}[multiLabelShapes[c]]
						if inside {
							img.SetNRGBA(x, y, colours[c])
						}
					}
				}
			}
			name := fmt.Sprintf("%s%03d.png", split, i)
			f, err := os.Create(filepath.Join(dir, "images", name))
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
			f.Close()
			rows = append(rows, fmt.Sprintf("images/%s,%s,%s", name, strings.Join(names, ";"), split))
		}
	}
	path := filepath.Join(dir, "labels.csv")
	if err := os.WriteFile(path, []byte("path,label,split\n"+strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestMultiLabelTrains trains a ResNet-18 from random initialization on generated images holding one or two
// of three shapes, with balanced pos_weight and thresholds tuned on the test split: the best checkpoint's
// test mean average precision is above 0.9, the metrics and checkpoints carry the multi-label figures, the
// validation report and the run's classifier list every class above its threshold.
func TestMultiLabelTrains(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	dir := t.TempDir()
	labels := generateMultiLabel(t, dir, 32, map[string]int{"train": 120, "test": 40, "validation": 24}, 1)
	cfg := smallConfig("")
	cfg.Labels, cfg.MultiLabel, cfg.ClassWeights = labels, true, recipe.BalancedClassWeights
	cfg.Threshold = recipe.Threshold{Tune: true}
	cfg.FinetuneEpochs = 3
	r, report := trainFresh(t, cfg)
	t.Log(report)
	if !strings.Contains(report, "Loss: binary cross-entropy of independent sigmoid outputs with pos_weight balanced") {
		t.Errorf("the report does not describe the loss:\n%s", report)
	}
	metrics, err := runfolder.ReadMetrics(r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	bestMAP := 0.0
	for _, m := range metrics {
		if m.TestMAP == nil || m.TestMicroF1 == nil || len(m.TestClasses) != 3 {
			t.Fatalf("epoch %s %d lacks the multi-label figures: %+v", m.Phase, m.Epoch, m)
		}
		if !strings.Contains(m.String(), "Test mAP:") {
			t.Errorf("epoch line %q", m.String())
		}
		if m.Best {
			bestMAP = *m.TestMAP
		}
	}
	meta, _, err := checkpoint.ReadMeta(filepath.Join(r.Dir, runfolder.BestFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("best test mAP %.4f (%s epoch %d), thresholds %v", meta.TestMAP, meta.Phase, meta.Epoch, meta.Thresholds)
	if meta.TestMAP != bestMAP || meta.BestAccuracy != bestMAP {
		t.Errorf("best checkpoint's mAP %g (best %g), the best epoch's %g", meta.TestMAP, meta.BestAccuracy, bestMAP)
	}
	if meta.TestMAP < 0.9 {
		t.Errorf("best test mAP %.4f, want above 0.9", meta.TestMAP)
	}
	if !meta.MultiLabel || len(meta.Thresholds) != 3 || slices.Equal(meta.Thresholds, []float64{0.5, 0.5, 0.5}) {
		t.Errorf("checkpoint: multi-label %v, thresholds %v (want tuned ones)", meta.MultiLabel, meta.Thresholds)
	}
	res, err := r.EvaluateBest()
	if err != nil {
		t.Fatal(err)
	}
	if res.MultiLabel == nil || res.MultiLabel.Total != 24 || !slices.Equal(res.MultiLabel.Thresholds, meta.Thresholds) {
		t.Fatalf("validation: %+v", res)
	}
	t.Logf("validation: mAP %.4f, micro F1 %.4f, macro F1 %.4f, exact match %.4f", res.MultiLabel.MAP, res.MultiLabel.MicroF1, res.MultiLabel.MacroF1, res.Accuracy)
	if _, err := r.WriteSummary(res); err != nil {
		t.Fatal(err)
	}
	summary, err := os.ReadFile(filepath.Join(r.Dir, runfolder.SummaryTxtFile))
	if err != nil || !strings.Contains(string(summary), "Validation: mAP") {
		t.Errorf("summary.txt: %s, %v", summary, err)
	}
	c, _, err := runfolder.LoadClassifier(testenv.Backend(t), r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if !c.MultiLabel || !slices.Equal(c.Thresholds, meta.Thresholds) {
		t.Fatalf("the run's classifier: multi-label %v, thresholds %v", c.MultiLabel, c.Thresholds)
	}
	// The reported losses are the one training minimizes, with pos_weight: the last epoch's test loss is the
	// last checkpoint's on the test split, the validation loss the best one's, each weighted (and not the
	// plain binary cross-entropy, which differs).
	last, _, err := runfolder.LoadClassifier(testenv.Backend(t), filepath.Join(r.Dir, runfolder.LastFile))
	if err != nil {
		t.Fatal(err)
	}
	posWeight := recipe.BalancedClassWeights.PosWeights(r.Dataset.Train.Counts(3), len(r.Dataset.Train.Samples))
	for _, tc := range []struct {
		name     string
		c        *predict.Classifier
		split    *data.Split
		reported float64
	}{
		{"last epoch's test", last, r.Dataset.Test, metrics[len(metrics)-1].TestLoss},
		{"validation", c, r.Dataset.Validation, res.Loss},
	} {
		weighted, err := evaluate.SplitWithPosWeight(tc.c, tc.split, cfg.Batch, nil, posWeight)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := evaluate.Split(tc.c, tc.split, cfg.Batch, nil)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(tc.reported-weighted.Loss) > 1e-5*weighted.Loss || math.Abs(tc.reported-plain.Loss) < 1e-3*plain.Loss {
			t.Errorf("%s loss %.6f; with pos_weight %v %.6f, without %.6f", tc.name, tc.reported, posWeight, weighted.Loss, plain.Loss)
		}
	}
	// Predictions list the classes above their thresholds: most images get all theirs right.
	var paths []string
	var want [][]string
	content, _ := os.ReadFile(labels)
	for _, line := range strings.Split(strings.TrimSpace(string(content)), "\n")[1:] {
		fields := strings.Split(line, ",")
		if fields[2] == "validation" {
			paths = append(paths, filepath.Join(dir, fields[0]))
			want = append(want, strings.Split(fields[1], ";"))
		}
	}
	preds, err := c.Files(paths, 1)
	if err != nil {
		t.Fatal(err)
	}
	exact := 0
	for i, p := range preds {
		var got []string
		for _, cl := range p.Top {
			got = append(got, cl.Label)
			if cl.Prob <= c.Thresholds[cl.Index] {
				t.Errorf("%s: %s listed at %g, below its threshold %g", p.Image, cl.Label, cl.Prob, c.Thresholds[cl.Index])
			}
		}
		slices.Sort(got)
		if slices.Equal(got, want[i]) {
			exact++
		}
	}
	if exact != res.Correct {
		t.Errorf("predictions match %d of %d images' labels exactly; the evaluation's exact matches are %d", exact, len(preds), res.Correct)
	}
}

// TestMultiLabelSettings checks what multi-label training refuses: mixup and cutmix, balanced sampling,
// class folders, a threshold out of (0, 1) or without multi-label; and a resume with the setting changed.
func TestMultiLabelSettings(t *testing.T) {
	base := smallConfig("")
	base.Labels, base.MultiLabel = "labels.csv", true
	for _, tc := range []struct {
		name string
		edit func(*recipe.Config)
		key  string
	}{
		{"mixup", func(c *recipe.Config) { c.Mixup = 0.8 }, "mixup"},
		{"cutmix", func(c *recipe.Config) { c.Cutmix = 1 }, "cutmix"},
		{"balanced sampling", func(c *recipe.Config) { c.BalancedSampling = true }, "balanced_sampling"},
		{"class folders", func(c *recipe.Config) { c.Labels, c.Data = "", "data" }, "multi_label"},
		{"threshold 1", func(c *recipe.Config) { c.Threshold = recipe.Threshold{Value: 1} }, "threshold"},
		{"threshold without multi-label", func(c *recipe.Config) { c.MultiLabel, c.Threshold = false, recipe.Threshold{Tune: true} }, "threshold"},
	} {
		cfg := base
		tc.edit(&cfg)
		err := cfg.Validate()
		invalid, ok := err.(*recipe.InvalidSetting)
		if !ok || invalid.Key != tc.key {
			t.Errorf("%s: %v, want an invalid setting %s", tc.name, err, tc.key)
		}
	}
	if err := base.Validate(); err != nil {
		t.Errorf("multi-label settings: %v", err)
	}
	given := base
	given.MultiLabel = false
	if _, err := checkResume("run", base, given, runfolder.Frozen); err == nil || !strings.Contains(err.Error(), "multi") {
		t.Errorf("resuming a multi-label run without the setting: %v", err)
	}
	given = base
	given.Threshold = recipe.Threshold{Tune: true}
	if _, err := checkResume("run", base, given, runfolder.Frozen); err == nil || !strings.Contains(err.Error(), "threshold") {
		t.Errorf("resuming with another threshold: %v", err)
	}
}

// TestMultiLabelWithAverageAndAccumulation trains multi-label with what else a run may combine with it: a
// weight average, gradient accumulation, the backbone run on every frozen batch, label smoothing and a
// fixed threshold. Each epoch records the average's mean average precision; the best checkpoint is the
// epoch's (or its average's) of the best one, with the fixed threshold for every class.
func TestMultiLabelWithAverageAndAccumulation(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	dir := t.TempDir()
	labels := generateMultiLabel(t, dir, 32, map[string]int{"train": 48, "test": 16}, 2)
	cfg := smallConfig("")
	cfg.Labels, cfg.MultiLabel, cfg.Threshold = labels, true, recipe.Threshold{Value: 0.4}
	cfg.EMA, cfg.Accumulate, cfg.CacheFeatures, cfg.LabelSmoothing = 0.9, 2, false, 0.1
	cfg.FinetuneEpochs = 1
	r, report := trainFresh(t, cfg)
	if !strings.Contains(report, "with label smoothing 0.1") || !strings.Contains(report, "Average: test mAP") {
		t.Errorf("report:\n%s", report)
	}
	metrics, err := runfolder.ReadMetrics(r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	best := -1.0
	for _, m := range metrics {
		if m.EMATestMAP == nil || m.TestMAP == nil {
			t.Fatalf("epoch %s %d: no mean average precision of the average: %+v", m.Phase, m.Epoch, m)
		}
		if score := max(*m.TestMAP, *m.EMATestMAP); m.Best != (score > best) {
			t.Errorf("epoch %s %d: best %v with mAP %g, average's %g, the best so far %g", m.Phase, m.Epoch, m.Best, *m.TestMAP, *m.EMATestMAP, best)
		}
		if m.Best {
			best = m.Score()
		}
	}
	meta, _, err := checkpoint.ReadMeta(filepath.Join(r.Dir, runfolder.BestFile))
	if err != nil {
		t.Fatal(err)
	}
	if meta.BestAccuracy != best || meta.TestMAP != best || !slices.Equal(meta.Thresholds, []float64{0.4, 0.4, 0.4}) {
		t.Errorf("best checkpoint: mAP %g (best %g), thresholds %v; the metrics' best %g", meta.TestMAP, meta.BestAccuracy, meta.Thresholds, best)
	}
}
