package resnet

import (
	"fmt"
	"math/rand/v2"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	layout "github.com/gomlx/gomlx/core/tensors/images"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/nn"
)

// Features computes the pooled features [B, FeatureDim] (float32) of images [B, H, W, 3] and, with
// opts.Spatial, the last stage's output [B, h, w, FeatureDim] before the global average pooling, in the
// compute dtype.
func (a Arch) Features(store *model.Store, images *Node, opts nn.Options) (features, spatial *Node) {
	images = ConvertDType(images, opts.ComputeDType())
	if parts := nn.SplitParts(images, opts); parts > 1 && !opts.Spatial {
		return a.splitFeatures(store, images, parts, opts), nil
	}
	relu := nn.ReLUFor(opts)
	convBN := func(c nn.ConvBN, x *Node) *Node { return c.Apply(store, x, opts) }
	x := a.backbone(images, convBN, relu, func(x *Node) *Node { return nn.MaxPool3x3Stride2(x, opts.Backward) })
	features = ReduceMean(ConvertDType(x, dtypes.Float32), 1, 2)
	if opts.Spatial {
		spatial = x
	}
	return features, spatial
}

// FoldedFeatures computes the pooled features of images [B, 3, H, W] (channels first), each convolution's
// batch norm folded into it on the host: convolution, bias, ReLU (a Max with 0), max pool, residual
// additions and the global mean.
func (a Arch) FoldedFeatures(store *model.Store, pixels *Node) *Node {
	g := pixels.Graph()
	relu := func(x *Node) *Node { return Max(x, ScalarZero(g, x.DType())) }
	convBN := func(c nn.ConvBN, x *Node) *Node { return c.Folded(store, x) }
	x := a.backbone(pixels, convBN, relu, func(x *Node) *Node {
		return MaxPool(x).ChannelsAxis(layout.ChannelsFirst).Window(3).Strides(2).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()
	})
	return ReduceMean(x, 2, 3)
}

// splitFeatures is Features (without the spatial map) of images split into parts on the batch axis, for
// fine-tuning graphs (nn.SplitParts): each part's convolutions, ReLUs, max pool and additions are their
// own nodes, which the Go backend runs at the same time; each batch norm takes its statistics over all
// parts, with the residual addition and the ReLU after it in one unit (nn.ConvBN.ApplyParts).
func (a Arch) splitFeatures(store *model.Store, images *Node, parts int, opts nn.Options) *Node {
	size := images.Shape().Dimensions[0] / parts
	xs := make([]*Node, parts)
	for i := range xs {
		xs[i] = Slice(images, AxisRange(i*size, (i+1)*size))
	}
	xs = stem.ApplyParts(store, xs, nil, true, opts)
	for i, x := range xs {
		xs[i] = nn.MaxPool3x3Stride2(x, true)
	}
	for _, b := range a.blocks() {
		identity := xs
		convs, _, shortcut := a.convs(b, 0)
		if b.downsample {
			identity = shortcut.ApplyParts(store, identity, nil, false, opts)
		}
		for i, c := range convs {
			if i < len(convs)-1 {
				xs = c.ApplyParts(store, xs, nil, true, opts)
			} else {
				xs = c.ApplyParts(store, xs, identity, true, opts)
			}
		}
	}
	features := make([]*Node, parts)
	for i, x := range xs {
		features[i] = ReduceMean(x, 1, 2)
	}
	return Concatenate(features, 0)
}

// backbone is the network from the stem to the last stage's output, torchvision's structure, with the
// given convolution-and-batch-norm, ReLU and stem max pool: Features' and FoldedFeatures' share it.
func (a Arch) backbone(x *Node, convBN func(nn.ConvBN, *Node) *Node, relu, maxPool func(*Node) *Node) *Node {
	x = maxPool(relu(convBN(stem, x)))
	for _, b := range a.blocks() {
		identity := x
		convs, _, shortcut := a.convs(b, 0)
		for i, c := range convs {
			x = convBN(c, x)
			if i < len(convs)-1 {
				x = relu(x)
			}
		}
		if b.downsample {
			identity = convBN(shortcut, identity)
		}
		x = relu(Add(x, identity))
	}
	return x
}

// InitParam returns torchvision's initial value of p: convolutions Kaiming-normal (fan_out, ReLU gain),
// batch norm weight 1 and bias 0 with zero mean and unit variance statistics.
func (a Arch) InitParam(p nn.Param, rng *rand.Rand) *tensors.Tensor {
	if p.Layout == nn.ConvKernel {
		return nn.KaimingNormalFanOut(p, rng)
	}
	value, ok := nn.InitBatchNorm(p)
	if !ok {
		panic(fmt.Sprintf("resnet: no initialization for parameter %s", p.Name))
	}
	return value
}
