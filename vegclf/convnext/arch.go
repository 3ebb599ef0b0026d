// Package convnext is torchvision's ConvNeXt (Tiny and Small) in GoMLX, numerically the same function as
// torchvision.models.convnext_tiny and _small, as an nn.Backbone: the network up to the features its last
// Linear (classifier.2) reads, which a head replaces. The pretrained classifier.0 (a LayerNorm2d of the
// pooled 768 features) stays in the backbone: its output is the features.
//
// Its activations are channels first, [C, B, H, W], inside the network, as MobileNetV3's: the blocks'
// Linear layers (1x1 convolutions) are then products W^T . X the Go backend runs, with their gradients,
// without transposing the activations (nn.ProductCF); the 7x7 depthwise convolutions are banded products
// (nn.DepthwiseCF on the Go backend, grouped convolutions on XLA); the LayerNorms normalize over the
// leading axis with torch's closed-form gradient (nn.LayerNormCF); GELU is the backend's fused exact
// activation where it has one (nn.GELU); the patchify stem and the downsampling layers are space-to-depth
// products (nn.PatchifyCF, nn.DownsampleCF) on every backend. Each LayerNorm followed by a Linear or a
// convolution has its weight and bias folded into that layer's kernel and bias, and each layer scale into
// the second Linear of its block, on the parameters (small products, which gradients go through) rather
// than on the activations.
package convnext

import (
	"fmt"

	"github.com/vegclf/vegclf/vegclf/nn"
)

// Arch is one member of the family; it is the family's nn.Backbone.
type Arch struct {
	Label  string // The registry name: "convnext_tiny".
	depths [4]int // Blocks per stage.
	dims   [4]int // Channels per stage.
	// stochasticDepth is torchvision's stochastic_depth_prob: the last block's, from 0 at the first,
	// linearly.
	stochasticDepth float64
}

// The torchvision architectures (their CNBlockConfig lists and stochastic depth).
var (
	Tiny  = Arch{Label: "convnext_tiny", depths: [4]int{3, 3, 9, 3}, dims: [4]int{96, 192, 384, 768}, stochasticDepth: 0.1}
	Small = Arch{Label: "convnext_small", depths: [4]int{3, 3, 27, 3}, dims: [4]int{96, 192, 384, 768}, stochasticDepth: 0.4}
)

const (
	lnEps          = 1e-6 // torchvision's LayerNorm2d and the blocks' LayerNorm.
	layerScaleInit = 1e-6 // The layer scales' initial value.
	kernel         = 7    // Of the depthwise convolutions.
	patch          = 4    // The stem's kernel and stride.
)

// New returns the model of the architecture with the head.
func New(a Arch, head nn.Head) *nn.Model { return nn.New(a, head) }

// Name returns the architecture's registry name.
func (a Arch) Name() string { return a.Label }

// String returns the architecture's name.
func (a Arch) String() string { return a.Label }

// FeatureDim is the last stage's width, classifier.0's: 768.
func (a Arch) FeatureDim() int { return a.dims[3] }

// HeadName is "classifier.2", the Linear a head replaces.
func (a Arch) HeadName() string { return "classifier.2" }

// Groups names the layer groups: the stem (features.0), the four stages (each with the downsampling layer
// before it, as timm's stages hold it), and the top: classifier.0.
func (a Arch) Groups() []string {
	return []string{"stem", "stage1", "stage2", "stage3", "stage4", "top"}
}

const groupTop = 5

// Names of the layers, by their state_dict prefixes.
const (
	stemConv = "features.0.0"
	stemNorm = "features.0.1"
	topNorm  = "classifier.0"
)

// blockName is block j of stage s: features.(2s+1).j.
func blockName(s, j int) string { return fmt.Sprintf("features.%d.%d", 2*s+1, j) }

// downsampleName is the downsampling layer before stage s > 0: features.(2s), a LayerNorm2d (.0) and a
// 2x2 convolution of stride 2 (.1).
func downsampleName(s int) string { return fmt.Sprintf("features.%d", 2*s) }

// dropProbability is torchvision's stochastic depth probability of the block with global index i.
func (a Arch) dropProbability(i int) float64 {
	total := a.depths[0] + a.depths[1] + a.depths[2] + a.depths[3]
	return a.stochasticDepth * float64(i) / float64(total-1)
}

// norm lists a LayerNorm's weight and bias over c channels.
func norm(name string, c, group int) []nn.Param {
	return []nn.Param{
		{Name: name + ".weight", TorchShape: []int{c}, Layout: nn.Unchanged, Trainable: true, Group: group},
		{Name: name + ".bias", TorchShape: []int{c}, Layout: nn.Unchanged, Trainable: true, Group: group},
	}
}

// conv lists a Conv2d(bias=True)'s kernel and bias.
func conv(name string, in, out, k, groups, group int) []nn.Param {
	return []nn.Param{
		{Name: name + ".weight", TorchShape: []int{out, in / groups, k, k}, Layout: nn.ConvKernel, Trainable: true, Group: group},
		{Name: name + ".bias", TorchShape: []int{out}, Layout: nn.Unchanged, Trainable: true, Group: group},
	}
}

// Params lists the backbone's parameters in torchvision's state_dict order.
func (a Arch) Params() []nn.Param {
	ps := append(conv(stemConv, 3, a.dims[0], patch, 1, 0), norm(stemNorm, a.dims[0], 0)...)
	for s, c := range a.dims {
		group := s + 1
		if s > 0 {
			ps = append(ps, norm(downsampleName(s)+".0", a.dims[s-1], group)...)
			ps = append(ps, conv(downsampleName(s)+".1", a.dims[s-1], c, 2, 1, group)...)
		}
		for j := range a.depths[s] {
			name := blockName(s, j)
			ps = append(ps, nn.Param{Name: name + ".layer_scale", TorchShape: []int{c, 1, 1}, Layout: nn.Unchanged, Trainable: true, Group: group})
			ps = append(ps, conv(name+".block.0", c, c, kernel, c, group)...)
			ps = append(ps, norm(name+".block.2", c, group)...)
			ps = append(ps, nn.LinearParams(name+".block.3", c, 4*c, group)...)
			ps = append(ps, nn.LinearParams(name+".block.5", 4*c, c, group)...)
		}
	}
	return append(ps, norm(topNorm, a.dims[3], groupTop)...)
}
