package notebook

import (
	"flag"
	"fmt"

	"github.com/vegclf/vegclf/vegclf/recipe"
)

// EnvPrefix starts the environment variables that give notebook settings: VEGCLF_LR for --lr.
const EnvPrefix = "VEGCLF_"

// ApplyEnv sets each of fs's flags that the cell's command line left unset from its environment variable
// (recipe.EnvName: VEGCLF_FINETUNE_LR for --finetune-lr), through the flag's own parser. A bad value is an
// error naming the variable.
func ApplyEnv(fs *flag.FlagSet) error {
	return recipe.SetFromEnv(fs, EnvPrefix)
}

// Settings are a notebook's run settings: every setting of a run (recipe.Config.RegisterFlags, the flags
// of the CLI's train command) on a flag set, beside the notebook's own flags. In a notebook the flag set
// is flag.CommandLine, which GoNB parses from the flags after a cell's "%%" ("%% --lr=1e-3") before the
// cell runs; Config adds the environment under them and the defaults under that.
type Settings struct {
	Flags *flag.FlagSet
	// SyntheticDir is where Config draws a small generated dataset when no data folder is given.
	SyntheticDir string
	config       *recipe.Config
}

// NewSettings registers base's settings as flags on fs (their defaults: base's values).
func NewSettings(fs *flag.FlagSet, base recipe.Config) *Settings {
	s := &Settings{Flags: fs, SyntheticDir: "runs/vegetables", config: &base}
	s.config.RegisterFlags(fs)
	return s
}

// Config returns the run's configuration, with what Pretrained says of its weights. It applies the
// environment (ApplyEnv) first, so read the notebook's own flags after calling it. When the pretrained
// weights asked for are not at hand, the run starts from random initialization with recipe.FromScratch's
// settings, but for those given (flags or environment); with no data folder it uses a generated dataset
// (Synthetic, in SyntheticDir).
func (s *Settings) Config() (recipe.Config, string, error) {
	if err := ApplyEnv(s.Flags); err != nil {
		return recipe.Config{}, "", fmt.Errorf("notebook settings: %w", err)
	}
	cfg := *s.config
	var note string
	cfg.Weights, note = Pretrained(cfg.Weights, string(cfg.Arch))
	if cfg.Weights == "none" {
		recipe.FromScratch(&cfg, recipe.Given(s.Flags))
	}
	if cfg.Data == "" && cfg.Labels == "" { // A labels file lists its own images.
		dir, err := Synthetic(s.SyntheticDir, 4, 24, 2*cfg.ImageSize)
		if err != nil {
			return recipe.Config{}, "", err
		}
		cfg.Data = dir
	}
	return cfg, note, nil
}
