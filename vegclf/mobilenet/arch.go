// Package mobilenet is torchvision's MobileNetV3 (Large and Small) in GoMLX, numerically the same
// function as torchvision.models.mobilenet_v3_large and _small, as an nn.Backbone: the network up to the
// features its last Linear (classifier.3) reads, which a head replaces. The pretrained classifier.0
// (Linear to 1280 or 1024 features) and its hardswish stay in the backbone, with torchvision's dropout
// after them in training.
//
// Its activations are channels first, [C, B, H, W], inside the network (package nn's channels-first
// layers): its pointwise convolutions are then products the Go backend runs, with their gradients, without
// transposing the activations, and its depthwise ones banded products (nn.DepthwiseCF).
package mobilenet

import (
	"fmt"
	"math/bits"

	"github.com/vegclf/vegclf/vegclf/nn"
)

// block is one inverted residual block (torchvision's InvertedResidualConfig at width 1).
type block struct {
	in, kernel, expanded, out int
	se                        bool // Squeeze-excitation after the depthwise convolution.
	hardswish                 bool // Hardswish activations, else ReLU.
	stride                    int
}

// Arch is one member of the family; it is the family's nn.Backbone.
type Arch struct {
	Label       string // The registry name: "mobilenet_v3_large".
	blocks      []block
	lastChannel int // classifier.0's width: the features the head reads.
}

// The torchvision architectures (_mobilenet_v3_conf, width 1, no reduced tail, no dilation).
var (
	Large = Arch{Label: "mobilenet_v3_large", lastChannel: 1280, blocks: []block{
		{16, 3, 16, 16, false, false, 1},
		{16, 3, 64, 24, false, false, 2},
		{24, 3, 72, 24, false, false, 1},
		{24, 5, 72, 40, true, false, 2},
		{40, 5, 120, 40, true, false, 1},
		{40, 5, 120, 40, true, false, 1},
		{40, 3, 240, 80, false, true, 2},
		{80, 3, 200, 80, false, true, 1},
		{80, 3, 184, 80, false, true, 1},
		{80, 3, 184, 80, false, true, 1},
		{80, 3, 480, 112, true, true, 1},
		{112, 3, 672, 112, true, true, 1},
		{112, 5, 672, 160, true, true, 2},
		{160, 5, 960, 160, true, true, 1},
		{160, 5, 960, 160, true, true, 1},
	}}
	Small = Arch{Label: "mobilenet_v3_small", lastChannel: 1024, blocks: []block{
		{16, 3, 16, 16, true, false, 2},
		{16, 3, 72, 24, false, false, 2},
		{24, 3, 88, 24, false, false, 1},
		{24, 5, 96, 40, true, true, 2},
		{40, 5, 240, 40, true, true, 1},
		{40, 5, 240, 40, true, true, 1},
		{40, 5, 120, 48, true, true, 1},
		{48, 5, 144, 48, true, true, 1},
		{48, 5, 288, 96, true, true, 2},
		{96, 5, 576, 96, true, true, 1},
		{96, 5, 576, 96, true, true, 1},
	}}
)

// Batch norm as torchvision's MobileNetV3 makes it: BatchNorm2d(eps=0.001, momentum=0.01).
const (
	bnEps      = 1e-3
	bnMomentum = 0.01
)

// dropout is the probability of torchvision's Dropout before classifier.3.
const dropout = 0.2

// New returns the model of the architecture with the head.
func New(a Arch, head nn.Head) *nn.Model { return nn.New(a, head) }

// Name returns the architecture's registry name.
func (a Arch) Name() string { return a.Label }

// String returns the architecture's name.
func (a Arch) String() string { return a.Label }

// FeatureDim is classifier.0's width: 1280 (Large) or 1024 (Small).
func (a Arch) FeatureDim() int { return a.lastChannel }

// HeadName is "classifier.3", the Linear a head replaces.
func (a Arch) HeadName() string { return "classifier.3" }

// lastConv is the width of the last convolution, six times the last block's output.
func (a Arch) lastConv() int { return 6 * a.blocks[len(a.blocks)-1].out }

// Groups names the layer groups: the stem (features.0 and the blocks at half resolution), the four
// stages by resolution (1/4 to 1/32), and the top: the last convolution and classifier.0.
func (a Arch) Groups() []string {
	return []string{"stem", "stage1", "stage2", "stage3", "stage4", "top"}
}

