package notebook

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/recipe"
)

// TestSettings takes settings as a notebook does: the defaults, under the environment, under the cell's
// flags. Without the default weights at hand, FromScratch's settings replace the others but those given;
// with no data folder a generated dataset is drawn. A bad value, from either side, is an error naming it.
func TestSettings(t *testing.T) {
	t.Setenv("VEGCLF_CACHE", t.TempDir()) // No weights cached.
	t.Setenv("VEGCLF_LR", "3e-4")
	t.Setenv("VEGCLF_BATCH", "4")
	t.Setenv("VEGCLF_IMAGE_SIZE", "32")
	t.Setenv("VEGCLF_RUN", "runs/from-env")
	fs := flag.NewFlagSet("cell", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s := NewSettings(fs, recipe.Default())
	s.SyntheticDir = filepath.Join(t.TempDir(), "vegetables")
	runDir := fs.String("run", "runs/tutorial", "run folder")
	if err := fs.Parse([]string{"--batch=2", "--finetune-epochs=3"}); err != nil {
		t.Fatal(err)
	}
	cfg, note, err := s.Config()
	if err != nil {
		t.Fatal(err)
	}
	// From the environment: lr, image size, the run folder; from the flags: batch (over the environment's)
	// and fine-tuning epochs; from FromScratch: the architecture, weights and frozen epochs.
	if cfg.LR != 3e-4 || cfg.ImageSize != 32 || cfg.Batch != 2 || cfg.FinetuneEpochs != 3 || *runDir != "runs/from-env" ||
		cfg.Arch != "resnet18" || cfg.Weights != "none" || cfg.FrozenEpochs != 1 || cfg.FinetuneLR != 1e-3 {
		t.Errorf("settings: %+v, run %s", cfg, *runDir)
	}
	if !strings.Contains(note, `"torchvision-v2" are not available`) {
		t.Errorf("weights note: %s", note)
	}
	if cfg.Data != s.SyntheticDir {
		t.Errorf("data %q, want the generated %q", cfg.Data, s.SyntheticDir)
	}
	if err := cfg.Validate(); err != nil {
		t.Error(err)
	}
	// A labels file (VEGCLF_LABELS, or --labels) lists the images: no generated data.
	t.Setenv("VEGCLF_LABELS", "/data/labels.csv")
	fs = flag.NewFlagSet("cell", flag.ContinueOnError)
	s = NewSettings(fs, recipe.Default())
	s.SyntheticDir = filepath.Join(t.TempDir(), "unused")
	if cfg, _, err := s.Config(); err != nil || cfg.Labels != "/data/labels.csv" || cfg.Data != "" {
		t.Errorf("with a labels file: data %q, labels %q, %v", cfg.Data, cfg.Labels, err)
	}
	if _, err := os.Stat(s.SyntheticDir); err == nil {
		t.Error("data was generated although a labels file was given")
	}
	t.Setenv("VEGCLF_LABELS", "")

	t.Setenv("VEGCLF_FINETUNE_LR", "1e-3x")
	fs = flag.NewFlagSet("cell", flag.ContinueOnError)
	s = NewSettings(fs, recipe.Default())
	if _, _, err := s.Config(); err == nil || !strings.Contains(err.Error(), `VEGCLF_FINETUNE_LR="1e-3x"`) {
		t.Errorf("bad environment value: %v", err)
	}
	fs.SetOutput(io.Discard)
	if err := fs.Parse([]string{"--schedule=zigzag"}); err == nil || !strings.Contains(err.Error(), "zigzag") {
		t.Errorf("bad flag value: %v", err)
	}
}
