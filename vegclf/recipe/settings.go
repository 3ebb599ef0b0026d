package recipe

import (
	"encoding"
	"flag"
	"fmt"
	"math"
	"reflect"
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

// Config is a training run's configuration; Default has the tutorial's values. Each field is a setting,
// its entry in settings (below) declaring its flag, help, default, check and whether a resume may change it.
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
	FeatureCacheMB       int                `json:"feature_cache_mb,omitempty"`  // Frozen phase: keep the backbone's features in memory up to this size, the rest read from the features file per batch (0: all from the file).
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
	// A few words on the run ("baseline", "with EMA"): kept in config.json, shown in the notebooks' table of runs.
	Note string `json:"note,omitempty"`
	// best.ckpt keeps the optimizer's state and the weight average too; by default it holds the model alone,
	// what inference and export read (last.ckpt always keeps them, to resume).
	BestOptimizerState bool `json:"best_optimizer_state,omitempty"`
	// Where the passes without gradients run (feature pass, test evaluation, validation): auto (ONNX Runtime
	// where it pays, see InferenceAuto), onnx or train (the training backend).
	InferenceBackend InferenceBackend `json:"inference_backend,omitempty"`
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

// setting declares one of Config's settings, once: everything else about it (its flag, its default, its
// validation, FromScratch's value, whether a resume may change it, config files' and sweeps' keys) is read
// from here. Adding a setting is a field of Config above and its entry in settings below.
type setting struct {
	key     string                         // Its config.json key: the field's JSON name.
	flag    string                         // Its flag (RegisterFlags), when not key with '-' for '_'.
	negated bool                           // The flag sets the opposite of its value (--no-feature-cache).
	help    string                         // The flag's usage; a `word` in back quotes names its value.
	field   func(c *Config) any            // A pointer to its field of c.
	def     any                            // Its value in Default (nil: the zero value).
	scratch any                            // Its value in FromScratch (nil: FromScratch leaves it).
	check   func(c Config) *InvalidSetting // Refuses a bad value (Key filled in where empty); nil: any value.
	resume  bool                           // A resumed run may take a new value: it changes how the run runs, not what it computes.
}

// settings are Config's settings in its fields' order, which config.json keeps.
var settings = []setting{
	{key: "data", field: func(c *Config) any { return &c.Data },
		help: "dataset folder with train/, test/ (optional) and validation/ (optional), one sub-folder per class",
		check: func(c Config) *InvalidSetting {
			return refuse(c.Data == "" && c.Labels == "", "a dataset folder, or a labels file", "no data folder or labels file")
		}},
	{key: "arch", field: func(c *Config) any { return &c.Arch }, def: "resnet50", scratch: "resnet18",
		help: "`architecture`: " + strings.Join(zoo.Names(), ", "),
		check: func(c Config) *InvalidSetting {
			return refuse(c.Arch == "", "an architecture: "+strings.Join(zoo.Names(), ", "), "no architecture")
		}},
	{key: "weights", field: func(c *Config) any { return &c.Weights }, def: zoo.DefaultWeights, scratch: "none",
		help: "pretrained backbone: DEFAULT (the architecture's torchvision DEFAULT), a registry name (see 'vegclf weights list'), a .pth/.safetensors file, or none"},
	{key: "image_size", field: func(c *Config) any { return &c.ImageSize }, def: 224, scratch: 64,
		help: "images are resized to this size (square)",
		check: func(c Config) *InvalidSetting {
			return refuse(c.ImageSize < 16, "at least 16", "image size %d is too small (at least 16)", c.ImageSize)
		}},
	{key: "normalization", flag: "normalize", field: func(c *Config) any { return &c.Normalization }, def: data.HalfNormalization,
		help: "input `normalization`: half (the tutorial's 0.5/0.5) or imagenet",
		check: func(c Config) *InvalidSetting {
			return refuse(c.Normalization.Name == "", "half or imagenet", "no normalization")
		}},
	{key: "batch", field: func(c *Config) any { return &c.Batch }, def: 16, scratch: 8,
		help: "batch size",
		check: func(c Config) *InvalidSetting {
			return refuse(c.Batch < 1, "at least 1", "batch size %d (want at least 1)", c.Batch)
		}},
	{key: "frozen_epochs", field: func(c *Config) any { return &c.FrozenEpochs }, def: 5, scratch: 1,
		help: "epochs with the backbone frozen (transfer learning)",
		check: func(c Config) *InvalidSetting {
			return refuse(c.FrozenEpochs < 0, "0 or more", "negative epochs: frozen epochs %d", c.FrozenEpochs)
		}},
	{key: "finetune_epochs", field: func(c *Config) any { return &c.FinetuneEpochs }, def: 2, scratch: 6,
		help: "epochs training all layers (fine-tuning)",
		check: func(c Config) *InvalidSetting {
			if c.FinetuneEpochs >= 0 && c.FrozenEpochs+c.FinetuneEpochs == 0 {
				return &InvalidSetting{Key: "frozen_epochs", Also: []string{"finetune_epochs"}, Want: "at least one epoch in all",
					Problem: "no epochs to train: frozen and fine-tuning epochs are both 0"}
			}
			return refuse(c.FinetuneEpochs < 0, "0 or more", "negative epochs: fine-tuning epochs %d", c.FinetuneEpochs)
		}},
	{key: "lr", field: func(c *Config) any { return &c.LR }, def: 1e-4, scratch: 1e-3,
		help: "Adam learning rate of the frozen phase",
		check: func(c Config) *InvalidSetting {
			return refuse(!(c.LR > 0), "a positive learning rate", "learning rates must be positive: the frozen phase's (lr) is %g", c.LR)
		}},
	{key: "finetune_lr", field: func(c *Config) any { return &c.FinetuneLR }, def: 1e-5, scratch: 1e-3,
		help: "Adam learning rate of the fine-tuning phase",
		check: func(c Config) *InvalidSetting {
			return refuse(!(c.FinetuneLR > 0), "a positive learning rate", "learning rates must be positive: the fine-tuning phase's (finetune_lr) is %g", c.FinetuneLR)
		}},
	{key: "hidden", field: func(c *Config) any { return &c.Hidden }, def: 128,
		help: "width of the head's hidden layer (0: a single Linear)",
		check: func(c Config) *InvalidSetting {
			return refuse(c.Hidden < 0, "0 (a single Linear) or a positive width", "negative hidden size %d", c.Hidden)
		}},
	{key: "seed", field: func(c *Config) any { return &c.Seed },
		help: "seed of the head's initialization, the shuffles and a carved test split"},
	{key: "max_images_per_class", field: func(c *Config) any { return &c.MaxImagesPerClass },
		help: "use at most this many images of each class and split (0: all; multi-label: of each label, an image counting toward each of its labels)",
		check: func(c Config) *InvalidSetting {
			return refuse(c.MaxImagesPerClass < 0, "0 (all) or a positive count", "negative max images per class %d", c.MaxImagesPerClass)
		}},
	{key: "test_fraction", field: func(c *Config) any { return &c.TestFraction }, def: 0.2,
		help: "part of train carved as the test split when the data has none (stratified by class; multi-label: by every label, iteratively)",
		check: func(c Config) *InvalidSetting {
			return refuse(!(c.TestFraction > 0 && c.TestFraction < 1), "between 0 and 1, such as 0.2", "test fraction %g (want between 0 and 1)", c.TestFraction)
		}},
	{key: "frozen_batchnorm_train", flag: "tutorial-batchnorm", field: func(c *Config) any { return &c.FrozenBatchNormTrain },
		help: "frozen phase: keep batch norm in train mode, as the tutorial's model.train() does"},
	{key: "strict", field: func(c *Config) any { return &c.Strict }, resume: true,
		help: "unreadable image files are an error (by default they are skipped with a warning)"},
	{key: "cache_features", flag: "no-feature-cache", negated: true, field: func(c *Config) any { return &c.CacheFeatures }, def: true, resume: true,
		help: "frozen phase: run the backbone on every batch instead of computing its features once"},
	{key: "image_cache_mb", field: func(c *Config) any { return &c.ImageCacheMB }, def: 1024, resume: true,
		help: "keep transformed images in memory up to this many MB, so later epochs skip decoding (0: off)",
		check: func(c Config) *InvalidSetting {
			return refuse(c.ImageCacheMB < 0, "0 for none, or a positive size", "image cache of %d MB (want 0 for none, or a positive size)", c.ImageCacheMB)
		}},
	{key: "feature_cache_mb", field: func(c *Config) any { return &c.FeatureCacheMB }, def: 1024, resume: true,
		help: "frozen phase: keep the backbone's features in memory up to this many MB; the rest is read from the run folder's features file per batch (0: all from the file)",
		check: func(c Config) *InvalidSetting {
			return refuse(c.FeatureCacheMB < 0, "0 for none in memory, or a positive size", "feature cache of %d MB (want 0 for none in memory, or a positive size)", c.FeatureCacheMB)
		}},
	{key: "schedule", field: func(c *Config) any { return &c.Schedule },
		help: "learning-rate `schedule`, stepped per batch in each phase: constant, cosine (with linear warmup) or onecycle"},
	{key: "warmup", field: func(c *Config) any { return &c.Warmup },
		help: "cosine schedule: fraction of each phase's steps warming up linearly",
		check: func(c Config) *InvalidSetting {
			err := schedule.CheckWarmup(c.Warmup)
			return refuse(err != nil, "a fraction of the steps, at least 0 and below 1", "%v", err)
		}},
	{key: "patience", field: func(c *Config) any { return &c.Patience },
		help: "early stopping: end a phase after this many epochs without a better test accuracy (0: off)",
		check: func(c Config) *InvalidSetting {
			return refuse(c.Patience < 0, "0 (off) or a positive number of epochs", "negative patience %d", c.Patience)
		}},
	{key: "lr_range", field: func(c *Config) any { return &c.LRRange },
		help: "fine-tuning: `LO:HI`, rates spread geometrically from the stem (LO) to the head (HI), fastai's slice(lo, hi)",
		check: func(c Config) *InvalidSetting {
			if c.LRRange != (LRRange{}) && c.LayerDecay != 0 {
				return &InvalidSetting{Also: []string{"layer_decay"}, Want: "one or the other, not both",
					Problem: "give a learning-rate range or a layer decay, not both"}
			}
			return nil
		}},
	{key: "layer_decay", field: func(c *Config) any { return &c.LayerDecay },
		help: "fine-tuning: each layer group's rate is the next one's times this, timm's --layer-decay (0: off)",
		check: func(c Config) *InvalidSetting {
			return refuse(c.LayerDecay < 0 || c.LayerDecay > 1 || math.IsNaN(c.LayerDecay), "between 0 and 1 (0: off)", "layer decay %g (want between 0 and 1)", c.LayerDecay)
		}},
	{key: "gradual_unfreeze", field: func(c *Config) any { return &c.GradualUnfreeze },
		help: "fine-tuning: train layer4 and the head first, one more layer group each epoch"},
	{key: "augment", field: func(c *Config) any { return &c.Augment },
		help: "fine-tuning: random resized crops, flips, small rotations and colour jitter"},
	{key: "augment_frozen", field: func(c *Config) any { return &c.AugmentFrozen },
		help: "augment the frozen phase too (turns its feature cache off)"},
	{key: "augment_policy", field: func(c *Config) any { return &c.AugmentPolicy },
		help: "fine-tuning (and the frozen phase with --augment-frozen): an automatic augmentation `policy` on each resized image, trivialaugment (torchvision's TrivialAugmentWide) or randaugment:N:M (RandAugment, N operations at magnitude bin M of 0 to 30), or none",
		check: func(c Config) *InvalidSetting {
			err := c.AugmentPolicy.Validate()
			return refuse(err != nil, "trivialaugment, randaugment:N:M (N at least 1, M from 0 to 30) or none", "%v", err)
		}},
	{key: "random_erasing", field: func(c *Config) any { return &c.RandomErasing },
		help: "fine-tuning (and the frozen phase with --augment-frozen): erase a random rectangle of each normalized image with this `probability`, torchvision's RandomErasing (0: off)",
		check: func(c Config) *InvalidSetting {
			return refuse(!(c.RandomErasing >= 0 && c.RandomErasing <= 1), "a probability from 0 (off) to 1", "random erasing probability %g (want 0 for off, up to 1)", c.RandomErasing)
		}},
	{key: "mixup", field: func(c *Config) any { return &c.Mixup },
		help: "fine-tuning: mixup with this Beta parameter, timm uses 0.8 (0: off); soft targets",
		check: func(c Config) *InvalidSetting {
			err := c.Mix().Validate()
			if err == nil {
				return nil
			}
			bad := &InvalidSetting{Key: "mixup", Want: "0 for off, or a positive Beta parameter", Problem: err.Error()}
			if c.Mixup >= 0 && !math.IsNaN(c.Mixup) {
				bad.Key = "cutmix"
			}
			return bad
		}},
	{key: "cutmix", field: func(c *Config) any { return &c.Cutmix },
		help: "fine-tuning: cutmix with this Beta parameter, timm uses 1.0 (0: off); with mixup too, each batch takes one at random"},
	{key: "precision", field: func(c *Config) any { return &c.Precision },
		help: "the backbone's compute `dtype`: float32, or bfloat16 for mixed precision (float32 weights, loss and head)",
		check: func(c Config) *InvalidSetting {
			return refuse(c.Precision.DType() == dtypes.Float16, "float32 or bfloat16 (float16 training needs loss scaling, which vegclf does not do)",
				"float16 training needs loss scaling, which vegclf does not do (its gradients underflow); use bfloat16")
		}},
	{key: "memory_limit", field: func(c *Config) any { return &c.MemoryLimit }, resume: true,
		help: "the Go runtime's soft memory `limit`: auto (from the first fine-tuning step's live tensors), off, or a size such as 3GiB; GOMEMLIMIT overrides it"},
	{key: "checkpoint_every", field: func(c *Config) any { return &c.CheckpointEvery }, resume: true,
		help: "save last.ckpt inside an epoch every `interval` of training (10m), or every N steps (25steps); 0: only at the end of each epoch (and on Ctrl-C)"},
	{key: "devices", field: func(c *Config) any { return &c.Devices }, resume: true,
		help: "data parallel: split each training batch across this many devices (XLA only); 0: all of the backend's that divide the batch",
		check: func(c Config) *InvalidSetting {
			return refuse(c.Devices < 0, "0 for all, or a positive count", "devices %d (want 0 for all, or a positive count)", c.Devices)
		}},
	{key: "labels", field: func(c *Config) any { return &c.Labels },
		help: "a CSV `file` of path,label[,split] rows listing the images (paths relative to its folder) instead of class folders under --data"},
	{key: "label_smoothing", field: func(c *Config) any { return &c.LabelSmoothing },
		help: "mix each target with the uniform distribution by this much, torch's label_smoothing (timm uses 0.1; 0: off)",
		check: func(c Config) *InvalidSetting {
			return refuse(!(c.LabelSmoothing >= 0 && c.LabelSmoothing < 1), "at least 0 and below 1", "label smoothing %g (want at least 0 and below 1)", c.LabelSmoothing)
		}},
	{key: "class_weights", field: func(c *Config) any { return &c.ClassWeights },
		help: "weigh the loss's classes: none, or balanced (n / (classes * count), for imbalanced folders; multi-label: pos_weight = negatives / positives per class)",
		check: func(c Config) *InvalidSetting {
			return refuse(c.ClassWeights != NoClassWeights && c.ClassWeights != BalancedClassWeights, "none or balanced", "class weights %q (want none or balanced)", string(c.ClassWeights))
		}},
	{key: "balanced_sampling", field: func(c *Config) any { return &c.BalancedSampling },
		help: "draw each epoch's training images with replacement, with probability inverse to their class's count"},
	{key: "ema", field: func(c *Config) any { return &c.EMA },
		help: "keep an exponential moving average of the weights with this `decay` (such as 0.999), evaluated each epoch beside them; the best checkpoint keeps the better (0: off)",
		check: func(c Config) *InvalidSetting {
			return refuse(!(c.EMA >= 0 && c.EMA < 1), "0 for off, or between 0 and 1, such as 0.999", "EMA decay %g (want 0 for off, or between 0 and 1, such as 0.999)", c.EMA)
		}},
	{key: "accumulate", field: func(c *Config) any { return &c.Accumulate },
		help: "sum the gradients of this many batches before each update: the update of one batch of accumulate*batch images, on the memory of one (0 or 1: off)",
		check: func(c Config) *InvalidSetting {
			return refuse(c.Accumulate < 0, "0 or 1 for off, or the number of batches per update", "accumulate %d (want 0 or 1 for off, or the number of batches per update)", c.Accumulate)
		}},
	{key: "bn_momentum", field: func(c *Config) any { return &c.BNMomentum },
		help: "every batch norm's momentum in train mode, as timm's --bn-momentum (0: the architecture's, torch's 0.1 or MobileNetV3's 0.01, whose statistics need hundreds of steps from scratch)",
		check: func(c Config) *InvalidSetting {
			return refuse(c.BNMomentum < 0 || c.BNMomentum > 1 || math.IsNaN(c.BNMomentum), "0 for the architecture's, or between 0 and 1", "batch-norm momentum %g (want 0 for the architecture's, or between 0 and 1)", c.BNMomentum)
		}},
	{key: "multi_label", field: func(c *Config) any { return &c.MultiLabel },
		help:  "several labels per image, separated by ';' in --labels's label column: sigmoid outputs, binary cross-entropy (class weights as pos_weight), best checkpoint by mean average precision",
		check: Config.checkMultiLabel},
	{key: "threshold", field: func(c *Config) any { return &c.Threshold },
		help: "multi-label: the `probability` above which an output is its label (one for all classes), or tune: per class, maximizing F1 on the test split"},
	{key: "clip_grad", field: func(c *Config) any { return &c.ClipGrad },
		help: "clip each update's gradient (summed over --accumulate's batches) to this global L2 `norm`, torch's clip_grad_norm_ (or value with --clip-mode value; 0: off)",
		check: func(c Config) *InvalidSetting {
			return refuse(!(c.ClipGrad >= 0) || math.IsInf(c.ClipGrad, 1), "0 for off, or a positive maximum norm or value", "gradient clipping at %g (want 0 for off, or a positive maximum norm or value)", c.ClipGrad)
		}},
	{key: "clip_mode", field: func(c *Config) any { return &c.ClipMode },
		help: "gradient clipping's `mode`: norm (the global norm of all trainable gradients, torch's clip_grad_norm_) or value (each element, clip_grad_value_)",
		check: func(c Config) *InvalidSetting {
			return refuse(c.ClipMode != ClipNorm && c.ClipMode != ClipValue, "norm or value", "clip mode %q (want norm or value)", string(c.ClipMode))
		}},
	{key: "finetune_image_sizes", field: func(c *Config) any { return &c.FinetuneImageSizes },
		help:  "progressive resizing: `SIZE:EPOCHS,...` such as 160:1,224:1, the fine-tuning epochs' training image sizes in order, summing to --finetune-epochs (test and validation stay at --image-size)",
		check: Config.checkFinetuneImageSizes},
	{key: "in_channels", field: func(c *Config) any { return &c.InChannels },
		help:  "the images' channels: 1 (grayscale: Pillow's convert(\"L\")), 2 (gray and alpha), 3 (RGB) or 4 (RGB and alpha, or a fourth band); a pretrained RGB stem is adapted as timm's adapt_input_conv does",
		check: Config.checkInChannels},
	{key: "note", field: func(c *Config) any { return &c.Note }, resume: true,
		help: "a few words on the run, kept in its config.json and shown in the notebooks' table of runs"},
	{key: "best_optimizer_state", field: func(c *Config) any { return &c.BestOptimizerState }, resume: true,
		help: "best.ckpt keeps the optimizer's state and the weight average too (by default it holds the model alone, what predict, serve and export read; last.ckpt always keeps them)"},
	{key: "inference_backend", field: func(c *Config) any { return &c.InferenceBackend }, resume: true,
		help: "where the passes without gradients run (the frozen backbone's feature pass, test evaluation, validation): `auto` (ONNX Runtime when it is installed, runs the architecture faster than the pure Go backend the run trains on, and the pass is long enough to repay compiling its graph), onnx (always ONNX Runtime) or train (the training backend)",
		check: func(c Config) *InvalidSetting {
			b := c.InferenceBackend
			return refuse(b != InferenceAuto && b != InferenceONNX && b != InferenceTrain, "auto, onnx or train", "inference backend %q (want auto, onnx or train)", string(b))
		}},
}

// refuse returns Validate's error, want and the problem, when bad; nil otherwise.
func refuse(bad bool, want, format string, args ...any) *InvalidSetting {
	if !bad {
		return nil
	}
	return &InvalidSetting{Want: want, Problem: fmt.Sprintf(format, args...)}
}

// lookup returns the setting of a config.json key.
func lookup(key string) (setting, bool) {
	i := slices.IndexFunc(settings, func(s setting) bool { return s.key == key })
	if i < 0 {
		return setting{}, false
	}
	return settings[i], true
}

// flagName returns the setting's flag.
func (s setting) flagName() string {
	if s.flag != "" {
		return s.flag
	}
	return strings.ReplaceAll(s.key, "_", "-")
}

// set sets the setting's field of c to v, converted to the field's type.
func (s setting) set(c *Config, v any) {
	field := reflect.ValueOf(s.field(c)).Elem()
	field.Set(reflect.ValueOf(v).Convert(field.Type()))
}

// value returns the setting's value in c.
func (s setting) value(c *Config) any { return reflect.ValueOf(s.field(c)).Elem().Interface() }

// register defines the setting's flag on fs, bound to its field of c, with its value in c as the default.
func (s setting) register(fs *flag.FlagSet, c *Config) {
	name := s.flagName()
	switch p := s.field(c).(type) {
	case *bool:
		if s.negated {
			fs.Var(negatedBool{p}, name, s.help)
		} else {
			fs.BoolVar(p, name, *p, s.help)
		}
	case *int:
		fs.IntVar(p, name, *p, s.help)
	case *uint64:
		fs.Uint64Var(p, name, *p, s.help)
	case *float64:
		fs.Float64Var(p, name, *p, s.help)
	case *string:
		fs.StringVar(p, name, *p, s.help)
	case interface {
		encoding.TextUnmarshaler
		encoding.TextMarshaler
	}:
		fs.TextVar(p, name, p, s.help)
	default:
		panic(fmt.Sprintf("recipe: setting %s of type %T has no flag", s.key, p))
	}
}

// Keys returns the settings' names, as config.json writes them, in Config's field order.
func Keys() []string {
	keys := make([]string, len(settings))
	for i, s := range settings {
		keys[i] = s.key
	}
	return keys
}

// ResumeMayChange reports whether a resumed run may take a new value of a setting (by its config.json
// key): one that changes how the run runs (a cache, the devices, when to checkpoint), not what it computes.
func ResumeMayChange(key string) bool {
	s, ok := lookup(key)
	return ok && s.resume
}

// WholeNumber reports whether a setting (by its config.json key) takes whole numbers (an int), as a sweep's
// random trials draw them.
func WholeNumber(key string) bool {
	s, ok := lookup(key)
	if !ok {
		return false
	}
	_, isInt := s.field(&Config{}).(*int)
	return isInt
}
