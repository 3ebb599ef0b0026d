package train

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/augment"
	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/evaluate"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/synthveg"
	"github.com/vegclf/vegclf/vegclf/weights"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// TestGrayscaleRun trains --in-channels 1 end to end on generated data, from a pretrained RGB ResNet-18
// (a file of Go-initialized weights): the stem is adapted (the notes say so; its kernel is the RGB one
// summed), the run learns (its classes differ in colour, and in luminance less), the
// checkpoints record 1 channel, and the best checkpoint loads as a classifier of gray images that
// evaluates to what the run recorded. Resuming with another channel count is refused.
func TestGrayscaleRun(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	dataDir := generate(t, synthveg.Options{Classes: 3, Train: 24, Test: 8, Validation: 8, Size: 48, Seed: 5})
	rgbModel := zoo.MustNew("resnet18", nn.ImageNetHead())
	rgbStore := model.NewStore()
	if err := rgbModel.Init(rgbStore, 9, nil); err != nil {
		t.Fatal(err)
	}
	sd, err := weights.FromStore(rgbStore, rgbModel)
	if err != nil {
		t.Fatal(err)
	}
	pretrained := filepath.Join(t.TempDir(), "rgb.safetensors")
	if err := weights.WriteSafetensors(pretrained, sd); err != nil {
		t.Fatal(err)
	}
	cfg := smallConfig(dataDir)
	cfg.Weights, cfg.InChannels, cfg.FinetuneEpochs = pretrained, 1, 4
	dir := filepath.Join(t.TempDir(), "run")
	r, err := Create(cfg, testenv.Backend(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	if notes := strings.Join(r.Notes, "\n"); !strings.Contains(notes, "Input channels: 1; the RGB stem conv1.weight adapted as timm's adapt_input_conv does (summed over R, G and B)") {
		t.Errorf("the notes do not say the stem is adapted:\n%s", notes)
	}
	stem, err := r.Store.GetVariable(nn.VariablePath("conv1.weight")).Value()
	if err != nil {
		t.Fatal(err)
	}
	if d := stem.Shape().Dimensions; d[2] != 1 {
		t.Fatalf("the stem's kernel is %v, want 1 input channel", d)
	}
	rgbStem, _ := rgbStore.GetVariable(nn.VariablePath("conv1.weight")).Value()
	got, rgbValues := stem.Value().([][][][]float32), rgbStem.Value().([][][][]float32)
	if sum := rgbValues[3][2][0][7] + rgbValues[3][2][1][7] + rgbValues[3][2][2][7]; got[3][2][0][7] != sum {
		t.Errorf("an adapted stem value is %g, the RGB ones' sum %g", got[3][2][0][7], sum)
	}
	if err := r.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	metrics := mustReadMetrics(t, dir)
	first, last := metrics[0], metrics[len(metrics)-1]
	t.Logf("first epoch: %s\nlast epoch: %s", first, last)
	// It learns: the classes' luminances differ, if less than their colours (an RGB run of the same
	// recipe reaches 100% test accuracy in 6 epochs, a gray one 71%: measured).
	if last.TrainAccuracy < 0.7 || last.TrainLoss > first.TrainLoss/2 {
		t.Errorf("a grayscale run does not learn: train accuracy %.1f%% and loss %.3f after %d epochs (the first epoch's loss %.3f)",
			100*last.TrainAccuracy, last.TrainLoss, len(metrics), first.TrainLoss)
	}
	meta, _, err := checkpoint.ReadMeta(filepath.Join(dir, runfolder.BestFile))
	if err != nil {
		t.Fatal(err)
	}
	if meta.InChannels != 1 || meta.Transform().NumChannels() != 1 {
		t.Errorf("best.ckpt records %d channels (transform: %d), want 1", meta.InChannels, meta.Transform().NumChannels())
	}
	c, _, err := runfolder.LoadClassifier(testenv.Backend(t), filepath.Join(dir, runfolder.BestFile))
	if err != nil {
		t.Fatal(err)
	}
	if c.Model.Channels() != 1 {
		t.Fatalf("the loaded classifier takes %d channels", c.Model.Channels())
	}
	res, err := evaluate.Split(c, r.Dataset.Test, cfg.Batch, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accuracy != meta.TestAccuracy {
		t.Errorf("best.ckpt evaluates at %g, it records %g", res.Accuracy, meta.TestAccuracy)
	}
	preds, err := c.Files([]string{r.Dataset.Validation.Samples[0].Path}, 1)
	if err != nil || len(preds) != 1 {
		t.Errorf("predicting a file: %v, %v", preds, err)
	}
	rgb := cfg
	rgb.InChannels = 0
	if _, err := Resume(rgb, testenv.Backend(t), dir); !errors.As(err, new(*ResumeConflict)) {
		t.Errorf("resuming a grayscale run as RGB: %v, want a conflict", err)
	}
}

// TestChannelsSettings: augmentation and augmentation policies take RGB images only (random erasing and
// mixup any), and the channel count is 1 to 4.
func TestChannelsSettings(t *testing.T) {
	cfg := recipe.Default()
	cfg.Data = "/data"
	for _, tc := range []struct {
		edit func(*recipe.Config)
		key  string
	}{
		{func(c *recipe.Config) { c.InChannels = 5 }, "in_channels"},
		{func(c *recipe.Config) { c.InChannels, c.Augment = 1, true }, "augment"},
		{func(c *recipe.Config) { c.InChannels, c.AugmentFrozen = 4, true }, "augment_frozen"},
		{func(c *recipe.Config) {
			c.InChannels, c.AugmentPolicy = 2, augment.AutoPolicy{Kind: augment.TrivialAugment}
		}, "augment_policy"},
	} {
		c := cfg
		tc.edit(&c)
		if invalid, ok := errors.AsType[*recipe.InvalidSetting](c.Validate()); !ok || invalid.Key != tc.key {
			t.Errorf("%+v: %v, want an invalid %s", c, c.Validate(), tc.key)
		}
	}
	for _, n := range []int{1, 2, 4} {
		c := cfg
		c.InChannels, c.Mixup, c.RandomErasing = n, 0.4, 0.25
		if err := c.Validate(); err != nil {
			t.Errorf("%d channels with mixup and random erasing: %v", n, err)
		}
	}
}
