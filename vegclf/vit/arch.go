// Package vit is torchvision's Vision Transformer (ViT-B/16 and ViT-B/32) in GoMLX, numerically the same
// function as torchvision.models.vit_b_16 and vit_b_32, as an nn.Backbone: the network up to the class
// token's final representation, which its heads.head reads and the tutorial's head replaces.
//
// The position embeddings are kept at the native size's length (224x224 images: 197 tokens for B/16, 50
// for B/32), as torchvision's checkpoints hold them, whatever the image size a model runs at: at another
// size they are interpolated in the graph as torchvision's interpolate_embeddings does (bicubic, corners
// aligned), by one constant matrix, so a 224 checkpoint fine-tunes and predicts at 160 and its exports stay
// torchvision's 224 state_dict.
package vit

import (
	"fmt"

	"github.com/vegclf/vegclf/vegclf/nn"
)

// Arch is one member of the family; it is the family's nn.Backbone.
type Arch struct {
	Label     string // The registry name: "vit_b_16".
	Patch     int    // Patch size: 16 or 32.
	Layers    int    // Encoder blocks.
	Heads     int    // Attention heads.
	Hidden    int    // Token width.
	MLP       int    // The blocks' MLP width.
	ImageSize int    // The size its position embeddings are for.
}

// The torchvision architectures.
var (
	B16 = Arch{Label: "vit_b_16", Patch: 16, Layers: 12, Heads: 12, Hidden: 768, MLP: 3072, ImageSize: 224}
	B32 = Arch{Label: "vit_b_32", Patch: 32, Layers: 12, Heads: 12, Hidden: 768, MLP: 3072, ImageSize: 224}
)

// layerNormEps is torchvision's ViT LayerNorm epsilon.
const layerNormEps = 1e-6

// New returns the model of the architecture with the head.
func New(a Arch, head nn.Head) *nn.Model { return nn.New(a, head) }

// Name returns the architecture's registry name.
func (a Arch) Name() string { return a.Label }

// String returns the architecture's name.
func (a Arch) String() string { return a.Label }

// FeatureDim is the token width: the class token's final representation is the features.
func (a Arch) FeatureDim() int { return a.Hidden }

// HeadName is "heads.head", the Linear a head replaces.
func (a Arch) HeadName() string { return "heads.head" }

// tokens returns the sequence length at the native image size: the patches and the class token.
func (a Arch) tokens() int {
	n := a.ImageSize / a.Patch
	return n*n + 1
}

// Groups names the layer groups: the embedding (patches, class token, position embeddings), each encoder
// block, and the final LayerNorm.
func (a Arch) Groups() []string {
	groups := []string{"embedding"}
	for i := range a.Layers {
		groups = append(groups, fmt.Sprintf("block%d", i))
	}
	return append(groups, "norm")
}

// block returns encoder block i's state_dict prefix.
func block(i int) string { return fmt.Sprintf("encoder.layers.encoder_layer_%d", i) }

// Params lists the backbone's parameters in torchvision's state_dict order.
func (a Arch) Params() []nn.Param {
	d := a.Hidden
	vector := func(name string, group int, shape ...int) nn.Param {
		return nn.Param{Name: name, TorchShape: shape, Layout: nn.Unchanged, Trainable: true, Group: group}
	}
	ps := []nn.Param{
		vector("class_token", 0, 1, 1, d),
		{Name: "conv_proj.weight", TorchShape: []int{d, 3, a.Patch, a.Patch}, Layout: nn.ConvKernel, Trainable: true, Group: 0},
		vector("conv_proj.bias", 0, d),
		vector("encoder.pos_embedding", 0, 1, a.tokens(), d),
	}
	for i := range a.Layers {
		p, g := block(i), i+1
		ps = append(ps, vector(p+".ln_1.weight", g, d), vector(p+".ln_1.bias", g, d))
		ps = append(ps, nn.Param{Name: p + ".self_attention.in_proj_weight", TorchShape: []int{3 * d, d}, Layout: nn.LinearWeight, Trainable: true, Group: g},
			vector(p+".self_attention.in_proj_bias", g, 3*d))
		ps = append(ps, nn.LinearParams(p+".self_attention.out_proj", d, d, g)...)
		ps = append(ps, vector(p+".ln_2.weight", g, d), vector(p+".ln_2.bias", g, d))
		ps = append(ps, nn.LinearParams(p+".mlp.0", d, a.MLP, g)...)
		ps = append(ps, nn.LinearParams(p+".mlp.3", a.MLP, d, g)...)
	}
	return append(ps, vector("encoder.ln.weight", a.Layers+1, d), vector("encoder.ln.bias", a.Layers+1, d))
}
