package vit

import (
	"fmt"

	"math"
	"math/rand/v2"
	"strings"

	"github.com/gomlx/compute"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/attention"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/nn"
)

// grid returns the patch grid of images of height h and width w, which the patch size must divide.
func (a Arch) grid(h, w int) (int, int) {
	if h%a.Patch != 0 || w%a.Patch != 0 {
		panic(fmt.Sprintf("%s: images of %dx%d, not a multiple of the %d-pixel patches", a.Label, h, w, a.Patch))
	}
	return h / a.Patch, w / a.Patch
}

// CheckImageSize refuses sizes that are not a multiple of the patch (nn.ImageSizeChecker); other sizes
// than the native one interpolate the position embeddings in the graph.
func (a Arch) CheckImageSize(size int) error {
	if size%a.Patch != 0 {
		return fmt.Errorf("%s takes images whose size is a multiple of its %d-pixel patches, not %d", a.Label, a.Patch, size)
	}
	return nil
}

// values reads the model's parameters into a graph by their state_dict names: the store's variables, or,
// in the export graph, their values as constants.
type values func(name string) *Node

// Features computes the class token's final representation [B, Hidden] (float32) of images [B, H, W, 3]
// (H and W multiples of the patch size). With opts.Spatial, the spatial map is the last block's
// normalized patch tokens (its attention's input) on the patch grid, [B, h, w, Hidden]: what Grad-CAM
// weighs by their gradients, as pytorch-grad-cam does for torchvision's ViT.
func (a Arch) Features(store *model.Store, images *Node, opts nn.Options) (features, spatial *Node) {
	g := images.Graph()
	value := func(name string) *Node { return nn.Value(store, g, name) }
	return a.encode(value, images, opts, false)
}

// FoldedFeatures computes the features of images [B, 3, H, W] (channels first) in inference mode with the
// weights as constants: the graph ONNX export writes. Its class token is added to a zero token padded in
// front of the patches' (a Pad, where a broadcast would fix the batch size).
func (a Arch) FoldedFeatures(store *model.Store, pixels *Node) *Node {
	g := pixels.Graph()
	value := func(name string) *Node { return nn.ConstValue(g, store, name) }
	features, _ := a.encode(value, TransposeAllAxes(pixels, 0, 2, 3, 1), nn.Options{}, true)
	return features
}

// encode is the network on images [B, H, W, 3]; padded: the export graph's, the class token added to a
// zero token in front of the patches' and the layers in portable operators (FoldedFeatures).
func (a Arch) encode(value values, images *Node, opts nn.Options, padded bool) (features, spatial *Node) {
	dtype := opts.ComputeDType()
	d := images.Shape().Dimensions
	batch := d[0]
	gh, gw := a.grid(d[1], d[2])
	p, c := a.Patch, d[3] // c: the images' channels, 3 but for grayscale or multi-band models.
	// The patches [B, h*w, p*p*c], row-major, each [p, p, c] as the kernel's layout: a 0213 transpose of
	// [B*h, p, w, p*c] (one of the Go backend's fast ones), or in the export graph, which keeps the batch a
	// separate axis (it is made symbolic), of [B, h, p, w, p*c].
	pixels := ConvertDType(images, dtype)
	var patches *Node
	if padded {
		patches = TransposeAllAxes(Reshape(pixels, batch, gh, p, gw, p*c), 0, 1, 3, 2, 4)
	} else {
		patches = TransposeAllAxes(Reshape(pixels, batch*gh, p, gw, p*c), 0, 2, 1, 3)
	}
	patches = Reshape(patches, batch, gh*gw, p*p*c)
	kernel := ConvertDType(Reshape(value("conv_proj.weight"), p*p*c, a.Hidden), dtype)
	// The images take no gradient: the kernel's only.
	x := nn.DenseWithWeights(StopGradient(patches), kernel, ConvertDType(value("conv_proj.bias"), dtype), opts)
	positions := a.positions(value, gh, gw)
	cls := value("class_token")
	if padded {
		front := Concatenate([]*Node{Add(cls, Slice(positions, AxisRange(), AxisRange(0, 1), AxisRange())),
			Slice(positions, AxisRange(), AxisRange(1, 1+gh*gw), AxisRange())}, 1)
		x = Add(Pad(x, ScalarZero(x.Graph(), dtype), compute.PadAxis{}, compute.PadAxis{Start: 1}, compute.PadAxis{}), ConvertDType(front, dtype))
	} else {
		x = Concatenate([]*Node{BroadcastToDims(ConvertDType(cls, dtype), batch, 1, a.Hidden), x}, 1)
		x = Add(x, ConvertDType(positions, dtype))
	}
	l := layers{norm: nn.LayerNormWith, gelu: nn.GELU, attend: fusedAttention}
	if padded {
		l = layers{norm: nn.PortableLayerNormWith, gelu: nn.PortableGELU, attend: portableAttention}
	}
	for i := range a.Layers {
		x, spatial = a.block(value, l, i, x, opts, gh, gw, opts.Spatial && i == a.Layers-1)
	}
	x = ConvertDType(l.norm(x, value("encoder.ln.weight"), value("encoder.ln.bias"), layerNormEps), dtypes.Float32)
	if padded {
		// The class token as a sum of the tokens weighed 1 and 0: a Slice would fix the batch's size.
		first := make([]float32, x.Shape().Dimensions[1])
		first[0] = 1
		return ReduceSum(Mul(x, Const(x.Graph(), tensors.FromFlatDataAndDimensions(first, 1, len(first), 1))), 1), nil
	}
	features = Reshape(Slice(x, AxisRange(), AxisElem(0), AxisRange()), batch, a.Hidden)
	return features, spatial
}

