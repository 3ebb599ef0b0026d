package nn

import (
	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// ReLU is max(x, 0), with a scalar 0: on the Go backend, Max against a scalar takes less time than Max
// against a broadcast tensor of zeros (no tensor of zeros to read) and than ReLUMasked (no mask to write;
// BENCHMARKS.md, "Measured in code comments before"). Its gradient (GoMLX's for Max)
// passes ties at 0. On the Go backend from compute v0.1.14, Max keeps NaN (as torch's relu does) in whole
// 16-wide vectors but returns 0 for it in a tensor's last partial vector: backbones' activations (a
// multiple of 16 channels) use it for speed; heads and graphs with a backward pass use ReLUMasked.
func ReLU(x *Node) *Node {
	return Max(x, ScalarZero(x.Graph(), x.DType()))
}

// ReLUMasked is ReLU for graphs with a backward pass: Where(x <= 0, 0, x), whose gradient is
// Where(x <= 0, 0, v), torch's (0 at exactly 0); a NaN input stays NaN, as in torch. It keeps a boolean
// mask for the backward pass rather than x, and its gradient costs less than Max's on the Go backend
// (Max's goes through Sign twice; BENCHMARKS.md, "Measured in code comments before").
func ReLUMasked(x *Node) *Node {
	return Where(LessOrEqual(x, ScalarZero(x.Graph(), x.DType())), ZerosLike(x), x)
}

// ReLUFor returns the ReLU for graphs computed with opts: ReLUMasked with a backward pass, else ReLU.
func ReLUFor(opts Options) func(*Node) *Node {
	if opts.Backward {
		return ReLUMasked
	}
	return ReLU
}

// MaxPool3x3Stride2 is torch's MaxPool2d(3, stride=2, padding=1) on [B, H, W, C], as the elementwise
// maximum of the nine strided window taps of x padded with -inf (windowTaps; differentiable for a
// backward pass): the Go backend runs these ops much faster than its ReduceWindow. The gradient, like
// torch's, goes to the first maximum of each window in raster order (Max passes ties to its first operand).
func MaxPool3x3Stride2(x *Node, differentiable bool) *Node {
	dims := x.Shape().Dimensions
	outH, outW := (dims[1]-1)/2+1, (dims[2]-1)/2+1
	padded := Pad(x, Infinity(x.Graph(), x.DType(), -1),
		compute.PadAxis{}, compute.PadAxis{Start: 1, End: 1}, compute.PadAxis{Start: 1, End: 1}, compute.PadAxis{})
	var out *Node
	for _, window := range windowTaps(padded, 3, 3, 2, outH, outW, differentiable) {
		if out == nil {
			out = window
		} else {
			out = Max(out, window)
		}
	}
	return out
}

// Linear is torch's nn.Linear on x [B, in], with its variables under name: x . weight + bias, the weight
// stored [in, out].
func Linear(store *model.Store, name string, x *Node) *Node {
	g := x.Graph()
	w := Value(store, g, name+".weight")
	b := Value(store, g, name+".bias")
	return Add(MatMul(x, w), InsertAxes(b, 0))
}

// LinearParams lists a Linear layer's weight and bias (in -> out) in group.
func LinearParams(name string, in, out, group int) []Param {
	return []Param{
		{Name: name + ".weight", TorchShape: []int{out, in}, Layout: LinearWeight, Trainable: true, Group: group},
		{Name: name + ".bias", TorchShape: []int{out}, Layout: Unchanged, Trainable: true, Group: group},
	}
}
