// Package train runs the tutorial's transfer-learning recipe: a frozen-backbone phase that trains only a
// new head, then a fine-tuning phase of the whole network, with per-epoch reports in the tutorial's
// format, metrics in the run folder, best and last checkpoints, exact resumption, and validation of the
// best checkpoint. The CLI and the notebooks both drive it.
package train

import (
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/gomlx/compute/dtypes"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/internal/atomicfile"
	"github.com/vegclf/vegclf/vegclf/memlimit"
	"github.com/vegclf/vegclf/vegclf/resnet"
	"github.com/vegclf/vegclf/vegclf/schedule"
)

// Config is a training run's configuration; DefaultConfig has the tutorial's values.
type Config struct {
	Data                 string  `json:"data"`                       // Dataset root (train/, test/, validation/).
	Arch                 string  `json:"arch"`                       // resnet18 ... resnet152.
	Weights              string  `json:"weights"`                    // Registry name, weights file, or "none" (random initialization).
	ImageSize            int     `json:"image_size"`                 // Images are resized to ImageSize x ImageSize.
	Normalization        string  `json:"normalization"`              // "half" (the tutorial's 0.5/0.5) or "imagenet".
	Batch                int     `json:"batch"`                      // Batch size.
	FrozenEpochs         int     `json:"frozen_epochs"`              // Epochs with the backbone frozen.
	FinetuneEpochs       int     `json:"finetune_epochs"`            // Epochs training everything.
	LR                   float64 `json:"lr"`                         // Adam learning rate of the frozen phase.
	FinetuneLR           float64 `json:"finetune_lr"`                // Adam learning rate of the fine-tuning phase.
	Hidden               int     `json:"hidden"`                     // Width of the head's hidden layer; 0 for a single Linear.
	Seed                 uint64  `json:"seed"`                       // Seeds the head's initialization, the shuffles and carved splits.
	MaxImagesPerClass    int     `json:"max_images_per_class"`       // 0 means all.
	TestFraction         float64 `json:"test_fraction"`              // Part of train carved as test when the data has no test split.
	FrozenBatchNormTrain bool    `json:"frozen_batchnorm_train"`     // Frozen phase: batch norm in train mode, as the tutorial's model.train() does.
	Strict               bool    `json:"strict"`                     // Unreadable image files are an error instead of being skipped with a warning.
	CacheFeatures        bool    `json:"cache_features"`             // Frozen phase: compute the backbone's features once and train the head on them.
	ImageCacheMB         int     `json:"image_cache_mb"`             // Keep transformed images in memory up to this size (0: off).
	Schedule             string  `json:"schedule,omitempty"`         // Learning rate per step in each phase: constant (default), cosine, onecycle.
	Warmup               float64 `json:"warmup,omitempty"`           // Cosine schedule: fraction of a phase's steps warming up linearly.
	Patience             int     `json:"patience,omitempty"`         // Early stopping: end a phase after this many epochs without a better test accuracy (0: off).
	LRRange              string  `json:"lr_range,omitempty"`         // Fine-tuning: "lo:hi", rates spread geometrically from the stem (lo) to the head (hi), fastai's slice(lo, hi).
	LayerDecay           float64 `json:"layer_decay,omitempty"`      // Fine-tuning: each group's rate is the next one's times this (timm's --layer-decay); 0: off.
	GradualUnfreeze      bool    `json:"gradual_unfreeze,omitempty"` // Fine-tuning: epoch 1 trains layer4 and the head, each later epoch one more group.
	Augment              bool    `json:"augment,omitempty"`          // Fine-tuning: random crops, flips, small rotations and colour jitter (data.DefaultAugmentation).
	AugmentFrozen        bool    `json:"augment_frozen,omitempty"`   // The frozen phase too (turns the feature cache off).
	Mixup                float64 `json:"mixup,omitempty"`            // Fine-tuning (and an augmented frozen phase): mixup's Beta parameter, timm's 0.8 (0: off).
	Cutmix               float64 `json:"cutmix,omitempty"`           // Likewise cutmix's, timm's 1.0; with mixup too, each batch takes one of them at random.
	Precision            string  `json:"precision,omitempty"`        // The backbone's compute dtype: float32 (default) or bfloat16 (mixed precision, float32 master weights).
	MemoryLimit          string  `json:"memory_limit,omitempty"`     // The Go runtime's soft memory limit: auto (default: from the first fine-tuning step), off, or a size such as 3GiB; GOMEMLIMIT overrides it.
	Devices              int     `json:"devices,omitempty"`          // Data parallel: split each training batch across this many devices (XLA only); 0: all the backend has that divide the batch.
}

// unitScales returns learning-rate scales of 1 for every layer group.
func unitScales() [resnet.NumGroups]float64 {
	var scales [resnet.NumGroups]float64
	for g := range scales {
		scales[g] = 1
	}
	return scales
}

