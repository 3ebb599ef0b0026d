// Package step takes the optimizer steps of one training phase of a model (Stepper): the forward pass,
// the loss (Loss: torch's cross-entropy with label smoothing and class weights, or binary cross-entropy
// for multi-label), gradients of the phase's trainable variables, gradient accumulation over
// micro-batches, clipping, and torch's Adam update; and data parallel (Parallel), each batch split across
// devices, which a run's feature pass also uses (Inference). Package train's epoch loop, the LR finder and
// package bench drive it.
package step

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/schedule"
)

// Adam's constants, torch.optim.Adam's defaults.
const (
	adamBeta1   = 0.9
	adamBeta2   = 0.999
	adamEpsilon = 1e-8
)

// OptimizerPrefix is the store scope holding the optimizer's moments, one sub-scope per phase.
const OptimizerPrefix = "/optimizer/"

// CrossEntropy returns torch's CrossEntropyLoss (mean over the batch) of logits [B, N] for targets
// [B, N] (class probabilities: one-hot rows for hard labels, mixed rows for mixup and cutmix), and the
// number of argmax predictions equal to the int32 labels [B] as a float32 scalar.
func CrossEntropy(logits, targets, labels *Node) (loss, correct *Node) {
	logp := LogSoftmax(logits, -1)
	loss = ReduceAllMean(Neg(ReduceSum(Mul(targets, logp), -1)))
	hits := Equal(ArgMax(logits, -1, dtypes.Int32), labels)
	correct = ReduceAllSum(ConvertDType(hits, dtypes.Float32))
	return loss, correct
}

// oneHot returns the targets [B, N] of hard labels.
func oneHot(labels []int32, numClasses int) *tensors.Tensor {
	t := make([]float32, len(labels)*numClasses)
	for i, l := range labels {
		t[i*numClasses+int(l)] = 1
	}
	return tensors.FromFlatDataAndDimensions(t, len(labels), numClasses)
}

// adamState is torch.optim.Adam's state for one phase: moments per trainable variable, and the step
// count (kept on the host, so bias corrections are computed in float64 as torch does).
type adamState struct {
	phase     runfolder.Phase
	schedule  schedule.Schedule // The learning rate per step.
	total     int64             // Steps in the phase, for the schedule.
	trainable []*model.Variable
	groups    []int     // Layer group of each trainable variable.
	scale     []float64 // Each layer group's learning rate, relative to the schedule's.
	moments   [][2]*model.Variable
}

// newAdamState finds (after a resume) or creates the phase's zero moments for the trainable variables.
func newAdamState(store *model.Store, phase runfolder.Phase, trainable []*model.Variable, groups []int, numGroups int) (*adamState, error) {
	s := &adamState{phase: phase, trainable: trainable, groups: groups, scale: recipe.UnitScales(numGroups)}
	for _, v := range trainable {
		var pair [2]*model.Variable
		for i, kind := range []string{"m", "v"} {
			path := MomentPath(phase, kind, v.Path())
			mv := store.GetVariable(path)
			if mv == nil {
				var err error
				mv, err = store.CreateVariable(path, tensors.FromShape(v.Shape()))
				if err != nil {
					return nil, fmt.Errorf("creating optimizer state: %w", err)
				}
			} else if !mv.Shape().Equal(v.Shape()) {
				return nil, fmt.Errorf("optimizer state %s has shape %s, its variable %s", path, mv.Shape(), v.Shape())
			}
			mv.SetTrainable(false)
			pair[i] = mv
		}
		s.moments = append(s.moments, pair)
	}
	return s, nil
}

// MomentPath is the store path of Adam's first ("m") or second ("v") moment, in phase, of the variable at
// varPath: where a checkpoint holds it.
func MomentPath(phase runfolder.Phase, kind, varPath string) string {
	return OptimizerPrefix + string(phase) + "/" + kind + varPath
}

// hyper returns the per-step scalars for step t (1-based), one row per layer group:
// lr_g / (1 - beta1^t) and sqrt(1 - beta2^t), with lr_g the schedule's rate times the group's scale.
func (s *adamState) hyper(t int64) *tensors.Tensor {
	lr := s.schedule.Rate(t-1, s.total)
	bc2Sqrt := math.Sqrt(1 - math.Pow(adamBeta2, float64(t)))
	rows := make([]float32, 0, 2*len(s.scale))
	for _, scale := range s.scale {
		rows = append(rows, float32(lr*scale/(1-math.Pow(adamBeta1, float64(t)))), float32(bc2Sqrt))
	}
	return tensors.FromFlatDataAndDimensions(rows, len(s.scale), 2)
}

