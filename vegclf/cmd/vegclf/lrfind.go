package main

import (
	"fmt"
	"io"
	"os"

	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/train"
	"github.com/vegclf/vegclf/vegclf/viz"
)

func runLRFind(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("lr-find", "--data DIR [flags]", stderr)
	cfg := recipe.Default()
	cfg.RegisterFlags(fs)
	phase := fs.String("phase", "finetune", "phase to sweep: frozen (the head on cached features) or finetune")
	lo := fs.Float64("start", 1e-7, "first learning rate")
	hi := fs.Float64("end", 10, "last learning rate")
	steps := fs.Int("steps", 100, "batches to sweep over")
	svg := fs.String("svg", "", "write the loss against the learning rate to this SVG file")
	backendSpec := backendFlag(fs)
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if cfg.Data == "" && cfg.Labels == "" || len(rest) > 0 {
		return usagef("want --data DIR (or --labels FILE.csv)")
	}
	if *phase != string(runfolder.Frozen) && *phase != string(runfolder.Finetune) {
		return usagef("--phase %q: want frozen or finetune", *phase)
	}
	if err := checkSettings(fs, cfg, ""); err != nil {
		return err
	}
	switch {
	case !(*lo > 0) || !(*hi > *lo):
		return usagef("--start %g and --end %g: want 0 < start < end", *lo, *hi)
	case *steps < 2:
		return usagef("--steps %d: want at least 2", *steps)
	}
	b, _, err := newBackend(*backendSpec)
	if err != nil {
		return err
	}
	defer b.Finalize()
	found, err := train.SweepLR(cfg, b, "", runfolder.Phase(*phase), *lo, *hi, *steps)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%-12s %s\n", "rate", "smoothed loss")
	for i, rate := range found.Rates {
		if i%max(len(found.Rates)/20, 1) == 0 || i == len(found.Rates)-1 {
			fmt.Fprintf(stdout, "%-12.3g %.4f\n", rate, found.Losses[i])
		}
	}
	fmt.Fprintf(stdout, "\nSuggested learning rate: %.3g (steepest descent); %.3g (minimum / 10)\n", found.Steepest, found.MinOver)
	if *svg != "" {
		chart, err := viz.LRFinder(fmt.Sprintf("LR finder (%s): loss against learning rate", *phase), found.Rates, found.Losses, found.Suggestions())
		if err != nil {
			return err
		}
		if err := os.WriteFile(*svg, []byte(chart), 0o666); err != nil {
			return err
		}
	}
	return nil
}
