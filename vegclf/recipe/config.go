// Package recipe holds a training run's settings (Config): the tutorial's transfer-learning recipe by
// default, with every setting's flag, environment variable and config-file key, their validation, and the
// from-scratch settings for when no pretrained weights are at hand. Package train runs them; the CLI, the
// notebooks, sweeps and run folders read and write them.
package recipe

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/vegclf/vegclf/vegclf/augment"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/memlimit"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/schedule"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// Config is a training run's configuration; DefaultConfig has the tutorial's values.
type Config struct {
	Data                 string             `json:"data"`                        // Dataset root (train/, test/, validation/).
	Arch                 zoo.Name           `json:"arch"`                        // A registered architecture (zoo.Names): resnet50, ...
	Weights              string             `json:"weights"`                     // Registry name (DEFAULT: the architecture's torchvision DEFAULT), weights file, or "none" (random initialization).
	ImageSize            int                `json:"image_size"`                  // Images are resized to ImageSize x ImageSize.
	Normalization        data.Normalization `json:"normalization"`               // "half" (the tutorial's 0.5/0.5) or "imagenet".
	Batch                int                `json:"batch"`                       // Batch size.
	FrozenEpochs         int                `json:"frozen_epochs"`               // Epochs with the backbone frozen.
	FinetuneEpochs       int                `json:"finetune_epochs"`             // Epochs training everything.
	LR                   float64            `json:"lr"`                          // Adam learning rate of the frozen phase.
	FinetuneLR           float64            `json:"finetune_lr"`                 // Adam learning rate of the fine-tuning phase.
	Hidden               int                `json:"hidden"`                      // Width of the head's hidden layer; 0 for a single Linear.
	Seed                 uint64             `json:"seed"`                        // Seeds the head's initialization, the shuffles and carved splits.
	MaxImagesPerClass    int                `json:"max_images_per_class"`        // 0 means all.
	TestFraction         float64            `json:"test_fraction"`               // Part of train carved as test when the data has no test split.
	FrozenBatchNormTrain bool               `json:"frozen_batchnorm_train"`      // Frozen phase: batch norm in train mode, as the tutorial's model.train() does.
	Strict               bool               `json:"strict"`                      // Unreadable image files are an error instead of being skipped with a warning.
	CacheFeatures        bool               `json:"cache_features"`              // Frozen phase: compute the backbone's features once and train the head on them.
	ImageCacheMB         int                `json:"image_cache_mb"`              // Keep transformed images in memory up to this size (0: off).
	Schedule             schedule.Kind      `json:"schedule,omitempty"`          // Learning rate per step in each phase: constant (default), cosine, onecycle.
	Warmup               float64            `json:"warmup,omitempty"`            // Cosine schedule: fraction of a phase's steps warming up linearly.
	Patience             int                `json:"patience,omitempty"`          // Early stopping: end a phase after this many epochs without a better test accuracy (0: off).
	LRRange              LRRange            `json:"lr_range,omitzero"`           // Fine-tuning: "lo:hi", rates spread geometrically from the stem (lo) to the head (hi), fastai's slice(lo, hi).
	LayerDecay           float64            `json:"layer_decay,omitempty"`       // Fine-tuning: each group's rate is the next one's times this (timm's --layer-decay); 0: off.
	GradualUnfreeze      bool               `json:"gradual_unfreeze,omitempty"`  // Fine-tuning: epoch 1 trains layer4 and the head, each later epoch one more group.
	Augment              bool               `json:"augment,omitempty"`           // Fine-tuning: random crops, flips, small rotations and colour jitter (augment.Default).
	AugmentFrozen        bool               `json:"augment_frozen,omitempty"`    // The frozen phase too (turns the feature cache off).
	AugmentPolicy        augment.AutoPolicy `json:"augment_policy,omitzero"`     // Fine-tuning (and an augmented frozen phase): trivialaugment or randaugment:N:M, torchvision's TrivialAugmentWide or RandAugment on each resized image.
	RandomErasing        float64            `json:"random_erasing,omitempty"`    // Fine-tuning (and an augmented frozen phase): torchvision's RandomErasing with this probability, after normalization (0: off).
	Mixup                float64            `json:"mixup,omitempty"`             // Fine-tuning (and an augmented frozen phase): mixup's Beta parameter, timm's 0.8 (0: off).
	Cutmix               float64            `json:"cutmix,omitempty"`            // Likewise cutmix's, timm's 1.0; with mixup too, each batch takes one of them at random.
	Precision            nn.Precision       `json:"precision,omitempty"`         // The backbone's compute dtype: float32 (default) or bfloat16 (mixed precision, float32 master weights).
	MemoryLimit          memlimit.Policy    `json:"memory_limit,omitzero"`       // The Go runtime's soft memory limit: auto (default: from the first fine-tuning step), off, or a size such as 3GiB; GOMEMLIMIT overrides it.
	CheckpointEvery      Interval           `json:"checkpoint_every,omitzero"`   // Save last.ckpt inside an epoch every duration of training ("10m", the default), every N steps ("25steps"), or never ("0").
	Devices              int                `json:"devices,omitempty"`           // Data parallel: split each training batch across this many devices (XLA only); 0: all the backend has that divide the batch.
	Labels               string             `json:"labels,omitempty"`            // A CSV file (path,label[,split]) listing the images instead of class folders; paths relative to its folder.
	LabelSmoothing       float64            `json:"label_smoothing,omitempty"`   // Mixes each target with the uniform distribution: (1-e)*t + e/classes, torch's label_smoothing (timm's 0.1).
	ClassWeights         ClassWeighting     `json:"class_weights,omitempty"`     // none, or balanced: the loss weighs class c by n / (classes * count_c), torch's weight= (multi-label: pos_weight negatives_c / positives_c).
	BalancedSampling     bool               `json:"balanced_sampling,omitempty"` // Each epoch draws its training images with replacement, with probability inverse to their class's count.
	EMA                  float64            `json:"ema,omitempty"`               // Keep an exponential moving average of the weights with this decay, evaluated each epoch; the best checkpoint keeps the better (0: off).
	Accumulate           int                `json:"accumulate,omitempty"`        // Sum the gradients of this many batches before each update: a batch of accumulate*batch images (0 or 1: off).
	BNMomentum           float64            `json:"bn_momentum,omitempty"`       // Every batch norm's momentum in train mode, timm's --bn-momentum (0: the architecture's: 0.1, MobileNetV3's 0.01).
	MultiLabel           bool               `json:"multi_label,omitempty"`       // Several labels per image (Labels's label column, separated by ';'): sigmoid outputs and binary cross-entropy, the best checkpoint by mean average precision.
	Threshold            Threshold          `json:"threshold,omitzero"`          // Multi-label: the probability above which an output is its label, or "tune" (per class, maximizing F1 on the test split); 0.5 by default.
	ClipGrad             float64            `json:"clip_grad,omitempty"`         // Clip each update's gradient (after accumulation) to this global norm, or value with ClipMode value (0: off).
	ClipMode             ClipMode           `json:"clip_mode,omitempty"`         // norm (default: torch's clip_grad_norm_) or value (clip_grad_value_).

	// Progressive resizing: "160:1,224:1", the fine-tuning epochs' training image sizes in order, summing
	// to FinetuneEpochs ("": all at ImageSize). Test and validation stay at ImageSize.
	FinetuneImageSizes SizeSchedule `json:"finetune_image_sizes,omitempty"`
	// The images' channels, 1 to 4 (0: 3, RGB): 1 reads them as grayscale, 2 as gray and alpha, 4 as RGB and
	// alpha (or a fourth band), and a pretrained RGB stem is adapted as timm's adapt_input_conv does.
	InChannels int `json:"in_channels,omitempty"`
	// FeatureCacheMB keeps the frozen backbone's features in memory up to this size; the rest are read
	// from the features file per batch (0: all of them from the file).
	FeatureCacheMB int `json:"feature_cache_mb,omitempty"`
	// BestOptimizerState has best.ckpt keep the optimizer's state and the weight average too; by default it
	// holds the model alone, what inference and export read (last.ckpt always keeps them, to resume).
	BestOptimizerState bool `json:"best_optimizer_state,omitempty"`
}

