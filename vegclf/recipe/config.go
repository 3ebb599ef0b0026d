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

	"github.com/vegclf/vegclf/vegclf/augment"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/memlimit"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/schedule"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// Config is a training run's configuration; Default has the tutorial's values. Each field is a setting
// declared in settings (settings.go), with its flag, help, default, check and whether a resume may change it.
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
// (IMAGENET1K_V2); each setting's default is its entry's in settings.
func Default() Config {
	var c Config
	for _, s := range settings {
		if s.def != nil {
			s.set(&c, s.def)
		}
	}
	return c
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

// Validate checks the configuration's values, with each setting's check in settings' order; an invalid
// value is an *InvalidSetting naming its setting. The named settings (architecture, normalization,
// schedule, precision, memory limit, learning-rate range) are checked where they are parsed (flags, JSON,
// YAML); Validate checks that they are set and fit together.
func (c Config) Validate() error {
	for _, s := range settings {
		if s.check == nil {
			continue
		}
		if bad := s.check(c); bad != nil {
			if bad.Key == "" {
				bad.Key = s.key
			}
			return bad
		}
	}
	return nil
}

// checkFinetuneImageSizes checks progressive resizing's sizes, and that they cover the fine-tuning epochs.
func (c Config) checkFinetuneImageSizes() *InvalidSetting {
	switch {
	case c.FinetuneImageSizes != "" && c.FinetuneImageSizes.Entries() == nil:
		return refuse(true, "SIZE:EPOCHS[,SIZE:EPOCHS...], such as 160:1,224:1", "fine-tuning image sizes %q (want SIZE:EPOCHS[,SIZE:EPOCHS...], such as 160:1,224:1)", string(c.FinetuneImageSizes))
	case slices.ContainsFunc(c.FinetuneImageSizes.Entries(), func(e SizeEpochs) bool { return e.Size < 16 }):
		return refuse(true, "sizes of at least 16", "fine-tuning image sizes %s: a size under 16", c.FinetuneImageSizes)
	case c.FinetuneImageSizes != "" && c.FinetuneImageSizes.Epochs() != c.FinetuneEpochs:
		return &InvalidSetting{Also: []string{"finetune_epochs"}, Want: "epochs summing to the fine-tuning epochs",
			Problem: fmt.Sprintf("fine-tuning image sizes %s give %s, the fine-tuning epochs are %d (they must be equal)", c.FinetuneImageSizes, plural(c.FinetuneImageSizes.Epochs(), "epoch"), c.FinetuneEpochs)}
	}
	return nil
}

// checkInChannels checks the channels, and that the augmentations given take them.
func (c Config) checkInChannels() *InvalidSetting {
	switch {
	case c.InChannels < 0 || c.InChannels > 4:
		return refuse(true, "1 to 4 (3: RGB)", "%d input channels (want 1 to 4; 3 is RGB)", c.InChannels)
	case c.Channels() != 3 && (c.Augment || c.AugmentFrozen):
		key := "augment"
		if !c.Augment {
			key = "augment_frozen"
		}
		return &InvalidSetting{Key: key, Also: []string{"in_channels"}, Want: "no augmentation of other than RGB images",
			Problem: fmt.Sprintf("augmentation takes RGB images, not %d channels (mixup, cutmix and random erasing take any)", c.Channels())}
	case c.Channels() != 3 && c.AugmentPolicy.Enabled():
		return &InvalidSetting{Key: "augment_policy", Also: []string{"in_channels"}, Want: "no augmentation policy for other than RGB images",
			Problem: fmt.Sprintf("augmentation policy %s takes RGB images, not %d channels (random erasing, mixup and cutmix take any)", c.AugmentPolicy, c.Channels())}
	}
	return nil
}

// checkMultiLabel checks the settings that multi-label classification changes or cannot take.
func (c Config) checkMultiLabel() *InvalidSetting {
	if !c.MultiLabel {
		if c.Threshold != (Threshold{}) {
			return &InvalidSetting{Key: "threshold", Also: []string{"multi_label"}, Want: "only with multi-label classification",
				Problem: fmt.Sprintf("threshold %s applies to multi-label classification only (multi_label is off)", c.Threshold)}
		}
		return nil
	}
	both := func(key, problem string) *InvalidSetting {
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
func invalidThreshold(t Threshold) *InvalidSetting {
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
// random initialization, for when no pretrained weights are at hand: each setting's scratch value in
// settings (FromScratchSettings lists them; BENCHMARKS.md has their time and accuracy). Settings for which
// keep (given the config.json key) returns true are left as they are: those a user gave.
func FromScratch(cfg *Config, keep func(key string) bool) {
	for _, s := range settings {
		if s.scratch != nil && !keep(s.key) {
			s.set(cfg, s.scratch)
		}
	}
}

// FromScratchSettings writes FromScratch's settings, by config.json key: "arch resnet18, weights none, ...".
func FromScratchSettings() string {
	var parts []string
	for _, s := range settings {
		if s.scratch != nil {
			parts = append(parts, fmt.Sprintf("%s %v", s.key, s.scratch))
		}
	}
	return strings.Join(parts, ", ")
}

// DatasetOptions returns the options data.LoadDataset takes from the configuration.
func (c Config) DatasetOptions() data.DatasetOptions {
	return data.DatasetOptions{MaxPerClass: c.MaxImagesPerClass, TestFraction: c.TestFraction, Seed: c.Seed, Strict: c.Strict, Labels: c.Labels, MultiLabel: c.MultiLabel}
}
