package convnext

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/nn"
)

// Features computes the features [B, FeatureDim] (float32) of images [B, H, W, 3]: the stem, the stages
// with their downsampling layers, channels first, the global average and classifier.0's LayerNorm. In
// training with a random state (opts.RNG), each block's residual branch is dropped per image with its
// stochastic depth probability. With opts.Spatial, the last stage's output [B, h, w, 768] (1/32 of the
// images' size; torchvision's model.features) is the spatial map, in the compute dtype.
func (a Arch) Features(store *model.Store, images *Node, opts nn.Options) (features, spatial *Node) {
	g := images.Graph()
	dtype := opts.ComputeDType()
	value := func(name string) *Node { return nn.Value(store, g, name) }
	x := nn.PatchifyCF(ConvertDType(images, dtype), ConvertDType(value(stemConv+".weight"), dtype))
	x = addBias(x, value(stemConv+".bias"))
	x = nn.LayerNormCF(x, value(stemNorm+".weight"), value(stemNorm+".bias"), lnEps)
	id := 0
	for s := range a.dims {
		if s > 0 {
			x = a.downsample(store, s, x, opts)
		}
		for j := range a.depths[s] {
			x = a.block(store, blockName(s, j), x, a.dropProbability(id), &opts)
			id++
		}
	}
	var pooled *Node // [C, B]
	if opts.Spatial {
		// The features are computed from the map, for Grad-CAM's gradient.
		spatial = nn.ToChannelsLast(x)
		pooled = Transpose(ReduceMean(ConvertDType(spatial, dtypes.Float32), 1, 2), 0, 1)
	} else {
		pooled = ReduceMean(ConvertDType(x, dtypes.Float32), 2, 3)
	}
	features = Transpose(nn.LayerNormCF(pooled, value(topNorm+".weight"), value(topNorm+".bias"), lnEps), 0, 1)
	return features, spatial
}

// addBias adds bias [C] (float32) to channels-first x [C, ...] in x's dtype.
func addBias(x, bias *Node) *Node {
	dims := make([]int, x.Rank())
	for i := range dims {
		dims[i] = 1
	}
	dims[0] = x.Shape().Dimensions[0]
	return Add(x, ConvertDType(Reshape(bias, dims...), x.DType()))
}

// block is torchvision's CNBlock on channels-first x [C, B, H, W]: x + stochastic depth of layer scale *
// Linear(4C, C)(GELU(Linear(C, 4C)(LayerNorm(depthwise 7x7 convolution(x))))). The LayerNorm's weight and
// bias are folded into the first Linear (weight rows scaled, bias plus bias . weight) and the layer scale
// into the second (its columns and bias scaled).
func (a Arch) block(store *model.Store, name string, x *Node, drop float64, opts *nn.Options) *Node {
	g := x.Graph()
	dtype := x.DType()
	c := x.Shape().Dimensions[0]
	value := func(suffix string) *Node { return nn.Value(store, g, name+suffix) }
	y := nn.DepthwiseConvCF(x, ConvertDType(value(".block.0.weight"), dtype), 1, kernel/2, opts.Conv)
	y = addBias(y, value(".block.0.bias"))
	y = nn.LayerNormCF(y, nil, nil, lnEps)
	w1, b1 := foldNorm(value(".block.3.weight"), value(".block.3.bias"), value(".block.2.weight"), value(".block.2.bias"))
	y = nn.GELU(addBias(nn.ProductCF(y, ConvertDType(w1, dtype)), b1))
	scale := Reshape(value(".layer_scale"), c)
	w2 := Mul(value(".block.5.weight"), Reshape(scale, 1, c)) // [4C, C]
	b2 := Mul(value(".block.5.bias"), scale)
	y = addBias(nn.ProductCF(y, ConvertDType(w2, dtype)), b2)
	return Add(x, nn.StochasticDepth(y, drop, 1, opts))
}

// foldNorm folds a LayerNorm's weight and bias [Cin] into the product after it, of weight w [..., Cin,
// Cout] (a Linear's [Cin, Cout] or a convolution kernel's [kh, kw, Cin, Cout]) and bias [Cout]: w's input
// rows scaled by the norm's weight, and the bias plus the norm's bias times the weight summed over the
// window.
func foldNorm(w, bias, normWeight, normBias *Node) (*Node, *Node) {
	d := w.Shape().Dimensions
	cin, cout := d[len(d)-2], d[len(d)-1]
	shape := make([]int, len(d))
	for i := range shape {
		shape[i] = 1
	}
	shape[len(d)-2] = cin
	window := w
	if len(d) > 2 {
		axes := make([]int, len(d)-2)
		for i := range axes {
			axes[i] = i
		}
		window = ReduceSum(w, axes...)
	}
	return Mul(w, Reshape(normWeight, shape...)), Add(bias, Reshape(MatMul(Reshape(normBias, 1, cin), window), cout))
}

// downsample is features.(2s) on channels-first x: LayerNorm2d, then a 2x2 convolution of stride 2 with
// the norm's weight and bias folded in.
func (a Arch) downsample(store *model.Store, s int, x *Node, opts nn.Options) *Node {
	g := x.Graph()
	name := downsampleName(s)
	value := func(suffix string) *Node { return nn.Value(store, g, name+suffix) }
	y := nn.LayerNormCF(x, nil, nil, lnEps)
	w, b := foldNorm(value(".1.weight"), value(".1.bias"), value(".0.weight"), value(".0.bias"))
	return addBias(nn.DownsampleCF(y, ConvertDType(w, x.DType())), b)
}

