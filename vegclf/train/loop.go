package train

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/evaluate"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/schedule"
	"github.com/vegclf/vegclf/vegclf/step"
)

// Train runs the remaining epochs of both phases. It stops early, with ctx's error, when ctx is
// cancelled; checkpoints of completed epochs are kept, so Resume continues from the last one.
func (r *Run) Train(ctx context.Context) error {
	for _, note := range r.Notes {
		r.report("%s\n", note)
	}
	r.Notes = nil
	// The soft memory limit holds while the run trains; the process's own comes back after.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	policy := memoryPolicy(r.Config.MemoryLimit, r.Backend)
	if !policy.Off && policy.Bytes > 0 {
		debug.SetMemoryLimit(policy.Bytes)
		r.report("Memory: soft limit %d MB, as configured.\n", policy.Bytes>>20)
	}
	r.probeMemory, r.memoryAuto = policy.Auto(), policy.Auto()
	defer r.closeFeatures()
	r.reportCaches()
	if r.EpochsLeft() == 0 {
		r.report("Nothing left to train: the run's %s and %s are done.\n",
			phaseEpochs(r.Config.FrozenEpochs, "frozen"), phaseEpochs(r.Config.FinetuneEpochs, "fine-tuning"))
		return nil
	}
	for _, phase := range []runfolder.Phase{runfolder.Frozen, runfolder.Finetune} {
		epochs, lr := r.Config.FrozenEpochs, r.Config.LR
		if phase == runfolder.Finetune {
			epochs, lr = r.Config.FinetuneEpochs, r.Config.FinetuneLR
		}
		if phase == runfolder.Frozen && r.phase == runfolder.Finetune {
			continue // Done before the resume.
		}
		if phase == runfolder.Finetune && r.phase == runfolder.Frozen {
			r.phase, r.epoch, r.step = runfolder.Finetune, 0, 0
		}
		if r.epoch >= epochs {
			continue
		}
		if err := r.runPhase(ctx, phase, epochs, lr); err != nil {
			return err
		}
	}
	return nil
}

// EpochsLeft returns the number of epochs Train would train: the rest of the phase the run is in (none
// when early stopping ended it) and the phases after it. It is 0 for a finished run.
func (r *Run) EpochsLeft() int {
	left := 0
	stopped := r.Config.Patience > 0 && r.epoch > 0 && r.sinceBest >= r.Config.Patience
	switch r.phase {
	case runfolder.Frozen:
		if !stopped {
			left += max(r.Config.FrozenEpochs-r.epoch, 0)
		}
		left += r.Config.FinetuneEpochs
	case runfolder.Finetune:
		if !stopped {
			left += max(r.Config.FinetuneEpochs-r.epoch, 0)
		}
	}
	return left
}

// phaseName writes a phase as the report says it: "frozen", "fine-tuning".
func phaseName(p runfolder.Phase) string {
	if p == runfolder.Finetune {
		return "fine-tuning"
	}
	return string(p)
}

// phaseEpochs writes a phase's epochs: "1 frozen epoch", "2 fine-tuning epochs".
func phaseEpochs(n int, phase string) string {
	if n == 1 {
		return "1 " + phase + " epoch"
	}
	return fmt.Sprintf("%d %s epochs", n, phase)
}

// finetuneShuffle is added to a fine-tuning epoch's number for its shuffle, so that the two phases' epochs
// see different orders.
const finetuneShuffle = 1 << 20

// phasePlan is what a phase trains with, fixed when it starts.
type phasePlan struct {
	phase   runfolder.Phase
	epochs  int
	bnTrain bool // Batch statistics (torch's model.train()).
	src     epochSource
	step    step.Config // The stepper's settings, but for the unfrozen groups and the steps taken.
	// changing says which variables the phase's steps change (by path; nil: all), for the weight average.
	changing func(path string) bool
	size     int // The size its last epoch trained at (progressive resizing), 0 before the first.
}