const groupTop = 5

// makeDivisible is torchvision's _make_divisible(v, 8): v rounded to a multiple of 8, at least 8, not
// below 90% of v.
func makeDivisible(v int) int {
	n := max(8, (v+4)/8*8)
	if float64(n) < 0.9*float64(v) {
		n += 8
	}
	return n
}

// conv returns a Conv2dNormActivation's convolution and batch norm under name (name.0, name.1), padded
// as torchvision pads it.
func conv(name string, kernel, stride, groups int) nn.ConvBN {
	return nn.ConvBN{Conv: name + ".0", BN: nn.BatchNorm{Name: name + ".1", Eps: bnEps, Momentum: bnMomentum},
		Stride: stride, Pad: (kernel - 1) / 2, Groups: groups}
}

// layers is one block's layers, by their state_dict names.
type layers struct {
	expand, depthwise, project nn.ConvBN // expand is zero when the block has none.
	se                         string    // The squeeze-excitation's name; "" for none.
	squeeze                    int       // Its squeezed width.
}

// stem is features.0: a 3x3 convolution of stride 2 to 16 channels, on the images.
func stem() nn.ConvBN {
	c := conv("features.0", 3, 2, 1)
	c.Input = true
	return c
}

// layersOf returns block i's layers, features.(i+1).block.*.
func layersOf(i int, b block) layers {
	prefix := fmt.Sprintf("features.%d.block", i+1)
	var l layers
	n := 0
	next := func() string { n++; return fmt.Sprintf("%s.%d", prefix, n-1) }
	if b.expanded != b.in {
		l.expand = conv(next(), 1, 1, 1)
	}
	l.depthwise = conv(next(), b.kernel, b.stride, b.expanded)
	if b.se {
		l.se, l.squeeze = next(), makeDivisible(b.expanded/4)
	}
	l.project = conv(next(), 1, 1, 1)
	return l
}

// last is the last convolution, features.(blocks+1).
func (a Arch) last() nn.ConvBN { return conv(fmt.Sprintf("features.%d", len(a.blocks)+1), 1, 1, 1) }

// groups returns each block's layer group: by its output's resolution, the stem's while it is 1/2.
func (a Arch) groups() []int {
	out := make([]int, len(a.blocks))
	stride := 2 // The stem's.
	for i, b := range a.blocks {
		stride *= b.stride
		out[i] = max(bits.Len(uint(stride))-2, 0) // 1/2: 0 (stem), 1/4: 1, ..., 1/32: 4.
	}
	return out
}

// Params lists the backbone's parameters in torchvision's state_dict order.
func (a Arch) Params() []nn.Param {
	ps := stem().Params(3, a.blocks[0].in, 3, 0)
	for i, b := range a.blocks {
		group := a.groups()[i]
		l := layersOf(i, b)
		if b.expanded != b.in {
			ps = append(ps, l.expand.Params(b.in, b.expanded, 1, group)...)
		}
		ps = append(ps, l.depthwise.Params(b.expanded, b.expanded, b.kernel, group)...)
		if b.se {
			ps = append(ps,
				nn.Param{Name: l.se + ".fc1.weight", TorchShape: []int{l.squeeze, b.expanded, 1, 1}, Layout: nn.ConvKernel, Trainable: true, Group: group},
				nn.Param{Name: l.se + ".fc1.bias", TorchShape: []int{l.squeeze}, Layout: nn.Unchanged, Trainable: true, Group: group},
				nn.Param{Name: l.se + ".fc2.weight", TorchShape: []int{b.expanded, l.squeeze, 1, 1}, Layout: nn.ConvKernel, Trainable: true, Group: group},
				nn.Param{Name: l.se + ".fc2.bias", TorchShape: []int{b.expanded}, Layout: nn.Unchanged, Trainable: true, Group: group},
			)
		}
		ps = append(ps, l.project.Params(b.expanded, b.out, 1, group)...)
	}
	ps = append(ps, a.last().Params(a.blocks[len(a.blocks)-1].out, a.lastConv(), 1, groupTop)...)
	return append(ps, nn.LinearParams("classifier.0", a.lastConv(), a.lastChannel, groupTop)...)
}
