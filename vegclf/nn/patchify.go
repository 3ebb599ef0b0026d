package nn

import (
	. "github.com/gomlx/gomlx/core/graph"
)

// This file holds the convolutions whose windows do not overlap (k x k, stride k, no padding: ConvNeXt's
// patchify stem and its downsampling layers) for channels-first networks, and the choice of a depthwise
// convolution's implementation. A non-overlapping convolution is a space-to-depth rearrangement of its
// input and one product: the rearrangement is made of transposes the Go backend runs fast (a 0213
// transpose, and a swap of the last two axes as one), and the product W^T . P puts the channels first.
//
// They are computed so on every backend, XLA's too: the backend's convolution would do, but GoMLX
// v0.28.16 differentiates a convolution with an even kernel wrongly with respect to its input (convVJPWrtX
// centres the kernel at (k-1)/2, which holds for odd k only: a 2x2 kernel of stride 2 or 1 gets a gradient
// shifted by one), and XLA runs these products and transposes as fast as the convolution.

// PatchifyCF convolves images [B, H, W, Cin] with kernel [k, k, Cin, Cout] with stride k and no padding
// (torch's Conv2d(kernel_size=k, stride=k), which drops the last H%k rows and W%k columns) into a channels-
// first output [Cout, B, H/k, W/k], without its bias. The images get no gradient; the kernel does.
func PatchifyCF(images, kernel *Node) *Node {
	kd := kernel.Shape().Dimensions
	k, cin, cout := kd[0], kd[2], kd[3]
	d := images.Shape().Dimensions
	batch, oh, ow := d[0], d[1]/k, d[2]/k
	if oh*k != d[1] || ow*k != d[2] {
		images = cropped(images, []int{0, 0, 0, 0}, []int{batch, oh * k, ow * k, cin})
	}
	// [B*oh, k, ow, k*Cin] -> [B*oh, ow, k, k*Cin]: each patch's k*k*Cin values in the kernel's order.
	patches := TransposeAllAxes(Reshape(images, batch*oh, k, ow, k*cin), 0, 2, 1, 3)
	patches = StopGradient(Reshape(patches, batch*oh*ow, k*k*cin))
	// [Cout, K] x [N, K]: the backend's layout, and the kernel's gradient dOut . P ([M, K] x [K, N]) too.
	out := DotGeneral(Transpose(Reshape(kernel, k*k*cin, cout), 0, 1), []int{1}, nil, patches, []int{1}, nil)
	return Reshape(out, cout, batch, oh, ow)
}

// DownsampleCF convolves channels-first x [C, B, H, W] with kernel [k, k, C, Cout] with stride k and no
// padding (torch's Conv2d(kernel_size=k, stride=k)) into [Cout, B, H/k, W/k], without its bias:
// differentiable with respect to both. The patches are x rearranged [C, k*k, B*H/k*W/k] (a 0213
// transpose taking each window's k*k values last, and a swap of the last two axes), the product's right
// operand as the Go backend takes it, whose gradient is its inverse, the same two transposes.
func DownsampleCF(x, kernel *Node) *Node {
	kd := kernel.Shape().Dimensions
	k, cout := kd[0], kd[3]
	d := x.Shape().Dimensions
	c, batch, oh, ow := d[0], d[1], d[2]/k, d[3]/k
	if oh*k != d[2] || ow*k != d[3] { // A Slice, differentiable (a crop is not).
		x = Slice(x, AxisRange(), AxisRange(), AxisRange(0, oh*k), AxisRange(0, ow*k))
	}
	n := batch * oh * ow
	windows := TransposeAllAxes(Reshape(x, c*batch*oh, k, ow, k), 0, 2, 1, 3) // [C*B*oh, ow, k, k] = [C, N, k*k]
	patches := Reshape(swapLastTwo(Reshape(windows, c, n, k*k)), c*k*k, n)
	w := Reshape(TransposeAllAxes(kernel, 2, 0, 1, 3), c*k*k, cout) // [C, k, k, Cout]: the patches' order.
	return Reshape(ProductCF(patches, w), cout, batch, oh, ow)
}

// DepthwiseConvCF is the depthwise convolution of channels-first x [C, B, H, W] with kernel [kh, kw, 1, C]
// (stride, symmetric zero padding) as impl computes it on x's backend: the backend's grouped convolution
// (XLA's), or the banded products of DepthwiseCF (the Go backend's fastest form).
func DepthwiseConvCF(x, kernel *Node, stride, pad int, impl ConvImpl) *Node {
	if impl.resolve(x.Graph().Backend()) == ConvNative {
		return Convolve(x, kernel).AxesConfig(channelsFirstNative).ChannelGroupCount(x.Shape().Dimensions[0]).
			Strides(stride).PaddingPerDim([][2]int{{pad, pad}, {pad, pad}}).Done()
	}
	return DepthwiseCF(x, kernel, stride, pad)
}
