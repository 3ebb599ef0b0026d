package resnet

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// Batch-norm constants of torch.nn.BatchNorm2d's defaults.
const (
	bnEpsilon  = 1e-5
	bnMomentum = 0.1
)

// batchNorm is torch.nn.BatchNorm2d on channels-last x [B, H, W, C], with its variables under prefix
// ("bn1", "layer1.0.downsample.1").
//
// With train set it normalizes with the batch's mean and biased variance, letting gradients flow through
// both (unlike GoMLX's layer, which stops them), and updates the running statistics as torch does:
// running = (1-momentum)*running + momentum*batch, with the unbiased variance, and counts the batch.
// Otherwise it normalizes with the running statistics. It computes in float32 and returns x's dtype.
func batchNorm(store *model.Store, prefix string, x *Node, train bool) *Node {
	if dtype := x.DType(); dtype != dtypes.Float32 {
		return ConvertDType(batchNorm(store, prefix, ConvertDType(x, dtypes.Float32), train), dtype)
	}
	g := x.Graph()
	variable := func(name string) *model.Variable { return mustVariable(store, prefix+"."+name) }
	weight := variable("weight").NodeValue(g)
	bias := variable("bias").NodeValue(g)
	runningMean, runningVar := variable("running_mean"), variable("running_var")
	channels := x.Shape().Dimensions[3]
	asBroadcast := func(v *Node) *Node { return Reshape(v, 1, 1, 1, channels) }

	if !train {
		// y = (x - mean) / sqrt(var + eps) * weight + bias, folded into one scale and one shift.
		scale := Mul(weight, Reciprocal(Sqrt(AddScalar(runningVar.NodeValue(g), bnEpsilon))))
		shift := Sub(bias, Mul(runningMean.NodeValue(g), scale))
		return Add(Mul(x, asBroadcast(scale)), asBroadcast(shift))
	}

	mean := ReduceMean(x, 0, 1, 2)
	centered := Sub(x, asBroadcast(mean))
	variance := ReduceMean(Square(centered), 0, 1, 2)
	invStd := Reciprocal(Sqrt(AddScalar(variance, bnEpsilon)))
	y := Add(Mul(centered, asBroadcast(Mul(invStd, weight))), asBroadcast(bias))

	dims := x.Shape().Dimensions
	n := float64(dims[0] * dims[1] * dims[2])
	unbiased := MulScalar(StopGradient(variance), n/max(n-1, 1))
	runningMean.SetNodeValue(Add(MulScalar(runningMean.NodeValue(g), 1-bnMomentum), MulScalar(StopGradient(mean), bnMomentum)))
	runningVar.SetNodeValue(Add(MulScalar(runningVar.NodeValue(g), 1-bnMomentum), MulScalar(unbiased, bnMomentum)))
	counter := variable("num_batches_tracked")
	counter.SetNodeValue(Add(counter.NodeValue(g), ScalarOne(g, dtypes.Int64)))
	return y
}
