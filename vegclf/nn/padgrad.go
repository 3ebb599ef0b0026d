package nn

import (
	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
)

// padCroppedGradient is Pad(x, 0, axes...) (zero padding, no interior) whose gradient is the crop of the
// padded gradient back to x (cropped: the Go backend copies it in blocks), where GoMLX's gradient of Pad is
// a Slice, which the Go backend copies element by element on one core. As ProductCF does, GoMLX runs the
// Pad and differentiates a stand-in: a Pad of an identity of x whose custom gradient is that crop of the
// gradient reaching the stand-in (captured by an identity on its output).
func padCroppedGradient(x *Node, axes ...compute.PadAxis) *Node {
	zero := ScalarZero(x.Graph(), x.DType())
	out, _ := InternalFusedOpCaller(
		func() *Node { return Pad(x, zero, axes...) },
		func() *Node {
			var dOut *Node
			xs := IdentityWithCustomGradient(x, func(_, _ *Node) *Node {
				starts := make([]int, len(axes))
				for i, a := range axes {
					starts[i] = a.Start
				}
				return cropped(dOut, starts, x.Shape().Dimensions)
			})
			return IdentityWithCustomGradient(Pad(xs, zero, axes...), func(_, v *Node) *Node { dOut = v; return v })
		}, true)
	return out
}
