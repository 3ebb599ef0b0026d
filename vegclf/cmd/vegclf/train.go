package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gomlx/compute"
	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/train"
)

// trainFlags registers the training flags on fs, with the tutorial's defaults, and returns the config
// they fill.
func trainFlags(fs *flag.FlagSet, cfg *train.Config) {
	fs.StringVar(&cfg.Data, "data", cfg.Data, "dataset folder with train/, test/ (optional) and validation/ (optional), one sub-folder per class")
	fs.StringVar(&cfg.Arch, "arch", cfg.Arch, "architecture: resnet18, resnet34, resnet50, resnet101, resnet152")
	fs.StringVar(&cfg.Weights, "weights", cfg.Weights, "pretrained backbone: a registry name (see 'vegclf weights list'), a .pth/.safetensors file, or none")
	fs.IntVar(&cfg.ImageSize, "image-size", cfg.ImageSize, "images are resized to this size (square)")
	fs.StringVar(&cfg.Normalization, "normalize", cfg.Normalization, "input normalization: half (the tutorial's 0.5/0.5) or imagenet")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "batch size")
	fs.IntVar(&cfg.FrozenEpochs, "frozen-epochs", cfg.FrozenEpochs, "epochs with the backbone frozen (transfer learning)")
	fs.IntVar(&cfg.FinetuneEpochs, "finetune-epochs", cfg.FinetuneEpochs, "epochs training all layers (fine-tuning)")
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "Adam learning rate of the frozen phase")
	fs.Float64Var(&cfg.FinetuneLR, "finetune-lr", cfg.FinetuneLR, "Adam learning rate of the fine-tuning phase")
	fs.IntVar(&cfg.Hidden, "hidden", cfg.Hidden, "width of the head's hidden layer (0: a single Linear)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the head's initialization, the shuffles and a carved test split")
	fs.IntVar(&cfg.MaxImagesPerClass, "max-images-per-class", cfg.MaxImagesPerClass, "use at most this many images of each class and split (0: all)")
	fs.Float64Var(&cfg.TestFraction, "test-fraction", cfg.TestFraction, "part of train carved as the test split when the data has none")
	fs.BoolVar(&cfg.FrozenBatchNormTrain, "tutorial-batchnorm", cfg.FrozenBatchNormTrain, "frozen phase: keep batch norm in train mode, as the tutorial's model.train() does")
	fs.BoolVar(&cfg.Strict, "strict", cfg.Strict, "unreadable image files are an error (by default they are skipped with a warning)")
	fs.BoolFunc("no-feature-cache", "frozen phase: run the backbone on every batch instead of computing its features once", func(string) error {
		cfg.CacheFeatures = false
		return nil
	})
	fs.StringVar(&cfg.Schedule, "schedule", cfg.Schedule, "learning rate per batch in each phase: constant, cosine (with linear warmup) or onecycle")
	fs.Float64Var(&cfg.Warmup, "warmup", cfg.Warmup, "cosine schedule: fraction of each phase's steps warming up linearly")
	fs.StringVar(&cfg.LRRange, "lr-range", cfg.LRRange, "fine-tuning: LO:HI, rates spread geometrically from the stem (LO) to the head (HI), fastai's slice(lo, hi)")
	fs.Float64Var(&cfg.LayerDecay, "layer-decay", cfg.LayerDecay, "fine-tuning: each layer group's rate is the next one's times this, timm's --layer-decay (0: off)")
	fs.BoolVar(&cfg.Augment, "augment", cfg.Augment, "fine-tuning: random resized crops, flips, small rotations and colour jitter")
	fs.BoolVar(&cfg.AugmentFrozen, "augment-frozen", cfg.AugmentFrozen, "augment the frozen phase too (turns its feature cache off)")
	fs.StringVar(&cfg.Precision, "precision", cfg.Precision, "the backbone's compute dtype: float32, or bfloat16 for mixed precision (float32 weights, loss and head)")
	fs.StringVar(&cfg.MemoryLimit, "memory-limit", cfg.MemoryLimit, "the Go runtime's soft memory limit: auto (from the first fine-tuning step's live tensors), off, or a size such as 3GiB; GOMEMLIMIT overrides it")
	fs.Float64Var(&cfg.Mixup, "mixup", cfg.Mixup, "fine-tuning: mixup with this Beta parameter, timm uses 0.8 (0: off); soft targets")
	fs.Float64Var(&cfg.Cutmix, "cutmix", cfg.Cutmix, "fine-tuning: cutmix with this Beta parameter, timm uses 1.0 (0: off); with --mixup, each batch takes one at random")
	fs.BoolVar(&cfg.GradualUnfreeze, "gradual-unfreeze", cfg.GradualUnfreeze, "fine-tuning: train layer4 and the head first, one more layer group each epoch")
	fs.IntVar(&cfg.Patience, "patience", cfg.Patience, "early stopping: end a phase after this many epochs without a better test accuracy (0: off)")
	fs.IntVar(&cfg.Devices, "devices", cfg.Devices, "data parallel: split each training batch across this many devices (XLA only); 0: all of the backend's that divide the batch")
	fs.IntVar(&cfg.ImageCacheMB, "image-cache-mb", cfg.ImageCacheMB, "keep transformed images in memory up to this many MB, so later epochs skip decoding (0: off)")
}