// runPhase trains the phase's remaining epochs: up to epochs in all, at base learning rate lr.
func (r *Run) runPhase(ctx context.Context, phase runfolder.Phase, epochs int, lr float64) error {
	plan, err := r.planPhase(ctx, phase, epochs, lr)
	if err != nil {
		return err
	}
	if r.epoch == 0 {
		r.sinceBest = 0 // Patience counts within a phase.
	}
	var stepper *step.Stepper
	unfrozenFrom := -1 // The first unfrozen layer group of the current stepper.
	for r.epoch < epochs {
		if p := r.Config.Patience; p > 0 && r.sinceBest >= p {
			what := "test accuracy"
			if r.Config.MultiLabel {
				what = "test mean average precision"
			}
			r.report("Early stopping: no better %s for %s; ending the %s phase after %d of %s.\n", what, epochCount(p), phase, r.epoch, epochCount(epochs))
			break
		}
		if from := r.firstUnfrozen(phase); stepper == nil || from != unfrozenFrom {
			if stepper, err = r.newStepper(plan, from); err != nil {
				return err
			}
			unfrozenFrom = from
		}
		m, err := r.runEpoch(ctx, plan, stepper)
		if err != nil {
			return err
		}
		if err := r.endEpoch(m); err != nil {
			return err
		}
	}
	return nil
}

// planPhase reports how the phase trains and prepares its batches, rates and schedule.
func (r *Run) planPhase(ctx context.Context, phase runfolder.Phase, epochs int, lr float64) (*phasePlan, error) {
	plan := &phasePlan{phase: phase, epochs: epochs, bnTrain: phase == runfolder.Finetune || r.Config.FrozenBatchNormTrain}
	// A resumed phase (or an imported run's) continues its optimizer: say so, and what is left of it.
	adam, span := fmt.Sprintf("fresh Adam lr %g", lr), epochCount(epochs)
	if r.step > 0 {
		adam = fmt.Sprintf("Adam lr %g continuing from its saved state (%d steps taken)", lr, r.step)
	}
	if r.epoch > 0 {
		span = fmt.Sprintf("%s of %d left (resumed after epoch %d)", epochCount(epochs-r.epoch), epochs, r.epoch)
	}
	if phase == runfolder.Frozen {
		if r.step == 0 {
			adam = strings.TrimPrefix(adam, "fresh ")
		}
		r.report("\nTransfer learning: backbone frozen, training the head %s, %s, %s (batch norm in %s mode).\n",
			r.Model.Head, adam, span, map[bool]string{true: "train", false: "inference"}[plan.bnTrain])
	} else {
		r.report("\nFine-tuning: all layers trained, %s, %s.\n", adam, span)
		if entries := r.Config.FinetuneImageSizes.Entries(); entries != nil {
			var parts []string
			for _, e := range entries {
				parts = append(parts, fmt.Sprintf("%s at %dpx", epochCount(e.Epochs), e.Size))
			}
			r.report("Progressive resizing: training images %s, in that order; the test split is evaluated at %dpx (image_size).\n",
				strings.Join(parts, ", then "), r.Config.ImageSize)
		}
	}
	if p := r.Model.ComputeDType(); p != dtypes.Float32 {
		r.report("Mixed precision: the backbone computes in %s; weights, batch norm, head and loss stay float32.\n", p)
		if !backend.IsXLA(r.Backend) {
			r.report("Note: the pure Go backend runs %s many times slower than float32 (measured 30x at 64px); mixed precision pays on a GPU.\n", p)
		}
	}
	var err error
	if plan.src, err = r.epochSource(ctx, phase, plan.bnTrain); err != nil {
		return nil, err
	}
	var scales []float64 // nil: 1 for every layer group.
	if phase == runfolder.Finetune {
		groups := r.Model.Groups()
		lr, scales = r.Config.FinetuneRate(), r.Config.GroupScales(len(groups))
		if !slices.Equal(scales, recipe.UnitScales(len(groups))) {
			var parts []string
			for g, s := range scales {
				parts = append(parts, fmt.Sprintf("%s %.3g", groups[g], lr*s))
			}
			r.report("Discriminative learning rates: %s.\n", strings.Join(parts, ", "))
		}
	}
	sched := r.Config.Schedule.New(lr, r.Config.Warmup)
	accumulate := max(r.Config.Accumulate, 1)
	updates := (plan.src.numBatches() + accumulate - 1) / accumulate // Per epoch.
	total := int64(epochs * updates)
	if _, constant := sched.(schedule.Constant); !constant {
		r.report("Learning rate: %s, stepped per update over %d steps.\n", sched, total)
	}
	if accumulate > 1 {
		r.report("Gradient accumulation: each update sums the gradients of %d batches of %d (%d images; batch norm's statistics per batch of %d), %d updates an epoch.\n",
			accumulate, r.Config.Batch, accumulate*r.Config.Batch, r.Config.Batch, updates)
	}
	loss, err := r.loss()
	if err != nil {
		return nil, err
	}
	plan.step = step.Config{Phase: phase, Input: plan.src.input(), BatchNormTrain: plan.bnTrain, Schedule: sched, TotalSteps: total,
		GroupScales: scales, Parallel: r.parallel, Loss: loss, Accumulate: accumulate, Seed: r.Config.Seed, BNMomentum: r.Config.BNMomentum,
		ClipGrad: r.Config.ClipGrad, ClipMode: r.Config.ClipMode}
	if r.Config.ClipGrad > 0 {
		what := "global L2 norm of all trainable gradients, torch's clip_grad_norm_"
		if r.Config.ClipMode == recipe.ClipValue {
			what = "each element's value, torch's clip_grad_value_"
		}
		r.report("Gradient clipping: each update's gradient clipped to %g (%s).\n", r.Config.ClipGrad, what)
	}
	if r.Config.EMA > 0 {
		if r.ema == nil {
			if r.ema, err = NewWeightAverage(r.Backend, r.Store, r.Model, r.Config.EMA); err != nil {
				return nil, err
			}
		}
		r.report("Weight average: an exponential moving average of the weights and batch-norm statistics (decay %g), tested each epoch beside them; the best checkpoint keeps the better.\n", r.Config.EMA)
		if phase == runfolder.Frozen {
			plan.changing = r.frozenChanging(plan.bnTrain)
		}
	}
	return plan, nil
}

