package nn

// This file holds EfficientNet's layers: SiLU (with its form for exported graphs) and stochastic depth.

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
)

// SiLU is torch's SiLU, x * sigmoid(x), with torch's gradient, sigmoid(x) * (1 + x * (1 - sigmoid(x))):
// the backend's fused activation where it has one with its gradient (the Go backend: one pass each way
// instead of three elementwise ops), else Mul(x, Sigmoid(x)), whose autodiff is the same function.
func SiLU(x *Node) *Node {
	return activation.Swish(x)
}

// PortableSiLU is SiLU made of Sigmoid and Mul, operators every runtime has: the one graphs exported to
// ONNX use.
func PortableSiLU(x *Node) *Node {
	return Mul(x, Sigmoid(x))
}

// StochasticDepth is torchvision's stochastic_depth(x, p, "row", training) in training (opts.Train with a
// random state): each sample's x (the residual branch of one image, whose batch index is on axis) is
// zeroed with probability p, and the others are scaled by 1/(1-p), drawn from opts.RNG, which it
// advances. It is the identity otherwise, and for p = 0 (no draw); p = 1 zeroes x.
func StochasticDepth(x *Node, p float64, axis int, opts *Options) *Node {
	if !opts.dropout() || p == 0 {
		return x
	}
	if p >= 1 {
		return ZerosLike(x)
	}
	dims := x.Shape().Dimensions
	rng, u := RandomUniform(opts.RNG, shapes.Make(dtypes.Float32, dims[axis]))
	opts.RNG = rng
	keep := MulScalar(ConvertDType(GreaterOrEqual(u, Scalar(x.Graph(), dtypes.Float32, p)), x.DType()), 1/(1-p))
	broadcast := make([]int, len(dims))
	for i := range broadcast {
		broadcast[i] = 1
	}
	broadcast[axis] = dims[axis]
	return Mul(x, Reshape(keep, broadcast...))
}
