package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/synthveg"
	"github.com/vegclf/vegclf/vegclf/weights"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// runDemo is the README's first command: it draws a small vegetable dataset (no download) and runs the
// whole recipe on it, with the pretrained ResNet-50 when it is in the cache, else from random weights,
// saying how to get the pretrained ones.
func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", "[--out RUNDIR] [train flags]", stderr)
	cfg := recipe.Default()
	cfg.ImageSize, cfg.FrozenEpochs, cfg.FinetuneEpochs, cfg.Batch = 64, 3, 2, 16
	cfg.RegisterFlags(fs)
	out := fs.String("out", filepath.Join("runs", "demo"), "run folder; the generated data goes to its data/ sub-folder")
	perClass := fs.Int("images-per-class", 24, "generated train images per class (test and validation get a third of that)")
	classes := fs.Int("classes", 4, "number of vegetable classes to generate (at most 6)")
	backendSpec := backendFlag(fs)
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	switch {
	case *classes < 2 || *classes > len(synthveg.Vegetables):
		return usagef("--classes %d: want 2 to %d (classification needs two classes)", *classes, len(synthveg.Vegetables))
	case *perClass < 1:
		return usagef("--images-per-class %d: want at least 1", *perClass)
	}
	given := recipe.Given(fs)
	if !given("weights") {
		// No cache folder (HOME unset, say) holds no weights either: the demo still runs.
		cache, err := weights.CacheDir()
		if err == nil {
			_, _, err = zoo.ResolveWeights(cfg.Weights, string(cfg.Arch), cache)
		}
		if errors.Is(err, weights.ErrNotCached) || cache == "" && err != nil {
			fmt.Fprintf(stdout, "Pretrained weights are not in the cache, so this demo trains from random initialization.\n%v\n", err)
			recipe.FromScratch(&cfg, given)
		}
	}
	if cfg.Data == "" {
		cfg.Data = filepath.Join(*out, "data")
	}
	if err := checkSettings(fs, cfg, ""); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(cfg.Data, "train")); err != nil {
		n, err := synthveg.Generate(cfg.Data, synthveg.Options{Classes: *classes, Train: *perClass, Test: max(*perClass/3, 1),
			Validation: max(*perClass/3, 1), Size: 2 * cfg.ImageSize, Seed: cfg.Seed})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Generated %d synthetic vegetable images in %s\n", n, cfg.Data)
	}
	b, choice, err := newBackend(*backendSpec)
	if err != nil {
		return err
	}
	defer b.Finalize()
	fmt.Fprintf(stdout, "Backend: %s\n", choice)
	resume := false
	if _, err := os.Stat(filepath.Join(*out, runfolder.LastFile)); err == nil {
		resume = true // trainValidatePredict says whether it continues the run or finds it finished.
	}
	return trainValidatePredict(cfg, b, *out, resume, stdout, stderr)
}