// trainCommand holds the train command's flags over a configuration.
type trainCommand struct {
	fs          *flag.FlagSet
	cfg         train.Config
	out         *string
	resume      *bool
	configFile  *string
	backendSpec *string
}

// newTrainCommand registers the train command's flags over cfg (their defaults: cfg's values).
func newTrainCommand(cfg train.Config, stderr io.Writer) *trainCommand {
	c := &trainCommand{fs: newFlagSet("train", "--data DIR --out RUNDIR [flags]", stderr), cfg: cfg}
	trainFlags(c.fs, &c.cfg)
	c.out = c.fs.String("out", "", "run folder: config, metrics, checkpoints, summary")
	c.resume = c.fs.Bool("resume", false, "continue the run in --out from its last checkpoint, with its saved settings; "+
		"--frozen-epochs or --finetune-epochs above the saved ones extend it, other settings that differ are an error")
	c.configFile = c.fs.String("config", "", "a YAML or JSON file of settings with config.json's keys (a run's config.json is one); flags given beside it override it")
	c.backendSpec = backendFlag(c.fs)
	return c
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	c := newTrainCommand(train.DefaultConfig(), stderr)
	if err := parseFlagsOnly(c.fs, args); err != nil {
		return err
	}
	if *c.out == "" {
		return usagef("--out is required")
	}
	// The settings, in order: the defaults or, resuming, the run's saved ones; the --config file; the
	// flags given. train.Open refuses a resume with settings that would change what the run means.
	base := c.cfg
	if *c.resume {
		saved, err := train.ReadConfig(*c.out)
		if err != nil {
			return fmt.Errorf("nothing to resume in %s: %w", *c.out, err)
		}
		base = saved
	}
	if *c.configFile != "" {
		var err error
		if base, err = train.ReadConfigFile(*c.configFile, base); err != nil {
			return usagef("%v", err)
		}
	}
	if *c.resume || *c.configFile != "" {
		c = newTrainCommand(base, io.Discard)
		if err := parseFlagsOnly(c.fs, args); err != nil {
			return err
		}
	}
	if c.cfg.Data == "" {
		return usagef("--data is required (or data in --config)")
	}
	b, choice, err := backend.New(*c.backendSpec)
	if err != nil {
		return err
	}
	defer b.Finalize()
	fmt.Fprintf(stdout, "Backend: %s\n", choice)
	err = trainValidatePredict(c.cfg, b, *c.out, *c.resume, stdout, stderr)
	var conflict *train.ResumeConflict
	switch {
	case errors.As(err, &conflict):
		return errors.New(describeConflict(conflict, *c.out))
	case errors.Is(err, train.ErrRunExists):
		return fmt.Errorf("%s already holds a run (%s): continue it with --resume, or give another --out", *c.out, train.LastFile)
	}
	return err
}

