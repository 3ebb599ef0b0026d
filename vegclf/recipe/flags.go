package recipe

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/vegclf/vegclf/vegclf/zoo"
)

// flagNames are the flags whose names are not their config.json keys with '-' for '_'.
var flagNames = map[string]string{
	"normalization":          "normalize",
	"frozen_batchnorm_train": "tutorial-batchnorm",
	"cache_features":         negatedCacheFlag,
}

// negatedCacheFlag is the one flag that sets its setting to the opposite of its value (negatedBool).
const negatedCacheFlag = "no-feature-cache"

// FlagName returns the flag (RegisterFlags) of a setting given by its config.json key: "image-size" for
// "image_size", "normalize" for "normalization".
func FlagName(key string) string {
	if name, ok := flagNames[key]; ok {
		return name
	}
	return strings.ReplaceAll(key, "_", "-")
}

// KeyOfFlag returns the config.json key of the setting a flag gives the value of ("normalization" for
// "normalize"); false for a flag that is no setting's, or that gives its opposite ("no-feature-cache").
func KeyOfFlag(name string) (string, bool) {
	for _, key := range Keys() {
		if FlagName(key) == name && name != negatedCacheFlag {
			return key, true
		}
	}
	return "", false
}

// RegisterFlags defines on fs a flag for every setting, bound to c's field and with c's value as its
// default. The CLI's train command and the notebooks (GoNB's "%% --lr=1e-3", or the environment through
// SetFromEnv) parse settings with them, so a bad value is an error naming the flag, whichever way it came.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Data, "data", c.Data, "dataset folder with train/, test/ (optional) and validation/ (optional), one sub-folder per class")
	fs.TextVar(&c.Arch, "arch", c.Arch, "`architecture`: "+strings.Join(zoo.Names(), ", "))
	fs.StringVar(&c.Weights, "weights", c.Weights, "pretrained backbone: DEFAULT (the architecture's torchvision DEFAULT), a registry name (see 'vegclf weights list'), a .pth/.safetensors file, or none")
	fs.IntVar(&c.ImageSize, "image-size", c.ImageSize, "images are resized to this size (square)")
	fs.TextVar(&c.Normalization, "normalize", c.Normalization, "input `normalization`: half (the tutorial's 0.5/0.5) or imagenet")
	fs.IntVar(&c.Batch, "batch", c.Batch, "batch size")
	fs.IntVar(&c.FrozenEpochs, "frozen-epochs", c.FrozenEpochs, "epochs with the backbone frozen (transfer learning)")
	fs.IntVar(&c.FinetuneEpochs, "finetune-epochs", c.FinetuneEpochs, "epochs training all layers (fine-tuning)")
	fs.Float64Var(&c.LR, "lr", c.LR, "Adam learning rate of the frozen phase")
	fs.Float64Var(&c.FinetuneLR, "finetune-lr", c.FinetuneLR, "Adam learning rate of the fine-tuning phase")
	fs.IntVar(&c.Hidden, "hidden", c.Hidden, "width of the head's hidden layer (0: a single Linear)")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of the head's initialization, the shuffles and a carved test split")
	fs.IntVar(&c.MaxImagesPerClass, "max-images-per-class", c.MaxImagesPerClass, "use at most this many images of each class and split (0: all)")
	fs.Float64Var(&c.TestFraction, "test-fraction", c.TestFraction, "part of train carved as the test split when the data has none")
	fs.BoolVar(&c.FrozenBatchNormTrain, "tutorial-batchnorm", c.FrozenBatchNormTrain, "frozen phase: keep batch norm in train mode, as the tutorial's model.train() does")
	fs.BoolVar(&c.Strict, "strict", c.Strict, "unreadable image files are an error (by default they are skipped with a warning)")
	fs.Var(negatedBool{&c.CacheFeatures}, negatedCacheFlag, "frozen phase: run the backbone on every batch instead of computing its features once")
	fs.IntVar(&c.ImageCacheMB, "image-cache-mb", c.ImageCacheMB, "keep transformed images in memory up to this many MB, so later epochs skip decoding (0: off)")
	fs.IntVar(&c.FeatureCacheMB, "feature-cache-mb", c.FeatureCacheMB, "frozen phase: keep the backbone's features in memory up to this many MB; the rest is read from the run folder's features file per batch (0: all from the file)")
	fs.BoolVar(&c.BestOptimizerState, "best-optimizer-state", c.BestOptimizerState, "best.ckpt keeps the optimizer's state and the weight average too (by default it holds the model alone, what predict, serve and export read; last.ckpt always keeps them)")
	fs.TextVar(&c.Schedule, "schedule", c.Schedule, "learning-rate `schedule`, stepped per batch in each phase: constant, cosine (with linear warmup) or onecycle")
	fs.Float64Var(&c.Warmup, "warmup", c.Warmup, "cosine schedule: fraction of each phase's steps warming up linearly")
	fs.IntVar(&c.Patience, "patience", c.Patience, "early stopping: end a phase after this many epochs without a better test accuracy (0: off)")
	fs.TextVar(&c.LRRange, "lr-range", c.LRRange, "fine-tuning: `LO:HI`, rates spread geometrically from the stem (LO) to the head (HI), fastai's slice(lo, hi)")
	fs.Float64Var(&c.LayerDecay, "layer-decay", c.LayerDecay, "fine-tuning: each layer group's rate is the next one's times this, timm's --layer-decay (0: off)")
	fs.BoolVar(&c.GradualUnfreeze, "gradual-unfreeze", c.GradualUnfreeze, "fine-tuning: train layer4 and the head first, one more layer group each epoch")
	fs.BoolVar(&c.Augment, "augment", c.Augment, "fine-tuning: random resized crops, flips, small rotations and colour jitter")
	fs.BoolVar(&c.AugmentFrozen, "augment-frozen", c.AugmentFrozen, "augment the frozen phase too (turns its feature cache off)")
	fs.TextVar(&c.AugmentPolicy, "augment-policy", c.AugmentPolicy, "fine-tuning (and the frozen phase with --augment-frozen): an automatic augmentation `policy` on each resized image, trivialaugment (torchvision's TrivialAugmentWide) or randaugment:N:M (RandAugment, N operations at magnitude bin M of 0 to 30), or none")
	fs.Float64Var(&c.RandomErasing, "random-erasing", c.RandomErasing, "fine-tuning (and the frozen phase with --augment-frozen): erase a random rectangle of each normalized image with this `probability`, torchvision's RandomErasing (0: off)")
	fs.Float64Var(&c.Mixup, "mixup", c.Mixup, "fine-tuning: mixup with this Beta parameter, timm uses 0.8 (0: off); soft targets")
	fs.Float64Var(&c.Cutmix, "cutmix", c.Cutmix, "fine-tuning: cutmix with this Beta parameter, timm uses 1.0 (0: off); with mixup too, each batch takes one at random")
	fs.TextVar(&c.Precision, "precision", c.Precision, "the backbone's compute `dtype`: float32, or bfloat16 for mixed precision (float32 weights, loss and head)")
	fs.TextVar(&c.MemoryLimit, "memory-limit", c.MemoryLimit, "the Go runtime's soft memory `limit`: auto (from the first fine-tuning step's live tensors), off, or a size such as 3GiB; GOMEMLIMIT overrides it")
	fs.StringVar(&c.Labels, "labels", c.Labels, "a CSV `file` of path,label[,split] rows listing the images (paths relative to its folder) instead of class folders under --data")
	fs.Float64Var(&c.LabelSmoothing, "label-smoothing", c.LabelSmoothing, "mix each target with the uniform distribution by this much, torch's label_smoothing (timm uses 0.1; 0: off)")
	fs.TextVar(&c.ClassWeights, "class-weights", c.ClassWeights, "weigh the loss's classes: none, or balanced (n / (classes * count), for imbalanced folders; multi-label: pos_weight = negatives / positives per class)")
	fs.BoolVar(&c.BalancedSampling, "balanced-sampling", c.BalancedSampling, "draw each epoch's training images with replacement, with probability inverse to their class's count")
	fs.Float64Var(&c.EMA, "ema", c.EMA, "keep an exponential moving average of the weights with this `decay` (such as 0.999), evaluated each epoch beside them; the best checkpoint keeps the better (0: off)")
	fs.IntVar(&c.Accumulate, "accumulate", c.Accumulate, "sum the gradients of this many batches before each update: the update of one batch of accumulate*batch images, on the memory of one (0 or 1: off)")
	fs.Float64Var(&c.BNMomentum, "bn-momentum", c.BNMomentum, "every batch norm's momentum in train mode, as timm's --bn-momentum (0: the architecture's, torch's 0.1 or MobileNetV3's 0.01, whose statistics need hundreds of steps from scratch)")
	fs.BoolVar(&c.MultiLabel, "multi-label", c.MultiLabel, "several labels per image, separated by ';' in --labels's label column: sigmoid outputs, binary cross-entropy (class weights as pos_weight), best checkpoint by mean average precision")
	fs.TextVar(&c.Threshold, "threshold", c.Threshold, "multi-label: the `probability` above which an output is its label (one for all classes), or tune: per class, maximizing F1 on the test split")
	fs.Float64Var(&c.ClipGrad, "clip-grad", c.ClipGrad, "clip each update's gradient (summed over --accumulate's batches) to this global L2 `norm`, torch's clip_grad_norm_ (or value with --clip-mode value; 0: off)")
	fs.TextVar(&c.ClipMode, "clip-mode", c.ClipMode, "gradient clipping's `mode`: norm (the global norm of all trainable gradients, torch's clip_grad_norm_) or value (each element, clip_grad_value_)")
	fs.TextVar(&c.FinetuneImageSizes, "finetune-image-sizes", c.FinetuneImageSizes, "progressive resizing: `SIZE:EPOCHS,...` such as 160:1,224:1, the fine-tuning epochs' training image sizes in order, summing to --finetune-epochs (test and validation stay at --image-size)")
	fs.IntVar(&c.InChannels, "in-channels", c.InChannels, "the images' channels: 1 (grayscale: Pillow's convert(\"L\")), 2 (gray and alpha), 3 (RGB) or 4 (RGB and alpha, or a fourth band); a pretrained RGB stem is adapted as timm's adapt_input_conv does")
	fs.TextVar(&c.CheckpointEvery, "checkpoint-every", c.CheckpointEvery, "save last.ckpt inside an epoch every `interval` of training (10m), or every N steps (25steps); 0: only at the end of each epoch (and on Ctrl-C)")
	fs.IntVar(&c.Devices, "devices", c.Devices, "data parallel: split each training batch across this many devices (XLA only); 0: all of the backend's that divide the batch")
}

