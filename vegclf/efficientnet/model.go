package efficientnet

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

// Features computes the features [B, FeatureDim] (float32) of images [B, H, W, 3]: the MBConv blocks,
// channels first, the last convolution, the global average, and in training torchvision's dropout. In
// training with a random state, each residual block's branch goes through torchvision's stochastic depth
// (a whole image's branch dropped), drawn in the blocks' order before the dropout's mask. With
// opts.Spatial, the last convolution's output [B, h, w, C] (1/32 of the images' size, rounded up) is the
// spatial map, in the compute dtype.
func (a Arch) Features(store *model.Store, images *Node, opts nn.Options) (features, spatial *Node) {
	x := nn.SiLU(stemConv().ApplyCF(store, images, opts))
	for _, b := range a.blocks {
		input := x
		if b.expanded != b.in {
			x = nn.SiLU(b.expandConv.ApplyCF(store, x, opts))
		}
		x = nn.SiLU(b.depthwise.ApplyCF(store, x, opts))
		x = squeezeExcite(store, b.se, x)
		x = b.proj.ApplyCF(store, x, opts)
		if b.residual() {
			x = Add(nn.StochasticDepth(x, b.dropProb, 1, &opts), input)
		}
	}
	x = nn.SiLU(a.last().ApplyCF(store, x, opts))
	var pooled *Node // [B, C]
	if opts.Spatial {
		// The features are computed from the map, for Grad-CAM's gradient.
		spatial = nn.ToChannelsLast(x)
		pooled = ReduceMean(ConvertDType(spatial, dtypes.Float32), 1, 2)
	} else {
		pooled = Transpose(ReduceMean(ConvertDType(x, dtypes.Float32), 2, 3), 0, 1)
	}
	return nn.Dropout(pooled, a.dropout, &opts), spatial
}

// squeezeExcite is torchvision's SqueezeExcitation as EfficientNet makes it (SiLU, sigmoid scale) on
// channels-first x [C, B, H, W]: each image's channel means through fc1 (a 1x1 convolution), SiLU, fc2 and
// sigmoid scale its channels.
func squeezeExcite(store *model.Store, name string, x *Node) *Node {
	g := x.Graph()
	d := x.Shape().Dimensions
	dense := func(fc string, v *Node) *Node { // v [Cin, B] -> [Cout, B]
		w := ConvertDType(nn.Value(store, g, name+"."+fc+".weight"), x.DType()) // [1, 1, Cin, Cout]
		wd := w.Shape().Dimensions
		y := DotGeneral(Reshape(w, wd[2], wd[3]), []int{0}, nil, v, []int{0}, nil)
		return Add(y, ConvertDType(Reshape(nn.Value(store, g, name+"."+fc+".bias"), wd[3], 1), x.DType()))
	}
	scale := Sigmoid(dense("fc2", nn.SiLU(dense("fc1", ReduceMean(x, 2, 3)))))
	return Mul(x, Reshape(scale, d[0], d[1], 1, 1))
}

// FoldedFeatures computes the features of images [B, 3, H, W] (channels first) with the batch norms
// folded into the convolutions, as ONNX runtimes run the network: native grouped convolutions, the
// squeeze-excitations' layers as 1x1 convolutions of a global average pool, SiLU as Sigmoid and Mul, and
// only operators of ONNX's opset 17 (no Reshape of the batch axis, which the export makes symbolic).
func (a Arch) FoldedFeatures(store *model.Store, pixels *Node) *Node {
	silu := nn.PortableSiLU
	x := silu(stemConv().Folded(store, pixels))
	for _, b := range a.blocks {
		input := x
		if b.expanded != b.in {
			x = silu(b.expandConv.Folded(store, x))
		}
		x = silu(b.depthwise.Folded(store, x))
		d := x.Shape().Dimensions
		pooled := MeanPool(x).ChannelsAxis(images.ChannelsFirst).WindowPerAxis(d[2], d[3]).Done() // [B, C, 1, 1]
		scale := nn.FoldedConvBias(store, b.se+".fc2", silu(nn.FoldedConvBias(store, b.se+".fc1", pooled)))
		x = Mul(x, Sigmoid(scale))
		x = b.proj.Folded(store, x)
		if b.residual() {
			x = Add(x, input)
		}
	}
	return ReduceMean(silu(a.last().Folded(store, x)), 2, 3)
}

// InitParam returns torchvision's initial value of p: convolutions (the squeeze-excitations' too)
// Kaiming-normal (fan_out), their biases 0, batch norm weight 1 and bias 0 with zero mean and unit
// variance statistics.
func (a Arch) InitParam(p nn.Param, rng *rand.Rand) *tensors.Tensor {
	switch {
	case p.Layout == nn.ConvKernel:
		return nn.KaimingNormalFanOut(p, rng)
	case strings.HasSuffix(p.Name, ".fc1.bias") || strings.HasSuffix(p.Name, ".fc2.bias"):
		return nn.Fill(p.Shape().Dimensions, func() float32 { return 0 })
	}
	value, ok := nn.InitBatchNorm(p)
	if !ok {
		panic(fmt.Sprintf("efficientnet: no initialization for parameter %s", p.Name))
	}
	return value
}