// describeConflict says, in flags, what a refused resume would have changed and how to train with it.
func describeConflict(conflict *train.ResumeConflict, out string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cannot resume %s with other settings; nothing was changed there:\n", out)
	for _, d := range conflict.Differences {
		fmt.Fprintf(&b, "  %s: the run has %s, the command line %s", settingFlag(d.Key), d.Saved, d.Given)
		if d.Why != "" {
			fmt.Fprintf(&b, " (%s)", d.Why)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Leave these flags out to continue the run in %s as it was, or give a new --out to start a run with them.", out)
	return b.String()
}

// settingFlag returns the train flag of a config.json key.
func settingFlag(key string) string {
	switch key {
	case "normalization":
		return "--normalize"
	case "frozen_batchnorm_train":
		return "--tutorial-batchnorm"
	case "cache_features":
		return "--no-feature-cache"
	}
	return "--" + strings.ReplaceAll(key, "_", "-")
}

// trainValidatePredict runs the whole recipe: both phases, validation of the best checkpoint, a summary,
// and predictions for a few single images.
func trainValidatePredict(cfg train.Config, b compute.Backend, out string, resume bool, stdout, stderr io.Writer) error {
	r, err := train.Open(cfg, b, out, resume)
	if err != nil {
		return err
	}
	ds := r.Dataset
	fmt.Fprintf(stdout, "Data: %s: %d classes, %d train, %d test", r.Config.Data, len(ds.Classes), len(ds.Train.Samples), len(ds.Test.Samples))
	if ds.Validation != nil {
		fmt.Fprintf(stdout, ", %d validation", len(ds.Validation.Samples))
	}
	fmt.Fprintf(stdout, " images, %dx%d\nModel: %s\n", r.Config.ImageSize, r.Config.ImageSize, r.Model)
	r.Report = stdout
	r.OnProgress = progressBar(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := r.Train(ctx); err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted; completed epochs are saved in %s: continue with --resume --out %s", out, out)
		}
		return err
	}
	validation, err := r.Validate()
	if err != nil {
		return err
	}
	if _, err := r.WriteSummary(validation); err != nil {
		return err
	}
	// Single-image predictions with the best checkpoint, one image per class.
	c, _, err := train.LoadClassifier(b, out)
	if err != nil {
		return err
	}
	split := ds.HeldOut()
	var images []string
	seen := map[int]bool{}
	for _, s := range split.Samples {
		if !seen[s.Label] && len(images) < 4 {
			seen[s.Label] = true
			images = append(images, s.Path)
		}
	}
	fmt.Fprintf(stdout, "\nPredictions of the best checkpoint on %s images:\n", split.Name)
	if err := printPredictions(c, inputsOf(images), 3, false, stdout, stderr); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nRun folder: %s (config.json, metrics.jsonl, best.ckpt, last.ckpt, summary.txt)\n", out)
	return nil
}

// progressBar returns a progress callback drawing a bar on w when w is a terminal, and nothing otherwise.
func progressBar(w io.Writer) func(train.Progress) {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	if info, err := f.Stat(); err != nil || info.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return func(p train.Progress) {
		const width = 30
		filled := width * p.Done / max(p.Total, 1)
		fmt.Fprintf(w, "\r%s epoch %d/%d %-5s [%s%s] %d/%d %s ", p.Phase, p.Epoch, p.Epochs, p.Stage,
			strings.Repeat("=", filled), strings.Repeat(" ", width-filled), p.Done, p.Total, p.Elapsed.Round(time.Second))
		if p.Done == p.Total && p.Stage == "test" {
			fmt.Fprint(w, "\r\033[K")
		}
	}
}
