package nn

import (
	. "github.com/gomlx/gomlx/core/graph"
)

// ProductCF is the 1x1 convolution (or Linear layer) of channels-first x [Cin, ...] with w [Cin, Cout]
// (the model's layout of a Linear weight, or of a 1x1 kernel without its leading axes): W^T . X, [Cout,
// ...], laid out for the Go backend's matrix multiplication in both passes.
//
// The backend multiplies [M, K] by [K, N] or [N, K] (any axes merged) and transposes anything else first
// (dot.TransposeToLayout), both operands: a product W . X with W [Cin, Cout] contracted over its first
// axis would transpose X, the activations. The forward product is (W^T) . X, the small W transposed.
// Autodiff of it would compute X's gradient as (dY^T . W^T)^T, transposing dY and the result (GoMLX's
// DotGeneral gradient puts the contracted axes last, and X's are first); it is given instead as W . dY, and
// W^T's as dY . X^T (the backend's [M, K] x [N, K]), neither of which transposes the activations. As
// bandedProduct does, GoMLX runs the product and differentiates a stand-in (InternalFusedOpCaller): a
// product of two identities whose custom gradients are those products, of the gradient that reaches it
// (captured by a third identity on its output). The stand-in's own products are then never used, and not
// computed; nor are the identities, which would copy their input (the Go backend copies an Identity, and a
// Reshape, whose input has other readers, as a value kept for the backward pass has: no operand is reshaped
// either, the products taking x's trailing axes as they are).
func ProductCF(x, w *Node) *Node {
	rank := x.Rank()
	rest := make([]int, rank-1) // x's axes after the channels: the products' cross (or contracted) axes.
	for i := range rest {
		rest[i] = i + 1
	}
	wt := Transpose(w, 0, 1) // [Cout, Cin]
	// With GoMLX's fusion turned off (GOMLX_FUSION=0) the stand-in is computed instead: the same product.
	out, _ := InternalFusedOpCaller(
		func() *Node { return DotGeneral(wt, []int{1}, nil, x, []int{0}, nil) },
		func() *Node {
			var dOut *Node
			xs := IdentityWithCustomGradient(x, func(_, _ *Node) *Node { return DotGeneral(w, []int{1}, nil, dOut, []int{0}, nil) })
			ws := IdentityWithCustomGradient(wt, func(_, _ *Node) *Node { return DotGeneral(dOut, rest, nil, x, rest, nil) })
			y := DotGeneral(ws, []int{1}, nil, xs, []int{0}, nil)
			return IdentityWithCustomGradient(y, func(_, v *Node) *Node { dOut = v; return v })
		}, true)
	return out
}