// UnitScales returns learning-rate scales of 1 for n layer groups.
func UnitScales(n int) []float64 {
	scales := make([]float64, n)
	for g := range scales {
		scales[g] = 1
	}
	return scales
}

// LRRange spreads fine-tuning's learning rates geometrically from Lo, the stem's, to Hi, the head's
// (fastai's slice(lo, hi)); the zero value is off. It is written and parsed as text, "LO:HI".
type LRRange struct{ Lo, Hi float64 }

// String writes the range as "LO:HI" ("" when off).
func (r LRRange) String() string {
	if r == (LRRange{}) {
		return ""
	}
	return fmt.Sprintf("%g:%g", r.Lo, r.Hi)
}

// MarshalText writes the range (String).
func (r LRRange) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads "LO:HI" with 0 < LO <= HI, or "" for off.
func (r *LRRange) UnmarshalText(text []byte) error {
	if strings.TrimSpace(string(text)) == "" {
		*r = LRRange{}
		return nil
	}
	var lo, hi float64
	if n, err := fmt.Sscanf(string(text), "%g:%g", &lo, &hi); n != 2 || err != nil || lo <= 0 || hi < lo {
		return fmt.Errorf("learning-rate range %q: want LO:HI with 0 < LO <= HI", text)
	}
	*r = LRRange{Lo: lo, Hi: hi}
	return nil
}

