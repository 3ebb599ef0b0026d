package nn

import (
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
)

// gatherPatches returns croppedPatches' patches differentiably: one Gather of C-wide rows from x's rows
// with one zero row appended, which the taps outside the image read. Its gradient is one ScatterSum of
// the rows back (col2im) and one Slice dropping the zero row's, where differentiable window taps cost
// kh*kw Slices (the Go backend copies a Slice element by element, on one core) and as many Pads back.
func gatherPatches(x *Node, kh, kw, stride, pad, outH, outW int) *Node {
	g := x.Graph()
	dims := x.Shape().Dimensions
	batch, h, w, c := dims[0], dims[1], dims[2], dims[3]
	rows := Concatenate([]*Node{Reshape(x, batch*h*w, c), Zeros(g, shapes.Make(x.DType(), 1, c))}, 0)
	zero := int32(batch * h * w)
	taps := kh * kw
	indices := make([]int32, 0, batch*outH*outW*taps)
	for b := range batch {
		for oy := range outH {
			for ox := range outW {
				for i := range kh {
					row := oy*stride + i - pad
					for j := range kw {
						col := ox*stride + j - pad
						if row < 0 || row >= h || col < 0 || col >= w {
							indices = append(indices, zero)
						} else {
							indices = append(indices, int32((b*h+row)*w+col))
						}
					}
				}
			}
		}
	}
	index := Reshape(Const(g, indices), batch*outH*outW, taps, 1)
	return Reshape(Gather(rows, index), batch*outH*outW, taps*c)
}

// trainingProduct returns p . w (p [M, K], w [K, N]) for graphs with a backward pass. The forward
// product takes the Go backend's kernel layout as it is ([M,K] x [K,N]); the gradients are laid out so
// that none transposes p: dP = dOut . w^T ([M,N] x [K,N], no transpose), and dW = (dOut^T . p)^T, which
// transposes dOut (M*N values) and the small dW^T, where autodiff's p^T . dOut, contracted over the
// first axis of both, transposes p and dOut. GoMLX differentiates the decomposed graph given to
// InternalFusedOpCaller instead of the product it runs: its two terms take the gradient of p and of w
// respectively (each stops the other's), and the second is cancelled in value by its stopped copy, so it
// also computes p . w where fusion is turned off (GOMLX_FUSION=0). Only its gradients are compiled. The
// forward product reads p through the same stopped node as the kernel's gradient, so p is kept once (the
// Go backend copies a stopped node whose input has other readers). That node passes no gradient back
// but is not a StopGradient: GoMLX's autodiff skips a node none of whose inputs takes a gradient, and
// the fused product must be reached wherever p's gradient is taken, with w's or not.
func trainingProduct(p, w *Node) *Node {
	stopped := IdentityWithCustomGradient(p, func(_, _ *Node) *Node { return nil })
	out, _ := InternalFusedOpCaller(
		func() *Node { return DotGeneral(stopped, []int{1}, nil, w, []int{0}, nil) },
		func() *Node {
			forP := DotGeneral(p, []int{1}, nil, StopGradient(w), []int{0}, nil)
			forW := Transpose(DotGeneral(Transpose(w, 0, 1), []int{1}, nil, stopped, []int{1}, nil), 0, 1)
			return Add(forP, Sub(forW, StopGradient(forW)))
		}, true)
	return out
}
