package train

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/gomlx/compute"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/schedule"
	"github.com/vegclf/vegclf/vegclf/step"
)

// lrFindEpochs numbers the LR finder's passes over the training images, for their shuffles: apart from
// the epochs of training (and of fine-tuning, finetuneShuffle on).
const lrFindEpochs = 1 << 24

// LRFind is the outcome of a learning-rate sweep.
type LRFind struct {
	Rates    []float64 // The rate of each step.
	Losses   []float64 // The loss of each step, smoothed (exponential moving average, debiased).
	Steepest float64   // The rate where the smoothed loss falls fastest.
	MinOver  float64   // The rate of the smallest smoothed loss, divided by 10.
}

// FindLR is fastai's learning-rate finder: it trains a copy of the model's variables for steps batches of
// the phase, the rate growing exponentially from lo to hi, and records the loss, stopping early once the
// smoothed loss exceeds four times its minimum. The run's own model is not changed.
func (r *Run) FindLR(phase runfolder.Phase, lo, hi float64, steps int) (*LRFind, error) {
	if lo <= 0 || hi <= lo || steps < 5 {
		return nil, fmt.Errorf("lr finder: want 0 < lo < hi and at least 5 steps")
	}
	clone, err := r.Store.Clone()
	if err != nil {
		return nil, fmt.Errorf("lr finder: %w", err)
	}
	bnTrain := phase == runfolder.Finetune || r.Config.FrozenBatchNormTrain
	src, err := r.epochSource(context.Background(), phase, bnTrain)
	if err != nil {
		return nil, err
	}
	stepper, err := step.New(r.Backend, clone, r.Model, step.Config{Phase: phase, Input: src.input(), BatchNormTrain: bnTrain, Seed: r.Config.Seed, BNMomentum: r.Config.BNMomentum,
		ClipGrad: r.Config.ClipGrad, ClipMode: r.Config.ClipMode,
		Schedule: schedule.Exponential{Lo: lo, Hi: hi}, TotalSteps: int64(steps), Loss: step.Loss{MultiLabel: r.Config.MultiLabel}})
	if err != nil {
		return nil, err
	}
	res := &LRFind{}
	const beta = 0.98
	avg, best := 0.0, math.Inf(1)
	for epoch := lrFindEpochs; len(res.Rates) < steps; epoch++ {
		for b, err := range src.trainBatches(epoch, 0, 0) {
			if err != nil {
				return nil, err
			}
			rate := stepper.LearningRate()
			loss, _, err := stepBatch(stepper, b)
			if err != nil {
				return nil, err
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return res.suggest(), nil
			}
			avg = beta*avg + (1-beta)*loss
			smoothed := avg / (1 - math.Pow(beta, float64(len(res.Rates)+1)))
			res.Rates, res.Losses = append(res.Rates, rate), append(res.Losses, smoothed)
			best = min(best, smoothed)
			if smoothed > 4*best || len(res.Rates) == steps {
				return res.suggest(), nil
			}
		}
	}
	return res.suggest(), nil
}

// SweepLR runs the LR finder (Run.FindLR) for cfg in dir, a run folder that holds no run yet, so that a
// run trained there later reuses its cached features; when dir is empty or already holds a run, in a
// temporary folder, removed afterwards.
func SweepLR(cfg recipe.Config, b compute.Backend, dir string, phase runfolder.Phase, lo, hi float64, steps int) (*LRFind, error) {
	if _, err := os.Stat(filepath.Join(dir, runfolder.LastFile)); dir == "" || err == nil {
		tmp, err := os.MkdirTemp("", "vegclf-lr-find")
		if err != nil {
			return nil, fmt.Errorf("lr finder: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	r, err := Create(cfg, b, dir)
	if err != nil {
		return nil, err
	}
	return r.FindLR(phase, lo, hi, steps)
}

// Suggestions names the suggested rates, for a plot.
func (f *LRFind) Suggestions() map[string]float64 {
	return map[string]float64{"steepest": f.Steepest, "min/10": f.MinOver}
}

// suggest fills the suggestions from the recorded losses.
func (f *LRFind) suggest() *LRFind {
	if len(f.Rates) < 3 {
		return f
	}
	minAt := 0
	for i, l := range f.Losses {
		if l < f.Losses[minAt] {
			minAt = i
		}
	}
	f.MinOver = f.Rates[minAt] / 10
	// The steepest descent on the way down to the minimum (past it, the loss is diverging), as fastai finds
	// it: the first points (a few noisy steps at tiny rates) and the last ones are left out, fastai's
	// skip_start=10 and skip_end=5, fewer on a short sweep.
	skipStart, skipEnd := max(1, min(10, len(f.Losses)/5)), max(1, min(5, len(f.Losses)/10))
	steepest, slope := skipStart, math.Inf(1)
	for i := skipStart; i < min(minAt+1, len(f.Losses)-skipEnd); i++ {
		d := (f.Losses[i+1] - f.Losses[i-1]) / (math.Log(f.Rates[i+1]) - math.Log(f.Rates[i-1]))
		if d < slope {
			steepest, slope = i, d
		}
	}
	f.Steepest = f.Rates[steepest]
	return f
}
