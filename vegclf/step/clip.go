package step

import (
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/vegclf/vegclf/vegclf/recipe"
)

// clipNormEpsilon is the term torch's clip_grad_norm_ adds to the total norm before dividing by it.
const clipNormEpsilon = 1e-6

// clipGradients returns the gradients clipped as torch 1.13 clips them, for limit above 0 (0: as they
// are). ClipNorm is clip_grad_norm_(params, limit): the total norm is the L2 norm of every gradient's
// elements together, and each gradient is multiplied by clamp(limit / (total + 1e-6), max=1), always (a
// factor of exactly 1 below the limit). ClipValue is clip_grad_value_(params, limit): each element clamped
// to [-limit, limit].
func clipGradients(grads []*Node, limit float64, mode recipe.ClipMode) []*Node {
	if limit <= 0 || len(grads) == 0 {
		return grads
	}
	out := make([]*Node, len(grads))
	if mode == recipe.ClipValue {
		for i, grad := range grads {
			lim := Scalar(grad.Graph(), grad.DType(), limit)
			out[i] = Clamp(Neg(lim), grad, lim)
		}
		return out
	}
	// torch stacks each gradient's norm and takes the norm of those: the square root of the sum of squares.
	var squares *Node
	for _, grad := range grads {
		sq := ReduceAllSum(Square(grad))
		if squares == nil {
			squares = sq
		} else {
			squares = Add(squares, sq)
		}
	}
	total := Sqrt(squares)
	coef := Div(Scalar(total.Graph(), total.DType(), limit), AddScalar(total, clipNormEpsilon))
	coef = Min(coef, ScalarOne(total.Graph(), total.DType()))
	for i, grad := range grads {
		out[i] = Mul(grad, coef)
	}
	return out
}
