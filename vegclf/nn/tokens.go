package nn

// This file holds the layers of networks over tokens, [B, T, D] (the Vision Transformer): LayerNorm over
// the last axis, Linear layers laid out for their gradients, and torch's exact GELU.

import (
	"math"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
	gomlxnn "github.com/gomlx/gomlx/ml/nn"
)

// LayerNorm is torch's nn.LayerNorm over the last axis, with its weight and bias under Name.
type LayerNorm struct {
	Name string
	Eps  float64
}

// Params lists the norm's weight and bias over dim values, in group.
func (ln LayerNorm) Params(dim, group int) []Param {
	return []Param{
		{Name: ln.Name + ".weight", TorchShape: []int{dim}, Layout: Unchanged, Trainable: true, Group: group},
		{Name: ln.Name + ".bias", TorchShape: []int{dim}, Layout: Unchanged, Trainable: true, Group: group},
	}
}

// Apply normalizes x over its last axis (biased variance), then scales and shifts it by the norm's weight
// and bias (LayerNormWith).
func (ln LayerNorm) Apply(store *model.Store, x *Node) *Node {
	g := x.Graph()
	return LayerNormWith(x, Value(store, g, ln.Name+".weight"), Value(store, g, ln.Name+".bias"), ln.Eps)
}

// LayerNormWith is torch's layer norm of x over its last axis with the weight and bias given: GoMLX's,
// the backend's fused one where it has it (its gradient the decomposed graph's). It computes in float32 and
// returns x's dtype.
func LayerNormWith(x, weight, bias *Node, eps float64) *Node {
	if dtype := x.DType(); dtype != dtypes.Float32 {
		return ConvertDType(LayerNormWith(ConvertDType(x, dtypes.Float32), weight, bias, eps), dtype)
	}
	return gomlxnn.LayerNorm(x, []int{-1}, eps, weight, bias, nil)
}

// DenseWithWeights is torch's nn.Linear on the last axis of x [..., in] with the weight [in, out] and bias
// [out] given. With opts.Backward its product is laid out for its gradients (trainingProduct), which then
// transpose no activations.
func DenseWithWeights(x, w, b *Node, opts Options) *Node {
	dims := x.Shape().Dimensions
	in, out := dims[len(dims)-1], w.Shape().Dimensions[1]
	outDims := append(append([]int{}, dims[:len(dims)-1]...), out)
	bias := Reshape(b, append(make1s(len(dims)-1), out)...)
	if !opts.Backward {
		// One product over the last axis, no reshape of the batch (exported graphs keep it a separate axis).
		return Add(DotGeneral(x, []int{len(dims) - 1}, nil, w, []int{0}, nil), bias)
	}
	return Add(Reshape(trainingProduct(Reshape(x, -1, in), w), outDims...), bias)
}

func make1s(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = 1
	}
	return out
}

// GELU is torch's exact GELU, 0.5 * x * (1 + erf(x / sqrt(2))): GoMLX's, the backend's fused activation
// (with its own gradient) where it has it.
func GELU(x *Node) *Node {
	return activation.Gelu(x)
}

// PortableGELU is GELU as the exact erf formula in operators every runtime has (Erf, Mul, Add): the export
// graph's (ONNX's opset 17 has no Gelu).
func PortableGELU(x *Node) *Node {
	return Mul(x, MulScalar(AddScalar(Erf(MulScalar(x, 1/math.Sqrt2)), 1), 0.5))
}

// PortableLayerNormWith is LayerNormWith in operators every runtime has: the mean and variance as
// reductions, the normalization as elementwise operators.
func PortableLayerNormWith(x, weight, bias *Node, eps float64) *Node {
	last := x.Rank() - 1
	n := float64(x.Shape().Dimensions[last])
	mean := MulScalar(ReduceAndKeep(x, ReduceSum, last), 1/n)
	centered := Sub(x, mean)
	variance := MulScalar(ReduceAndKeep(Square(centered), ReduceSum, last), 1/n)
	normalized := Div(centered, Sqrt(AddScalar(variance, eps)))
	return Add(Mul(normalized, ExpandLeftToRank(weight, x.Rank())), ExpandLeftToRank(bias, x.Rank()))
}
