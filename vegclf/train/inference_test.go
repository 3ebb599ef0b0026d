package train

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/synthveg"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// onnxOrSkip skips a test that needs ONNX Runtime where it is not installed, but fails where the suite
// requires it (VEGCLF_REQUIRE_ONNX, set by scripts/test.sh once setup.sh has installed it).
func onnxOrSkip(t *testing.T) {
	t.Helper()
	if _, err := backend.ONNXRuntime(); err != nil {
		if os.Getenv("VEGCLF_REQUIRE_ONNX") != "" {
			t.Fatal(err)
		}
		t.Skipf("ONNX Runtime is not installed: %v", err)
	}
}

// TestPassesOnONNXRuntimeEqualGo trains the same small run twice, its passes without gradients (the
// frozen phase's feature pass, each fine-tuning epoch's test evaluation, of the weights and of their
// average, and the final validation) on ONNX Runtime and on the Go backend: every epoch's metrics agree
// within float tolerance, the same epochs are best, and validation agrees. It does so for a single-label
// run and for a multi-label one (independent sigmoid outputs, thresholds tuned on the test split each
// epoch), whose mean average precision, F1s, per-class figures and thresholds agree too. ONNX Runtime's
// convolutions round differently, so the two runs' figures are not all bit-identical: they are when its
// passes did not run on it.
func TestPassesOnONNXRuntimeEqualGo(t *testing.T) {
	if testing.Short() {
		t.Skip("trains four runs: not in the -short loop")
	}
	onnxOrSkip(t)
	for _, tc := range []struct {
		name   string
		config func(t *testing.T) recipe.Config
	}{
		{"single-label", func(t *testing.T) recipe.Config {
			return smallConfig(generate(t, synthveg.Options{Classes: 3, Train: 8, Test: 4, Validation: 4, Size: 40, Seed: 5}))
		}},
		{"multi-label", func(t *testing.T) recipe.Config {
			cfg := smallConfig("")
			cfg.Labels = generateMultiLabel(t, t.TempDir(), 32, map[string]int{"train": 10, "test": 6, "validation": 4}, 3)
			cfg.MultiLabel, cfg.Threshold = true, recipe.Threshold{Tune: true}
			return cfg
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.config(t)
			cfg.FrozenEpochs, cfg.FinetuneEpochs, cfg.Batch, cfg.EMA = 2, 2, 5, 0.5
			cfg.FinetuneLR = 1e-5 // The tutorial's: Adam at 1e-3 turns the last bits of the head's frozen-phase values into whole steps.
			passesAgree(t, cfg)
		})
	}
}

