// Package efficientnet is torchvision's EfficientNet (B0 to B3) in GoMLX, numerically the same function as
// torchvision.models.efficientnet_b0 .. _b3, as an nn.Backbone: the network up to the features its last
// Linear (classifier.1) reads, which a head replaces. torchvision's dropout before that Linear stays in the
// backbone, on the features in training, and each residual MBConv block's stochastic depth too, both drawn
// from the options' random state.
//
// Like package mobilenet, its activations are channels first, [C, B, H, W], inside the network (package
// nn's channels-first layers): its pointwise convolutions are then products the Go backend runs, with their
// gradients, without transposing the activations, and its depthwise ones banded products (nn.DepthwiseCF).
package efficientnet

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/vegclf/vegclf/vegclf/nn"
)

// stage is one row of torchvision's _efficientnet_conf for EfficientNet-B0 (an MBConvConfig before the
// width and depth multipliers): expand ratio, kernel, the first block's stride, input and output channels,
// and the number of blocks.
type stage struct {
	expand, kernel, stride, in, out, layers int
}

// stages is EfficientNet-B0's table (the paper's Table 1, torchvision's bneck_conf rows).
var stages = []stage{
	{1, 3, 1, 32, 16, 1},
	{6, 3, 2, 16, 24, 2},
	{6, 5, 2, 24, 40, 2},
	{6, 3, 2, 40, 80, 3},
	{6, 5, 1, 80, 112, 3},
	{6, 5, 2, 112, 192, 4},
	{6, 3, 1, 192, 320, 1},
}

// stochasticDepth is torchvision's stochastic_depth_prob: the last block's drop probability approaches it.
const stochasticDepth = 0.2

// block is one MBConv block, features.(stage+1).index.
type block struct {
	stage, index                int
	in, expanded, out           int
	kernel, stride              int
	squeeze                     int     // The squeeze-excitation's width: a quarter of the block's input.
	dropProb                    float64 // Its stochastic depth's probability.
	group                       int     // Its layer group.
	expandConv, depthwise, proj nn.ConvBN
	se                          string // The squeeze-excitation's name.
}

// residual says whether the block adds its input to its output (through stochastic depth).
func (b block) residual() bool { return b.stride == 1 && b.in == b.out }

// Arch is one member of the family; it is the family's nn.Backbone.
type Arch struct {
	Label    string // The registry name: "efficientnet_b0".
	stem     int    // features.0's width.
	blocks   []block
	lastConv int     // features.8's width: the features the head reads.
	dropout  float64 // The probability of torchvision's Dropout before classifier.1.
}

// The torchvision architectures (efficientnet_b0 .. _b3: width and depth multipliers, dropout).
var (
	B0 = newArch("efficientnet_b0", 1.0, 1.0, 0.2)
	B1 = newArch("efficientnet_b1", 1.0, 1.1, 0.2)
	B2 = newArch("efficientnet_b2", 1.1, 1.2, 0.3)
	B3 = newArch("efficientnet_b3", 1.2, 1.4, 0.3)
)

// makeDivisible is torchvision's _make_divisible(v, 8): v rounded to a multiple of 8, at least 8, not
// below 90% of v.
func makeDivisible(v float64) int {
	n := max(8, int(v+4)/8*8)
	if float64(n) < 0.9*v {
		n += 8
	}
	return n
}

// conv returns a Conv2dNormActivation's convolution and batch norm under name (name.0, name.1), padded as
// torchvision pads it. EfficientNet-B0 to B3 use BatchNorm2d's defaults (eps 1e-5, momentum 0.1).
func conv(name string, kernel, stride, groups int) nn.ConvBN {
	return nn.ConvBN{Conv: name + ".0", BN: nn.BatchNorm{Name: name + ".1"}, Stride: stride, Pad: (kernel - 1) / 2, Groups: groups}
}