// negatedBool is a boolean flag that sets its setting to the opposite: --no-feature-cache.
type negatedBool struct{ v *bool }

func (b negatedBool) String() string {
	if b.v == nil {
		return "false"
	}
	return strconv.FormatBool(!*b.v)
}

func (b negatedBool) Set(s string) error {
	on, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*b.v = !on
	return nil
}

func (b negatedBool) IsBoolFlag() bool { return true }

// EnvName is the environment variable SetFromEnv reads for a flag: prefix and the flag's name in upper
// case with '_' for '-' (VEGCLF_FINETUNE_LR for "finetune-lr" with prefix "VEGCLF_").
func EnvName(prefix, flagName string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// SetFromEnv sets each of fs's flags that its command line left unset from the environment variable
// EnvName(prefix, flag) where there is one, through the flag's own parser: the environment sits between
// the defaults and the command line. A bad value is an error naming the variable.
func SetFromEnv(fs *flag.FlagSet, prefix string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := EnvName(prefix, f.Name)
		value, ok := os.LookupEnv(name)
		if !ok || given[f.Name] || err != nil {
			return
		}
		if setErr := fs.Set(f.Name, value); setErr != nil {
			err = fmt.Errorf("%s=%q: %w", name, value, setErr)
		}
	})
	return err
}

// Given returns whether a setting, by its config.json key, was given on fs (on its command line or
// through SetFromEnv), for FromScratch's keep.
func Given(fs *flag.FlagSet) func(key string) bool {
	return func(key string) bool {
		given := false
		fs.Visit(func(f *flag.Flag) { given = given || f.Name == FlagName(key) })
		return given
	}
}