// passesAgree trains cfg with its passes without gradients on ONNX Runtime and on the Go backend, and
// checks that the two runs' figures agree (TestPassesOnONNXRuntimeEqualGo).
func passesAgree(t *testing.T, cfg recipe.Config) {
	t.Helper()
	run := func(where recipe.InferenceBackend) (*Run, string, *runfolder.Summary, *checkpoint.Meta) {
		cfg.InferenceBackend = where
		r, report := trainFresh(t, cfg)
		s, err := r.Finish()
		if err != nil {
			t.Fatal(err)
		}
		meta, _, err := checkpoint.ReadMeta(filepath.Join(r.Dir, runfolder.BestFile))
		if err != nil {
			t.Fatal(err)
		}
		return r, report, s, meta
	}
	ort, ortReport, ortSummary, ortBest := run(recipe.InferenceONNX)
	goRun, goReport, goSummary, goBest := run(recipe.InferenceTrain)
	if !strings.Contains(ortReport, "run on ONNX Runtime, every pass") || strings.Contains(goReport, "ONNX Runtime") {
		t.Errorf("the reports do not say where the passes ran:\n%s\n---\n%s", ortReport, goReport)
	}
	a, b := mustReadMetrics(t, ort.Dir), mustReadMetrics(t, goRun.Dir)
	if len(a) != 4 || len(b) != 4 {
		t.Fatalf("%d and %d epochs", len(a), len(b))
	}
	close := func(x, y float64) bool { return math.Abs(x-y) <= 1e-4*math.Max(1, math.Abs(y)) }
	identical := true
	for i := range a {
		x, y := a[i], b[i]
		if !close(x.TrainLoss, y.TrainLoss) || !close(x.TestLoss, y.TestLoss) || x.TrainAccuracy != y.TrainAccuracy ||
			x.TestAccuracy != y.TestAccuracy || x.Best != y.Best || x.BestIsAverage != y.BestIsAverage {
			t.Errorf("epoch %d: on ONNX Runtime %s, on Go %s", i+1, x, y)
		}
		if (x.EMATestLoss == nil) != (y.EMATestLoss == nil) || x.EMATestLoss != nil && (!close(*x.EMATestLoss, *y.EMATestLoss) || *x.EMATestAccuracy != *y.EMATestAccuracy) {
			t.Errorf("epoch %d's weight average: on ONNX Runtime %v/%v, on Go %v/%v", i+1, x.EMATestLoss, x.EMATestAccuracy, y.EMATestLoss, y.EMATestAccuracy)
		}
		if cfg.MultiLabel {
			multiLabelEpochsAgree(t, i+1, x, y, close)
		}
		identical = identical && x.TrainLoss == y.TrainLoss && x.TestLoss == y.TestLoss
	}
	if identical {
		t.Error("every loss is bit-identical: the passes did not run on ONNX Runtime")
	}
	if ortSummary.BestPhase != goSummary.BestPhase || ortSummary.BestEpoch != goSummary.BestEpoch {
		t.Errorf("best: %s %d on ONNX Runtime, %s %d on Go", ortSummary.BestPhase, ortSummary.BestEpoch, goSummary.BestPhase, goSummary.BestEpoch)
	}
	if *ortSummary.ValidationAccuracy != *goSummary.ValidationAccuracy || !close(*ortSummary.ValidationLoss, *goSummary.ValidationLoss) {
		t.Errorf("validation: %v, %v on ONNX Runtime; %v, %v on Go", *ortSummary.ValidationAccuracy, *ortSummary.ValidationLoss,
			*goSummary.ValidationAccuracy, *goSummary.ValidationLoss)
	}
	if cfg.MultiLabel {
		if ortSummary.ValidationMAP == nil || goSummary.ValidationMAP == nil || *ortSummary.ValidationMAP != *goSummary.ValidationMAP {
			t.Errorf("validation mAP: %v on ONNX Runtime, %v on Go", ortSummary.ValidationMAP, goSummary.ValidationMAP)
		}
		if len(ortBest.Thresholds) != len(ort.Dataset.Classes) || !slices.EqualFunc(ortBest.Thresholds, goBest.Thresholds, close) {
			t.Errorf("the best checkpoint's thresholds: %v on ONNX Runtime, %v on Go", ortBest.Thresholds, goBest.Thresholds)
		}
	}
	t.Logf("test losses on ONNX Runtime %v, on Go %v", a[len(a)-1].TestLoss, b[len(b)-1].TestLoss)
}