// apply adds to the graph one Adam update of the trainable variables with their gradients, as
// torch.optim.Adam computes it: m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
// p -= stepSize * m / (sqrt(v)/sqrt(1-b2^t) + eps).
func (s *adamState) apply(g *Graph, grads []*Node, hyper *Node) {
	for i, v := range s.trainable {
		group := s.groups[i]
		stepSize := Slice(hyper, AxisRange(group, group+1), AxisRange(0, 1))
		bc2Sqrt := Slice(hyper, AxisRange(group, group+1), AxisRange(1, 2))
		grad := grads[i]
		mVar, vVar := s.moments[i][0], s.moments[i][1]
		m := Add(MulScalar(mVar.NodeValue(g), adamBeta1), MulScalar(grad, 1-adamBeta1))
		sq := Add(MulScalar(vVar.NodeValue(g), adamBeta2), MulScalar(Square(grad), 1-adamBeta2))
		rank := v.Shape().Rank()
		ss := Reshape(stepSize, ones(rank)...)
		bc := Reshape(bc2Sqrt, ones(rank)...)
		denom := AddScalar(Div(Sqrt(sq), bc), adamEpsilon)
		v.SetNodeValue(Sub(v.NodeValue(g), Mul(ss, Div(m, denom))))
		mVar.SetNodeValue(m)
		vVar.SetNodeValue(sq)
	}
}

func ones(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = 1
	}
	return out
}

// trainableVariables returns the store variables of the parameters trained in phase, with their layer
// groups: the head in the frozen phase, every learnable parameter of the unfrozen groups (nil: all) when
// fine-tuning. Running statistics are never trained.
func trainableVariables(store *model.Store, m *nn.Model, phase runfolder.Phase, unfrozen func(group int) bool) ([]*model.Variable, []int) {
	var vars []*model.Variable
	var groups []int
	for _, p := range m.Params() {
		g := p.Group
		if p.Trainable && (m.IsHead(p) || phase == runfolder.Finetune && (unfrozen == nil || unfrozen(g))) {
			vars, groups = append(vars, store.GetVariable(p.Path())), append(groups, g)
		}
	}
	return vars, groups
}

// phaseLogits returns the logits of a training step's graph: the head on features, or the whole model on
// images, with a backward pass through the backbone only when fine-tuning, and in train mode the dropout
// and stochastic depth of the backbone drawn from the random state rng.
func phaseLogits(store *model.Store, m *nn.Model, opt *adamState, c Config, inputs, rng *Node) *Node {
	if c.Input == FromFeatures {
		return m.Classify(store, inputs)
	}
	return m.Logits(store, inputs, nn.Options{Train: c.BatchNormTrain, RNG: rng, Backward: opt.phase == runfolder.Finetune, BNMomentum: c.BNMomentum})
}

// noiseStream is the stream of the training steps' random states for a seed ("noise" in ASCII).
const noiseStream = 0x6e6f697365

// noise returns the random state (graph.RNGStateShape) that the backbone's dropout and stochastic depth
// draw from in the phase's step step, micro-batch micro of it (accumulation): a function of the seed and
// the step alone, so that a resumed run draws what an uninterrupted one does.
func noise(seed uint64, phase runfolder.Phase, step int64, micro int) *tensors.Tensor {
	key := uint64(step)<<8 | uint64(micro)
	if phase == runfolder.Finetune {
		key |= 1 << 63
	}
	rng := rand.New(rand.NewPCG(seed^noiseStream, key))
	state := make([]uint64, RNGStateShape.Size())
	for i := range state {
		state[i] = rng.Uint64()
	}
	return tensors.FromFlatDataAndDimensions(state, RNGStateShape.Dimensions...)
}

// trainableNodes returns the graph's nodes of the trainable variables.
func (s *adamState) trainableNodes(g *Graph) []*Node {
	nodes := make([]*Node, len(s.trainable))
	for i, v := range s.trainable {
		nodes[i] = v.NodeValue(g)
	}
	return nodes
}

// newTrainExec builds the training step of a phase: forward, loss, gradients of the trainable
// variables only (the frozen backbone gets none, so its backward pass is never computed), Adam update.
// Inputs: images [B,H,W,3] (or features [B,F]), targets [B,N] float32, labels [B] int32, Adam's
// per-step scalars [groups,2], the step's random state (noise). Outputs: loss, correct.
func newTrainExec(b compute.Backend, store *model.Store, m *nn.Model, opt *adamState, c Config) (*model.Exec, error) {
	return model.NewExec(b, store, func(scope *model.Scope, inputs, targets, labels, hyper, rng *Node) (*Node, *Node) {
		g := inputs.Graph()
		// The weights and Adam's moments change at every call: they must be graph parameters, never
		// constants compiled in (see resnet's mustVariable, which marks the model's graphs the same way).
		scope.Store().SetTraining(g, true)
		loss, correct := c.Loss.objective()(phaseLogits(scope.Store(), m, opt, c, inputs, rng), targets, labels)
		opt.apply(g, clipGradients(Gradient(loss, opt.trainableNodes(g)...), c.ClipGrad, c.ClipMode), hyper)
		return loss, correct
	})
}

