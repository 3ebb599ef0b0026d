// Package recipe holds a training run's settings (Config): the tutorial's transfer-learning recipe by
// default, with every setting's flag, environment variable and config-file key, their validation, and the
// from-scratch settings for when no pretrained weights are at hand, each setting declared once in
// settings.go's table. Package train runs them; the CLI, the
// notebooks, sweeps and run folders read and write them.
package recipe

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/vegclf/vegclf/vegclf/augment"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/nn"
)

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
