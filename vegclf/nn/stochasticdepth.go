package nn

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
)

// StochasticDepth is torchvision's StochasticDepth(p, "row") in training (opts.Train with a random state):
// each sample of x (its batch axis given) is zeroed with probability p, else scaled by 1/(1-p), drawn from
// opts.RNG, which it advances: one uniform value per sample, kept where it is at least p. It is the identity otherwise, and for p = 0.
func StochasticDepth(x *Node, p float64, batchAxis int, opts *Options) *Node {
	if !opts.dropout() || p == 0 {
		return x
	}
	if p >= 1 {
		return ZerosLike(x)
	}
	d := x.Shape().Dimensions
	rng, u := RandomUniform(opts.RNG, shapes.Make(dtypes.Float32, d[batchAxis]))
	opts.RNG = rng
	keep := MulScalar(ConvertDType(GreaterOrEqual(u, Scalar(x.Graph(), dtypes.Float32, p)), x.DType()), 1/(1-p))
	dims := make([]int, len(d))
	for i := range dims {
		dims[i] = 1
	}
	dims[batchAxis] = d[batchAxis]
	return Mul(x, Reshape(keep, dims...))
}