// DeleteOptimizerState removes from store the optimizer's moments of every phase but keep, as New does.
func DeleteOptimizerState(store *model.Store, keep runfolder.Phase) error {
	var doomed []string
	for v := range store.IterVariables() {
		if strings.HasPrefix(v.Path(), OptimizerPrefix) && !strings.HasPrefix(v.Path(), OptimizerPrefix+string(keep)+"/") {
			doomed = append(doomed, v.Path())
		}
	}
	for _, p := range doomed {
		if err := store.DeleteVariable(p); err != nil {
			return fmt.Errorf("deleting optimizer state %s: %w", p, err)
		}
	}
	return nil
}

// Stepper takes training steps of one phase: the model's forward pass, cross-entropy, gradients of the
// phase's trainable variables, and torch's Adam update, on batches it is given.
type Stepper struct {
	Phase   runfolder.Phase
	Steps   int64 // Steps taken in the phase (Adam's t).
	classes int
	loss    Loss
	opt     *adamState
	exec    *model.Exec

	parallel *Parallel    // Config.Parallel.
	sharded  *model.Exec  // The step split across parallel's devices.
	acc      *accumulator // Config.Accumulate; nil: every step updates.
	seed     uint64       // Config.Seed.
}

// Input is what a training step is fed.
type Input int

const (
	// FromImages feeds images [B,H,W,3] through the whole model.
	FromImages Input = iota
	// FromFeatures feeds the backbone's pooled features [B,F] to the head: the frozen phase with cached
	// features, where the backbone's output cannot change.
	FromFeatures
)

// Config says what a Stepper trains and how.
type Config struct {
	Phase runfolder.Phase
	Input Input
	// BatchNormTrain selects batch statistics (torch's model.train()); else running statistics.
	BatchNormTrain bool
	// Unfrozen, when fine-tuning, selects the layer groups trained besides the head (gradual
	// unfreezing); nil: all.
	Unfrozen func(group int) bool
	// Schedule gives the learning rate per step over a phase of TotalSteps.
	Schedule   schedule.Schedule
	TotalSteps int64
	// GroupScales is each layer group's learning rate relative to the schedule's (discriminative
	// learning rates), one per group of the model (Model.Groups); nil means 1 for every group.
	GroupScales []float64
	// Steps is the number of steps already taken in the phase (Adam's t), after a resume.
	Steps int64
	// Parallel, when set, splits each batch that it splits (Parallel.Splits) across its devices; other
	// batches, such as an epoch's last, shorter one, run on one device.
	Parallel *Parallel
	// Loss shapes the cross-entropy (label smoothing, class weights); the zero value is the plain one.
	Loss Loss
	// Accumulate, above 1, sums the gradients of this many batches (micro-batches) before each update:
	// the update of one batch of all their images, with batch norm's statistics per micro-batch.
	Accumulate int
	// Seed seeds the backbone's dropout and stochastic depth in train mode: each step draws from a state of
	// the seed, the phase and the step (noise).
	Seed uint64
	// BNMomentum, above 0, replaces the batch norms' momentum (nn.Options.BNMomentum).
	BNMomentum float64
	// ClipGrad, above 0, clips each update's gradient (the summed one, with Accumulate) before Adam, by
	// ClipMode: to this global norm or value (clipGradients).
	ClipGrad float64
	ClipMode recipe.ClipMode
}

