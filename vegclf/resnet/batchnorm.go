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

// inferenceBatchNorm returns the per-channel scale and shift of the batch norm under prefix in inference
// mode: y = (x - mean) / sqrt(var + eps) * weight + bias = x * scale + shift.
func inferenceBatchNorm(g *Graph, store *model.Store, prefix string) (scale, shift *Node) {
	value := func(name string) *Node { return mustVariable(store, g, prefix+"."+name).NodeValue(g) }
	scale = Mul(value("weight"), Reciprocal(Sqrt(AddScalar(value("running_var"), bnEpsilon))))
	shift = Sub(value("bias"), Mul(value("running_mean"), scale))
	return scale, shift
}

// trainBatchNorm is torch.nn.BatchNorm2d in train mode on channels-last x [B, H, W, C], with its
// variables under prefix ("bn1", "layer1.0.downsample.1"): it normalizes with the batch's mean and biased
// variance, letting gradients flow through both (unlike GoMLX's layer, which stops them), and updates the
// running statistics as torch does: running = (1-momentum)*running + momentum*batch, with the unbiased
// variance, and counts the batch. It computes in float32 and returns x's dtype. (In inference mode the
// model folds inferenceBatchNorm's scale into the convolution before it.)
func trainBatchNorm(store *model.Store, prefix string, x *Node) *Node {
	if dtype := x.DType(); dtype != dtypes.Float32 {
		return ConvertDType(trainBatchNorm(store, prefix, ConvertDType(x, dtypes.Float32)), dtype)
	}
	g := x.Graph()
	variable := func(name string) *model.Variable { return mustVariable(store, g, prefix+"."+name) }
	weight := variable("weight").NodeValue(g)
	bias := variable("bias").NodeValue(g)
	runningMean, runningVar := variable("running_mean"), variable("running_var")
	channels := x.Shape().Dimensions[3]
	asBroadcast := func(v *Node) *Node { return Reshape(v, 1, 1, 1, channels) }

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
