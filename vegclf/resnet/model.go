package resnet

import (
	"fmt"

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
}

// mustVariable returns the store's variable for a state_dict key, panicking (inside graph building,
// where GoMLX reports panics as errors) with a clear message when it is missing.
func mustVariable(store *model.Store, name string) *model.Variable {
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
	dtype := m.computeDType()
	conv := func(name string, x *Node, stride, pad int) *Node {
		return Conv2D(x, ConvertDType(mustVariable(store, name+".weight").NodeValue(g), dtype), stride, pad, opts.Conv)
	}
	bn := func(name string, x *Node) *Node { return batchNorm(store, name, x, opts.TrainBatchNorm) }

	x := relu(bn("bn1", conv("conv1", ConvertDType(images, dtype), 2, 3)))
	x = MaxPool(x).Window(3).Strides(2).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()
	for _, b := range m.blocks() {
		identity := x
		switch m.Arch.Block {
		case Basic:
			x = relu(bn(b.name+".bn1", conv(b.name+".conv1", x, b.stride, 1)))
			x = bn(b.name+".bn2", conv(b.name+".conv2", x, 1, 1))
		case Bottleneck:
			x = relu(bn(b.name+".bn1", conv(b.name+".conv1", x, 1, 0)))
			x = relu(bn(b.name+".bn2", conv(b.name+".conv2", x, b.stride, 1)))
			x = bn(b.name+".bn3", conv(b.name+".conv3", x, 1, 0))
		}
		if b.downsample {
			identity = bn(b.name+".downsample.1", conv(b.name+".downsample.0", identity, b.stride, 0))
		}
		x = relu(Add(x, identity))
	}
	return x
}

// Classify applies the head to features [B, FeatureDim], returning logits [B, NumClasses].
func (m *Model) Classify(store *model.Store, features *Node) *Node {
	g := features.Graph()
	x := features
	names := m.Head.linearNames()
	for i, name := range names {
		w := mustVariable(store, name+".weight").NodeValue(g)
		b := mustVariable(store, name+".bias").NodeValue(g)
		x = Add(MatMul(x, w), InsertAxes(b, 0))
		if i < len(names)-1 {
			x = relu(x)
		}
	}
	return x
}

// Logits is Classify(Features(images)).
func (m *Model) Logits(store *model.Store, images *Node, opts Options) *Node {
	return m.Classify(store, m.Features(store, images, opts))
}

func relu(x *Node) *Node {
	return Max(x, ZerosLike(x))
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
