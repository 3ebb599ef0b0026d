// Package resnet is torchvision's ResNet family (ResNet-18/34/50/101/152, v1.5: stride on the 3x3
// convolution) in GoMLX, numerically the same function as torchvision.models.resnetNN, as an nn.Backbone:
// the network up to the pooled features that torchvision's fc reads, which a head replaces.
package resnet

import (
	"fmt"

	"github.com/vegclf/vegclf/vegclf/nn"
)

// BlockKind is the residual block a ResNet is made of.
type BlockKind int

const (
	// Basic is two 3x3 convolutions (ResNet-18 and -34).
	Basic BlockKind = iota
	// Bottleneck is 1x1, 3x3 (strided), 1x1 with 4x expansion (ResNet-50 and deeper).
	Bottleneck
)

// Arch describes one member of the family; it is the family's nn.Backbone.
type Arch struct {
	Label  string // The registry name: "resnet50".
	Block  BlockKind
	Layers [4]int // Blocks in layer1..layer4.
}

// The torchvision architectures.
var (
	ResNet18  = Arch{Label: "resnet18", Block: Basic, Layers: [4]int{2, 2, 2, 2}}
	ResNet34  = Arch{Label: "resnet34", Block: Basic, Layers: [4]int{3, 4, 6, 3}}
	ResNet50  = Arch{Label: "resnet50", Block: Bottleneck, Layers: [4]int{3, 4, 6, 3}}
	ResNet101 = Arch{Label: "resnet101", Block: Bottleneck, Layers: [4]int{3, 4, 23, 3}}
	ResNet152 = Arch{Label: "resnet152", Block: Bottleneck, Layers: [4]int{3, 8, 36, 3}}
)

// New returns the model of the architecture with the head.
func New(a Arch, head nn.Head) *nn.Model { return nn.New(a, head) }

// Name returns the architecture's registry name.
func (a Arch) Name() string { return a.Label }

// String returns the architecture's name.
func (a Arch) String() string { return a.Label }

// expansion is the ratio of a block's output channels to its width.
func (a Arch) expansion() int {
	if a.Block == Bottleneck {
		return 4
	}
	return 1
}

// FeatureDim is the size of the pooled backbone features (512 or 2048).
func (a Arch) FeatureDim() int {
	return 512 * a.expansion()
}

// HeadName is "fc", the Linear a head replaces.
func (a Arch) HeadName() string { return "fc" }

// Layer groups, from the input on: the units that per-group learning rates and gradual unfreezing act on
// (fastai's and timm's parameter groups for ResNets).
const (
	groupStem = iota // conv1, bn1.
	groupLayer1
)

// Groups names the layer groups: stem, layer1, ..., layer4.
func (a Arch) Groups() []string {
	return []string{"stem", "layer1", "layer2", "layer3", "layer4"}
}

// block is one residual block of the backbone.
type block struct {
	name       string // "layer2.0"
	group      int    // Its layer group: groupLayer1 + the layer's index.
	width      int    // Channels of the block's inner convolutions.
	out        int    // Output channels.
	stride     int
	downsample bool // Whether the shortcut is a strided 1x1 conv + batch norm.
}

func (a Arch) blocks() []block {
	var bs []block
	in := 64
	for layer, n := range a.Layers {
		width := 64 << layer
		out := width * a.expansion()
		for i := 0; i < n; i++ {
			stride := 1
			if i == 0 && layer > 0 {
				stride = 2
			}
			bs = append(bs, block{
				name: fmt.Sprintf("layer%d.%d", layer+1, i), group: groupLayer1 + layer, width: width, out: out, stride: stride,
				downsample: i == 0 && (stride != 1 || in != out),
			})
			in = out
		}
	}
	return bs
}

// stem is conv1 and bn1, the 7x7 convolution of stride 2 on the images.
var stem = nn.ConvBN{Conv: "conv1", BN: nn.BatchNorm{Name: "bn1"}, Stride: 2, Pad: 3, Input: true}

// convs returns the block's convolutions with their batch norms, in order, with each one's input and
// output channels and kernel size, and its shortcut's (zero when it has none).
func (a Arch) convs(b block, in int) (convs []nn.ConvBN, dims [][3]int, shortcut nn.ConvBN) {
	conv := func(i, stride, pad int) nn.ConvBN {
		return nn.ConvBN{Conv: fmt.Sprintf("%s.conv%d", b.name, i), BN: nn.BatchNorm{Name: fmt.Sprintf("%s.bn%d", b.name, i)}, Stride: stride, Pad: pad}
	}
	switch a.Block {
	case Basic:
		convs = []nn.ConvBN{conv(1, b.stride, 1), conv(2, 1, 1)}
		dims = [][3]int{{in, b.width, 3}, {b.width, b.width, 3}}
	case Bottleneck:
		convs = []nn.ConvBN{conv(1, 1, 0), conv(2, b.stride, 1), conv(3, 1, 0)}
		dims = [][3]int{{in, b.width, 1}, {b.width, b.width, 3}, {b.width, b.out, 1}}
	}
	if b.downsample {
		shortcut = nn.ConvBN{Conv: b.name + ".downsample.0", BN: nn.BatchNorm{Name: b.name + ".downsample.1"}, Stride: b.stride}
	}
	return convs, dims, shortcut
}

// Params lists the backbone's parameters in torchvision's state_dict order.
func (a Arch) Params() []nn.Param {
	ps := stem.Params(3, 64, 7, groupStem)
	in := 64
	for _, b := range a.blocks() {
		convs, dims, shortcut := a.convs(b, in)
		for i, c := range convs {
			ps = append(ps, c.Params(dims[i][0], dims[i][1], dims[i][2], b.group)...)
		}
		if b.downsample {
			ps = append(ps, shortcut.Params(in, b.out, 1, b.group)...)
		}
		in = b.out
	}
	return ps
}