// newArch builds torchvision's EfficientNet (_efficientnet_conf and EfficientNet.__init__) with the
// width and depth multipliers: each stage's channels are scaled and made divisible by 8, its block count
// scaled and rounded up; the stochastic depth probability grows linearly with the block's index.
func newArch(label string, width, depth, dropout float64) Arch {
	a := Arch{Label: label, dropout: dropout, stem: makeDivisible(float64(stages[0].in) * width)}
	total := 0
	for _, s := range stages {
		total += int(math.Ceil(float64(s.layers) * depth))
	}
	id := 0
	scale := 2 // The stem's stride.
	for si, s := range stages {
		in, out := makeDivisible(float64(s.in)*width), makeDivisible(float64(s.out)*width)
		n := int(math.Ceil(float64(s.layers) * depth))
		for j := range n {
			b := block{stage: si, index: j, in: in, out: out, kernel: s.kernel, stride: s.stride,
				dropProb: stochasticDepth * float64(id) / float64(total)}
			if j > 0 {
				b.in, b.stride = out, 1
			}
			b.expanded = makeDivisible(float64(b.in) * float64(s.expand))
			b.squeeze = max(1, b.in/4)
			scale *= b.stride
			b.group = max(bits.Len(uint(scale))-2, 0) // 1/2: 0 (stem), 1/4: 1, ..., 1/32: 4.
			prefix := fmt.Sprintf("features.%d.%d.block", si+1, j)
			k := 0
			next := func() string { k++; return fmt.Sprintf("%s.%d", prefix, k-1) }
			if b.expanded != b.in {
				b.expandConv = conv(next(), 1, 1, 1)
			}
			b.depthwise = conv(next(), b.kernel, b.stride, b.expanded)
			b.se = next()
			b.proj = conv(next(), 1, 1, 1)
			a.blocks = append(a.blocks, b)
			id++
		}
	}
	a.lastConv = 4 * a.blocks[len(a.blocks)-1].out
	return a
}

// New returns the model of the architecture with the head.
func New(a Arch, head nn.Head) *nn.Model { return nn.New(a, head) }

// Name returns the architecture's registry name.
func (a Arch) Name() string { return a.Label }

// String returns the architecture's name.
func (a Arch) String() string { return a.Label }

// FeatureDim is the last convolution's width: 1280 (B0, B1), 1408 (B2), 1536 (B3).
func (a Arch) FeatureDim() int { return a.lastConv }

// HeadName is "classifier.1", the Linear a head replaces.
func (a Arch) HeadName() string { return "classifier.1" }

// Dropout is the probability of torchvision's dropout on the features in training: 0.2 (B0, B1) or 0.3
// (B2, B3).
func (a Arch) Dropout() float64 { return a.dropout }

// Groups names the layer groups: the stem (features.0 and the blocks at half resolution), the four stages
// by resolution (1/4 to 1/32), and the top: the last convolution.
func (a Arch) Groups() []string {
	return []string{"stem", "stage1", "stage2", "stage3", "stage4", "top"}
}

const groupTop = 5

// stemConv is features.0: a 3x3 convolution of stride 2, on the images.
func stemConv() nn.ConvBN {
	c := conv("features.0", 3, 2, 1)
	c.Input = true
	return c
}

// last is the last convolution, features.8 (1x1, to four times the last block's width).
func (a Arch) last() nn.ConvBN { return conv(fmt.Sprintf("features.%d", len(stages)+1), 1, 1, 1) }

// Params lists the backbone's parameters in torchvision's state_dict order.
func (a Arch) Params() []nn.Param {
	ps := stemConv().Params(3, a.stem, 3, 0)
	for _, b := range a.blocks {
		if b.expanded != b.in {
			ps = append(ps, b.expandConv.Params(b.in, b.expanded, 1, b.group)...)
		}
		ps = append(ps, b.depthwise.Params(b.expanded, b.expanded, b.kernel, b.group)...)
		ps = append(ps,
			nn.Param{Name: b.se + ".fc1.weight", TorchShape: []int{b.squeeze, b.expanded, 1, 1}, Layout: nn.ConvKernel, Trainable: true, Group: b.group},
			nn.Param{Name: b.se + ".fc1.bias", TorchShape: []int{b.squeeze}, Layout: nn.Unchanged, Trainable: true, Group: b.group},
			nn.Param{Name: b.se + ".fc2.weight", TorchShape: []int{b.expanded, b.squeeze, 1, 1}, Layout: nn.ConvKernel, Trainable: true, Group: b.group},
			nn.Param{Name: b.se + ".fc2.bias", TorchShape: []int{b.expanded}, Layout: nn.Unchanged, Trainable: true, Group: b.group},
		)
		ps = append(ps, b.proj.Params(b.expanded, b.out, 1, b.group)...)
	}
	return append(ps, a.last().Params(a.blocks[len(a.blocks)-1].out, a.lastConv, 1, groupTop)...)
}