// setMultiLabelMetrics records a multi-label test evaluation's figures in the epoch's metrics.
func setMultiLabelMetrics(m *runfolder.EpochMetrics, res *evaluate.MultiLabelResult) {
	m.TestMAP, m.TestMicroF1, m.TestMacroF1 = &res.MAP, &res.MicroF1, &res.MacroF1
	for c, s := range res.PerClass {
		ap := s.AP
		if math.IsNaN(ap) {
			ap = 0 // JSON has no NaN: a class without test positives.
		}
		m.TestClasses = append(m.TestClasses, runfolder.ClassMetrics{Class: res.Classes[c], Threshold: res.Thresholds[c],
			Precision: s.Precision, Recall: s.Recall, F1: s.F1, AP: ap})
	}
}

// loss returns the run's loss settings, reporting them when they are not the plain cross-entropy.
func (r *Run) loss() (step.Loss, error) {
	if r.Config.MultiLabel {
		l := step.Loss{LabelSmoothing: r.Config.LabelSmoothing, MultiLabel: true, PosWeight: r.posWeight()}
		r.report("%s\n", l.Describe(r.Config.ClassWeights, r.Dataset.Classes))
		return l, nil
	}
	l := step.Loss{LabelSmoothing: r.Config.LabelSmoothing,
		ClassWeights: r.Config.ClassWeights.Weights(r.Dataset.Train.Counts(len(r.Dataset.Classes)))}
	if d := l.Describe(r.Config.ClassWeights, r.Dataset.Classes); d != "" {
		r.report("%s\n", d)
	}
	return l, nil
}

// posWeight returns a multi-label run's pos_weight (class weights balanced: negatives / positives of each
// class in train), nil when it has none: its test and validation losses weigh by it as training does.
func (r *Run) posWeight() []float64 {
	if !r.Config.MultiLabel {
		return nil
	}
	return r.Config.ClassWeights.PosWeights(r.Dataset.Train.Counts(len(r.Dataset.Classes)), len(r.Dataset.Train.Samples))
}

// frozenChanging says which variables the frozen phase changes: the head's, and the batch-norm statistics
// when batch norm is in train mode.
func (r *Run) frozenChanging(bnTrain bool) func(path string) bool {
	changing := map[string]bool{}
	for _, p := range r.Model.Params() {
		if r.Model.IsHead(p) || bnTrain && !p.Trainable {
			changing[p.Path()] = true
		}
	}
	return func(path string) bool { return changing[path] }
}

