package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/sweep"
)

// runSweep trains a run per point of a grid, or per random trial, of settings over the train flags' base,
// each in an ordinary run folder under --out, sharing one feature cache, and prints the runs ranked.
func runSweep(args []string, stdout, stderr io.Writer) error {
	c := newTrainCommand(recipe.Default(), stderr)
	c.fs.Init("sweep", flag.ContinueOnError)
	c.fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: vegclf sweep --data DIR --out SWEEPDIR --grid SPEC [--trials N] [train flags]\n\nflags:\n")
		c.fs.PrintDefaults()
	}
	grid := c.fs.String("grid", "", "the settings to sweep: 'lr=1e-4,3e-4,1e-3;hidden=64,128;finetune-epochs=0,2' (with --trials, ranges too: 'lr=1e-5:1e-2')")
	trials := c.fs.Int("trials", 0, "draw this many random points of --grid's space (lists and LO:HI ranges) instead of its whole grid")
	seed := c.fs.Uint64("trial-seed", 1, "the seed of the random trials")
	if err := parseFlagsOnly(c.fs, args); err != nil {
		return err
	}
	if *c.out == "" || *grid == "" || c.cfg.Data == "" && c.cfg.Labels == "" {
		return usagef("want --data DIR (or --labels FILE.csv) --out DIR --grid SPEC")
	}
	if *c.resume {
		return usagef("a sweep resumes by itself: run the same command again")
	}
	if err := checkSettings(c.fs, c.cfg, ""); err != nil {
		return err
	}
	if *trials < 0 {
		return usagef("--trials %d: want 0 (the whole grid) or a number of random points", *trials)
	}
	points, err := sweep.Points(*grid, *trials, *seed)
	if err != nil {
		return usagef("%v", err)
	}
	b, choice, err := newBackend(*c.backendSpec)
	if err != nil {
		return err
	}
	defer b.Finalize()
	fmt.Fprintf(stdout, "Backend: %s\nSweep of %d runs in %s (finished runs are kept; the same command resumes it)\n", choice, len(points), *c.out)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := sweep.Run(ctx, b, c.cfg, points, *c.out, stdout); err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted; the same command continues the sweep")
		}
		return err
	}
	rows, err := sweep.Rank(*c.out, points)
	if err != nil {
		return err
	}
	sweep.WriteTable(stdout, rows)
	return nil
}