// New prepares a phase's training step as c says: it marks the trainable variables, drops other
// phases' optimizer state, and creates (or, after a resume, finds) this phase's Adam moments.
func New(b compute.Backend, store *model.Store, m *nn.Model, c Config) (*Stepper, error) {
	if c.Input == FromFeatures && (c.Phase != runfolder.Frozen || c.BatchNormTrain) {
		return nil, fmt.Errorf("training from cached features needs the frozen phase with batch norm in inference mode")
	}
	if c.Schedule == nil {
		return nil, fmt.Errorf("training step: no learning-rate schedule")
	}
	which := nn.TrainHead
	if c.Phase == runfolder.Finetune {
		which = nn.TrainAll
	}
	m.SetTrainable(store, which)
	if err := DeleteOptimizerState(store, c.Phase); err != nil {
		return nil, err
	}
	vars, groups := trainableVariables(store, m, c.Phase, c.Unfrozen)
	opt, err := newAdamState(store, c.Phase, vars, groups, len(m.Groups()))
	if err != nil {
		return nil, err
	}
	opt.schedule, opt.total = c.Schedule, c.TotalSteps
	if c.GroupScales != nil {
		if len(c.GroupScales) != len(opt.scale) {
			return nil, fmt.Errorf("training step: %d learning-rate scales for the %d layer groups of %s", len(c.GroupScales), len(opt.scale), m)
		}
		opt.scale = c.GroupScales
	}
	s := &Stepper{Phase: c.Phase, Steps: c.Steps, classes: m.Head.NumClasses, loss: c.Loss, opt: opt, seed: c.Seed}
	if c.Accumulate > 1 {
		if c.Parallel != nil {
			return nil, fmt.Errorf("gradient accumulation does not split batches across devices: set devices to 1, or accumulate to 0")
		}
		s.acc, err = newAccumulator(b, store, m, opt, c)
		return s, err
	}
	if s.exec, err = newTrainExec(b, store, m, opt, c); err != nil {
		return nil, err
	}
	if c.Parallel != nil {
		// Another exec of the same step, split across the devices.
		if s.sharded, err = newTrainExec(b, store, m, opt, c); err != nil {
			return nil, err
		}
		if err := c.Parallel.configure(s.sharded); err != nil {
			return nil, err
		}
		s.parallel = c.Parallel
	}
	return s, nil
}

// MultiLabel reports whether the stepper trains a multi-label loss (Loss.MultiLabel): its steps then take
// label sets (StepMulti).
func (s *Stepper) MultiLabel() bool {
	return s.loss.MultiLabel
}

// LearningRate returns the rate of the next step.
func (s *Stepper) LearningRate() float64 {
	return s.opt.schedule.Rate(s.Steps, s.opt.total)
}

// Step trains on one batch (images [B,H,W,3], or features [B,F] for FromFeatures) and labels,
// returning the batch's mean loss and the number of correct predictions (before the update).
func (s *Stepper) Step(inputs *tensors.Tensor, labels []int32) (loss, correct float64, err error) {
	if s.loss.MultiLabel {
		return 0, 0, fmt.Errorf("training step: a multi-label step takes label sets (StepMulti)")
	}
	return s.step(inputs, s.loss.Targets(oneHot(labels, s.classes), labels, ClassIndices), tensors.FromValue(labels), len(labels))
}

// StepSoft is Step with soft targets [B,N] (rows of class probabilities, as mixup and cutmix make);
// correct counts the predictions equal to labels.
func (s *Stepper) StepSoft(inputs, targets *tensors.Tensor, labels []int32) (loss, correct float64, err error) {
	if s.loss.MultiLabel {
		return 0, 0, fmt.Errorf("training step: a multi-label step takes label sets (StepMulti)")
	}
	return s.step(inputs, s.loss.Targets(targets, labels, ClassProbabilities), tensors.FromValue(labels), len(labels))
}

// StepMulti is Step for multi-label training (Loss.MultiLabel): sets are each image's classes; correct
// counts the exact matches (every output on its label's side of probability 0.5).
func (s *Stepper) StepMulti(inputs *tensors.Tensor, sets [][]int) (loss, correct float64, err error) {
	if !s.loss.MultiLabel {
		return 0, 0, fmt.Errorf("training step: label sets need a multi-label loss")
	}
	hot := MultiHot(sets, s.classes)
	return s.step(inputs, s.loss.multiLabelTargets(hot), hot, len(sets))
}

// step trains on one batch of n images with the loss's targets (Loss.Targets or multiLabelTargets made
// them) and labels (class indices, or multi-hot rows).
func (s *Stepper) step(inputs, targets, labels *tensors.Tensor, n int) (loss, correct float64, err error) {
	if s.acc != nil {
		return s.accumulate(inputs, targets, labels, n)
	}
	hyper := s.opt.hyper(s.Steps + 1)
	rng := noise(s.seed, s.Phase, s.Steps, 0)
	exec, args := s.exec, []any{inputs, targets, labels, hyper, rng}
	if s.sharded != nil && s.parallel.Splits(n) {
		exec = s.sharded
		if args, err = s.parallel.shard(inputs, targets, labels, hyper, rng); err != nil {
			return 0, 0, err
		}
	}
	// A split step returns each device's copy of the (replicated) loss and count: device 0's come first.
	out, err := exec.Exec(args...)
	if err != nil {
		return 0, 0, err
	}
	s.Steps++
	return float64(tensors.ToScalar[float32](out[0])), float64(tensors.ToScalar[float32](out[1])), nil
}
