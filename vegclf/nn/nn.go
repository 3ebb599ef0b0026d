// Package nn is what vegclf's networks are made of: the interface each architecture implements
// (Backbone), the model the rest of vegclf uses (Model: a backbone, the head that replaces its classifier,
// a compute dtype), the parameters as torch's state_dict names and lays them out (Param), and the graph
// layers the architectures share (convolutions, batch norm, activations, pools, linear layers), each
// numerically torch's.
//
// Variables live in a model.Store under the state_dict names, with "/" for ".": "layer1.0.conv1.weight" is
// the variable "/layer1/0/conv1/weight". Convolution kernels are stored [kh, kw, in, out] and linear
// weights [in, out] (the layouts the graphs use); package weights converts from torch's layouts.
//
// The package imports nothing of vegclf above GoMLX's graph, model and compute packages: the
// architectures built on it do not link the backends.
package nn

import (
	"strings"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
)

// Options say how a graph computes a network.
type Options struct {
	// Train computes as torch's model.train() does: batch norm normalizes with the batch's statistics and
	// updates the running ones; dropout and stochastic depth are on where RNG is given. Otherwise the
	// running statistics are used (model.eval()).
	Train bool
	// RNG is the random state ([3]uint64, graph.RNGStateShape) that dropout and stochastic depth draw from
	// in a training graph; nil turns them off.
	RNG *Node
	// Conv selects the convolution implementation; the zero value picks by backend.
	Conv ConvImpl
	// Backward shapes the graph for a backward pass through the backbone (fine-tuning): each ReLU keeps a
	// boolean mask of its positive inputs instead of the inputs themselves, each kxk im2col convolution
	// keeps only its input, gathering its patches (kh*kw times the input's size) again in the backward
	// pass, and every convolution's products are laid out for their gradients. The network's input (the
	// images) gets no gradient. Graphs without a backward pass through the backbone run faster without it,
	// and must not ask for gradients through it: their convolution windows are crops, which GoMLX cannot
	// differentiate (windowTaps). Gradients of the head's variables, or of the spatial map (Grad-CAM), need
	// none.
	Backward bool
	// Spatial asks Backbone.Features for the spatial map Grad-CAM explains.
	Spatial bool
	// DType is the compute dtype of the backbone's convolutions and activations: float32 when unset.
	DType dtypes.DType
	// BNMomentum, when above 0, replaces every batch norm's momentum in train mode (timm's --bn-momentum):
	// the architecture's (torch's 0.1, MobileNetV3's 0.01) otherwise.
	BNMomentum float64
}

// ComputeDType returns the options' compute dtype: DType, or float32 when unset.
func (o Options) ComputeDType() dtypes.DType {
	if o.DType == dtypes.InvalidDType {
		return dtypes.Float32
	}
	return o.DType
}

// dropout is on: the graph trains and has a random state to draw from.
func (o Options) dropout() bool { return o.Train && o.RNG != nil }

// VariablePath converts a state_dict key to a model.Store variable path.
func VariablePath(name string) string {
	return "/" + strings.ReplaceAll(name, ".", "/")
}

// Variable returns the store's variable for a state_dict key, panicking (inside graph building, where
// GoMLX reports panics as errors) with a clear message when it is missing.
//
// It also marks g as a graph whose variables change between calls (GoMLX's "training" graphs): since
// GoMLX v0.28.6, a graph not so marked on a backend that prefers constants (the Go backend) has its
// variables compiled in as constants, so a training step would re-read the initial weights at every call
// and a classifier kept across epochs would keep the weights of its first call. Every graph of a network
// reads its variables here, so none can be built with stale constants.
func Variable(store *model.Store, g *Graph, name string) *model.Variable {
	store.SetTraining(g, true)
	v := store.GetVariable(VariablePath(name))
	if v == nil {
		exceptions.Panicf("model variable %q (%s) is missing: initialize the model or load weights first", name, VariablePath(name))
	}
	return v
}

// Value is the graph node of the store's variable for a state_dict key (Variable).
func Value(store *model.Store, g *Graph, name string) *Node {
	return Variable(store, g, name).NodeValue(g)
}
