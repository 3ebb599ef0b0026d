package recipe

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/vegclf/vegclf/vegclf/augment"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/memlimit"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/schedule"
)

// TestValidate goes through every check of Config.Validate: each edit of a valid configuration must be
// refused with its own message, and the valid ones accepted.
func TestValidate(t *testing.T) {
	valid := Default()
	valid.Data = "/data/veg"
	if err := valid.Validate(); err != nil {
		t.Fatalf("the default config with data: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		want string // "" for valid.
	}{
		{"no data", func(c *Config) { c.Data = "" }, "no data folder"},
		{"no arch", func(c *Config) { c.Arch = "" }, "no architecture"},
		{"no normalization", func(c *Config) { c.Normalization = data.Normalization{} }, "no normalization"},
		{"image too small", func(c *Config) { c.ImageSize = 15 }, "image size 15 is too small"},
		{"smallest image", func(c *Config) { c.ImageSize = 16 }, ""},
		{"batch 0", func(c *Config) { c.Batch = 0 }, "batch size 0"},
		{"negative frozen epochs", func(c *Config) { c.FrozenEpochs = -1 }, "negative epochs"},
		{"negative fine-tuning epochs", func(c *Config) { c.FinetuneEpochs = -1 }, "negative epochs"},
		{"no epochs", func(c *Config) { c.FrozenEpochs, c.FinetuneEpochs = 0, 0 }, "no epochs to train"},
		{"fine-tuning only", func(c *Config) { c.FrozenEpochs = 0 }, ""},
		{"zero lr", func(c *Config) { c.LR = 0 }, "learning rates must be positive"},
		{"negative fine-tuning lr", func(c *Config) { c.FinetuneLR = -1e-5 }, "learning rates must be positive"},
		{"negative hidden", func(c *Config) { c.Hidden = -1 }, "negative hidden size"},
		{"single Linear head", func(c *Config) { c.Hidden = 0 }, ""},
		{"negative max images", func(c *Config) { c.MaxImagesPerClass = -1 }, "negative max images per class"},
		{"test fraction 0", func(c *Config) { c.TestFraction = 0 }, "test fraction 0"},
		{"test fraction 1", func(c *Config) { c.TestFraction = 1 }, "test fraction 1"},
		{"negative patience", func(c *Config) { c.Patience = -1 }, "negative patience"},
		{"negative devices", func(c *Config) { c.Devices = -1 }, "devices -1"},
		{"negative image cache", func(c *Config) { c.ImageCacheMB = -1 }, "image cache of -1 MB"},
		{"negative feature cache", func(c *Config) { c.FeatureCacheMB = -1 }, "feature cache of -1 MB"},
		{"range and decay", func(c *Config) { c.LRRange, c.LayerDecay = LRRange{1e-6, 1e-4}, 0.5 }, "not both"},
		{"range", func(c *Config) { c.LRRange = LRRange{1e-6, 1e-4} }, ""},
		{"negative layer decay", func(c *Config) { c.LayerDecay = -0.5 }, "layer decay -0.5"},
		{"layer decay over 1", func(c *Config) { c.LayerDecay = 2 }, "layer decay 2"},
		{"float16", func(c *Config) { c.Precision = nn.Precision(dtypes.Float16) }, "loss scaling"},
		{"bfloat16", func(c *Config) { c.Precision = nn.Precision(dtypes.BFloat16) }, ""},
		{"warmup 1", func(c *Config) { c.Schedule, c.Warmup = schedule.KindCosine, 1 }, "warmup fraction 1"},
		{"negative mixup", func(c *Config) { c.Mixup = -1 }, "mixup"},
		{"negative cutmix", func(c *Config) { c.Cutmix = -0.5 }, "cutmix"},
		{"negative clipping", func(c *Config) { c.ClipGrad = -1 }, "gradient clipping at -1"},
		{"NaN clipping", func(c *Config) { c.ClipGrad = math.NaN() }, "gradient clipping at NaN"},
		{"clipping by value", func(c *Config) { c.ClipGrad, c.ClipMode = 0.5, ClipValue }, ""},
		{"unknown clip mode", func(c *Config) { c.ClipGrad, c.ClipMode = 1, "sideways" }, `clip mode "sideways"`},
		{"progressive sizes", func(c *Config) { c.FinetuneImageSizes = "160:1,224:1" }, ""},
		{"progressive sizes short of the epochs", func(c *Config) { c.FinetuneImageSizes = "160:1" }, "give 1 epoch, the fine-tuning epochs are 2"},
		{"progressive size too small", func(c *Config) { c.FinetuneImageSizes = "8:1,224:1" }, "a size under 16"},
		{"progressive sizes unreadable", func(c *Config) { c.FinetuneImageSizes = "big" }, `fine-tuning image sizes "big"`},
		{"trivialaugment", func(c *Config) { c.AugmentPolicy = augment.AutoPolicy{Kind: augment.TrivialAugment} }, ""},
		{"randaugment", func(c *Config) {
			c.AugmentPolicy = augment.AutoPolicy{Kind: augment.RandAugment, NumOps: 2, Magnitude: 9}
		}, ""},
		{"randaugment magnitude 31", func(c *Config) {
			c.AugmentPolicy = augment.AutoPolicy{Kind: augment.RandAugment, NumOps: 2, Magnitude: 31}
		}, "augmentation policy"},
		{"randaugment of no operations", func(c *Config) { c.AugmentPolicy = augment.AutoPolicy{Kind: augment.RandAugment, Magnitude: 9} }, "augmentation policy"},
		{"policy of grayscale", func(c *Config) {
			c.InChannels, c.AugmentPolicy = 1, augment.AutoPolicy{Kind: augment.TrivialAugment}
		}, "augmentation policy trivialaugment takes RGB images, not 1 channels"},
		{"random erasing", func(c *Config) { c.RandomErasing = 0.25 }, ""},
		{"random erasing of grayscale", func(c *Config) { c.InChannels, c.RandomErasing = 1, 1 }, ""},
		{"random erasing over 1", func(c *Config) { c.RandomErasing = 1.5 }, "random erasing probability 1.5"},
		{"negative random erasing", func(c *Config) { c.RandomErasing = -0.1 }, "random erasing probability -0.1"},
		{"NaN random erasing", func(c *Config) { c.RandomErasing = math.NaN() }, "random erasing probability NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" && err != nil {
				t.Errorf("error %v, want none", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "config: ")) {
				t.Errorf("error %v, want config: ...%q", err, tc.want)
			}
		})
	}
}