// FinetuneRate returns the fine-tuning phase's base learning rate, the head's: LRRange's high end, else
// FinetuneLR.
func (c Config) FinetuneRate() float64 {
	if c.LRRange != (LRRange{}) {
		return c.LRRange.Hi
	}
	return c.FinetuneLR
}

// GroupScales returns each of a model's layer groups' fine-tuning learning rate relative to FinetuneRate,
// from the input to the head (groups of them, the head last), from LRRange or LayerDecay (all 1 with
// neither; Validate refuses both).
func (c Config) GroupScales(groups int) []float64 {
	scales := UnitScales(groups)
	last := float64(groups - 1)
	switch {
	case last == 0:
	case c.LRRange != (LRRange{}):
		for g := range scales {
			scales[g] = math.Pow(c.LRRange.Lo/c.LRRange.Hi, (last-float64(g))/last)
		}
	case c.LayerDecay != 0:
		for g := range scales {
			scales[g] = math.Pow(c.LayerDecay, last-float64(g))
		}
	}
	return scales
}

// Default returns the tutorial's configuration: ResNet-50 with torchvision's DEFAULT weights
// (IMAGENET1K_V2).
func Default() Config {
	return Config{
		Arch: "resnet50", Weights: zoo.DefaultWeights, ImageSize: 224, Normalization: data.HalfNormalization, Batch: 16,
		FrozenEpochs: 5, FinetuneEpochs: 2, LR: 1e-4, FinetuneLR: 1e-5, Hidden: 128, TestFraction: 0.2,
		CacheFeatures: true, ImageCacheMB: 1024, FeatureCacheMB: 1024,
	}
}

// InvalidSetting is Validate's error: a setting, by its config.json key, whose value is refused. The
// command line names it by its flag (FlagName), the notebooks by their flags or environment variables.
type InvalidSetting struct {
	Key     string   // The setting's config.json key: "batch".
	Also    []string // Other settings the problem involves, by key ("layer_decay" beside "lr_range").
	Problem string   // What is wrong, in the settings' words: "batch size 0 (want at least 1)".
	Want    string   // What the value must be, said without the value: "at least 1".
}

func (e *InvalidSetting) Error() string { return "config: " + e.Problem }

// Keys returns the settings the problem involves: Key, then Also.
func (e *InvalidSetting) Keys() []string { return append([]string{e.Key}, e.Also...) }

