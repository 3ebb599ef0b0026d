package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gomlx/compute"
	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/train"
)

// trainCommand holds the train command's flags over a configuration.
type trainCommand struct {
	fs          *flag.FlagSet
	cfg         recipe.Config
	out         *string
	resume      *bool
	configFile  *string
	backendSpec *string
}

// newTrainCommand registers the train command's flags over cfg (their defaults: cfg's values).
func newTrainCommand(cfg recipe.Config, stderr io.Writer) *trainCommand {
	c := &trainCommand{fs: newFlagSet("train", "--data DIR --out RUNDIR [flags]", stderr), cfg: cfg}
	c.cfg.RegisterFlags(c.fs)
	c.out = c.fs.String("out", "", "run folder: config, metrics, checkpoints, summary")
	c.resume = c.fs.Bool("resume", false, "continue the run in --out from its last checkpoint, with its saved settings; "+
		"--frozen-epochs or --finetune-epochs above the saved ones extend it, other settings that differ are an error")
	c.configFile = c.fs.String("config", "", "a YAML or JSON file of settings with config.json's keys (a run's config.json is one); flags given beside it override it")
	c.backendSpec = backendFlag(c.fs)
	return c
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	c := newTrainCommand(recipe.Default(), stderr)
	if err := parseFlagsOnly(c.fs, args); err != nil {
		return err
	}
	if *c.out == "" {
		return usagef("--out is required")
	}
	// The settings, in order: the defaults or, resuming, the run's saved ones; the --config file; the
	// flags given. train.Open refuses a resume with settings that would change what the run means.
	base := c.cfg
	if *c.resume {
		saved, err := runfolder.ReadConfig(*c.out)
		if err != nil {
			return fmt.Errorf("nothing to resume in %s: %w", *c.out, err)
		}
		base = saved
	}
	if *c.configFile != "" {
		var err error
		if base, err = recipe.ReadFile(*c.configFile, base); err != nil {
			return usagef("%v", err)
		}
	}
	if *c.resume || *c.configFile != "" {
		c = newTrainCommand(base, io.Discard)
		if err := parseFlagsOnly(c.fs, args); err != nil {
			return err
		}
	}
	if c.cfg.Data == "" && c.cfg.Labels == "" {
		return usagef("--data or --labels is required (or data in --config)")
	}
	if err := checkSettings(c.fs, c.cfg, *c.configFile); err != nil {
		return err
	}
	b, choice, err := newBackend(*c.backendSpec)
	if err != nil {
		return err
	}
	defer b.Finalize()
	fmt.Fprintf(stdout, "Backend: %s\n", choice)
	err = trainValidatePredict(c.cfg, b, *c.out, *c.resume, stdout, stderr)
	var conflict *train.ResumeConflict
	switch {
	case errors.As(err, &conflict):
		return errors.New(describeConflict(conflict, *c.out))
	case errors.Is(err, runfolder.ErrRunExists):
		return fmt.Errorf("%s already holds a run (%s): continue it with --resume, or give another --out", *c.out, runfolder.LastFile)
	}
	return err
}

