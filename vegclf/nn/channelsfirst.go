package nn

// This file holds the layers of networks whose activations are channels first, [C, B, H, W]: the
// depthwise-separable families (MobileNetV3, EfficientNet), whose pointwise convolutions are then products
// W^T . X that the Go backend runs, with their gradients, without transposing the activations, and whose
// depthwise convolutions are banded products over the channels (DepthwiseCF).

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
)

// ToChannelsFirst transposes x [B, H, W, C] to [C, B, H, W] (one 2D transpose, the backend's fast one).
func ToChannelsFirst(x *Node) *Node {
	d := x.Shape().Dimensions
	return Reshape(Transpose(Reshape(x, d[0]*d[1]*d[2], d[3]), 0, 1), d[3], d[0], d[1], d[2])
}

// ToChannelsLast transposes x [C, B, H, W] to [B, H, W, C].
func ToChannelsLast(x *Node) *Node {
	d := x.Shape().Dimensions
	return Reshape(Transpose(Reshape(x, d[0], d[1]*d[2]*d[3]), 0, 1), d[1], d[2], d[3], d[0])
}

// channelsFirstNative is the layout of the backend's convolution on channels-first activations [C, B, H,
// W] with kernels [kh, kw, in/groups, out], the model's kernel layout.
var channelsFirstNative = compute.ConvolveAxesConfig{
	InputBatch: 1, InputChannels: 0, InputSpatial: []int{2, 3},
	KernelInputChannels: 2, KernelOutputChannels: 3, KernelSpatial: []int{0, 1},
	OutputBatch: 1, OutputChannels: 0, OutputSpatial: []int{2, 3},
}

// Pointwise is the 1x1 convolution of x [Cin, B, H, W] with kernel [1, 1, Cin, Cout] (or [Cin, Cout]):
// the product W^T . X, [Cout, B, H, W], as ProductCF computes it: its gradients are products too, neither
// of which transposes the activations (the backend contracts a product's left operand over its last axis
// and takes the right one as [K, N] or [N, K]; W contracted over its first axis, it would transpose X).
func Pointwise(x, kernel *Node) *Node {
	kd := kernel.Shape().Dimensions
	return ProductCF(x, Reshape(kernel, kd[len(kd)-2], kd[len(kd)-1]))
}

// imagesConvCF convolves images [B, H, W, Cin] with kernel [kh, kw, Cin, Cout] (stride, symmetric zero
// padding) into a channels-first output [Cout, B, outH, outW]: a network's stem. On the matrix-
// multiplication path it is the im2col patches P [B*outH*outW, kh*kw*Cin] in the product W^T . P^T, whose
// output is channels first and whose kernel gradient transposes nothing; the images get no gradient.
func imagesConvCF(images, kernel *Node, stride, pad int, impl ConvImpl) *Node {
	if impl.resolve(images.Graph().Backend()) == ConvNative {
		// Channels last, then transposed: GoMLX's convolution gradient needs the output in the input's layout.
		return ToChannelsFirst(Convolve(images, kernel).Strides(stride).PaddingPerDim([][2]int{{pad, pad}, {pad, pad}}).Done())
	}
	k := kernel.Shape().Dimensions
	kh, kw, cin, cout := k[0], k[1], k[2], k[3]
	d := images.Shape().Dimensions
	outH, outW := (d[1]+2*pad-kh)/stride+1, (d[2]+2*pad-kw)/stride+1
	patches := StopGradient(croppedPatches(images, kh, kw, stride, pad, outH, outW))
	out := DotGeneral(Reshape(kernel, kh*kw*cin, cout), []int{0}, nil, patches, []int{1}, nil)
	return Reshape(out, cout, d[0], outH, outW)
}