// Validate checks the configuration's values; an invalid value is an *InvalidSetting naming its setting.
// The named settings (architecture, normalization, schedule, precision, memory limit, learning-rate range)
// are checked where they are parsed (flags, JSON, YAML); Validate checks that they are set and fit
// together.
func (c Config) Validate() error {
	invalid := func(key, want, format string, args ...any) error {
		return &InvalidSetting{Key: key, Problem: fmt.Sprintf(format, args...), Want: want}
	}
	switch {
	case c.Data == "" && c.Labels == "":
		return invalid("data", "a dataset folder, or a labels file", "no data folder or labels file")
	case c.Arch == "":
		return invalid("arch", "an architecture: "+strings.Join(zoo.Names(), ", "), "no architecture")
	case c.Normalization.Name == "":
		return invalid("normalization", "half or imagenet", "no normalization")
	case c.ImageSize < 16:
		return invalid("image_size", "at least 16", "image size %d is too small (at least 16)", c.ImageSize)
	case c.Batch < 1:
		return invalid("batch", "at least 1", "batch size %d (want at least 1)", c.Batch)
	case c.FrozenEpochs < 0:
		return invalid("frozen_epochs", "0 or more", "negative epochs: frozen epochs %d", c.FrozenEpochs)
	case c.FinetuneEpochs < 0:
		return invalid("finetune_epochs", "0 or more", "negative epochs: fine-tuning epochs %d", c.FinetuneEpochs)
	case c.FrozenEpochs+c.FinetuneEpochs == 0:
		return &InvalidSetting{Key: "frozen_epochs", Also: []string{"finetune_epochs"}, Want: "at least one epoch in all",
			Problem: "no epochs to train: frozen and fine-tuning epochs are both 0"}
	case !(c.LR > 0):
		return invalid("lr", "a positive learning rate", "learning rates must be positive: the frozen phase's (lr) is %g", c.LR)
	case !(c.FinetuneLR > 0):
		return invalid("finetune_lr", "a positive learning rate", "learning rates must be positive: the fine-tuning phase's (finetune_lr) is %g", c.FinetuneLR)
	case c.Hidden < 0:
		return invalid("hidden", "0 (a single Linear) or a positive width", "negative hidden size %d", c.Hidden)
	case c.MaxImagesPerClass < 0:
		return invalid("max_images_per_class", "0 (all) or a positive count", "negative max images per class %d", c.MaxImagesPerClass)
	case !(c.TestFraction > 0 && c.TestFraction < 1):
		return invalid("test_fraction", "between 0 and 1, such as 0.2", "test fraction %g (want between 0 and 1)", c.TestFraction)
	case c.Patience < 0:
		return invalid("patience", "0 (off) or a positive number of epochs", "negative patience %d", c.Patience)
	case c.Devices < 0:
		return invalid("devices", "0 for all, or a positive count", "devices %d (want 0 for all, or a positive count)", c.Devices)
	case c.ImageCacheMB < 0:
		return invalid("image_cache_mb", "0 for none, or a positive size", "image cache of %d MB (want 0 for none, or a positive size)", c.ImageCacheMB)
	case c.FeatureCacheMB < 0:
		return invalid("feature_cache_mb", "0 for none in memory, or a positive size", "feature cache of %d MB (want 0 for none in memory, or a positive size)", c.FeatureCacheMB)
	case c.LRRange != (LRRange{}) && c.LayerDecay != 0:
		return &InvalidSetting{Key: "lr_range", Also: []string{"layer_decay"}, Want: "one or the other, not both",
			Problem: "give a learning-rate range or a layer decay, not both"}
	case c.LayerDecay < 0 || c.LayerDecay > 1 || math.IsNaN(c.LayerDecay):
		return invalid("layer_decay", "between 0 and 1 (0: off)", "layer decay %g (want between 0 and 1)", c.LayerDecay)
	case !(c.LabelSmoothing >= 0 && c.LabelSmoothing < 1):
		return invalid("label_smoothing", "at least 0 and below 1", "label smoothing %g (want at least 0 and below 1)", c.LabelSmoothing)
	case !(c.EMA >= 0 && c.EMA < 1):
		return invalid("ema", "0 for off, or between 0 and 1, such as 0.999", "EMA decay %g (want 0 for off, or between 0 and 1, such as 0.999)", c.EMA)
	case c.BNMomentum < 0 || c.BNMomentum > 1 || math.IsNaN(c.BNMomentum):
		return invalid("bn_momentum", "0 for the architecture's, or between 0 and 1", "batch-norm momentum %g (want 0 for the architecture's, or between 0 and 1)", c.BNMomentum)
	case c.Accumulate < 0:
		return invalid("accumulate", "0 or 1 for off, or the number of batches per update", "accumulate %d (want 0 or 1 for off, or the number of batches per update)", c.Accumulate)
	case !(c.ClipGrad >= 0) || math.IsInf(c.ClipGrad, 1):
		return invalid("clip_grad", "0 for off, or a positive maximum norm or value", "gradient clipping at %g (want 0 for off, or a positive maximum norm or value)", c.ClipGrad)
	case c.ClipMode != ClipNorm && c.ClipMode != ClipValue:
		return invalid("clip_mode", "norm or value", "clip mode %q (want norm or value)", string(c.ClipMode))
	case c.FinetuneImageSizes != "" && c.FinetuneImageSizes.Entries() == nil:
		return invalid("finetune_image_sizes", "SIZE:EPOCHS[,SIZE:EPOCHS...], such as 160:1,224:1", "fine-tuning image sizes %q (want SIZE:EPOCHS[,SIZE:EPOCHS...], such as 160:1,224:1)", string(c.FinetuneImageSizes))
	case slices.ContainsFunc(c.FinetuneImageSizes.Entries(), func(e SizeEpochs) bool { return e.Size < 16 }):
		return invalid("finetune_image_sizes", "sizes of at least 16", "fine-tuning image sizes %s: a size under 16", c.FinetuneImageSizes)
	case c.FinetuneImageSizes != "" && c.FinetuneImageSizes.Epochs() != c.FinetuneEpochs:
		return &InvalidSetting{Key: "finetune_image_sizes", Also: []string{"finetune_epochs"}, Want: "epochs summing to the fine-tuning epochs",
			Problem: fmt.Sprintf("fine-tuning image sizes %s give %s, the fine-tuning epochs are %d (they must be equal)", c.FinetuneImageSizes, plural(c.FinetuneImageSizes.Epochs(), "epoch"), c.FinetuneEpochs)}
	case c.InChannels < 0 || c.InChannels > 4:
		return invalid("in_channels", "1 to 4 (3: RGB)", "%d input channels (want 1 to 4; 3 is RGB)", c.InChannels)
	case c.Channels() != 3 && (c.Augment || c.AugmentFrozen):
		key := "augment"
		if !c.Augment {
			key = "augment_frozen"
		}
		return &InvalidSetting{Key: key, Also: []string{"in_channels"}, Want: "no augmentation of other than RGB images",
			Problem: fmt.Sprintf("augmentation takes RGB images, not %d channels (mixup, cutmix and random erasing take any)", c.Channels())}
	case c.AugmentPolicy.Validate() != nil:
		return invalid("augment_policy", "trivialaugment, randaugment:N:M (N at least 1, M from 0 to 30) or none", "%v", c.AugmentPolicy.Validate())
	case c.Channels() != 3 && c.AugmentPolicy.Enabled():
		return &InvalidSetting{Key: "augment_policy", Also: []string{"in_channels"}, Want: "no augmentation policy for other than RGB images",
			Problem: fmt.Sprintf("augmentation policy %s takes RGB images, not %d channels (random erasing, mixup and cutmix take any)", c.AugmentPolicy, c.Channels())}
	case !(c.RandomErasing >= 0 && c.RandomErasing <= 1):
		return invalid("random_erasing", "a probability from 0 (off) to 1", "random erasing probability %g (want 0 for off, up to 1)", c.RandomErasing)
	case c.ClassWeights != NoClassWeights && c.ClassWeights != BalancedClassWeights:
		return invalid("class_weights", "none or balanced", "class weights %q (want none or balanced)", string(c.ClassWeights))
	case c.Precision.DType() == dtypes.Float16:
		return invalid("precision", "float32 or bfloat16 (float16 training needs loss scaling, which vegclf does not do)",
			"float16 training needs loss scaling, which vegclf does not do (its gradients underflow); use bfloat16")
	}
	if err := c.validateMultiLabel(); err != nil {
		return err
	}
	if err := schedule.CheckWarmup(c.Warmup); err != nil {
		return invalid("warmup", "a fraction of the steps, at least 0 and below 1", "%v", err)
	}
	if err := c.Mix().Validate(); err != nil {
		key := "mixup"
		if c.Mixup >= 0 && !math.IsNaN(c.Mixup) {
			key = "cutmix"
		}
		return invalid(key, "0 for off, or a positive Beta parameter", "%v", err)
	}
	return nil
}

