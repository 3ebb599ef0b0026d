package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
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
	type row struct {
		name            string
		best, val, secs float64
	}
	var rows []row
	for _, p := range points {
		content, err := os.ReadFile(filepath.Join(*c.out, p.Name(), runfolder.SummaryFile))
		if err != nil {
			return err
		}
		var s runfolder.Summary
		if err := json.Unmarshal(content, &s); err != nil {
			return err
		}
		r := row{name: p.Name(), best: s.BestTestAccuracy, val: -1, secs: s.TrainSeconds}
		if s.ValidationAccuracy != nil {
			r.val = *s.ValidationAccuracy
		}
		rows = append(rows, r)
	}
	slices.SortStableFunc(rows, func(a, b row) int { return cmp.Or(cmp.Compare(b.val, a.val), cmp.Compare(b.best, a.best)) })
	fmt.Fprintf(stdout, "\n%-48s %10s %10s %9s\n", "run (by validation accuracy)", "best test", "validation", "seconds")
	for _, r := range rows {
		val := "-"
		if r.val >= 0 {
			val = fmt.Sprintf("%.2f%%", 100*r.val)
		}
		fmt.Fprintf(stdout, "%-48s %9.2f%% %10s %9.1f\n", r.name, 100*r.best, val, r.secs)
	}
	return nil
}
