package train

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/synthveg"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// TestPace measures steps on a fake clock: the first (compiling) step is left out, so after a slow first
// step and steady ones the time per step, the speed and the time left are exact.
func TestPace(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	p := &pace{now: clock.now}
	if _, ok := p.perStep(); ok || p.imagesPerSecond() != 0 {
		t.Fatal("a pace measured before any step")
	}
	clock.t = clock.t.Add(40 * time.Second) // Compiling.
	p.step(8)
	if _, ok := p.perStep(); ok {
		t.Fatal("a pace measured from the first step alone")
	}
	const total = 20
	for done := 2; done <= total; done++ {
		clock.t = clock.t.Add(2 * time.Second)
		p.step(8)
		per, ok := p.perStep()
		if !ok || per != 2*time.Second || p.imagesPerSecond() != 4 {
			t.Fatalf("after step %d: %v a step (%v), %g img/s; want 2s and 4", done, per, ok, p.imagesPerSecond())
		}
		if left, actual := per*time.Duration(total-done), 2*time.Second*time.Duration(total-done); left != actual {
			t.Fatalf("after step %d: %v left, actually %v", done, left, actual)
		}
	}
	// Steps that speed up (fresh memory at the epoch's start, reused later): the pace follows the recent
	// half of them, not the whole epoch's average.
	for range 10 {
		clock.t = clock.t.Add(time.Second)
		p.step(8)
	}
	// 29 steps measured: the last 14 are 10 of 1 s and 4 of 2 s.
	if per, _ := p.perStep(); per != 18*time.Second/14 || p.imagesPerSecond() != 14*8/18.0 {
		t.Errorf("after 19 steps of 2 s and 10 of 1 s: %v a step, %g img/s; want the last 14's %v and %g", per, p.imagesPerSecond(), 18*time.Second/14, 14*8/18.0)
	}
}

// TestRunLeft checks the estimate of the run's time left from measured speeds: the epoch's training left,
// its test pass, the phase's epochs after it and fine-tuning's, estimated from the forward pass until its
// steps are measured; nothing before the forward pass is.
func TestRunLeft(t *testing.T) {
	r := &Run{Dataset: &data.Dataset{Train: &data.Split{Samples: make([]data.Sample, 100)}, Test: &data.Split{Samples: make([]data.Sample, 10)}}}
	r.Config.FrozenEpochs, r.Config.FinetuneEpochs = 3, 2
	if _, ok := r.runLeft(runfolder.Frozen, 1, time.Minute, false); ok {
		t.Error("an estimate before any speed was measured")
	}
	r.speeds.forward = 0.5
	r.speeds.setTrain(runfolder.Frozen, 0.6)
	for _, tc := range []struct {
		name      string
		phase     runfolder.Phase
		epoch     int
		cached    bool
		finetune  float64 // Fine-tuning's measured seconds per image (0: not yet).
		wantSecs  float64
		wantKnown bool
	}{
		// 60 s left + test 5 s; 2 frozen epochs of 60+5 s; 2 fine-tuning epochs of 100*1.5+5 s.
		{"frozen, fine-tuning estimated", runfolder.Frozen, 1, false, 0, 60 + 5 + 2*65 + 2*155, true},
		{"frozen on cached features", runfolder.Frozen, 1, true, 0, 60 + 2*60 + 2*155, true},
		{"frozen, fine-tuning measured", runfolder.Frozen, 3, false, 2, 60 + 5 + 2*205, true},
		{"fine-tuning's last epoch", runfolder.Finetune, 2, false, 2, 60 + 5, true},
		{"fine-tuning's first epoch", runfolder.Finetune, 1, false, 2, 60 + 5 + 205, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			delete(r.speeds.train, runfolder.Finetune)
			if tc.finetune > 0 {
				r.speeds.setTrain(runfolder.Finetune, tc.finetune)
			}
			got, ok := r.runLeft(tc.phase, tc.epoch, time.Minute, tc.cached)
			if ok != tc.wantKnown || got != time.Duration(tc.wantSecs*float64(time.Second)) {
				t.Errorf("%v (%v), want %gs", got, ok, tc.wantSecs)
			}
		})
	}
}

// TestProgressTiming writes the progress line's speed and estimates.
func TestProgressTiming(t *testing.T) {
	for _, tc := range []struct {
		p    Progress
		want string
	}{
		{Progress{}, ""},
		{Progress{ImagesPerSecond: 12.345, EpochLeft: 250400 * time.Millisecond, RunLeft: 3723 * time.Second}, "12.3 img/s, epoch 4m10s left, run 1h2m left"},
		{Progress{ImagesPerSecond: 3, EpochLeft: 90 * time.Second, RunLeft: 40 * time.Hour}, "3 img/s, epoch 1m30s left, run 40h left"},
	} {
		if got := tc.p.Timing(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.p, got, tc.want)
		}
	}
}

// TestEstimateOfARealEpoch trains a fine-tuning epoch long enough to measure: at its half, the time its
// progress says is left is within 50% of the time its second half then took, and the run's estimate
// covers at least the epoch's.
func TestEstimateOfARealEpoch(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	cfg := smallConfig(generate(t, synthveg.Options{Classes: 2, Train: 16, Test: 2, Size: 40, Seed: 3}))
	cfg.Batch, cfg.FrozenEpochs, cfg.FinetuneEpochs, cfg.CheckpointEvery = 2, 1, 1, recipe.Interval{Off: true}
	r, err := Create(cfg, testenv.Backend(t), filepath.Join(t.TempDir(), "run"))
	if err != nil {
		t.Fatal(err)
	}
	var half Progress
	var halfAt, endAt time.Time
	r.OnProgress = func(p Progress) {
		if p.Phase != runfolder.Finetune || p.Stage != "train" {
			return
		}
		switch p.Done {
		case p.Total / 2:
			half, halfAt = p, time.Now()
		case p.Total:
			endAt = time.Now()
		}
	}
	if err := r.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	actual := endAt.Sub(halfAt)
	t.Logf("at step %d of %d: %v left estimated (%.3g img/s), %v actually; the run: %v", half.Done, half.Total, half.EpochLeft, half.ImagesPerSecond, actual, half.RunLeft)
	if half.EpochLeft <= 0 || half.ImagesPerSecond <= 0 || half.RunLeft < half.EpochLeft {
		t.Fatalf("no estimate at the epoch's half: %+v", half)
	}
	if ratio := half.EpochLeft.Seconds() / actual.Seconds(); ratio < 0.5 || ratio > 1.5 {
		t.Errorf("the estimate at the epoch's half is %.0f%% of the time actually left", 100*ratio)
	}
}