// finetuneRates returns the fine-tuning phase's base rate (the head's) and each layer group's scale
// relative to it, from LRRange or LayerDecay (all 1 with neither).
func (c Config) finetuneRates() (float64, [resnet.NumGroups]float64, error) {
	scales := unitScales()
	last := float64(resnet.NumGroups - 1)
	switch {
	case c.LRRange != "" && c.LayerDecay != 0:
		return 0, scales, fmt.Errorf("config: give a learning-rate range or a layer decay, not both")
	case c.LRRange != "":
		var lo, hi float64
		if n, err := fmt.Sscanf(c.LRRange, "%g:%g", &lo, &hi); n != 2 || err != nil || lo <= 0 || hi < lo {
			return 0, scales, fmt.Errorf("config: learning-rate range %q: want LO:HI with 0 < LO <= HI", c.LRRange)
		}
		for g := range scales {
			scales[g] = math.Pow(lo/hi, (last-float64(g))/last)
		}
		return hi, scales, nil
	case c.LayerDecay != 0:
		if c.LayerDecay < 0 || c.LayerDecay > 1 {
			return 0, scales, fmt.Errorf("config: layer decay %g (want between 0 and 1)", c.LayerDecay)
		}
		for g := range scales {
			scales[g] = math.Pow(c.LayerDecay, last-float64(g))
		}
	}
	return c.FinetuneLR, scales, nil
}

// DefaultConfig returns the tutorial's configuration.
func DefaultConfig() Config {
	return Config{
		Arch: "resnet50", Weights: "torchvision-v2", ImageSize: 224, Normalization: "half", Batch: 16,
		FrozenEpochs: 5, FinetuneEpochs: 2, LR: 1e-4, FinetuneLR: 1e-5, Hidden: 128, TestFraction: 0.2,
		CacheFeatures: true, ImageCacheMB: 1024,
	}
}

// Validate checks the configuration's values.
func (c Config) Validate() error {
	if c.Data == "" {
		return fmt.Errorf("config: no data folder")
	}
	if _, err := resnet.ArchByName(c.Arch); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if _, err := data.NormalizationByName(c.Normalization); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	switch {
	case c.ImageSize < 16:
		return fmt.Errorf("config: image size %d is too small (at least 16)", c.ImageSize)
	case c.Batch < 1:
		return fmt.Errorf("config: batch size %d (want at least 1)", c.Batch)
	case c.FrozenEpochs < 0 || c.FinetuneEpochs < 0:
		return fmt.Errorf("config: negative epochs")
	case c.FrozenEpochs+c.FinetuneEpochs == 0:
		return fmt.Errorf("config: no epochs to train")
	case c.LR <= 0 || c.FinetuneLR <= 0:
		return fmt.Errorf("config: learning rates must be positive")
	case c.Hidden < 0:
		return fmt.Errorf("config: negative hidden size")
	case c.MaxImagesPerClass < 0:
		return fmt.Errorf("config: negative max images per class")
	case c.TestFraction <= 0 || c.TestFraction >= 1:
		return fmt.Errorf("config: test fraction %g (want between 0 and 1)", c.TestFraction)
	case c.Patience < 0:
		return fmt.Errorf("config: negative patience")
	case c.Devices < 0:
		return fmt.Errorf("config: devices %d (want 0 for all, or a positive count)", c.Devices)
	}
	if _, err := schedule.Parse(c.Schedule, c.LR, c.Warmup); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if _, _, err := c.finetuneRates(); err != nil {
		return err
	}
	switch precision, err := resnet.ParsePrecision(c.Precision); {
	case err != nil:
		return fmt.Errorf("config: %w", err)
	case precision == dtypes.Float16:
		return fmt.Errorf("config: float16 training needs loss scaling, which vegclf does not do (its gradients underflow); use bfloat16")
	}
	if err := c.mix().Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if _, err := memlimit.Parse(c.MemoryLimit); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// mix returns the mixup and cutmix settings.
func (c Config) mix() *data.Mix {
	return &data.Mix{Mixup: c.Mixup, Cutmix: c.Cutmix}
}

// Head returns the classifier head for numClasses.
func (c Config) Head(numClasses int) resnet.Head {
	h := resnet.Head{NumClasses: numClasses}
	if c.Hidden > 0 {
		h.Hidden = []int{c.Hidden}
	}
	return h
}

// Transform returns the input transform.
func (c Config) Transform() data.Transform {
	norm, _ := data.NormalizationByName(c.Normalization)
	return data.Transform{Size: c.ImageSize, Normalization: norm}
}

// writeJSON writes v as indented JSON to path through a temporary file and a rename.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'))
}

// readConfig reads a run folder's config.json.
func readConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading run config: %w", err)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, fmt.Errorf("reading run config %s: %w", path, err)
	}
	return c, nil
}

// FromScratch sets, on cfg, the settings that learn the generated vegetable classes (synthveg) from
// random initialization, for when no pretrained weights are at hand: a ResNet-18 at 64x64, no pretrained
// weights, learning rates of 1e-3, batches of 8, one frozen epoch and six of fine-tuning (about a minute on
// 2 cores, 100% validation accuracy measured). Settings for which keep (given the config.json key) returns
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