// validateMultiLabel checks the settings that multi-label classification changes or cannot take.
func (c Config) validateMultiLabel() error {
	if !c.MultiLabel {
		if c.Threshold != (Threshold{}) {
			return &InvalidSetting{Key: "threshold", Also: []string{"multi_label"}, Want: "only with multi-label classification",
				Problem: fmt.Sprintf("threshold %s applies to multi-label classification only (multi_label is off)", c.Threshold)}
		}
		return nil
	}
	both := func(key, problem string) error {
		return &InvalidSetting{Key: key, Also: []string{"multi_label"}, Want: "off with multi-label classification", Problem: problem}
	}
	switch {
	case c.Labels == "":
		return &InvalidSetting{Key: "multi_label", Also: []string{"labels"}, Want: "a labels file (labels) beside it",
			Problem: "multi-label classification reads its labels from a CSV file (labels): class folders hold one label per image"}
	case !(c.Threshold.Probability() > 0 && c.Threshold.Probability() < 1):
		return invalidThreshold(c.Threshold)
	case c.Mixup != 0 || c.Cutmix != 0:
		key := "mixup"
		if c.Mixup == 0 {
			key = "cutmix"
		}
		return both(key, "mixup and cutmix are not implemented for multi-label classification: turn them off")
	case c.BalancedSampling:
		return both("balanced_sampling", "balanced sampling draws by an image's class, which a multi-label image has several of: use class_weights balanced (pos_weight) instead")
	}
	return nil
}

