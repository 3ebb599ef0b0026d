package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/synthveg"
)

// trainUntil trains the run of cfg in dir (resuming it with resume) until stop says so: it is asked after
// every checkpoint saved inside an epoch (with at set) and after every training step (with step set), and
// cancels the run's context when it returns true, as Ctrl-C would. It returns the report.
func trainUntil(t *testing.T, cfg recipe.Config, dir string, resume bool, stop func(at *Checkpoint, step *Progress) bool) string {
	t.Helper()
	return trainCancelled(t, cfg, dir, resume, func(r *Run, cancel func()) {
		r.OnCheckpoint = func(c Checkpoint) {
			if stop(&c, nil) {
				cancel()
			}
		}
		r.OnProgress = func(p Progress) {
			if p.Stage == "train" && stop(nil, &p) {
				cancel()
			}
		}
	})
}

// runState returns what a run folder ends with, to compare runs: its metrics without their timings, and
// every variable of its last and best checkpoints, bit for bit.
func runState(t *testing.T, dir string) (metrics []runfolder.EpochMetrics, variables map[string][]byte) {
	t.Helper()
	metrics, err := runfolder.ReadMetrics(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range metrics {
		metrics[i].Seconds, metrics[i].ImagesPerSecond = 0, 0
	}
	variables = map[string][]byte{}
	for _, file := range []string{runfolder.LastFile, runfolder.BestFile} {
		store, meta, err := checkpoint.Load(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if meta.Position != nil {
			t.Errorf("%s of a finished run holds a position inside an epoch: %+v", file, *meta.Position)
		}
		variables[file+" meta"] = fmt.Appendf(nil, "%s %d %d %v %v", meta.Phase, meta.Epoch, meta.Step, meta.TestAccuracy, meta.BestAccuracy)
		for v := range store.IterVariables() {
			if err := v.MustValue().ConstBytes(func(b []byte) { variables[file+" "+v.Path()] = bytes.Clone(b) }); err != nil {
				t.Fatal(err)
			}
		}
	}
	return metrics, variables
}

// TestResumeInsideEpochs stops runs inside their epochs, right after a checkpoint saved there (as a kill
// would find them) or between two (as Ctrl-C does, which saves one), and resumes them from last.ckpt until
// they end: each ends with the metrics and checkpoints, bit for bit, of the run that went straight through.
func TestResumeInsideEpochs(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	data := generate(t, synthveg.Options{Classes: 3, Train: 5, Test: 2, Size: 48, Seed: 4})
	base := smallConfig(data) // 15 train images in batches of 4: 4 steps an epoch.
	base.Batch, base.FrozenEpochs, base.FinetuneEpochs = 4, 2, 2
	steps := recipe.Interval{Steps: 1}
	for _, tc := range []struct {
		name   string
		change func(c *recipe.Config)
		// stops says where each stopped run stops: "checkpoint PHASE EPOCH STEP" right after the checkpoint
		// saved there, "step PHASE EPOCH STEP" (cancelled, as Ctrl-C) right after that step.
		stops []string
		// saved are the reports' "Checkpoint saved" lines, in all the runs.
		saved int
	}{
		{"frozen without the feature cache, fine-tuning with augmentation, mixup and the weight average", func(c *recipe.Config) {
			c.CacheFeatures, c.Augment, c.Mixup, c.EMA, c.CheckpointEvery = false, true, 0.4, 0.9, steps
		}, []string{"checkpoint frozen 1 2", "checkpoint frozen 2 3", "checkpoint finetune 1 1", "checkpoint finetune 2 2"}, 12},
		{"the feature cache, and Ctrl-C between checkpoints", func(c *recipe.Config) {
			c.CheckpointEvery = recipe.Interval{Off: true}
		}, []string{"step frozen 1 1", "step finetune 1 3"}, 2},
		{"gradient accumulation: checkpoints between updates only, every nanosecond of training", func(c *recipe.Config) {
			c.Accumulate, c.CheckpointEvery, c.FrozenEpochs = 3, recipe.Interval{Duration: time.Nanosecond}, 1
		}, []string{"checkpoint finetune 1 3", "step finetune 2 2"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.change(&cfg)
			straight := filepath.Join(t.TempDir(), "straight")
			trainUntil(t, cfg, straight, false, func(*Checkpoint, *Progress) bool { return false })
			stopped := filepath.Join(t.TempDir(), "stopped")
			var reports strings.Builder
			for i, where := range tc.stops {
				var kind, phase string
				var epoch, step int
				if _, err := fmt.Sscanf(where, "%s %s %d %d", &kind, &phase, &epoch, &step); err != nil {
					t.Fatal(err)
				}
				reached := false
				reports.WriteString(trainUntil(t, cfg, stopped, i > 0, func(at *Checkpoint, p *Progress) bool {
					switch {
					case reached:
					case kind == "checkpoint" && at != nil:
						reached = string(at.Phase) == phase && at.Epoch == epoch && at.Step == step
					case kind == "step" && p != nil:
						reached = string(p.Phase) == phase && p.Epoch == epoch && p.Done == step
					}
					return reached
				}))
				if !reached {
					t.Fatalf("the run never reached its stop %q:\n%s", where, reports.String())
				}
				meta, _, err := checkpoint.ReadMeta(filepath.Join(stopped, runfolder.LastFile))
				if err != nil {
					t.Fatal(err)
				}
				// With accumulation a Ctrl-C goes on to the next update: the third step.
				if want := step + (cfg.Accumulate-step%max(cfg.Accumulate, 1))%max(cfg.Accumulate, 1); meta.Position == nil || meta.Phase != phase || meta.Position.Epoch != epoch || meta.Position.Batches != want {
					t.Fatalf("stopped at %q, last.ckpt is at %s epoch %d, position %+v (want step %d)", where, meta.Phase, meta.Epoch, meta.Position, want)
				}
			}
			reports.WriteString(trainUntil(t, cfg, stopped, true, func(*Checkpoint, *Progress) bool { return false }))
			report := reports.String()
			if n := strings.Count(report, "Checkpoint saved: "); n != tc.saved {
				t.Errorf("%d checkpoints saved inside epochs, want %d:\n%s", n, tc.saved, report)
			}
			if !strings.Contains(report, "Resuming ") || !strings.Contains(report, " at step ") {
				t.Errorf("the resumed runs do not say where they resume:\n%s", report)
			}
			wantMetrics, wantVars := runState(t, straight)
			gotMetrics, gotVars := runState(t, stopped)
			if !reflect.DeepEqual(gotMetrics, wantMetrics) {
				t.Errorf("metrics of the stopped and resumed run:\n%v\nstraight through:\n%v", gotMetrics, wantMetrics)
			}
			if len(gotVars) != len(wantVars) {
				t.Errorf("%d variables in the checkpoints, straight through %d", len(gotVars), len(wantVars))
			}
			differ := 0
			for name, want := range wantVars {
				if !bytes.Equal(gotVars[name], want) {
					if differ++; differ <= 5 {
						t.Errorf("%s differs from the straight run's", name)
					}
				}
			}
		})
	}
}

// TestFeaturePassInParts interrupts the frozen backbone's feature pass: the parts it saved (every two
// batches, and when cancelled) are kept, the run started again goes on from them without computing their
// images again, and it ends as the run that went straight through, with no part left.
func TestFeaturePassInParts(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	cfg := smallConfig(generate(t, synthveg.Options{Classes: 2, Train: 5, Test: 3, Size: 40, Seed: 8}))
	cfg.Batch, cfg.FrozenEpochs, cfg.FinetuneEpochs, cfg.CheckpointEvery = 2, 2, 1, recipe.Interval{Steps: 2}
	straight := filepath.Join(t.TempDir(), "straight")
	trainUntil(t, cfg, straight, false, func(*Checkpoint, *Progress) bool { return false })
	dir := filepath.Join(t.TempDir(), "stopped")
	cfg.FeatureCacheMB = 0 // Its features spill to disk: parts and the features file are written from there.
	r, err := Create(cfg, testenv.Backend(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	var report strings.Builder
	r.Report = &report
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.OnProgress = func(p Progress) {
		if p.Stage == "features" && p.Total == 10 && p.Done == 6 {
			cancel()
		}
	}
	if err := r.Train(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("the interrupted pass: %v\n%s", err, report.String())
	}
	if parts, images := FeatureParts(dir); parts != 2 || images != 6 {
		t.Fatalf("%d parts of %d images kept, want 2 of 6:\n%s", parts, images, report.String())
	}
	// Started again (nothing to resume: no epoch was trained), the pass goes on at its fourth batch.
	r, err = Open(cfg, testenv.Backend(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	report.Reset()
	r.Report = &report
	first := 0
	r.OnProgress = func(p Progress) {
		if p.Stage == "features" && first == 0 {
			first = p.Done
		}
	}
	if err := r.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	if first != 8 || !strings.Contains(report.String(), "Feature pass of the train images resumed from its saved parts at batch 3 of 5 (6 images kept).") {
		t.Errorf("the pass started again at image %d, want 8:\n%s", first, report.String())
	}
	if parts, _ := FeatureParts(dir); parts != 0 {
		t.Errorf("%d parts left after the pass", parts)
	}
	if s, err := r.WriteSummary(nil); err != nil || s.PhaseSeconds[runfolder.Frozen] <= 0 || s.PhaseSeconds[runfolder.Finetune] <= 0 {
		t.Errorf("summary's phase times %v, %v", s.PhaseSeconds, err)
	}
	wantMetrics, wantVars := runState(t, straight)
	gotMetrics, gotVars := runState(t, dir)
	if !reflect.DeepEqual(gotMetrics, wantMetrics) {
		t.Errorf("metrics of the run started again:\n%v\nstraight through:\n%v", gotMetrics, wantMetrics)
	}
	for name, want := range wantVars {
		if !bytes.Equal(gotVars[name], want) {
			t.Errorf("%s differs from the straight run's", name)
		}
	}
}
