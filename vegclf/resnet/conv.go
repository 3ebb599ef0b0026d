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

// Conv2D convolves x [B, H, W, Cin] with kernel [kh, kw, Cin, Cout], with the given stride and symmetric
// zero padding, like torch's Conv2d(bias=False) in channels-last layout.
func Conv2D(x, kernel *Node, stride, pad int, impl ConvImpl) *Node {
	return conv2D(x, kernel, stride, pad, impl, false)
}

// conv2D is Conv2D; with recompute, a kxk im2col convolution keeps only its input for the backward pass
// and rebuilds its patches there (GoMLX's gradient checkpointing), instead of keeping the patches, kh*kw
// times the input's size.
func conv2D(x, kernel *Node, stride, pad int, impl ConvImpl, recompute bool) *Node {
	if impl.resolve(x.Graph().Backend()) == ConvNative {
		return Convolve(x, kernel).Strides(stride).PaddingPerDim([][2]int{{pad, pad}, {pad, pad}}).Done()
	}
	kdims := kernel.Shape().Dimensions
	kh, kw, cin, cout := kdims[0], kdims[1], kdims[2], kdims[3]
	dims := x.Shape().Dimensions
	batch, h, w := dims[0], dims[1], dims[2]
	outH := (h+2*pad-kh)/stride + 1
	outW := (w+2*pad-kw)/stride + 1
	recompute = recompute && (kh > 1 || kw > 1)
	if recompute {
		x = x.Checkpoint()
	}
	if pad > 0 {
		// Every axis is given: GoMLX v0.28.5's Pad gradient breaks when trailing axes are left out.
		x = Pad(x, ScalarZero(x.Graph(), x.DType()),
			compute.PadAxis{}, compute.PadAxis{Start: pad, End: pad}, compute.PadAxis{Start: pad, End: pad}, compute.PadAxis{})
	}
	var patches *Node
	if kh == 1 && kw == 1 {
		patches = x
		if stride > 1 {
			patches = Slice(x, AxisRange(), AxisRange(0, (outH-1)*stride+1).Stride(stride),
				AxisRange(0, (outW-1)*stride+1).Stride(stride))
		}
	} else {
		shifted := make([]*Node, 0, kh*kw)
		for i := 0; i < kh; i++ {
			for j := 0; j < kw; j++ {
				shifted = append(shifted, Slice(x, AxisRange(),
					AxisRange(i, i+(outH-1)*stride+1).Stride(stride),
					AxisRange(j, j+(outW-1)*stride+1).Stride(stride)))
			}
		}
		patches = Concatenate(shifted, -1) // [B, outH, outW, kh*kw*Cin], ordered as the kernel's first 3 axes.
	}
	flat := Reshape(patches, batch*outH*outW, kh*kw*cin)
	out := MatMul(flat, Reshape(kernel, kh*kw*cin, cout))
	if recompute {
		out = out.StopCheckpoint()
	}
	return Reshape(out, batch, outH, outW, cout)
}
