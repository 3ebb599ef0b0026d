package nn

import (
	"slices"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// trainParts is Train on the batch made of parts (float32 channels-last [b, H, W, C] each, split on the
// batch axis: each part's ops are independent nodes, which the Go backend runs at the same time), plus
// residuals (one per part; nil: none), then a ReLU if relu: Train's function, its mean and variance
// summed over the parts, with the gradient written out instead of autodiff's of those ops (which
// broadcasts the per-channel factors to whole tensors and takes each term in its own passes). With g = dOut (masked where the output is 0 for
// the ReLU), xhat = (x - mean) * invStd, and n the values per channel over all parts:
//
//	dbeta = sum(g), dgamma = sum(g * xhat) = invStd * sum(g * (x - mean)),
//	dx = gamma * invStd * (g - dbeta/n - xhat * dgamma/n) = g*a + (x - mean)*b + c, per-channel a, b, c;
//	dresidual = g.
//
// It runs the forward through InternalFusedOpCallerMulti, whose decomposed graph is identities on the
// parts, gamma, beta and the residuals that return these gradients, below one identity per output that
// collects the output's gradient: the backward pass visits all of these before the identities below
// them, which compute the gradients from all the outputs' at the first call.
func (bn BatchNorm) trainParts(store *model.Store, parts, residuals []*Node, relu bool) []*Node {
	g := parts[0].Graph()
	variable := func(name string) *model.Variable { return Variable(store, g, bn.Name+"."+name) }
	weight := variable("weight").NodeValue(g)
	bias := variable("bias").NodeValue(g)
	channels := parts[0].Shape().Dimensions[3]
	n := 0.0
	for _, x := range parts {
		dims := x.Shape().Dimensions
		n += float64(dims[0] * dims[1] * dims[2])
	}
	perChannel := func(v *Node) *Node { return Reshape(v, 1, 1, 1, channels) }
	sumOver := func(f func(i int) *Node) *Node {
		var total *Node
		for i := range parts {
			s := ReduceSum(f(i), 0, 1, 2)
			if total == nil {
				total = s
			} else {
				total = Add(total, s)
			}
		}
		return total
	}

	mean := MulScalar(sumOver(func(i int) *Node { return parts[i] }), 1/n)
	centered := make([]*Node, len(parts))
	for i, x := range parts {
		centered[i] = Sub(x, perChannel(mean))
	}
	variance := MulScalar(sumOver(func(i int) *Node { return Square(centered[i]) }), 1/n)
	invStd := Reciprocal(Sqrt(AddScalar(variance, bn.eps())))
	scale := Mul(invStd, weight)
	forward := func(i int) *Node {
		y := Add(Mul(centered[i], perChannel(scale)), perChannel(bias))
		if residuals != nil {
			y = Add(y, residuals[i])
		}
		if relu {
			y = Max(y, ScalarZero(g, y.DType()))
		}
		return y
	}

	var outs []*Node
	dOuts := make([]*Node, len(parts))
	var from []*Node
	dx, dResidual := make([]*Node, len(parts)), make([]*Node, len(parts))
	var dWeight, dBias *Node
	gradients := func() {
		if slices.Equal(from, dOuts) {
			return
		}
		from = slices.Clone(dOuts)
		masked := make([]*Node, len(parts))
		for i, dOut := range dOuts {
			if dOut == nil {
				dOut = ZerosLike(outs[i])
			}
			masked[i] = dOut
			if relu {
				masked[i] = Where(LessOrEqual(outs[i], ScalarZero(g, outs[i].DType())), ScalarZero(g, dOut.DType()), dOut)
			}
		}
		sum := sumOver(func(i int) *Node { return masked[i] })
		sumCentered := sumOver(func(i int) *Node { return Mul(masked[i], centered[i]) })
		dBias, dWeight = sum, Mul(sumCentered, invStd)
		b := MulScalar(Mul(Mul(scale, Square(invStd)), sumCentered), -1/n)
		c := MulScalar(Mul(scale, sum), -1/n)
		for i := range parts {
			dx[i] = Add(Add(Mul(masked[i], perChannel(scale)), Mul(centered[i], perChannel(b))), perChannel(c))
			dResidual[i] = masked[i]
		}
	}
	picks := func(grad func() *Node) func(_, _ *Node) *Node {
		return func(_, _ *Node) *Node {
			gradients()
			return grad()
		}
	}
	decomposed := func() []*Node {
		params := Add(IdentityWithCustomGradient(weight, picks(func() *Node { return dWeight })),
			IdentityWithCustomGradient(bias, picks(func() *Node { return dBias })))
		sums := make([]*Node, len(parts))
		for i, x := range parts {
			sums[i] = Add(IdentityWithCustomGradient(x, picks(func() *Node { return dx[i] })), perChannel(params))
			if residuals != nil {
				sums[i] = Add(sums[i], IdentityWithCustomGradient(residuals[i], picks(func() *Node { return dResidual[i] })))
			}
		}
		tops := make([]*Node, len(parts))
		for i := range parts {
			value := Add(StopGradient(forward(i)), Sub(sums[i], StopGradient(sums[i])))
			tops[i] = IdentityWithCustomGradient(value, func(_, dOut *Node) *Node {
				dOuts[i] = dOut
				return dOut
			})
		}
		return tops
	}
	outs, _ = InternalFusedOpCallerMulti(func() []*Node {
		fused := make([]*Node, len(parts))
		for i := range parts {
			fused[i] = forward(i)
		}
		return fused
	}, decomposed, true)

	bn.updateRunning(store, mean, variance, n)
	return slices.Clone(outs) // The gradient reads outs: callers may overwrite what they are given.
}

// SplitParts returns how many parts a fine-tuning graph splits its batch of images [B, H, W, C] into on
// the batch axis (ConvBN.ApplyParts): 2 on the Go backend (ConvMatMul) for graphs with a backward pass in
// train mode in float32 and an even batch, else 1. The parts' ops are independent nodes, which the Go
// backend runs at the same time, where most of its elementwise ops, gathers and copies run on one core
// each (a ResNet-50 fine-tuning step on 2 cores: 1.22x as fast; in 4 parts, no faster than in 2;
// BENCHMARKS.md, 2026-12-06).
func SplitParts(images *Node, opts Options) int {
	if !opts.Train || !opts.Backward || opts.ComputeDType() != dtypes.Float32 || images.Shape().Dimensions[0]%2 != 0 ||
		opts.Conv.resolve(images.Graph().Backend()) != ConvMatMul {
		return 1
	}
	return 2
}

// ApplyParts computes c on each part (the batch split on its first axis), its batch norm over all parts
// in train mode (BatchNorm.trainParts), plus residuals (nil: none), then a ReLU if relu: for train-mode graphs with a backward
// pass in float32.
func (c ConvBN) ApplyParts(store *model.Store, parts, residuals []*Node, relu bool, opts Options) []*Node {
	grads := AllGrads
	if c.Input {
		grads = KernelGrads
	}
	kernel := Value(store, parts[0].Graph(), c.Conv+".weight")
	ys := make([]*Node, len(parts))
	for i, x := range parts {
		ys[i] = Conv2D(x, kernel, c.Stride, c.Pad, opts.Conv, grads)
	}
	return c.BN.in(opts).trainParts(store, ys, residuals, relu)
}
