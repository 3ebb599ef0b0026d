package resnet

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
)

// Options configure the forward graph.
type Options struct {
	// TrainBatchNorm normalizes with batch statistics and updates the running statistics, as torch's
	// model.train() does; otherwise the running statistics are used (model.eval()).
	TrainBatchNorm bool
	// Conv selects the convolution implementation; the zero value picks by backend.
	Conv ConvImpl
	// Backward shapes the backbone's graph for a backward pass through it (fine-tuning): each ReLU keeps
	// a boolean mask of its positive inputs instead of the inputs themselves, each kxk im2col
	// convolution keeps only its input, gathering its patches (kh*kw times the input's size) again in the
	// backward pass, and every convolution's products are laid out for their gradients (trainingProduct).
	// The stem takes its kernel's gradient only: the images get none. Graphs without a backward pass
	// through the backbone run faster without it, and must not ask for gradients through it: their
	// convolution windows are crops, which GoMLX cannot differentiate (windowTaps). Gradients of the
	// head's variables, or of the last feature map (Grad-CAM), need none.
	Backward bool
}

// mustVariable returns the store's variable for a state_dict key, panicking (inside graph building,
// where GoMLX reports panics as errors) with a clear message when it is missing.
//
// It also marks g as a graph whose variables change between calls (GoMLX's "training" graphs): since
// GoMLX v0.28.6, a graph not so marked on a backend that prefers constants (the Go backend) has its
// variables compiled in as constants, so a training step would re-read the initial weights at every call
// and a classifier kept across epochs would keep the weights of its first call. Every graph of the model
// reads its variables here first, so none can be built with stale constants.
func mustVariable(store *model.Store, g *Graph, name string) *model.Variable {
	store.SetTraining(g, true)
	v := store.GetVariable(VariablePath(name))
	if v == nil {
		exceptions.Panicf("model variable %q (%s) is missing: initialize the model or load weights first", name, VariablePath(name))
	}
	return v
}

// Features computes the backbone's pooled features [B, FeatureDim] (float32) of images [B, H, W, 3].
func (m *Model) Features(store *model.Store, images *Node, opts Options) *Node {
	return ReduceMean(ConvertDType(m.FeatureMap(store, images, opts), dtypes.Float32), 1, 2)
}

// FeatureMap computes the last stage's output [B, h, w, FeatureDim] (before global average pooling), the
// map Grad-CAM explains, in the model's compute dtype.
func (m *Model) FeatureMap(store *model.Store, images *Node, opts Options) *Node {
	g := images.Graph()
	dtype := m.ComputeDType()
	relu := relu
	if opts.Backward {
		relu = reluMasked
	}
	input := ConvertDType(images, dtype)
	// convBN is a convolution followed by its batch norm. In inference mode the norm's scale is folded
	// into the kernel (one small multiplication instead of one over the whole output).
	convBN := func(convName, bnName string, x *Node, stride, pad int) *Node {
		grads := noGrads
		switch {
		case opts.Backward && x == input: // The stem: the images need no gradient.
			grads = kernelGrads
		case opts.Backward:
			grads = allGrads
		}
		kernel := mustVariable(store, g, convName+".weight").NodeValue(g)
		if opts.TrainBatchNorm {
			return trainBatchNorm(store, bnName, conv2D(x, ConvertDType(kernel, dtype), stride, pad, opts.Conv, grads))
		}
		scale, shift := inferenceBatchNorm(g, store, bnName)
		channels := scale.Shape().Dimensions[0]
		kernel = Mul(kernel, Reshape(scale, 1, 1, 1, channels))
		y := conv2D(x, ConvertDType(kernel, dtype), stride, pad, opts.Conv, grads)
		return Add(y, ConvertDType(Reshape(shift, 1, 1, 1, channels), dtype))
	}

	return m.backbone(input, convBN, relu, func(x *Node) *Node { return maxPool3x3Stride2(x, opts.Backward) })
}

// backbone is the network from the stem to the last stage's output, torchvision's structure, with the
// given convolution-and-batch-norm (by the state_dict names of both), ReLU and stem max pool: FeatureMap's
// and FoldedLogits' share it.
func (m *Model) backbone(x *Node, convBN func(convName, bnName string, x *Node, stride, pad int) *Node, relu, maxPool func(*Node) *Node) *Node {
	x = maxPool(relu(convBN("conv1", "bn1", x, 2, 3)))
	for _, b := range m.blocks() {
		identity := x
		switch m.Arch.Block {
		case Basic:
			x = relu(convBN(b.name+".conv1", b.name+".bn1", x, b.stride, 1))
			x = convBN(b.name+".conv2", b.name+".bn2", x, 1, 1)
		case Bottleneck:
			x = relu(convBN(b.name+".conv1", b.name+".bn1", x, 1, 0))
			x = relu(convBN(b.name+".conv2", b.name+".bn2", x, b.stride, 1))
			x = convBN(b.name+".conv3", b.name+".bn3", x, 1, 0)
		}
		if b.downsample {
			identity = convBN(b.name+".downsample.0", b.name+".downsample.1", identity, b.stride, 0)
		}
		x = relu(Add(x, identity))
	}
	return x
}

