package nn

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// LayerNormCF is torch's LayerNorm over the channels of channels-first x [C, ...] (axis 0): torchvision's
// LayerNorm2d, and a LayerNorm over the last axis of channels-last activations, in this layout. Each
// position's C values are centered and divided by sqrt(biased variance + eps), then scaled by weight and
// shifted by bias ([C]; nil for none: callers fold them into the product that reads the output). It
// computes in float32 and returns x's dtype.
func LayerNormCF(x, weight, bias *Node, eps float64) *Node {
	if dtype := x.DType(); dtype != dtypes.Float32 {
		return ConvertDType(LayerNormCF(ConvertDType(x, dtypes.Float32), weight, bias, eps), dtype)
	}
	y := normalizeLeading(x, eps)
	if weight == nil && bias == nil {
		return y
	}
	dims := make([]int, x.Rank()) // [C, 1, ...]
	for i := range dims {
		dims[i] = 1
	}
	dims[0] = x.Shape().Dimensions[0]
	if weight != nil {
		y = Mul(y, Reshape(weight, dims...))
	}
	if bias != nil {
		y = Add(y, Reshape(bias, dims...))
	}
	return y
}

// normalizeLeading normalizes x [C, ...] over its first axis, at each position of the others, to zero mean
// and unit (biased) variance, with eps added to the variance. Autodiff of its operations would keep the
// centered input besides the output and take a dozen memory passes backward; its gradient is given instead
// in closed form, as torch computes it: dx = r * (g - mean(g) - y * mean(g * y)) per position, r the
// inverse deviation and y the output, the only values kept. The forward graph runs as built, and GoMLX
// differentiates the stand-in InternalFusedOpCaller is given, an identity of x whose custom gradient is that
// formula (as bandedProduct's). With GoMLX's fusion turned off (GOMLX_FUSION=0) the stand-in would be
// computed instead: the plain operations are used then. Only the per-position statistics are reshaped
// (the Go backend copies a Reshape whose input has other readers).
func normalizeLeading(x *Node, eps float64) *Node {
	stat := append([]int{1}, x.Shape().Dimensions[1:]...) // [1, ...]: a per-position statistic.
	mean0 := func(v *Node) *Node { return Reshape(ReduceMean(v, 0), stat...) }
	var y, r *Node
	plain := func() *Node {
		centered := Sub(x, mean0(x))
		r = Reciprocal(Sqrt(AddScalar(mean0(Square(centered)), eps))) // GoMLX has no gradient for Rsqrt.
		return Mul(centered, r)
	}
	out, fused := InternalFusedOpCaller(
		func() *Node { y = plain(); return y },
		func() *Node {
			// y and r are read as they are (no StopGradient: the Go backend would copy them), the gradient
			// of this gradient never being taken.
			return IdentityWithCustomGradient(x, func(_, g *Node) *Node {
				// r*g - (y * (r*mean(g*y)) + r*mean(g)): the per-position factors are small.
				return Sub(Mul(g, r), Add(Mul(y, Mul(r, mean0(Mul(g, y)))), Mul(r, mean0(g))))
			})
		}, true)
	if !fused {
		return plain()
	}
	return out
}

// PortableNormalizeChannels is the normalization of LayerNormCF (no weight or bias) for the graphs exported
// to ONNX, on x [B, C, H, W] (channels first) or [B, C], over C: the channel means are products with a
// constant 1/C (a 1x1 Conv with one output channel, or a MatMul), which keep the reduced axis where ONNX's
// ReduceSum without keepdims would need a Reshape of the batch axis; then Sub, Mul, Add, Sqrt and Div.
func PortableNormalizeChannels(x *Node, eps float64) *Node {
	g := x.Graph()
	c := x.Shape().Dimensions[1]
	mean := func(v *Node) *Node {
		ones := make([]float32, c)
		for i := range ones {
			ones[i] = 1 / float32(c)
		}
		if v.Rank() == 2 {
			return MatMul(v, Const(g, tensors.FromFlatDataAndDimensions(ones, c, 1)))
		}
		return Convolve(v, Const(g, tensors.FromFlatDataAndDimensions(ones, 1, c, 1, 1))).AxesConfig(channelsFirst).Done()
	}
	centered := Sub(x, mean(x))
	return Div(centered, Sqrt(AddScalar(mean(Mul(centered, centered)), eps)))
}
