package step

import (
	"fmt"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/nn"
)

// accumulator sums a phase's gradients over micro-batches between Adam updates (Config.Accumulate).
// Each micro-batch's gradient of its mean loss is added weighted by its size, and the update divides by
// the images summed: the gradient of the mean loss over all of them, as one batch of them would give, even
// when the last micro-batch of an epoch is shorter. The sums are transient store variables, never saved:
// every epoch ends with an update (Stepper.Flush), so a checkpoint never holds a partial sum.
type accumulator struct {
	n       int               // Micro-batches per update.
	sums    []*model.Variable // Σ b·∇ per trainable variable, b a micro-batch's size.
	images  float64           // Images summed since the last update.
	pending int               // Micro-batches summed since the last update.
	add     *model.Exec       // Forward, backward, sums += b·∇. Inputs: inputs, targets, labels, b, random state.
	update  *model.Exec       // Adam with sums/images (clipped), then sums = 0. Inputs: Adam's scalars, images.
}

// accumulatorPrefix is the store scope of the sums, under checkpoint.TransientPrefix.
const accumulatorPrefix = checkpoint.TransientPrefix + "accumulate"

// newAccumulator prepares the phase's summing and updating steps, summing n micro-batches per update.
func newAccumulator(b compute.Backend, store *model.Store, m *nn.Model, opt *adamState, c Config) (*accumulator, error) {
	a := &accumulator{n: c.Accumulate}
	for _, v := range opt.trainable {
		path := accumulatorPrefix + v.Path()
		sum := store.GetVariable(path)
		if sum == nil {
			var err error
			if sum, err = store.CreateVariable(path, tensors.FromShape(v.Shape())); err != nil {
				return nil, fmt.Errorf("creating gradient sums: %w", err)
			}
		} else if err := sum.SetValue(tensors.FromShape(v.Shape())); err != nil {
			return nil, fmt.Errorf("zeroing gradient sums: %w", err)
		}
		sum.SetTrainable(false)
		a.sums = append(a.sums, sum)
	}
	var err error
	a.add, err = model.NewExec(b, store, func(scope *model.Scope, inputs, targets, labels, size, rng *Node) (*Node, *Node) {
		g := inputs.Graph()
		scope.Store().SetTraining(g, true)
		loss, correct := c.Loss.objective()(phaseLogits(scope.Store(), m, opt, c, inputs, rng), targets, labels)
		for i, grad := range Gradient(loss, opt.trainableNodes(g)...) {
			a.sums[i].SetNodeValue(Add(a.sums[i].NodeValue(g), Mul(grad, size)))
		}
		return loss, correct
	})
	if err != nil {
		return nil, err
	}
	a.update, err = model.NewExec(b, store, func(scope *model.Scope, hyper, images *Node) *Node {
		g := hyper.Graph()
		scope.Store().SetTraining(g, true)
		grads := make([]*Node, len(a.sums))
		for i, sum := range a.sums {
			grads[i] = Div(sum.NodeValue(g), images)
			sum.SetNodeValue(ZerosLike(grads[i]))
		}
		// Clipping sees the update's gradient: the mean over all the micro-batches' images.
		opt.apply(g, clipGradients(grads, c.ClipGrad, c.ClipMode), hyper)
		return images
	})
	return a, err
}

// accumulate adds one micro-batch's gradients, and updates the weights when it completes the group of n.
func (s *Stepper) accumulate(inputs, targets, labels *tensors.Tensor, n int) (loss, correct float64, err error) {
	a := s.acc
	out, err := a.add.Exec(inputs, targets, labels, float32(n), noise(s.seed, s.Phase, s.Steps, a.pending))
	if err != nil {
		return 0, 0, err
	}
	a.images += float64(n)
	a.pending++
	if a.pending == a.n {
		if err := s.Flush(); err != nil {
			return 0, 0, err
		}
	}
	return float64(tensors.ToScalar[float32](out[0])), float64(tensors.ToScalar[float32](out[1])), nil
}

// Pending returns the micro-batches summed since the last update (0 without Config.Accumulate): a run
// saves its place inside an epoch only when none is.
func (s *Stepper) Pending() int {
	if s.acc == nil {
		return 0
	}
	return s.acc.pending
}

// Flush updates the weights with the gradients summed since the last update, if any (with
// Config.Accumulate; without, every step updates and Flush does nothing). An epoch ends with it.
func (s *Stepper) Flush() error {
	a := s.acc
	if a == nil || a.pending == 0 {
		return nil
	}
	if _, err := a.update.Exec(s.opt.hyper(s.Steps+1), float32(a.images)); err != nil {
		return err
	}
	s.Steps++
	a.images, a.pending = 0, 0
	return nil
}