// maxPool3x3Stride2 is torch's MaxPool2d(3, stride=2, padding=1) on [B, H, W, C], as the elementwise
// maximum of the nine strided window taps of x padded with -inf (windowTaps; differentiable for a
// backward pass): the Go backend runs these ops much faster than its ReduceWindow. The gradient, like
// torch's, goes to the first maximum of each window in raster order (Max passes ties to its first operand).
func maxPool3x3Stride2(x *Node, differentiable bool) *Node {
	dims := x.Shape().Dimensions
	outH, outW := (dims[1]-1)/2+1, (dims[2]-1)/2+1
	padded := Pad(x, Infinity(x.Graph(), x.DType(), -1),
		compute.PadAxis{}, compute.PadAxis{Start: 1, End: 1}, compute.PadAxis{Start: 1, End: 1}, compute.PadAxis{})
	var out *Node
	for _, window := range windowTaps(padded, 3, 3, 2, outH, outW, differentiable) {
		if out == nil {
			out = window
		} else {
			out = Max(out, window)
		}
	}
	return out
}

// Classify applies the head to features [B, FeatureDim], returning logits [B, NumClasses].
func (m *Model) Classify(store *model.Store, features *Node) *Node {
	g := features.Graph()
	x := features
	names := m.Head.linearNames()
	for i, name := range names {
		w := mustVariable(store, g, name+".weight").NodeValue(g)
		b := mustVariable(store, g, name+".bias").NodeValue(g)
		x = Add(MatMul(x, w), InsertAxes(b, 0))
		if i < len(names)-1 {
			x = reluMasked(x) // Keeps NaN, as torch does, so that a diverged head shows in the loss.
		}
	}
	return x
}

// Logits is Classify(Features(images)).
func (m *Model) Logits(store *model.Store, images *Node, opts Options) *Node {
	return m.Classify(store, m.Features(store, images, opts))
}

// relu is max(x, 0), with a scalar 0: on the Go backend, Max against a scalar runs in 60% of the time of
// Max against a broadcast tensor of zeros, and in 60% of reluMasked's. Its gradient (GoMLX's for Max)
// passes ties at 0. On the Go backend from compute v0.1.14, Max keeps NaN (as torch's relu does) in whole
// 16-wide vectors but returns 0 for it in a tensor's last partial vector: the backbone's activations (a
// multiple of 16 channels) use it for speed; the head and every graph with a backward pass use reluMasked.
func relu(x *Node) *Node {
	return Max(x, ScalarZero(x.Graph(), x.DType()))
}

// reluMasked is relu for graphs with a backward pass: Where(x <= 0, 0, x), whose gradient is
// Where(x <= 0, 0, v), torch's (0 at exactly 0); a NaN input stays NaN, as in torch. It keeps a boolean
// mask for the backward pass rather than x, and its gradient costs 40% of Max's on the Go backend
// (Max's goes through Sign twice).
func reluMasked(x *Node) *Node {
	return Where(LessOrEqual(x, ScalarZero(x.Graph(), x.DType())), ZerosLike(x), x)
}

// CheckStore verifies that every parameter of the model is in the store with its shape.
func (m *Model) CheckStore(store *model.Store) error {
	for _, p := range m.Params() {
		v := store.GetVariable(p.Path())
		if v == nil {
			return fmt.Errorf("model %s: variable %q is missing", m, p.Name)
		}
		if !v.Shape().Equal(p.Shape()) {
			return fmt.Errorf("model %s: variable %q has shape %s, want %s", m, p.Name, v.Shape(), p.Shape())
		}
	}
	return nil
}

// SetTrainable marks the backbone's and the head's learnable parameters trainable or frozen. Running
// statistics are never trainable.
func (m *Model) SetTrainable(store *model.Store, backbone, head bool) {
	for _, p := range m.Params() {
		if v := store.GetVariable(p.Path()); v != nil {
			v.SetTrainable(p.Trainable && ((p.Backbone && backbone) || (!p.Backbone && head)))
		}
	}
}