// positions returns the position embeddings [1, 1+gh*gw, Hidden] for a gh x gw patch grid: the stored
// ones at the native size, else their patch part interpolated (interpolationMatrix).
func (a Arch) positions(value values, gh, gw int) *Node {
	pos := value("encoder.pos_embedding")
	n := a.ImageSize / a.Patch
	if gh == n && gw == n {
		return pos
	}
	cls := Slice(pos, AxisRange(), AxisRange(0, 1), AxisRange())
	grid := Reshape(Slice(pos, AxisRange(), AxisRange(1, 1+n*n), AxisRange()), n*n, a.Hidden)
	m := Const(pos.Graph(), interpolationMatrix(n, gh, gw))
	return Concatenate([]*Node{cls, Reshape(MatMul(m, grid), 1, gh*gw, a.Hidden)}, 1)
}

// block computes encoder block i (pre-norm attention and MLP, each with its residual) of tokens x; with
// spatial, it also returns the normalized patch tokens its attention reads, on the gh x gw grid, from
// which that attention is computed.
func (a Arch) block(value values, l layers, i int, x *Node, opts nn.Options, gh, gw int, spatial bool) (*Node, *Node) {
	prefix := block(i)
	norm := func(name string, x *Node) *Node {
		return l.norm(x, value(prefix+"."+name+".weight"), value(prefix+"."+name+".bias"), layerNormEps)
	}
	dense := func(name string, x *Node) *Node { return a.dense(value, prefix+"."+name, x, opts) }
	y := norm("ln_1", x)
	var grid *Node
	if spatial {
		d := y.Shape().Dimensions
		grid = Reshape(Slice(y, AxisRange(), AxisRange(1, d[1]), AxisRange()), d[0], gh, gw, d[2])
		y = Concatenate([]*Node{Slice(y, AxisRange(), AxisRange(0, 1), AxisRange()), Reshape(grid, d[0], gh*gw, d[2])}, 1)
	}
	x = Add(x, a.attention(value, l, prefix+".self_attention", y, opts))
	y = dense("mlp.3", l.gelu(dense("mlp.0", norm("ln_2", x))))
	return Add(x, y), grid
}

// dense is the Linear under name on x, in x's dtype.
func (a Arch) dense(value values, name string, x *Node, opts nn.Options) *Node {
	return nn.DenseWithWeights(x, ConvertDType(value(name+".weight"), x.DType()), ConvertDType(value(name+".bias"), x.DType()), opts)
}

// attention is torch's nn.MultiheadAttention of x with itself (batch first): the query, key and value
// projections (the parts of in_proj: their columns of its weight, so no output is sliced), scaled
// dot-product attention per head (GoMLX's, the backend's fused one where it has it), and out_proj.
func (a Arch) attention(value values, l layers, name string, x *Node, opts nn.Options) *Node {
	d := x.Shape().Dimensions
	batch, tokens, hidden := d[0], d[1], d[2]
	w, b := value(name+".in_proj_weight"), value(name+".in_proj_bias")
	heads := func(part int) *Node {
		wp := ConvertDType(Slice(w, AxisRange(), AxisRange(part*hidden, (part+1)*hidden)), x.DType())
		bp := ConvertDType(Slice(b, AxisRange(part*hidden, (part+1)*hidden)), x.DType())
		return Reshape(nn.DenseWithWeights(x, wp, bp, opts), batch, tokens, a.Heads, hidden/a.Heads)
	}
	return a.dense(value, name+".out_proj", Reshape(l.attend(heads(0), heads(1), heads(2)), batch, tokens, hidden), opts)
}

// layers are the implementations of the layers a block is made of: the training and inference graphs',
// or the export graph's, in portable operators.
type layers struct {
	norm   func(x, weight, bias *Node, eps float64) *Node
	gelu   func(*Node) *Node
	attend func(q, k, v *Node) *Node // Scaled dot-product attention of [B, T, heads, d] queries, keys, values.
}

// fusedAttention is GoMLX's scaled dot-product attention, the backend's fused one where it has it.
func fusedAttention(q, k, v *Node) *Node {
	out, _ := attention.Core(q, k, v, attention.LayoutBSHD, attention.CoreOptions{})
	return out
}