// multiLabelEpochsAgree checks that a multi-label epoch's figures on ONNX Runtime, x, and on Go, y, agree:
// the same mean average precision (of the weights and of their average), F1s and per-class figures, which
// depend on the ranking of the outputs and on which are above their thresholds, and thresholds within
// float tolerance.
func multiLabelEpochsAgree(t *testing.T, epoch int, x, y runfolder.EpochMetrics, close func(x, y float64) bool) {
	t.Helper()
	if x.TestMAP == nil || y.TestMAP == nil || x.EMATestMAP == nil || y.EMATestMAP == nil || len(x.TestClasses) == 0 {
		t.Fatalf("epoch %d lacks the multi-label figures: on ONNX Runtime %+v, on Go %+v", epoch, x, y)
	}
	if *x.TestMAP != *y.TestMAP || *x.EMATestMAP != *y.EMATestMAP || *x.TestMicroF1 != *y.TestMicroF1 || *x.TestMacroF1 != *y.TestMacroF1 {
		t.Errorf("epoch %d: mAP %v (average %v), F1 %v/%v on ONNX Runtime; mAP %v (average %v), F1 %v/%v on Go", epoch,
			*x.TestMAP, *x.EMATestMAP, *x.TestMicroF1, *x.TestMacroF1, *y.TestMAP, *y.EMATestMAP, *y.TestMicroF1, *y.TestMacroF1)
	}
	same := slices.EqualFunc(x.TestClasses, y.TestClasses, func(p, q runfolder.ClassMetrics) bool {
		return p.Class == q.Class && close(p.Threshold, q.Threshold) && p.Precision == q.Precision && p.Recall == q.Recall && p.F1 == q.F1 && p.AP == q.AP
	})
	if !same {
		t.Errorf("epoch %d's classes: on ONNX Runtime %+v, on Go %+v", epoch, x.TestClasses, y.TestClasses)
	}
}

// TestInferenceBackendChoice checks which passes run on ONNX Runtime (auto: those of at least
// onnxMinImages images on the Go backend, of an architecture ONNX Runtime runs faster; onnx: all; train:
// none), and that a run asking for ONNX Runtime
// where it is not installed is refused before its folder is made.
func TestInferenceBackendChoice(t *testing.T) {
	onnxOrSkip(t)
	dataDir := generate(t, synthveg.Options{Classes: 2, Train: 2, Test: 1, Size: 16, Seed: 1})
	for _, tc := range []struct {
		where        recipe.InferenceBackend
		arch         zoo.Name
		small, large bool // Whether a pass of 1 image and one of onnxMinImages run on ONNX Runtime.
	}{
		{recipe.InferenceAuto, "resnet18", false, true},
		{recipe.InferenceAuto, "convnext_tiny", false, false}, // The Go backend runs ConvNeXt faster.
		{recipe.InferenceONNX, "resnet18", true, true},
		{recipe.InferenceONNX, "convnext_tiny", true, true},
		{recipe.InferenceTrain, "resnet18", false, false},
	} {
		cfg := smallConfig(dataDir)
		cfg.InferenceBackend, cfg.Arch, cfg.Hidden = tc.where, tc.arch, 0
		r, err := Create(cfg, testenv.Backend(t), filepath.Join(t.TempDir(), "run"))
		if err != nil {
			t.Fatal(err)
		}
		if small, large := r.onnxFor(1) != nil, r.onnxFor(onnxMinImages) != nil; small != tc.small || large != tc.large {
			t.Errorf("%s, %s: 1 image on ONNX Runtime %v, %d images %v; want %v, %v", tc.where, tc.arch, small, onnxMinImages, large, tc.small, tc.large)
		}
	}
	t.Setenv(backend.ONNXRuntimeEnv, filepath.Join(t.TempDir(), "missing.so"))
	cfg := smallConfig(dataDir)
	dir := filepath.Join(t.TempDir(), "run")
	r, err := Create(cfg, testenv.Backend(t), dir)
	if err != nil || r.onnxFor(onnxMinImages) != nil {
		t.Errorf("auto without ONNX Runtime: %v, ONNX Runtime %v", err, r != nil && r.onnxFor(onnxMinImages) != nil)
	}
	cfg.InferenceBackend = recipe.InferenceONNX
	dir = filepath.Join(t.TempDir(), "run")
	if _, err := Create(cfg, testenv.Backend(t), dir); err == nil || !strings.Contains(err.Error(), "inference_backend") || !strings.Contains(err.Error(), "missing.so") {
		t.Errorf("onnx without ONNX Runtime: %v", err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("the refused run left a folder")
	}
}
