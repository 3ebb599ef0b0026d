package mobilenet

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/core/tensors/images"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/nn"
)

// Features computes the features [B, FeatureDim] (float32) of images [B, H, W, 3]: the blocks,
// channels first, the last convolution, the global average, classifier.0 and its hardswish, and in
// training torchvision's dropout. With opts.Spatial, the last convolution's output [B, h, w, C] (1/32 of
// the images' size) is the spatial map, in the compute dtype.
func (a Arch) Features(store *model.Store, images *Node, opts nn.Options) (features, spatial *Node) {
	relu := nn.ReLUFor(opts)
	x := nn.Hardswish(stem().ApplyCF(store, images, opts))
	for i, b := range a.blocks {
		l := layersOf(i, b)
		act := relu
		if b.hardswish {
			act = nn.Hardswish
		}
		input := x
		if b.expanded != b.in {
			x = act(l.expand.ApplyCF(store, x, opts))
		}
		x = act(l.depthwise.ApplyCF(store, x, opts))
		if b.se {
			x = squeezeExcite(store, l.se, x, relu)
		}
		x = l.project.ApplyCF(store, x, opts)
		if b.stride == 1 && b.in == b.out {
			x = Add(x, input)
		}
	}
	x = nn.Hardswish(a.last().ApplyCF(store, x, opts))
	var pooled *Node // [B, C]
	if opts.Spatial {
		// The features are computed from the map, for Grad-CAM's gradient.
		spatial = nn.ToChannelsLast(x)
		pooled = ReduceMean(ConvertDType(spatial, dtypes.Float32), 1, 2)
	} else {
		pooled = Transpose(ReduceMean(ConvertDType(x, dtypes.Float32), 2, 3), 0, 1)
	}
	features = nn.Hardswish(nn.Linear(store, "classifier.0", pooled))
	return nn.Dropout(features, dropout, &opts), spatial
}

// squeezeExcite is torchvision's SqueezeExcitation with a hardsigmoid scale on channels-first x
// [C, B, H, W]: each image's channel means through fc1 (a 1x1 convolution), ReLU, fc2 and hardsigmoid
// scale its channels.
func squeezeExcite(store *model.Store, name string, x *Node, relu func(*Node) *Node) *Node {
	g := x.Graph()
	d := x.Shape().Dimensions
	dense := func(fc string, v *Node) *Node { // v [Cin, B] -> [Cout, B]
		w := ConvertDType(nn.Value(store, g, name+"."+fc+".weight"), x.DType()) // [1, 1, Cin, Cout]
		wd := w.Shape().Dimensions
		y := DotGeneral(Reshape(w, wd[2], wd[3]), []int{0}, nil, v, []int{0}, nil)
		return Add(y, ConvertDType(Reshape(nn.Value(store, g, name+"."+fc+".bias"), wd[3], 1), x.DType()))
	}
	scale := nn.Hardsigmoid(dense("fc2", relu(dense("fc1", ReduceMean(x, 2, 3)))))
	return Mul(x, Reshape(scale, d[0], d[1], 1, 1))
}

// FoldedFeatures computes the features of images [B, 3, H, W] (channels first) with the batch norms
// folded into the convolutions, as ONNX runtimes run the network: native grouped convolutions, the
// squeeze-excitations' layers as 1x1 convolutions of a global average pool, and only operators of ONNX's
// opset 17 (no Reshape of the batch axis, which the export makes symbolic).
func (a Arch) FoldedFeatures(store *model.Store, pixels *Node) *Node {
	g := pixels.Graph()
	relu := func(x *Node) *Node { return Max(x, ScalarZero(g, x.DType())) }
	hardswish := nn.PortableHardswish
	x := hardswish(stem().Folded(store, pixels))
	for i, b := range a.blocks {
		l := layersOf(i, b)
		act := relu
		if b.hardswish {
			act = hardswish
		}
		input := x
		if b.expanded != b.in {
			x = act(l.expand.Folded(store, x))
		}
		x = act(l.depthwise.Folded(store, x))
		if b.se {
			d := x.Shape().Dimensions
			pooled := MeanPool(x).ChannelsAxis(images.ChannelsFirst).WindowPerAxis(d[2], d[3]).Done() // [B, C, 1, 1]
			scale := nn.FoldedConvBias(store, l.se+".fc2", relu(nn.FoldedConvBias(store, l.se+".fc1", pooled)))
			x = Mul(x, nn.PortableHardsigmoid(scale))
		}
		x = l.project.Folded(store, x)
		if b.stride == 1 && b.in == b.out {
			x = Add(x, input)
		}
	}
	x = ReduceMean(hardswish(a.last().Folded(store, x)), 2, 3)
	w := nn.ConstValue(g, store, "classifier.0.weight")
	return hardswish(Add(MatMul(x, w), nn.ConstValue(g, store, "classifier.0.bias", 1, a.lastChannel)))
}

// InitParam returns torchvision's initial value of p: convolutions Kaiming-normal (fan_out), their biases
// 0, batch norm weight 1 and bias 0 with zero mean and unit variance statistics, classifier.0's weight
// normal with standard deviation 0.01 and its bias 0.
func (a Arch) InitParam(p nn.Param, rng *rand.Rand) *tensors.Tensor {
	switch {
	case p.Layout == nn.ConvKernel:
		return nn.KaimingNormalFanOut(p, rng)
	case p.Layout == nn.LinearWeight:
		return nn.Fill(p.Shape().Dimensions, func() float32 { return float32(rng.NormFloat64() * 0.01) })
	case p.Name == "classifier.0.bias" || strings.HasSuffix(p.Name, ".fc1.bias") || strings.HasSuffix(p.Name, ".fc2.bias"):
		return nn.Fill(p.Shape().Dimensions, func() float32 { return 0 })
	}
	value, ok := nn.InitBatchNorm(p)
	if !ok {
		panic(fmt.Sprintf("mobilenet: no initialization for parameter %s", p.Name))
	}
	return value
}