// portableAttention is scaled dot-product attention as products, a softmax and 0213 transposes: operators
// every runtime has (ONNX's MatMul, Softmax, Transpose).
func portableAttention(q, k, v *Node) *Node {
	dh := q.Shape().Dimensions[3]
	q, k, v = TransposeAllAxes(q, 0, 2, 1, 3), TransposeAllAxes(k, 0, 2, 1, 3), TransposeAllAxes(v, 0, 2, 1, 3) // [B, heads, T, d]
	scores := MulScalar(DotGeneral(q, []int{3}, []int{0, 1}, k, []int{3}, []int{0, 1}), 1/math.Sqrt(float64(dh)))
	p := Softmax(scores, 3)
	return TransposeAllAxes(DotGeneral(p, []int{3}, []int{0, 1}, v, []int{2}, []int{0, 1}), 0, 2, 1, 3)
}

// interpolationMatrix returns the [gh*gw, n*n] matrix that maps an n x n grid of values to a gh x gw one as
// torch's interpolate(mode="bicubic", align_corners=True) does (torchvision's interpolate_embeddings): the
// Kronecker product of the two axes' matrices.
func interpolationMatrix(n, gh, gw int) *tensors.Tensor {
	rows, cols := bicubicMatrix(n, gh), bicubicMatrix(n, gw)
	m := make([]float32, gh*gw*n*n)
	for y := range gh {
		for x := range gw {
			for i := range n {
				for j := range n {
					m[(y*gw+x)*n*n+i*n+j] = float32(rows[y][i] * cols[x][j])
				}
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(m, gh*gw, n*n)
}

// bicubicMatrix returns the weights [out][in] of torch's upsample_bicubic2d along one axis, corners
// aligned: output o reads input o*(in-1)/(out-1) with the cubic convolution kernel (A = -0.75) over its four
// neighbours, indices clamped to the edges.
func bicubicMatrix(in, out int) [][]float64 {
	const a = -0.75
	near := func(x float64) float64 { return ((a+2)*x-(a+3))*x*x + 1 }  // |x| <= 1.
	far := func(x float64) float64 { return ((a*x-5*a)*x+8*a)*x - 4*a } // 1 < |x| < 2.
	scale := 0.0
	if out > 1 {
		scale = float64(in-1) / float64(out-1)
	}
	m := make([][]float64, out)
	for o := range m {
		m[o] = make([]float64, in)
		src := scale * float64(o)
		i := int(math.Floor(src))
		t := src - float64(i)
		for k, w := range []float64{far(t + 1), near(t), near(1 - t), far(2 - t)} {
			m[o][min(max(i-1+k, 0), in-1)] += w
		}
	}
	return m
}

// InitParam returns torchvision's initial value of p: the patch projection truncated normal with standard
// deviation sqrt(1/fan_in) and bias 0, the class token 0, the position embeddings normal (std 0.02), the
// attention's in_proj and the MLPs' weights Xavier-uniform, the MLPs' biases normal (std 1e-6), the
// attention's biases 0 and out_proj torch's Linear default, LayerNorms 1 and 0.
func (a Arch) InitParam(p nn.Param, rng *rand.Rand) *tensors.Tensor {
	dims := p.Shape().Dimensions
	constant := func(v float32) *tensors.Tensor { return nn.Fill(dims, func() float32 { return v }) }
	normal := func(std float64) *tensors.Tensor {
		return nn.Fill(dims, func() float32 { return float32(rng.NormFloat64() * std) })
	}
	uniform := func(bound float64) *tensors.Tensor {
		return nn.Fill(dims, func() float32 { return float32((rng.Float64()*2 - 1) * bound) })
	}
	switch {
	case p.Name == "conv_proj.weight":
		std := math.Sqrt(1 / float64(p.TorchShape[1]*a.Patch*a.Patch)) // fan_in: the input channels times the patch.
		return nn.Fill(dims, func() float32 {                          // trunc_normal_ within two standard deviations.
			for {
				if v := rng.NormFloat64(); math.Abs(v) <= 2 {
					return float32(v * std)
				}
			}
		})
	case p.Name == "encoder.pos_embedding":
		return normal(0.02)
	case p.Name == "class_token", p.Name == "conv_proj.bias":
		return constant(0)
	case strings.Contains(p.Name, ".ln"):
		if strings.HasSuffix(p.Name, ".weight") {
			return constant(1)
		}
		return constant(0)
	case strings.HasSuffix(p.Name, "in_proj_weight"), strings.Contains(p.Name, ".mlp.") && strings.HasSuffix(p.Name, ".weight"):
		return uniform(math.Sqrt(6 / float64(p.TorchShape[0]+p.TorchShape[1])))
	case strings.Contains(p.Name, ".mlp."):
		return normal(1e-6)
	case strings.HasSuffix(p.Name, "out_proj.weight"):
		return uniform(1 / math.Sqrt(float64(p.TorchShape[1])))
	case strings.HasSuffix(p.Name, "_bias"), strings.HasSuffix(p.Name, ".bias"):
		return constant(0)
	}
	panic(fmt.Sprintf("vit: no initialization for parameter %s", p.Name))
}