// TestValidateNamesTheSetting: each refused value is an *InvalidSetting naming its setting by its
// config.json key (which FlagName maps to a flag of RegisterFlags), with what the value must be.
func TestValidateNamesTheSetting(t *testing.T) {
	valid := Default()
	valid.Data = "/data/veg"
	fs := flag.NewFlagSet("settings", flag.ContinueOnError)
	valid.RegisterFlags(fs)
	for _, tc := range []struct {
		edit func(c *Config)
		keys []string
	}{
		{func(c *Config) { c.ImageSize = -5 }, []string{"image_size"}},
		{func(c *Config) { c.Batch = 0 }, []string{"batch"}},
		{func(c *Config) { c.LR = -1 }, []string{"lr"}},
		{func(c *Config) { c.FinetuneLR = 0 }, []string{"finetune_lr"}},
		{func(c *Config) { c.FinetuneEpochs = -1 }, []string{"finetune_epochs"}},
		{func(c *Config) { c.FrozenEpochs, c.FinetuneEpochs = 0, 0 }, []string{"frozen_epochs", "finetune_epochs"}},
		{func(c *Config) { c.TestFraction = 1.5 }, []string{"test_fraction"}},
		{func(c *Config) { c.Normalization = data.Normalization{} }, []string{"normalization"}},
		{func(c *Config) { c.LRRange, c.LayerDecay = LRRange{1e-6, 1e-4}, 0.5 }, []string{"lr_range", "layer_decay"}},
		{func(c *Config) { c.Schedule, c.Warmup = schedule.KindCosine, 1 }, []string{"warmup"}},
		{func(c *Config) { c.Mixup = -1 }, []string{"mixup"}},
		{func(c *Config) { c.Cutmix = -1 }, []string{"cutmix"}},
		{func(c *Config) { c.EMA = 1 }, []string{"ema"}},
		{func(c *Config) { c.BNMomentum = 2 }, []string{"bn_momentum"}},
		{func(c *Config) { c.Precision = nn.Precision(dtypes.Float16) }, []string{"precision"}},
		{func(c *Config) { c.ClipGrad = -1 }, []string{"clip_grad"}},
		{func(c *Config) { c.ClipMode = "sideways" }, []string{"clip_mode"}},
		{func(c *Config) { c.FinetuneImageSizes = "160:3" }, []string{"finetune_image_sizes", "finetune_epochs"}},
		{func(c *Config) { c.FinetuneImageSizes = "160:2,8:0" }, []string{"finetune_image_sizes"}},
		{func(c *Config) { c.AugmentPolicy = augment.AutoPolicy{Kind: "autoaugment"} }, []string{"augment_policy"}},
		{func(c *Config) { c.InChannels, c.AugmentPolicy = 4, augment.AutoPolicy{Kind: augment.TrivialAugment} }, []string{"augment_policy", "in_channels"}},
		{func(c *Config) { c.RandomErasing = 2 }, []string{"random_erasing"}},
	} {
		c := valid
		tc.edit(&c)
		invalid, ok := errors.AsType[*InvalidSetting](c.Validate())
		if !ok || !slices.Equal(invalid.Keys(), tc.keys) || invalid.Want == "" {
			t.Errorf("%v: want an *InvalidSetting of %v", c.Validate(), tc.keys)
			continue
		}
		for _, key := range invalid.Keys() {
			if fs.Lookup(FlagName(key)) == nil {
				t.Errorf("%v: setting %q has no flag %q", invalid, key, FlagName(key))
			}
		}
	}
	c := valid
	c.LR = -1
	if err := c.Validate(); !strings.Contains(err.Error(), "(lr) is -1") {
		t.Errorf("the library's message %q does not name the setting", err)
	}
}

