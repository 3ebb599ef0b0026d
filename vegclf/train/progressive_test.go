package train

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/synthveg"
)

// TestProgressiveResizing trains generated data with fine-tuning epochs at 16, 24 and 32 pixels
// (--finetune-image-sizes 16:1,24:1,32:1, --image-size 32): each epoch records and reports its size, its
// training differs from a run at 32 throughout, while a schedule of 32:3 trains exactly as no schedule;
// the test split and validation are at 32; a run stopped after its 16 and 24 epochs and resumed ends as the
// straight one (the size comes back from the epoch number); the sizes of done epochs cannot change on
// resume, those of added ones can.
func TestProgressiveResizing(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	dataDir := generate(t, synthveg.Options{Classes: 3, Train: 12, Test: 4, Validation: 4, Size: 48, Seed: 13})
	cfg := smallConfig(dataDir)
	cfg.FrozenEpochs, cfg.FinetuneEpochs = 1, 3
	plain := cfg
	cfg.FinetuneImageSizes = "16:1,24:1,32:1"

	straight := filepath.Join(t.TempDir(), "straight")
	report := trainStopped(t, cfg, straight, false, 0)
	for _, want := range []string{"Progressive resizing: training images 1 epoch at 16px, then 1 epoch at 24px, then 1 epoch at 32px, in that order; the test split is evaluated at 32px",
		"Epoch 1 trains at 16x16.", "Epoch 2 trains at 24x24.", "Epoch 3 trains at 32x32."} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, report)
		}
	}
	metrics := mustReadMetrics(t, straight)
	if len(metrics) != 4 {
		t.Fatalf("%d epochs, want 4", len(metrics))
	}
	for i, want := range []int{0, 16, 24, 32} {
		if metrics[i].TrainImageSize != want {
			t.Errorf("%s epoch %d trained at %d, want %d", metrics[i].Phase, metrics[i].Epoch, metrics[i].TrainImageSize, want)
		}
	}
	meta, _, err := checkpoint.ReadMeta(filepath.Join(straight, runfolder.LastFile))
	if err != nil {
		t.Fatal(err)
	}
	if meta.ImageSize != 32 || meta.TrainImageSize != 32 {
		t.Errorf("last.ckpt: image size %d, trained at %d; want 32 and 32", meta.ImageSize, meta.TrainImageSize)
	}

	// The schedule changes the training: its first fine-tuning epoch differs from the plain run's, whose
	// frozen epoch it shares; a schedule of one size, the run's, is no schedule.
	plainMetrics := mustReadMetrics(t, trainDir(t, plain))
	same := cfg
	same.FinetuneImageSizes = "32:3"
	sameMetrics := mustReadMetrics(t, trainDir(t, same))
	if metrics[0].TrainLoss != plainMetrics[0].TrainLoss || metrics[1].TrainLoss == plainMetrics[1].TrainLoss {
		t.Errorf("frozen train loss %g (plain %g), first fine-tuning epoch's %g (plain %g): want the first equal, the second not",
			metrics[0].TrainLoss, plainMetrics[0].TrainLoss, metrics[1].TrainLoss, plainMetrics[1].TrainLoss)
	}
	for i := range plainMetrics {
		if sameMetrics[i].TrainLoss != plainMetrics[i].TrainLoss || sameMetrics[i].TestLoss != plainMetrics[i].TestLoss {
			t.Errorf("epoch %d: 32:3 gives %s, no schedule %s", i+1, sameMetrics[i], plainMetrics[i])
		}
	}

	// Stopped after the 24px epoch and resumed, the run ends as the straight one.
	stopped := filepath.Join(t.TempDir(), "stopped")
	trainStopped(t, cfg, stopped, false, 3)
	if got := mustReadMetrics(t, stopped); len(got) != 3 {
		t.Fatalf("stopped after %d epochs, want 3", len(got))
	}
	resumedReport := trainStopped(t, cfg, stopped, true, 0)
	if !strings.Contains(resumedReport, "Epoch 3 trains at 32x32.") || strings.Contains(resumedReport, "Epoch 2 trains") {
		t.Errorf("the resumed run does not train its last epoch at 32:\n%s", resumedReport)
	}
	resumed := mustReadMetrics(t, stopped)
	for i := range metrics {
		if resumed[i].TrainLoss != metrics[i].TrainLoss || resumed[i].TestLoss != metrics[i].TestLoss || resumed[i].TrainImageSize != metrics[i].TrainImageSize {
			t.Errorf("epoch %d: resumed %s (%dpx), straight %s (%dpx)", i+1, resumed[i], resumed[i].TrainImageSize, metrics[i], metrics[i].TrainImageSize)
		}
	}
	r, err := Resume(cfg, testenv.Backend(t), stopped)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := r.EvaluateBest(); err != nil || res == nil || res.Total != 12 {
		t.Errorf("validation of the best checkpoint: %+v, %v", res, err)
	}

	// Resuming: the done epochs' sizes stay; added epochs may have theirs.
	changed := cfg
	changed.FinetuneImageSizes = "24:1,24:1,32:1"
	if _, err := Resume(changed, testenv.Backend(t), stopped); !errors.As(err, new(*ResumeConflict)) || !strings.Contains(err.Error(), "keep their image sizes") {
		t.Errorf("resuming with other sizes for done epochs: %v, want a conflict", err)
	}
	extended := cfg
	extended.FinetuneEpochs, extended.FinetuneImageSizes = 4, "16:1,24:1,32:1,40:1"
	r, err = Resume(extended, testenv.Backend(t), stopped)
	if err != nil {
		t.Fatalf("extending the run with an epoch at 40: %v", err)
	}
	if !strings.Contains(strings.Join(r.Notes, "\n"), "Extending the run: finetune_image_sizes") {
		t.Errorf("the notes do not say the sizes are extended: %q", r.Notes)
	}
}

// trainDir trains cfg in a fresh temporary folder and returns it.
func trainDir(t *testing.T, cfg recipe.Config) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	trainStopped(t, cfg, dir, false, 0)
	return dir
}

// TestProgressiveSizesTheModelTakes: a ViT takes sizes that are multiples of its patch only, its
// progressive ones too; a size it does not take is an *recipe.InvalidSetting naming the setting, before
// anything is written.
func TestProgressiveSizesTheModelTakes(t *testing.T) {
	dataDir := generate(t, synthveg.Options{Classes: 2, Train: 2, Test: 1, Size: 32, Seed: 1})
	cfg := smallConfig(dataDir)
	cfg.Arch, cfg.ImageSize, cfg.FinetuneEpochs = "vit_b_32", 64, 2
	for _, tc := range []struct {
		size  int
		sizes recipe.SizeSchedule
		key   string
	}{{48, "", "image_size"}, {64, "48:1,64:1", "finetune_image_sizes"}} {
		c := cfg
		c.ImageSize, c.FinetuneImageSizes = tc.size, tc.sizes
		dir := filepath.Join(t.TempDir(), "run")
		_, err := Create(c, testenv.Backend(t), dir)
		invalid, ok := errors.AsType[*recipe.InvalidSetting](err)
		if !ok || invalid.Key != tc.key || !strings.Contains(err.Error(), "multiple of its 32-pixel patches") {
			t.Errorf("size %d, sizes %q: error %v, want an invalid %s", tc.size, tc.sizes, err, tc.key)
		}
	}
}