// ApplyCF computes the convolution and batch norm of channels-first activations x [Cin, B, H, W], or, for
// the network's input (Input), of images [B, H, W, Cin], into [Cout, B, outH, outW], in opts' compute
// dtype. Its convolution is depthwise (Groups), pointwise (1x1, stride 1), or the stem's on the images. In
// inference mode the norm's scale is folded into the kernel.
func (c ConvBN) ApplyCF(store *model.Store, x *Node, opts Options) *Node {
	g := x.Graph()
	dtype := opts.ComputeDType()
	kernel := Value(store, g, c.Conv+".weight")
	var scale, shift *Node
	if !opts.Train {
		scale, shift = c.BN.scaleShift(g, store)
		kd := kernel.Shape().Dimensions
		kernel = Mul(kernel, Reshape(scale, 1, 1, 1, kd[3]))
	}
	kernel = ConvertDType(kernel, dtype)
	var y *Node
	kd := kernel.Shape().Dimensions
	native := opts.Conv.resolve(g.Backend()) == ConvNative
	switch {
	case c.Input:
		y = imagesConvCF(ConvertDType(x, dtype), kernel, c.Stride, c.Pad, opts.Conv)
	case c.Groups > 1 && native:
		y = Convolve(x, kernel).AxesConfig(channelsFirstNative).ChannelGroupCount(c.Groups).Strides(c.Stride).
			PaddingPerDim([][2]int{{c.Pad, c.Pad}, {c.Pad, c.Pad}}).Done()
	case c.Groups > 1:
		y = DepthwiseCF(x, kernel, c.Stride, c.Pad)
	case kd[0] == 1 && kd[1] == 1 && c.Stride == 1:
		y = Pointwise(x, kernel)
	default:
		y = Convolve(x, kernel).AxesConfig(channelsFirstNative).Strides(c.Stride).PaddingPerDim([][2]int{{c.Pad, c.Pad}, {c.Pad, c.Pad}}).Done()
	}
	if opts.Train {
		return c.BN.in(opts).trainAxis(store, y, 0)
	}
	return Add(y, ConvertDType(Reshape(shift, kd[3], 1, 1, 1), dtype))
}

// Hardswish is torch's x * relu6(x + 3) / 6: GoMLX's, the backend's fused activation (one pass, and one
// for its gradient, torch's) where it has it.
func Hardswish(x *Node) *Node {
	return activation.HardSwish(x)
}

// Hardsigmoid is torch's relu6(x + 3) / 6, as min(max(x/6 + 1/2, 0), 1): one Clamp, whose gradient (which
// GoMLX lacks) is torch's, 1/6 strictly inside (-3, 3) and 0 outside, through two masks.
func Hardsigmoid(x *Node) *Node {
	g := x.Graph()
	zero, one := ScalarZero(g, x.DType()), ScalarOne(g, x.DType())
	t := AddScalar(MulScalar(x, 1.0/6), 0.5)
	y, _ := InternalFusedOpCaller(
		func() *Node { return Clamp(zero, t, one) },
		func() *Node {
			return Where(LessOrEqual(t, zero), ZerosLike(t), Where(GreaterOrEqual(t, one), OnesLike(t), t))
		}, true)
	return y
}

// PortableHardswish is Hardswish made of the operators every runtime has (Mul, Add, Max, Min): the one
// graphs exported to ONNX use.
func PortableHardswish(x *Node) *Node {
	return Mul(x, PortableHardsigmoid(x))
}

// PortableHardsigmoid is Hardsigmoid made of Mul, Add, Max and Min.
func PortableHardsigmoid(x *Node) *Node {
	return MinScalar(MaxScalar(AddScalar(MulScalar(x, 1.0/6), 0.5), 0), 1)
}

// Dropout is torch's Dropout(p) in training (opts.Train with a random state): each value is zeroed with
// probability p and the others scaled by 1/(1-p), drawn from opts.RNG, which it advances. It is the
// identity otherwise.
func Dropout(x *Node, p float64, opts *Options) *Node {
	if !opts.dropout() || p == 0 {
		return x
	}
	rng, u := RandomUniform(opts.RNG, shapes.Make(dtypes.Float32, x.Shape().Dimensions...))
	opts.RNG = rng
	keep := ConvertDType(GreaterOrEqual(u, Scalar(x.Graph(), dtypes.Float32, p)), x.DType())
	return Mul(x, MulScalar(keep, 1/(1-p)))
}