// TestConfigJSON writes a configuration with every named setting off its default and reads it back; reads
// a config.json as earlier versions wrote it (names for the defaults, empty strings); and refuses a bad
// value of each named setting, naming it.
func TestConfigJSON(t *testing.T) {
	c := Default()
	c.Data, c.Arch, c.Normalization, c.Schedule = "/data/veg", "resnet18", data.ImageNetNormalization, schedule.KindOneCycle
	c.LRRange, c.Precision, c.MemoryLimit = LRRange{1e-6, 1e-4}, nn.Precision(dtypes.BFloat16), memlimit.Policy{Bytes: 3 << 30}
	c.AugmentPolicy, c.RandomErasing = augment.AutoPolicy{Kind: augment.RandAugment, NumOps: 3, Magnitude: 12}, 0.25
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"arch":"resnet18"`, `"normalization":"imagenet"`, `"schedule":"onecycle"`, `"lr_range":"1e-06:0.0001"`,
		`"precision":"bfloat16"`, `"memory_limit":"3GiB"`, `"augment_policy":"randaugment:3:12"`, `"random_erasing":0.25`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil || back != c {
		t.Errorf("read back %+v, %v; want %+v", back, err, c)
	}
	defaults, err := json.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"schedule", "lr_range", "precision", "memory_limit", "augment_policy", "random_erasing"} {
		if strings.Contains(string(defaults), `"`+absent+`"`) {
			t.Errorf("the defaults write %s: %s", absent, defaults)
		}
	}
	old := `{"data": "/d", "arch": "resnet50", "normalization": "half", "schedule": "constant", "lr_range": "", "precision": "",
		"memory_limit": "", "image_size": 224, "batch": 16, "frozen_epochs": 5, "finetune_epochs": 2, "lr": 0.0001,
		"finetune_lr": 1e-05, "hidden": 128, "test_fraction": 0.2, "cache_features": true, "image_cache_mb": 1024, "weights": "torchvision-v2"}`
	var read Config
	want := Default()
	want.Data, want.Weights = "/d", "torchvision-v2" // Written before the default was DEFAULT, resnet50's.
	want.FeatureCacheMB = 0                          // Written before the feature cache had a size: all its features are read from the file.
	if err := json.Unmarshal([]byte(old), &read); err != nil || read != want {
		t.Errorf("an earlier config.json reads as %+v, %v; want the defaults", read, err)
	}
	for key, bad := range map[string]string{"arch": "vgg16", "normalization": "zscore", "schedule": "zigzag", "lr_range": "1e-4:1e-6",
		"precision": "int8", "memory_limit": "lots", "augment_policy": "autoaugment"} {
		var c Config
		err := json.Unmarshal([]byte(`{"`+key+`": "`+bad+`"}`), &c)
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%s %q: error %v, want one naming the value", key, bad, err)
		}
	}
}

// TestRegisterFlags checks that every setting has its flag, that flags set the typed settings, and that
// a bad value is an error naming the flag.
func TestRegisterFlags(t *testing.T) {
	c := Default()
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.RegisterFlags(fs)
	var flags []string
	fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f.Name) })
	for _, key := range Keys() {
		if !slices.Contains(flags, FlagName(key)) {
			t.Errorf("setting %s has no flag %s", key, FlagName(key))
		}
	}
	for flagName, want := range map[string]string{"normalize": "normalization", "finetune-lr": "finetune_lr", "tutorial-batchnorm": "frozen_batchnorm_train", "no-feature-cache": "", "out": ""} {
		if key, ok := KeyOfFlag(flagName); key != want || ok != (want != "") {
			t.Errorf("KeyOfFlag(%s) = %q, %v; want %q", flagName, key, ok, want)
		}
	}
	if len(flags) != len(Keys()) {
		t.Errorf("%d flags for %d settings", len(flags), len(Keys()))
	}
	err := fs.Parse([]string{"--arch=resnet18", "--normalize", "imagenet", "--lr=1e-3", "--schedule", "cosine", "--lr-range", "1e-6:1e-4",
		"--precision", "bf16", "--memory-limit", "2500MiB", "--no-feature-cache", "--augment", "--clip-grad", "1", "--clip-mode", "value",
		"--finetune-image-sizes", "160:1, 224:1", "--augment-policy", "randaugment:2:14", "--random-erasing", "0.25"})
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Arch, want.Normalization, want.LR, want.Schedule, want.LRRange = "resnet18", data.ImageNetNormalization, 1e-3, schedule.KindCosine, LRRange{1e-6, 1e-4}
	want.Precision, want.MemoryLimit, want.CacheFeatures, want.Augment = nn.Precision(dtypes.BFloat16), memlimit.Policy{Bytes: 2500 << 20}, false, true
	want.ClipGrad, want.ClipMode, want.FinetuneImageSizes = 1, ClipValue, "160:1,224:1"
	want.AugmentPolicy, want.RandomErasing = augment.AutoPolicy{Kind: augment.RandAugment, NumOps: 2, Magnitude: 14}, 0.25
	if c != want {
		t.Errorf("flags gave %+v, want %+v", c, want)
	}
	for _, args := range [][]string{{"--arch", "vgg16"}, {"--lr", "fast"}, {"--schedule", "zigzag"}, {"--lr-range", "x"},
		{"--precision", "int8"}, {"--memory-limit", "lots"}, {"--normalize", "zscore"}, {"--no-feature-cache=maybe"}, {"--clip-mode", "sideways"}, {"--finetune-image-sizes", "160"},
		{"--finetune-image-sizes", "160:0"}, {"--augment-policy", "randaugment:2:40"}, {"--random-erasing", "often"}} {
		c := Default()
		fs := flag.NewFlagSet("train", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.RegisterFlags(fs)
		if err := fs.Parse(args); err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(strings.SplitN(args[0], "=", 2)[0], "--")) {
			t.Errorf("%v: error %v, want one naming the flag", args, err)
		}
	}
}

// TestSetFromEnv checks that the environment sits between the defaults and the command line, through
// the flags' parsers, and that Given sees settings from both.
func TestSetFromEnv(t *testing.T) {
	t.Setenv("VEGCLF_LR", "3e-4")
	t.Setenv("VEGCLF_FINETUNE_EPOCHS", "4")
	t.Setenv("VEGCLF_SCHEDULE", "onecycle")
	t.Setenv("VEGCLF_AUGMENT", "1")
	t.Setenv("VEGCLF_NO_FEATURE_CACHE", "true")
	c := Default()
	fs := flag.NewFlagSet("notebook", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if err := fs.Parse([]string{"--finetune-epochs=3"}); err != nil {
		t.Fatal(err)
	}
	if err := SetFromEnv(fs, "VEGCLF_"); err != nil {
		t.Fatal(err)
	}
	if c.LR != 3e-4 || c.FinetuneEpochs != 3 || c.Schedule != schedule.KindOneCycle || !c.Augment || c.CacheFeatures {
		t.Errorf("got lr %g, fine-tuning epochs %d (the command line's 3), schedule %v, augment %v, feature cache %v",
			c.LR, c.FinetuneEpochs, c.Schedule, c.Augment, c.CacheFeatures)
	}
	given := Given(fs)
	for key, want := range map[string]bool{"lr": true, "finetune_epochs": true, "cache_features": true, "batch": false, "arch": false} {
		if given(key) != want {
			t.Errorf("Given(%s) = %v, want %v", key, !want, want)
		}
	}
	for name, value := range map[string]string{"VEGCLF_BATCH": "sixteen", "VEGCLF_ARCH": "vgg16", "VEGCLF_AUGMENT": "yes please"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			c := Default()
			fs := flag.NewFlagSet("notebook", flag.ContinueOnError)
			c.RegisterFlags(fs)
			if err := SetFromEnv(fs, "VEGCLF_"); err == nil || !strings.Contains(err.Error(), name+`="`+value+`"`) {
				t.Errorf("error %v, want one naming %s", err, name)
			}
		})
	}
	if got := EnvName("VEGCLF_", "max-images-per-class"); got != "VEGCLF_MAX_IMAGES_PER_CLASS" {
		t.Errorf("EnvName = %s", got)
	}
}

// TestFinetuneRates checks the fine-tuning rates of a ResNet's six layer groups (stem, layer1..4, head):
// a range spreads them geometrically from the stem's to the head's, a layer decay multiplies each group's
// by the decay per group above it, neither leaves them all at the base rate.
func TestFinetuneRates(t *testing.T) {
	const groups, stem, layer2, layer4, head = 6, 0, 2, 4, 5
	cfg := Default()
	cfg.LRRange = LRRange{1e-6, 1e-4}
	base, scales := cfg.FinetuneRate(), cfg.GroupScales(groups)
	if base != 1e-4 || math.Abs(scales[stem]-1e-2) > 1e-12 || scales[head] != 1 ||
		math.Abs(scales[layer2]-math.Pow(1e-2, 0.6)) > 1e-12 {
		t.Errorf("range: base %v, scales %v", base, scales)
	}
	cfg.LRRange, cfg.LayerDecay = LRRange{}, 0.5
	base, scales = cfg.FinetuneRate(), cfg.GroupScales(groups)
	if base != cfg.FinetuneLR || scales[layer4] != 0.5 || scales[stem] != 1.0/32 {
		t.Errorf("decay: base %v, scales %v", base, scales)
	}
	cfg.LayerDecay = 0
	if base, scales = cfg.FinetuneRate(), cfg.GroupScales(groups); base != cfg.FinetuneLR || !slices.Equal(scales, UnitScales(groups)) {
		t.Errorf("neither: base %v, scales %v", base, scales)
	}
}

// TestFinetuneSize: progressive resizing's size of each fine-tuning epoch, and ImageSize without a schedule.
func TestFinetuneSize(t *testing.T) {
	c := Default()
	c.FinetuneEpochs, c.ImageSize = 5, 224
	for _, tc := range []struct {
		sizes SizeSchedule
		want  []int
	}{{"", []int{224, 224, 224, 224, 224}}, {"128:2,160:1,224:2", []int{128, 128, 160, 224, 224}}} {
		c.FinetuneImageSizes = tc.sizes
		for e, want := range tc.want {
			if got := c.FinetuneSize(e + 1); got != want {
				t.Errorf("%q: epoch %d at %d, want %d", tc.sizes, e+1, got, want)
			}
		}
	}
	var s SizeSchedule
	if err := s.UnmarshalText([]byte(" 128:2 ,224:3")); err != nil || s != "128:2,224:3" || s.Epochs() != 5 {
		t.Errorf("read %q, %v (%d epochs)", s, err, s.Epochs())
	}
}