// firstUnfrozen returns the first layer group the next epoch trains: the stem, but for gradual unfreezing,
// where fine-tuning epoch e trains the head and the last e layer groups.
func (r *Run) firstUnfrozen(phase runfolder.Phase) int {
	if phase == runfolder.Finetune && r.Config.GradualUnfreeze {
		return max(r.Model.HeadGroup()-(r.epoch+1), 0)
	}
	return 0
}

// newStepper returns the phase's stepper training the layer groups from the group from on, continuing
// from the steps the run has taken.
func (r *Run) newStepper(plan *phasePlan, from int) (*step.Stepper, error) {
	c := plan.step
	c.Steps, c.Unfrozen = r.step, func(g int) bool { return g >= from }
	if plan.phase == runfolder.Finetune && r.Config.GradualUnfreeze {
		r.report("Gradual unfreezing: training %s to the head.\n", r.Model.Groups()[from])
	}
	return step.New(r.Backend, r.Store, r.Model, c)
}

// runEpoch trains the next epoch of the phase and evaluates it on the test split.
func (r *Run) runEpoch(ctx context.Context, plan *phasePlan, stepper *step.Stepper) (runfolder.EpochMetrics, error) {
	epoch := r.epoch + 1
	start := time.Now()
	progress := func(stage string) func(done, total int) {
		return func(done, total int) {
			if r.OnProgress != nil {
				r.OnProgress(Progress{Phase: plan.phase, Epoch: epoch, Epochs: plan.epochs, Stage: stage, Done: done, Total: total, Elapsed: time.Since(start)})
			}
		}
	}
	r.trainSize = r.Config.ImageSize
	if plan.phase == runfolder.Finetune && r.Config.FinetuneImageSizes != "" {
		r.trainSize = r.Config.FinetuneSize(epoch)
		if src, ok := plan.src.(*imageSource); ok {
			src.setTrainSize(r.trainSize)
		}
		if r.trainSize != plan.size {
			r.report("Epoch %d trains at %dx%d.\n", epoch, r.trainSize, r.trainSize)
			plan.size = r.trainSize
		}
		if r.memoryAuto && r.probedSize > 0 && r.trainSize > r.probedSize {
			r.probeMemory = true // Larger images than the limit was set for.
		}
	}
	total := plan.src.numBatches()
	pos := checkpoint.Position{Epoch: epoch, Of: total}
	if p := r.position; p != nil {
		r.position = nil
		if p.Epoch != epoch || p.Of != total || p.Next > total {
			return runfolder.EpochMetrics{}, fmt.Errorf("resuming from %s: it was saved at step %d of %d of %s epoch %d, which does not fit %s epoch %d of %d steps",
				filepath.Join(r.Dir, runfolder.LastFile), p.Batches, p.Of, phaseName(plan.phase), p.Epoch, phaseName(plan.phase), epoch, total)
		}
		pos = *p
		r.report("Resuming %s epoch %d at step %d of %d.\n", phaseName(plan.phase), epoch, pos.Batches, total)
	}
	// The epoch's training time before this process took it on (a resumed epoch's), and where its last
	// checkpoint was saved.
	before := time.Duration(pos.Seconds * float64(time.Second))
	saved, savedTime := pos.Batches, time.Now()
	// The shuffle depends on the phase and epoch only, so a resumed run sees the same order.
	shuffleEpoch := epoch
	if plan.phase == runfolder.Finetune {
		shuffleEpoch += finetuneShuffle
	}
	// checkpointHere saves the position in the epoch to last.ckpt (between updates only: none is pending).
	checkpointHere := func() error {
		pos.Seconds = (before + time.Since(start)).Seconds()
		if err := r.savePosition(plan.phase, pos); err != nil {
			return err
		}
		saved, savedTime = pos.Batches, time.Now()
		r.report("Checkpoint saved: %s epoch %d, step %d of %d (%s).\n", phaseName(plan.phase), epoch, pos.Batches, total, runfolder.LastFile)
		if r.OnCheckpoint != nil {
			r.OnCheckpoint(Checkpoint{Phase: plan.phase, Epoch: epoch, Step: pos.Batches, Steps: total})
		}
		return nil
	}
	// stop ends the epoch when ctx is cancelled: between updates, the position is saved first (unless it
	// just was); with an update pending, the epoch goes on to it.
	stop := func() (bool, error) {
		if ctx.Err() == nil || stepper.Pending() > 0 {
			return false, nil
		}
		if pos.Batches > saved {
			if err := checkpointHere(); err != nil {
				return true, err
			}
		}
		return true, ctx.Err()
	}
	cached := plan.src.input() == step.FromFeatures
	steps := &pace{now: r.clock()}
	trainProgress := func() {
		if r.OnProgress == nil {
			return
		}
		p := Progress{Phase: plan.phase, Epoch: epoch, Epochs: plan.epochs, Stage: "train", Done: pos.Batches, Total: total, Elapsed: time.Since(start)}
		if per, ok := steps.perStep(); ok {
			p.ImagesPerSecond = steps.imagesPerSecond()
			p.EpochLeft = per * time.Duration(total-pos.Batches)
			p.RunLeft, _ = r.runLeft(plan.phase, epoch, p.EpochLeft, cached)
		}
		r.OnProgress(p)
	}
	for b, err := range plan.src.trainBatches(shuffleEpoch, pos.Next, pos.Batches) {
		if err != nil {
			return runfolder.EpochMetrics{}, err
		}
		if stopped, err := stop(); stopped {
			return runfolder.EpochMetrics{}, err
		}
		loss, batchCorrect, err := r.trainStep(stepper, b)
		b.free()
		if err != nil {
			return runfolder.EpochMetrics{}, fmt.Errorf("%s epoch %d, step %d: %w", plan.phase, epoch, pos.Batches+1, err)
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return runfolder.EpochMetrics{}, fmt.Errorf("%s epoch %d, step %d: the loss is %v; stopping (the last good checkpoint is %s)",
				plan.phase, epoch, pos.Batches+1, loss, filepath.Join(r.Dir, runfolder.LastFile))
		}
		if err := r.averageWeights(plan, stepper); err != nil {
			return runfolder.EpochMetrics{}, err
		}
		pos.LossSum += loss
		pos.Correct += batchCorrect
		pos.Batches++
		pos.Next = b.index + 1
		pos.Seen += len(b.labels)
		steps.step(len(b.labels))
		if ips := steps.imagesPerSecond(); ips > 0 {
			r.speeds.setTrain(plan.phase, 1/ips)
			if !cached && plan.phase == runfolder.Frozen && r.speeds.forward == 0 {
				r.speeds.forward = 1 / ips // A frozen step on images is about the forward pass.
			}
		}
		trainProgress()
		if pos.Next < total && stepper.Pending() == 0 && r.Config.CheckpointEvery.Due(pos.Batches-saved, time.Since(savedTime)) {
			if err := checkpointHere(); err != nil {
				return runfolder.EpochMetrics{}, err
			}
		}
	}
	// The epoch ends with an update (accumulated gradients of its last batches).
	if err := stepper.Flush(); err != nil {
		return runfolder.EpochMetrics{}, fmt.Errorf("%s epoch %d, the last update: %w", plan.phase, epoch, err)
	}
	if err := r.averageWeights(plan, stepper); err != nil {
		return runfolder.EpochMetrics{}, err
	}
	if stopped, err := stop(); stopped {
		return runfolder.EpochMetrics{}, err
	}
	trainSeconds := (before + time.Since(start)).Seconds()
	testStart := time.Now()
	test, err := plan.src.test(progress("test"))
	if err != nil {
		return runfolder.EpochMetrics{}, err
	}
	if n := len(r.Dataset.Test.Samples); !cached && n > 0 {
		r.speeds.forward = time.Since(testStart).Seconds() / float64(n)
	}
	m := runfolder.EpochMetrics{
		Phase: plan.phase, Epoch: epoch, TrainLoss: pos.LossSum / float64(pos.Batches), TrainAccuracy: pos.Correct / float64(pos.Seen),
		TestLoss: test.loss, TestAccuracy: test.accuracy, ImagesPerSecond: float64(pos.Seen) / trainSeconds,
		// The run's first epoch is the best until a better one comes, whatever its score (0 included), so a
		// run always has a best checkpoint.
		Best: test.score() > r.best || !r.haveBest,
	}
	r.thresholds, r.emaThresholds = nil, nil
	if test.multi != nil {
		setMultiLabelMetrics(&m, test.multi)
		r.thresholds = test.multi.Thresholds
	}
	if plan.phase == runfolder.Finetune && r.Config.FinetuneImageSizes != "" {
		m.TrainImageSize = r.trainSize
	}
	if r.ema != nil {
		if err := r.ema.Swap(); err != nil {
			return runfolder.EpochMetrics{}, err
		}
		average, err := plan.src.test(progress("test (average)"))
		if swapErr := r.ema.Swap(); err == nil {
			err = swapErr
		}
		if err != nil {
			return runfolder.EpochMetrics{}, err
		}
		m.EMATestLoss, m.EMATestAccuracy = &average.loss, &average.accuracy
		if average.multi != nil {
			m.EMATestMAP, r.emaThresholds = &average.multi.MAP, average.multi.Thresholds
		}
		if average.score() > max(test.score(), r.best) {
			m.Best, m.BestIsAverage = true, true
		}
	}
	m.Seconds = (before + time.Since(start)).Seconds()
	return m, nil
}