// invalidThreshold is Validate's error for a threshold outside (0, 1).
func invalidThreshold(t Threshold) error {
	return &InvalidSetting{Key: "threshold", Want: "a probability between 0 and 1, or tune",
		Problem: fmt.Sprintf("threshold %g (want a probability between 0 and 1, or tune)", t.Value)}
}

// plural writes n things: "1 epoch", "2 epochs".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// Mix returns the mixup and cutmix settings.
func (c Config) Mix() *augment.Mix {
	return &augment.Mix{Mixup: c.Mixup, Cutmix: c.Cutmix}
}

// Head returns the classifier head for numClasses.
func (c Config) Head(numClasses int) nn.Head {
	h := nn.Head{NumClasses: numClasses}
	if c.Hidden > 0 {
		h.Hidden = []int{c.Hidden}
	}
	return h
}

// Channels returns the images' channels: InChannels, or 3 when 0.
func (c Config) Channels() int {
	if c.InChannels == 0 {
		return 3
	}
	return c.InChannels
}

// Transform returns the input transform.
func (c Config) Transform() data.Transform {
	t := data.Transform{Size: c.ImageSize, Normalization: c.Normalization}
	if c.Channels() != 3 {
		t.Channels = c.InChannels
	}
	return t
}

// FromScratch sets, on cfg, the settings that learn the generated vegetable classes (synthveg) from
// random initialization, for when no pretrained weights are at hand: a ResNet-18 at 64x64, no pretrained
// weights, learning rates of 1e-3, batches of 8, one frozen epoch and six of fine-tuning (BENCHMARKS.md has
// its time and accuracy). Settings for which keep (given the config.json key) returns
// true are left as they are: those a user gave.
func FromScratch(cfg *Config, keep func(key string) bool) {
	for key, set := range map[string]func(){
		"arch":            func() { cfg.Arch = "resnet18" },
		"weights":         func() { cfg.Weights = "none" },
		"image_size":      func() { cfg.ImageSize = 64 },
		"lr":              func() { cfg.LR = 1e-3 },
		"finetune_lr":     func() { cfg.FinetuneLR = 1e-3 },
		"frozen_epochs":   func() { cfg.FrozenEpochs = 1 },
		"finetune_epochs": func() { cfg.FinetuneEpochs = 6 },
		"batch":           func() { cfg.Batch = 8 },
	} {
		if !keep(key) {
			set()
		}
	}
}

// DatasetOptions returns the options data.LoadDataset takes from the configuration.
func (c Config) DatasetOptions() data.DatasetOptions {
	return data.DatasetOptions{MaxPerClass: c.MaxImagesPerClass, TestFraction: c.TestFraction, Seed: c.Seed, Strict: c.Strict, Labels: c.Labels, MultiLabel: c.MultiLabel}
}
