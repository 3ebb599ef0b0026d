package resnet

import (
	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/vegclf/vegclf/vegclf/backend"
)

// ConvImpl selects how convolutions are computed.
type ConvImpl int

const (
	// ConvAuto uses the backend's native convolution on XLA, and ConvMatMul elsewhere (the pure Go backend,
	// whose native convolution is an order of magnitude slower than its matrix multiplication).
	ConvAuto ConvImpl = iota
	// ConvNative always uses the backend's convolution op.
	ConvNative
	// ConvMatMul computes 1x1 convolutions as one matrix multiplication, and kxk ones as im2col (padded,
	// shifted, strided slices concatenated along channels) followed by one matrix multiplication.
	ConvMatMul
)

// resolve returns the implementation to use on backend b.
func (c ConvImpl) resolve(b compute.Backend) ConvImpl {
	if c != ConvAuto {
		return c
	}
	if backend.IsXLA(b) {
		return ConvNative
	}
	return ConvMatMul
}

// conv2D convolves x [B, H, W, Cin] with kernel [kh, kw, Cin, Cout], with the given stride and symmetric
// zero padding, like torch's Conv2d(bias=False) in channels-last layout. backward shapes it for a backward
// pass through it (fine-tuning; without it, no gradient flows to x, see windowTaps): a kxk im2col
// convolution keeps only its input and rebuilds its patches in the backward pass (GoMLX's gradient
// checkpointing) instead of keeping them, kh*kw times the input's size, and each product is laid out as
// swappedProduct says. Without a backward pass the product is P . W, which needs no transpose.
func conv2D(x, kernel *Node, stride, pad int, impl ConvImpl, backward bool) *Node {
	if impl.resolve(x.Graph().Backend()) == ConvNative {
		return Convolve(x, kernel).Strides(stride).PaddingPerDim([][2]int{{pad, pad}, {pad, pad}}).Done()
	}
	k := kernel.Shape().Dimensions
	return matMulConv(x, kernel, stride, pad, backward && (k[0] > 1 || k[1] > 1), backward && swappedProduct(k[0]*k[1]*k[2], k[3]), backward)
}

// swappedProduct tells whether a convolution whose patches have k values (kh*kw*Cin) and whose output has
// cout channels computes, in graphs with a backward pass, its output transposed (see matMulConv). That
// layout transposes M*cout values twice (the output, and its gradient for the input's gradient); the other
// transposes M*k values of patches and M*cout of output gradient for the kernel's gradient. So the
// swapped layout wins when k > cout: every kxk convolution, and the 1x1 ones that reduce channels. On
// ResNet-50's shapes (BenchmarkConvLayouts, BENCHMARKS.md) it is faster in all 5 such and slower in all 3
// others.
func swappedProduct(k, cout int) bool {
	return k > cout
}

// matMulConv is the ConvMatMul convolution: the patches P [M, kh*kw*Cin] (M = B*outH*outW) times the
// kernel W [kh*kw*Cin, Cout]. With recompute, only x is kept for the backward pass and the patches are
// rebuilt there. With swapped, the product is computed as out^T [Cout, M] = W^T . P^T and then
// transposed: the Go backend contracts its left operand over the last axis and takes the right one as
// [K,N] or [N,K], so the kernel's gradient, dW^T = d(out^T) . P, needs no transpose of P (M*K values),
// where P^T . dOut, contracted over the first axis of both, transposes both operands. differentiable
// says whether gradients may flow through the patches to x (see windowTaps); the kernel's always can.
func matMulConv(x, kernel *Node, stride, pad int, recompute, swapped, differentiable bool) *Node {
	kdims := kernel.Shape().Dimensions
	kh, kw, cin, cout := kdims[0], kdims[1], kdims[2], kdims[3]
	dims := x.Shape().Dimensions
	batch, h, w := dims[0], dims[1], dims[2]
	outH := (h+2*pad-kh)/stride + 1
	outW := (w+2*pad-kw)/stride + 1
	if recompute {
		x = x.Checkpoint()
	}
	if pad > 0 {
		// Every axis is given: GoMLX v0.28.5's Pad gradient broke when trailing axes were left out.
		x = Pad(x, ScalarZero(x.Graph(), x.DType()),
			compute.PadAxis{}, compute.PadAxis{Start: pad, End: pad}, compute.PadAxis{Start: pad, End: pad}, compute.PadAxis{})
	}
	var patches *Node
	switch taps := windowTaps(x, kh, kw, stride, outH, outW, differentiable); {
	case kh == 1 && kw == 1 && stride == 1:
		patches = x
	case len(taps) == 1:
		patches = taps[0]
	default:
		patches = Concatenate(taps, -1) // [B, outH, outW, kh*kw*Cin], ordered as the kernel's first 3 axes.
	}
	flat := Reshape(patches, batch*outH*outW, kh*kw*cin)
	weights := Reshape(kernel, kh*kw*cin, cout)
	var out *Node
	if swapped {
		out = DotGeneral(Transpose(weights, 0, 1), []int{1}, nil, flat, []int{1}, nil) // [Cout, M]
	} else {
		out = MatMul(flat, weights)
	}
	if recompute {
		out = out.StopCheckpoint()
	}
	if swapped {
		out = Transpose(out, 0, 1)
	}
	return Reshape(out, batch, outH, outW, cout)
}