// describeConflict says, in flags, what a refused resume would have changed and how to train with it.
func describeConflict(conflict *train.ResumeConflict, out string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cannot resume %s with other settings; nothing was changed there:\n", out)
	for _, d := range conflict.Differences {
		fmt.Fprintf(&b, "  %s: the run has %s, the command line %s", "--"+recipe.FlagName(d.Key), d.Saved, d.Given)
		if d.Why != "" {
			fmt.Fprintf(&b, " (%s)", d.Why)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Leave these flags out to continue the run in %s as it was, or give a new --out to start a run with them.", out)
	return b.String()
}

// trainValidatePredict runs the whole recipe: both phases, validation of the best checkpoint, a summary,
// and predictions for a few single images.
func trainValidatePredict(cfg recipe.Config, b compute.Backend, out string, resume bool, stdout, stderr io.Writer) error {
	open := train.Create
	if resume {
		open = train.Resume
	}
	r, err := open(cfg, b, out)
	if err != nil {
		return err
	}
	if resume {
		if left := r.EpochsLeft(); left == 0 {
			fmt.Fprintf(stdout, "%s already holds a finished run: nothing is trained; its best checkpoint is validated again (give another --out to train a new run).\n", out)
		} else {
			fmt.Fprintf(stdout, "%s already holds a run: continuing it, %d epochs left.\n", out, left)
		}
	}
	ds := r.Dataset
	where := r.Config.Data
	if r.Config.Labels != "" {
		where = r.Config.Labels
	}
	fmt.Fprintf(stdout, "Data: %s: %d classes, %d train, %d test", where, len(ds.Classes), len(ds.Train.Samples), len(ds.Test.Samples))
	if ds.Validation != nil {
		fmt.Fprintf(stdout, ", %d validation", len(ds.Validation.Samples))
	}
	fmt.Fprintf(stdout, " images, %dx%d\nModel: %s\n", r.Config.ImageSize, r.Config.ImageSize, r.Model)
	r.OnProgress, r.Report = progressBar(stderr, stdout)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := r.Train(ctx); err != nil {
		if errors.Is(err, context.Canceled) {
			return errors.New(describeInterrupted(out))
		}
		return err
	}
	if _, err := r.Finish(); err != nil {
		return err
	}
	// Single-image predictions with the best checkpoint, one image per class (as Finish read it).
	c, _, err := r.BestClassifier(b)
	if err != nil {
		return err
	}
	split := ds.HeldOut()
	var images []string
	seen := map[int]bool{}
	for _, s := range split.Samples {
		if !seen[s.Label] && len(images) < 4 {
			seen[s.Label] = true
			images = append(images, s.Path)
		}
	}
	fmt.Fprintf(stdout, "\nPredictions of the best checkpoint on %s images:\n", split.Name)
	if err := printPredictionsAs("train", c, inputsOf(images), 3, false, stdout, stderr); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nRun folder: %s\n", describeFolder(out))
	return nil
}

// describeInterrupted says what an interrupted run left in out, as its last checkpoint says: what --resume
// continues from (the completed epochs, and the steps of the epoch in progress saved inside it), or, when
// nothing was saved, that there is nothing to resume.
func describeInterrupted(out string) string {
	meta, _, err := checkpoint.ReadMeta(filepath.Join(out, runfolder.LastFile))
	if err != nil {
		msg := fmt.Sprintf("interrupted before the first epoch was completed: nothing is saved to resume in %s; start again with the same command", out)
		if parts, images := train.FeatureParts(out); parts > 0 {
			msg += fmt.Sprintf(" (it goes on from the feature pass's %d saved parts, %d images, without computing them again)", parts, images)
		}
		return msg
	}
	at := fmt.Sprintf("%s epoch %d", meta.Phase, meta.Epoch)
	if meta.Epoch == 0 {
		at = fmt.Sprintf("the start of the %s phase", meta.Phase)
	}
	if p := meta.Position; p != nil {
		phase := meta.Phase
		if phase == string(runfolder.Finetune) {
			phase = "fine-tuning"
		}
		return fmt.Sprintf("interrupted; completed epochs are saved in %s, and %s epoch %d up to step %d of %d (%s holds them, optimizer step %d): "+
			"--resume --out %s continues at step %d", out, phase, p.Epoch, p.Batches, p.Of, runfolder.LastFile, meta.Step, out, p.Batches)
	}
	return fmt.Sprintf("interrupted; completed epochs are saved in %s (%s holds %s, step %d): continue with --resume --out %s",
		out, runfolder.LastFile, at, meta.Step, out)
}

// describeFolder names the files in the run folder out and the disk they take: "runs/demo (best.ckpt,
// config.json, ...; 259 MB)".
func describeFolder(out string) string {
	entries, err := os.ReadDir(out)
	if err != nil {
		return out
	}
	var names []string
	var size int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		names = append(names, e.Name())
		size += info.Size()
	}
	return fmt.Sprintf("%s (%s; %s)", out, strings.Join(names, ", "), megabytes(size))
}

// megabytes writes a size in MB (10^6 bytes), as du --si and file managers do.
func megabytes(n int64) string {
	if n < 10e6 {
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.0f MB", float64(n)/1e6)
}

// progressBar returns a progress callback drawing a bar on w when w is a terminal (nil otherwise), and
// report wrapped so that a report line written while a bar is drawn replaces it instead of following it.
func progressBar(w, report io.Writer) (func(train.Progress), io.Writer) {
	f, ok := w.(*os.File)
	if !ok {
		return nil, report
	}
	if info, err := f.Stat(); err != nil || info.Mode()&os.ModeCharDevice == 0 {
		return nil, report
	}
	line := &progressLine{w: w}
	return line.draw, &clearingWriter{report, line}
}

// progressLine draws a progress bar on its line of w.
type progressLine struct {
	w     io.Writer
	drawn bool // The line holds a bar.
}

func (l *progressLine) draw(p train.Progress) {
	const width = 30
	filled := width * p.Done / max(p.Total, 1)
	fmt.Fprintf(l.w, "\r%s epoch %d/%d %-5s [%s%s] %d/%d %s ", p.Phase, p.Epoch, p.Epochs, p.Stage,
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), p.Done, p.Total, p.Elapsed.Round(time.Second))
	if timing := p.Timing(); timing != "" {
		fmt.Fprintf(l.w, "(%s) \033[K", timing)
	}
	l.drawn = true
	if p.Done == p.Total && p.Stage == "test" {
		l.clear()
	}
}

// clear erases the bar, if one is drawn.
func (l *progressLine) clear() {
	if l.drawn {
		fmt.Fprint(l.w, "\r\033[K")
		l.drawn = false
	}
}

// clearingWriter writes to w after erasing line's bar.
type clearingWriter struct {
	w    io.Writer
	line *progressLine
}

func (c *clearingWriter) Write(b []byte) (int, error) {
	c.line.clear()
	return c.w.Write(b)
}
