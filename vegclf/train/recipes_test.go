package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/evaluate"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/schedule"
	"github.com/vegclf/vegclf/vegclf/step"
	"github.com/vegclf/vegclf/vegclf/synthveg"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// trainStopped trains cfg in dir (a fresh run, or with resume the one there), stopping after stopAfter
// epochs of the run's (0: never), and returns its report.
func trainStopped(t *testing.T, cfg recipe.Config, dir string, resume bool, stopAfter int) string {
	t.Helper()
	return trainCancelled(t, cfg, dir, resume, func(r *Run, cancel func()) {
		epochs := 0
		r.OnEpoch = func(runfolder.EpochMetrics) {
			if epochs++; epochs == stopAfter {
				cancel()
			}
		}
	})
}

// trainCancelled trains cfg in dir (a fresh run, or with resume the one there) after hook has set the
// run's callbacks, which may cancel its context as Ctrl-C would, and returns the run's report.
func trainCancelled(t *testing.T, cfg recipe.Config, dir string, resume bool, hook func(r *Run, cancel func())) string {
	t.Helper()
	open := Create
	if resume {
		open = Resume
	}
	r, err := open(cfg, testenv.Backend(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	var report strings.Builder
	r.Report = &report
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hook(r, cancel)
	if err := r.Train(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("%v\n%s", err, report.String())
	}
	return report.String()
}

// TestWeightAverageUpdate checks the average's arithmetic: it starts at the weights, moves by
// (1-decay)·(w - avg) after an update, only for the variables said to change, and Swap exchanges the two.
func TestWeightAverageUpdate(t *testing.T) {
	const decay = 0.75
	b := testenv.Backend(t)
	m := zoo.MustNew("resnet18", nn.TutorialHead(3))
	store := model.NewStore()
	if err := m.Init(store, 5, nil); err != nil {
		t.Fatal(err)
	}
	a, err := NewWeightAverage(b, store, m, decay)
	if err != nil {
		t.Fatal(err)
	}
	isModel := func(path string) bool {
		return !strings.HasPrefix(path, step.OptimizerPrefix) && !strings.HasPrefix(path, emaPrefix+"/")
	}
	isAverage := func(path string) bool { return strings.HasPrefix(path, emaPrefix+"/") }
	w0 := testenv.FloatValues(t, store, isModel)
	if avg := testenv.FloatValues(t, store, isAverage); len(avg) != len(w0) || !slices.Equal(avg[emaPrefix+"/fc/0/weight"], w0["/fc/0/weight"]) {
		t.Fatalf("the average does not start at the weights (%d averages of %d variables)", len(avg), len(w0))
	}
	s, err := step.New(b, store, m, step.Config{Phase: runfolder.Finetune, Input: step.FromImages, BatchNormTrain: true, Schedule: schedule.Constant{LR: 1e-2}})
	if err != nil {
		t.Fatal(err)
	}
	images, labels := testenv.RandomBatch(3, 4, 32, 3)
	if _, _, err := s.Step(images, labels); err != nil {
		t.Fatal(err)
	}
	w1 := testenv.FloatValues(t, store, isModel)
	head := func(path string) bool { return strings.HasPrefix(path, "/fc/") }
	if err := a.Update(head); err != nil {
		t.Fatal(err)
	}
	avg := testenv.FloatValues(t, store, isAverage)
	checked := 0
	for path, w := range w1 {
		got := avg[emaPrefix+path]
		for i := range w {
			want := w0[path][i]
			if head(path) {
				want = decay*w0[path][i] + (1-decay)*w[i]
			}
			if math.Abs(float64(got[i]-want)) > 1e-6*(1+math.Abs(float64(want))) {
				t.Fatalf("%s[%d]: average %g, want %g (weight %g before, %g after)", path, i, got[i], want, w0[path][i], w[i])
			}
		}
		if head(path) && !slices.Equal(w, w0[path]) {
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("the step moved no head weight: the check tests nothing")
	}
	if err := a.Swap(); err != nil {
		t.Fatal(err)
	}
	if swapped := testenv.FloatValues(t, store, isModel); !slices.Equal(swapped["/fc/0/weight"], avg[emaPrefix+"/fc/0/weight"]) ||
		!slices.Equal(testenv.FloatValues(t, store, isAverage)[emaPrefix+"/fc/0/weight"], w1["/fc/0/weight"]) {
		t.Error("Swap did not exchange the weights and their average")
	}
}

// TestWeightAverageInRuns trains with an average of the weights: each epoch reports and records both
// test accuracies, best.ckpt holds whichever was best (its weights give its recorded accuracy), and a run
// stopped and resumed ends with the same average as one trained straight through.
func TestWeightAverageInRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	dataDir := generate(t, synthveg.Options{Classes: 3, Train: 24, Test: 8, Size: 48, Seed: 11})
	cfg := smallConfig(dataDir)
	cfg.EMA = 0.6
	straight := filepath.Join(t.TempDir(), "straight")
	report := trainStopped(t, cfg, straight, false, 0)
	if !strings.Contains(report, "Weight average: an exponential moving average of the weights and batch-norm statistics (decay 0.6)") ||
		strings.Count(report, "; Average: test accuracy ") != 4 {
		t.Errorf("the report does not show the average:\n%s", report)
	}
	metrics := mustReadMetrics(t, straight)
	best, bestIsAverage := 0.0, false
	for _, m := range metrics {
		if m.EMATestAccuracy == nil {
			t.Fatalf("epoch %s has no average's accuracy", m)
		}
		if m.Best {
			best, _ = m.BestAccuracy()
			bestIsAverage = m.BestIsAverage
		}
	}
	// checkBest checks that dir's best.ckpt records the given accuracy and whether it holds the average,
	// and that its weights test at the accuracy and loss it records.
	checkBest := func(dir string, accuracy float64, averaged bool) {
		t.Helper()
		meta, _, err := checkpoint.ReadMeta(filepath.Join(dir, runfolder.BestFile))
		if err != nil {
			t.Fatal(err)
		}
		if meta.TestAccuracy != accuracy || meta.Averaged != averaged {
			t.Errorf("%s records test accuracy %g (averaged: %v), the best epoch's %g (averaged: %v)", runfolder.BestFile, meta.TestAccuracy, meta.Averaged, accuracy, averaged)
		}
		r, err := Resume(cfg, testenv.Backend(t), dir)
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := runfolder.LoadClassifier(testenv.Backend(t), filepath.Join(dir, runfolder.BestFile))
		if err != nil {
			t.Fatal(err)
		}
		res, err := evaluate.Split(c, r.Dataset.Test, cfg.Batch, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Accuracy != meta.TestAccuracy || math.Abs(res.Loss-meta.TestLoss) > 1e-6 {
			t.Errorf("%s (averaged: %v) tests at %g, %g; it records %g, %g", runfolder.BestFile, meta.Averaged, res.Accuracy, res.Loss, meta.TestAccuracy, meta.TestLoss)
		}
	}
	checkBest(straight, best, bestIsAverage)

	// Stopped after its first epoch, whose average tests far better than its weights on this set (62.5%
	// against 33.3%), a run's best.ckpt holds the average; resumed, it ends as the straight run.
	stopped := filepath.Join(t.TempDir(), "stopped")
	trainStopped(t, cfg, stopped, false, 1)
	if first := mustReadMetrics(t, stopped); len(first) != 1 || !first[0].BestIsAverage {
		t.Fatalf("the first epoch's best is not the average: %v", first)
	}
	checkBest(stopped, *metrics[0].EMATestAccuracy, true)
	trainStopped(t, cfg, stopped, true, 0)
	resumed := mustReadMetrics(t, stopped)
	if len(resumed) != len(metrics) {
		t.Fatalf("resumed: %d epochs, want %d", len(resumed), len(metrics))
	}
	for i := range metrics {
		if *resumed[i].EMATestLoss != *metrics[i].EMATestLoss || resumed[i].BestIsAverage != metrics[i].BestIsAverage {
			t.Errorf("epoch %d: resumed %s, uninterrupted %s", i+1, resumed[i], metrics[i])
		}
	}
	averages := func(dir string) map[string][]float32 {
		store, _, err := checkpoint.Load(filepath.Join(dir, runfolder.LastFile))
		if err != nil {
			t.Fatal(err)
		}
		return testenv.FloatValues(t, store, func(path string) bool { return strings.HasPrefix(path, emaPrefix+"/") })
	}
	a, b := averages(straight), averages(stopped)
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("last.ckpt holds %d and %d averages", len(a), len(b))
	}
	for path := range a {
		if !slices.Equal(a[path], b[path]) {
			t.Errorf("%s: the resumed run's average differs", path)
		}
	}
}

// imbalanced generates 3 classes of which the first has 10 times the training images of the others, with
// balanced test and validation splits.
func imbalanced(t *testing.T) string {
	t.Helper()
	dir := generate(t, synthveg.Options{Classes: 3, Train: 100, Test: 10, Validation: 20, Size: 48, Seed: 8})
	for _, class := range []string{"Carrot", "Eggplant"} {
		files, err := filepath.Glob(filepath.Join(dir, "train", class, "*.jpg"))
		if err != nil || len(files) != 100 {
			t.Fatalf("%s: %d files, %v", class, len(files), err)
		}
		for _, f := range files[10:] {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// TestBalancingImbalancedData trains on a set where one class has 10 times the others' images, with the
// same budget three ways: plainly, with balanced class weights, and with balanced sampling. Both balanced
// runs classify the minority classes' validation images better (figures in the log).
func TestBalancingImbalancedData(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	dataDir := imbalanced(t)
	cfg := smallConfig(dataDir)
	cfg.FrozenEpochs, cfg.FinetuneEpochs, cfg.Seed = 0, 3, 1
	minority := func(c recipe.Config) (float64, string) {
		r, report := trainFresh(t, c)
		res, err := r.EvaluateBest()
		if err != nil {
			t.Fatal(err)
		}
		correct := res.Confusion[1][1] + res.Confusion[2][2]
		total := 0
		for _, row := range res.Confusion[1:] {
			for _, n := range row {
				total += n
			}
		}
		return float64(correct) / float64(total), report
	}
	plain, _ := minority(cfg)
	weighted := cfg
	weighted.ClassWeights = recipe.BalancedClassWeights
	byWeights, report := minority(weighted)
	if !strings.Contains(report, "class weights balanced (Bean 0.4, Carrot 4, Eggplant 4)") {
		t.Errorf("the report does not give the class weights:\n%s", report)
	}
	sampled := cfg
	sampled.BalancedSampling = true
	bySampling, report := minority(sampled)
	if !strings.Contains(report, "Balanced sampling: each epoch draws 120 training images") {
		t.Errorf("the report does not say how it samples:\n%s", report)
	}
	t.Logf("minority classes' validation accuracy: plain %.1f%%, balanced weights %.1f%%, balanced sampling %.1f%%", 100*plain, 100*byWeights, 100*bySampling)
	if byWeights < plain+0.2 || bySampling < plain+0.2 {
		t.Errorf("minority classes' validation accuracy: plain %.1f%%, balanced weights %.1f%%, balanced sampling %.1f%%: want both 20 points above plain",
			100*plain, 100*byWeights, 100*bySampling)
	}
}

// TestBalancedSamplingDraws checks an epoch's draws: as many as the training images, every class about
// as often, the same for the same epoch and different for another.
func TestBalancedSamplingDraws(t *testing.T) {
	dataDir := imbalanced(t)
	cfg := smallConfig(dataDir)
	cfg.BalancedSampling = true
	r, err := Create(cfg, testenv.Backend(t), filepath.Join(t.TempDir(), "run"))
	if err != nil {
		t.Fatal(err)
	}
	r.Report = io.Discard
	src, err := r.epochSource(context.Background(), runfolder.Finetune, true)
	if err != nil {
		t.Fatal(err)
	}
	loader := src.(*imageSource).loader
	order := loader.Order(1)
	counts := make([]int, 3)
	for _, i := range order {
		counts[loader.Samples[i].Label]++
	}
	if len(order) != 120 || slices.Min(counts) < 25 {
		t.Errorf("%d draws, per class %v: want 120 about evenly", len(order), counts)
	}
	if !slices.Equal(order, loader.Order(1)) || slices.Equal(order, loader.Order(2)) {
		t.Error("the draws are not seeded by the epoch")
	}
}

// TestLabelsCSVMatchesFolders trains the same images from class folders and from a CSV file over a flat
// folder of copies (with the split in a column): the same metrics, validation and predictions.
func TestLabelsCSVMatchesFolders(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	dataDir := generate(t, synthveg.Options{Classes: 3, Train: 8, Test: 3, Validation: 3, Size: 40, Seed: 6})
	flat := filepath.Join(t.TempDir(), "flat")
	if err := os.MkdirAll(filepath.Join(flat, "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	csv := []string{"path,label,split"}
	for _, split := range []string{"validation", "train", "test"} {
		files, _ := filepath.Glob(filepath.Join(dataDir, split, "*", "*.jpg"))
		for _, f := range files {
			class := filepath.Base(filepath.Dir(f))
			name := fmt.Sprintf("%s-%s-%s", split, class, filepath.Base(f))
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(flat, "images", name), raw, 0o644); err != nil {
				t.Fatal(err)
			}
			csv = append(csv, "images/"+name+","+class+","+split)
		}
	}
	labels := filepath.Join(flat, "labels.csv")
	if err := os.WriteFile(labels, []byte(strings.Join(csv, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := smallConfig(dataDir)
	cfg.FinetuneEpochs = 2
	fromFolders, _ := trainFresh(t, cfg)
	cfg.Data, cfg.Labels = "", labels
	fromCSV, _ := trainFresh(t, cfg)
	if !slices.Equal(fromCSV.Dataset.Classes, fromFolders.Dataset.Classes) {
		t.Fatalf("classes %v from the CSV, %v from folders", fromCSV.Dataset.Classes, fromFolders.Dataset.Classes)
	}
	a, b := mustReadMetrics(t, fromFolders.Dir), mustReadMetrics(t, fromCSV.Dir)
	for i := range a {
		if a[i].TrainLoss != b[i].TrainLoss || a[i].TestLoss != b[i].TestLoss || a[i].TestAccuracy != b[i].TestAccuracy {
			t.Errorf("epoch %d: from the CSV %s, from folders %s", i+1, b[i], a[i])
		}
	}
	va, err := fromFolders.EvaluateBest()
	if err != nil {
		t.Fatal(err)
	}
	vb, err := fromCSV.EvaluateBest()
	if err != nil {
		t.Fatal(err)
	}
	if va.Loss != vb.Loss || va.Accuracy != vb.Accuracy || len(va.Samples) != 9 || len(vb.Samples) != 9 {
		t.Fatalf("validation from the CSV %g, %g (%d images); from folders %g, %g (%d)", vb.Accuracy, vb.Loss, len(vb.Samples), va.Accuracy, va.Loss, len(va.Samples))
	}
	for i := range va.Samples {
		if va.Samples[i].Predicted != vb.Samples[i].Predicted || va.Samples[i].Label != vb.Samples[i].Label {
			t.Errorf("validation image %d: %+v from folders, %+v from the CSV", i, va.Samples[i], vb.Samples[i])
		}
	}
	saved, err := runfolder.ReadConfig(fromCSV.Dir)
	if err != nil || saved.Labels != labels {
		t.Errorf("the run's config has labels %q (%v)", saved.Labels, err)
	}
}