// averageWeights moves the weight average (when on) after each update of the weights, and records the
// steps taken.
func (r *Run) averageWeights(plan *phasePlan, stepper *step.Stepper) error {
	if r.ema != nil && stepper.Steps > r.step {
		if err := r.ema.Update(plan.changing); err != nil {
			return fmt.Errorf("%s: updating the weight average: %w", plan.phase, err)
		}
	}
	r.step = stepper.Steps
	return nil
}

// endEpoch records a trained epoch: where the run stands, its metrics and checkpoints, the report line.
func (r *Run) endEpoch(m runfolder.EpochMetrics) error {
	r.epoch = m.Epoch
	if m.Best {
		r.sinceBest = 0
	} else {
		r.sinceBest++
	}
	if err := r.saveEpoch(m); err != nil {
		return err
	}
	r.report("%s\n", m)
	if r.OnEpoch != nil {
		r.OnEpoch(m)
	}
	return nil
}

// EvaluateBest evaluates the best checkpoint on the validation split, as the tutorial does after
// training, and reports "Validation: 99.96%, 0.003070". It returns nil when the data has no validation
// split.
func (r *Run) EvaluateBest() (*evaluate.Result, error) {
	if r.Dataset.Validation == nil {
		r.report("The data has no validation split: skipping validation.\n")
		return nil, nil
	}
	c, meta, done, err := r.bestClassifier()
	if err != nil {
		return nil, err
	}
	defer done()
	res, err := evaluate.SplitWithPosWeight(c, r.Dataset.Validation, r.Config.Batch, nil, r.posWeight())
	if err != nil {
		return nil, err
	}
	averaged := ""
	if meta.Averaged {
		averaged = " (the weight average)"
	}
	if res.MultiLabel != nil {
		r.report("\nBest checkpoint: %s epoch %d%s, test mAP %.4f (thresholds %s).\n", meta.Phase, meta.Epoch, averaged, meta.TestMAP, r.describeThresholds(meta.Thresholds))
		r.report("Validation: mAP %.4f, micro F1 %.4f, macro F1 %.4f, exact match %.2f%%, %.6f\n",
			res.MultiLabel.MAP, res.MultiLabel.MicroF1, res.MultiLabel.MacroF1, 100*res.Accuracy, res.Loss)
		return res, nil
	}
	r.report("\nBest checkpoint: %s epoch %d%s, test accuracy %.2f%%.\n", meta.Phase, meta.Epoch, averaged, 100*meta.TestAccuracy)
	r.report("Validation: %.2f%%, %.6f\n", 100*res.Accuracy, res.Loss)
	return res, nil
}

// describeThresholds writes a multi-label model's thresholds: "0.5 for every class", or each class's tuned
// one.
func (r *Run) describeThresholds(thresholds []float64) string {
	if !r.Config.Threshold.Tune {
		return fmt.Sprintf("%g for every class", r.Config.Threshold.Probability())
	}
	parts := make([]string, len(thresholds))
	for c, t := range thresholds {
		parts[c] = fmt.Sprintf("%s %.3g", r.Dataset.Classes[c], t)
	}
	return "tuned on the test split: " + strings.Join(parts, ", ")
}