// FoldedFeatures computes the features of images [B, 3, H, W] (channels first) as ONNX runtimes run the
// network, from constants: Conv for every convolution and Linear layer (1x1), grouped for the depthwise
// ones, the LayerNorms as nn.PortableNormalizeChannels with their weight and bias folded into the layer
// after them where there is one, the layer scales folded into the second Linear of each block, GELU as its
// Erf expression, and only operators of ONNX's opset 17 (no Reshape of the batch axis, which the export
// makes symbolic).
func (a Arch) FoldedFeatures(store *model.Store, pixels *Node) *Node {
	g := pixels.Graph()
	affine := func(name string, x *Node) *Node { // A LayerNorm's weight and bias on [B, C, ...].
		w, _ := nn.HostValue(store, name+".weight")
		dims := make([]int, x.Rank())
		for i := range dims {
			dims[i] = 1
		}
		dims[1] = len(w)
		return Add(Mul(x, nn.ConstValue(g, store, name+".weight", dims...)), nn.ConstValue(g, store, name+".bias", dims...))
	}
	x := foldedConv(g, store, stemConv, "", "", pixels, patch, 0, 1)
	x = affine(stemNorm, nn.PortableNormalizeChannels(x, lnEps))
	for s, c := range a.dims {
		if s > 0 {
			name := downsampleName(s)
			x = foldedConv(g, store, name+".1", name+".0", "", nn.PortableNormalizeChannels(x, lnEps), 2, 0, 1)
		}
		for j := range a.depths[s] {
			name := blockName(s, j)
			y := foldedConv(g, store, name+".block.0", "", "", x, 1, kernel/2, c)
			y = foldedConv(g, store, name+".block.3", name+".block.2", "", nn.PortableNormalizeChannels(y, lnEps), 1, 0, 1)
			y = foldedConv(g, store, name+".block.5", "", name+".layer_scale", nn.PortableGELU(y), 1, 0, 1)
			x = Add(x, y)
		}
	}
	return affine(topNorm, nn.PortableNormalizeChannels(ReduceMean(x, 2, 3), lnEps))
}

// foldedConv is the convolution (or Linear, as a 1x1 convolution) called name, with its bias, of x [B, Cin,
// H, W], its kernel and bias constants in torch's [Cout, Cin/groups, kh, kw] layout: with the weight and
// bias of the LayerNorm called norm before it folded in (unless norm is ""), and its output scaled by the
// layer scale called scale (unless "").
func foldedConv(g *Graph, store *model.Store, name, norm, scale string, x *Node, stride, pad, groups int) *Node {
	kernel, dims := nn.HostValue(store, name+".weight") // [kh, kw, Cin/groups, Cout], or [Cin, Cout] for a Linear.
	if len(dims) == 2 {
		dims = []int{1, 1, dims[0], dims[1]}
	}
	bias, _ := nn.HostValue(store, name+".bias")
	kh, kw, cin, cout := dims[0], dims[1], dims[2], dims[3]
	inScale, inShift, outScale := make([]float64, cin), make([]float64, cin), make([]float64, cout)
	for i := range cin {
		inScale[i] = 1
	}
	for o := range cout {
		outScale[o] = 1
	}
	if norm != "" {
		w, _ := nn.HostValue(store, norm+".weight")
		b, _ := nn.HostValue(store, norm+".bias")
		for i := range cin {
			inScale[i], inShift[i] = float64(w[i]), float64(b[i])
		}
	}
	if scale != "" {
		ls, _ := nn.HostValue(store, scale)
		for o := range cout {
			outScale[o] = float64(ls[o])
		}
	}
	oihw := make([]float32, len(kernel))
	folded := make([]float32, cout)
	for o := range cout {
		b := float64(bias[o])
		for i := range cin {
			for y := range kh {
				for xx := range kw {
					k := float64(kernel[((y*kw+xx)*cin+i)*cout+o])
					b += inShift[i] * k
					oihw[((o*cin+i)*kh+y)*kw+xx] = float32(k * inScale[i] * outScale[o])
				}
			}
		}
		folded[o] = float32(b * outScale[o])
	}
	k := Const(g, tensors.FromFlatDataAndDimensions(oihw, cout, cin, kh, kw))
	out := Convolve(x, k).AxesConfig(nchw).ChannelGroupCount(groups).Strides(stride).
		PaddingPerDim([][2]int{{pad, pad}, {pad, pad}}).Done()
	return Add(out, Const(g, tensors.FromFlatDataAndDimensions(folded, 1, cout, 1, 1)))
}

// nchw is the convolution layout of folded graphs: images [B, C, H, W] and kernels [Cout, Cin, kh, kw],
// torch's and ONNX's.
var nchw = compute.ConvolveAxesConfig{
	InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
	KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
	OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3},
}

// InitParam returns torchvision's initial value of p: convolution and Linear weights from a normal of
// standard deviation 0.02 truncated to [-2, 2] (torch's trunc_normal_), their biases 0, LayerNorm weights
// 1 and biases 0, layer scales 1e-6.
func (a Arch) InitParam(p nn.Param, rng *rand.Rand) *tensors.Tensor {
	dims := p.Shape().Dimensions
	switch {
	case p.Layout == nn.ConvKernel || p.Layout == nn.LinearWeight:
		return nn.Fill(dims, func() float32 {
			for {
				if v := rng.NormFloat64() * 0.02; v >= -2 && v <= 2 {
					return float32(v)
				}
			}
		})
	case strings.HasSuffix(p.Name, ".layer_scale"):
		return nn.Fill(dims, func() float32 { return layerScaleInit })
	case strings.HasSuffix(p.Name, ".bias"):
		return nn.Fill(dims, func() float32 { return 0 })
	case strings.HasSuffix(p.Name, ".weight"): // LayerNorms'.
		return nn.Fill(dims, func() float32 { return 1 })
	}
	panic(fmt.Sprintf("convnext: no initialization for parameter %s", p.Name))
}
