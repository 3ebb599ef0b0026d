package nn

import (
	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
)

// ConvImpl selects how convolutions are computed.
type ConvImpl int

const (
	// ConvAuto uses the backend's native convolution on XLA, and ConvMatMul elsewhere (the pure Go backend,
	// whose native convolution is an order of magnitude slower than its matrix multiplication).
	ConvAuto ConvImpl = iota
	// ConvNative always uses the backend's convolution op.
	ConvNative
	// ConvMatMul computes 1x1 convolutions as one matrix multiplication, and kxk ones as im2col (the
	// patches of every window position as rows) followed by one matrix multiplication.
	ConvMatMul
)

// resolve returns the implementation to use on backend b: by its name, "xla" for XLA's, so that this
// package links no backend.
func (c ConvImpl) resolve(b compute.Backend) ConvImpl {
	if c != ConvAuto {
		return c
	}
	if b.Name() == "xla" {
		return ConvNative
	}
	return ConvMatMul
}

// ConvGrads says which gradients a graph takes through a convolution, which decides how ConvMatMul
// builds it.
type ConvGrads int

const (
	// NoGrads: no backward pass through the convolution's input (inference, the frozen phase). Its
	// windows are crops, which GoMLX cannot differentiate (windowTaps); the kernel's gradient still works.
	NoGrads ConvGrads = iota
	// KernelGrads: the kernel's gradient only, not its input's (the stem of a fine-tuned backbone, whose
	// input is the images): crops, with the product laid out for the kernel's gradient.
	KernelGrads
	// AllGrads: the input's and the kernel's gradients (every other convolution of a fine-tuned backbone).
	AllGrads
)

// Conv2D convolves x [B, H, W, Cin] with kernel [kh, kw, Cin, Cout], with the given stride and symmetric
// zero padding, like torch's Conv2d(bias=False) in channels-last layout, built for the gradients grads
// names.
func Conv2D(x, kernel *Node, stride, pad int, impl ConvImpl, grads ConvGrads) *Node {
	if impl.resolve(x.Graph().Backend()) == ConvNative {
		return Convolve(x, kernel).Strides(stride).PaddingPerDim([][2]int{{pad, pad}, {pad, pad}}).Done()
	}
	k := kernel.Shape().Dimensions
	kh, kw, cin, cout := k[0], k[1], k[2], k[3]
	dims := x.Shape().Dimensions
	batch, h, w := dims[0], dims[1], dims[2]
	outH := (h+2*pad-kh)/stride + 1
	outW := (w+2*pad-kw)/stride + 1
	weights := Reshape(kernel, kh*kw*cin, cout)
	pointwise := kh == 1 && kw == 1 && stride == 1
	var out *Node
	switch {
	case grads == NoGrads:
		out = MatMul(croppedPatches(x, kh, kw, stride, pad, outH, outW), weights)
	case grads == KernelGrads:
		out = trainingProduct(StopGradient(croppedPatches(x, kh, kw, stride, pad, outH, outW)), weights)
	case pointwise:
		out = trainingProduct(Reshape(x, batch*h*w, cin), weights)
	case kh == 1 && kw == 1: // Strided: its patches are x's rows it reads, 1/stride^2 of x.
		out = trainingProduct(gatherPatches(x, kh, kw, stride, pad, outH, outW), weights)
	default:
		// Only x is kept for the backward pass, which gathers the patches again (GoMLX's gradient
		// checkpointing) instead of keeping them, kh*kw/stride^2 times x's size.
		patches := gatherPatches(x.Checkpoint(), kh, kw, stride, pad, outH, outW)
		out = trainingProduct(patches, weights).StopCheckpoint()
	}
	return Reshape(out, batch, outH, outW, cout)
}

// croppedPatches returns the im2col patches [B*outH*outW, kh*kw*C] of x [B, H, W, C] for a kh x kw window
// moved with stride over x padded by pad zeros, in the kernel's order (tap-major, then channel): x
// itself for a 1x1 convolution of stride 1, otherwise the window's crops (windowTaps) concatenated along
// channels. GoMLX cannot differentiate them with respect to x (see windowTaps).
func croppedPatches(x *Node, kh, kw, stride, pad, outH, outW int) *Node {
	dims := x.Shape().Dimensions
	batch, c := dims[0], dims[3]
	if kh == 1 && kw == 1 && stride == 1 {
		return Reshape(x, batch*outH*outW, c)
	}
	if pad > 0 {
		// Every axis is given: GoMLX v0.28.5's Pad gradient broke when trailing axes were left out.
		x = Pad(x, ScalarZero(x.Graph(), x.DType()),
			compute.PadAxis{}, compute.PadAxis{Start: pad, End: pad}, compute.PadAxis{Start: pad, End: pad}, compute.PadAxis{})
	}
	taps := windowTaps(x, kh, kw, stride, outH, outW, false)
	patches := taps[0]
	if len(taps) > 1 {
		patches = Concatenate(taps, -1) // [B, outH, outW, kh*kw*C], ordered as the kernel's first 3 axes.
	}
	return Reshape(patches, batch*outH*outW, kh*kw*c)
}
