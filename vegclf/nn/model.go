package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Backbone is an architecture's network up to the features its head reads: what each family (package
// resnet, mobilenet, ...) implements. Model adds the head, the compute dtype and what every architecture
// shares. The torchvision module the head replaces (ResNet's fc, MobileNetV3's last Linear) is not part of
// it: the layers before that module are.
type Backbone interface {
	// Name is the architecture's registry name: "resnet50", "mobilenet_v3_large".
	Name() string
	// Params lists the backbone's parameters in torchvision's state_dict order, each with its layer group.
	Params() []Param
	// Groups names the backbone's layer groups, from the input on: the units of discriminative learning
	// rates and gradual unfreezing (fastai's and timm's parameter groups). The head is one more group after
	// them.
	Groups() []string
	// FeatureDim is the width of the features the head reads.
	FeatureDim() int
	// HeadName is the state_dict name of the torchvision module the head replaces: "fc" for a ResNet,
	// "classifier.3" for a MobileNetV3.
	HeadName() string
	// Features computes the features [B, FeatureDim] (float32) of images [B, H, W, C] (C: 3, or the
	// model's InChannels) and, when
	// opts.Spatial, the spatial map [B, h, w, C] that Grad-CAM explains: a node the features are computed
	// from, so that their gradient reaches it.
	Features(store *model.Store, images *Node, opts Options) (features, spatial *Node)
	// FoldedFeatures computes, in inference mode, the features of images [B, C, H, W] in channels-first
	// layout (torch's and ONNX's), from the store's values read now and put in the graph as constants, each
	// batch norm folded into the convolution before it: the network as deployment runtimes expect it. It
	// never uses the batch size, so the batch axis may be dynamic.
	FoldedFeatures(store *model.Store, pixels *Node) *Node
	// InitParam returns the initial value of one of its parameters, torchvision's initialization drawn
	// from rng, in the model's layout.
	InitParam(p Param, rng *rand.Rand) *tensors.Tensor
}

// Head is the classifier on the backbone's features: Linear layers with ReLU between them. With no
// hidden layers it is torchvision's single Linear (ResNet's "fc"); with hidden layers it is the tutorial's
// nn.Sequential(Linear, ReLU, Linear, ...) in its place, whose state_dict names are fc.0, fc.2, ...
type Head struct {
	Hidden     []int
	NumClasses int
}

// ImageNetHead is torchvision's original classifier: one Linear to the 1000 ImageNet classes.
func ImageNetHead() Head { return Head{NumClasses: 1000} }

// TutorialHead is the tutorial's Linear(features, 128), ReLU, Linear(128, numClasses).
func TutorialHead(numClasses int) Head { return Head{Hidden: []int{128}, NumClasses: numClasses} }

// LinearNames returns the state_dict names of the head's Linear layers when it replaces the module
// called name: name itself for one layer; name.0, name.2, ... (Sequential indices: Linear at 0, 2, 4,
// ReLU between) for more.
func (h Head) LinearNames(name string) []string {
	if len(h.Hidden) == 0 {
		return []string{name}
	}
	names := make([]string, len(h.Hidden)+1)
	for i := range names {
		names[i] = fmt.Sprintf("%s.%d", name, 2*i)
	}
	return names
}

// String describes the head as PyTorch modules.
func (h Head) String() string {
	var parts []string
	prev := -1
	for i, n := range append(append([]int{}, h.Hidden...), h.NumClasses) {
		if i > 0 {
			parts = append(parts, "ReLU")
		}
		if prev < 0 {
			parts = append(parts, fmt.Sprintf("Linear(in,%d)", n))
		} else {
			parts = append(parts, fmt.Sprintf("Linear(%d,%d)", prev, n))
		}
		prev = n
	}
	return strings.Join(parts, "-")
}

// Model is a backbone with a head: the network vegclf trains, evaluates and exports.
type Model struct {
	Backbone Backbone
	Head     Head
	// Precision is the dtype of the backbone's convolutions and activations: float32 (the zero value)
	// or, for mixed precision, bfloat16 or float16. The variables stay float32 (master weights, cast per
	// use), batch norm normalizes in float32, and the features, the head and the loss are float32.
	Precision dtypes.DType
	// InChannels is the images' channels, 1 to 4 (grayscale, multi-band); 0 means 3, RGB. The stem
	// (StemName) takes them: its kernel's input axis is InChannels long. The backbones compute with the
	// channels their images have, so nothing else changes.
	InChannels int
}

// New returns the model of the backbone with the head.
func New(b Backbone, head Head) *Model {
	return &Model{Backbone: b, Head: head}
}

// Name is the architecture's registry name.
func (m *Model) Name() string { return m.Backbone.Name() }

// String describes the model, e.g. "resnet50 + Linear(in,128)-ReLU-Linear(128,15)".
func (m *Model) String() string {
	return fmt.Sprintf("%s + %s", m.Backbone.Name(), m.Head)
}

// ComputeDType returns the dtype the backbone computes in: Precision, or float32 when unset.
func (m *Model) ComputeDType() dtypes.DType {
	if m.Precision == dtypes.InvalidDType {
		return dtypes.Float32
	}
	return m.Precision
}

// FeatureDim is the width of the features the head reads.
func (m *Model) FeatureDim() int { return m.Backbone.FeatureDim() }

// Groups names the model's layer groups, from the input to the output: the backbone's, then "head".
func (m *Model) Groups() []string {
	return append(m.Backbone.Groups(), "head")
}

// HeadGroup is the head's layer group: the last.
func (m *Model) HeadGroup() int { return len(m.Backbone.Groups()) }

// headLinears returns the state_dict names of the head's Linear layers.
func (m *Model) headLinears() []string { return m.Head.LinearNames(m.Backbone.HeadName()) }

// Channels returns the images' channels: InChannels, or 3 when 0.
func (m *Model) Channels() int {
	if m.InChannels == 0 {
		return 3
	}
	return m.InChannels
}

// StemName returns the state_dict name of the backbone's stem, the convolution on the images: its first
// convolution kernel whose input axis is RGB's 3 (ResNet's conv1.weight, MobileNetV3's, EfficientNet's and
// ConvNeXt's features.0.0.weight, the ViT's conv_proj.weight); "" for a backbone without one.
func (m *Model) StemName() string {
	for _, p := range m.Backbone.Params() {
		if p.Layout == ConvKernel && len(p.TorchShape) == 4 && p.TorchShape[1] == 3 {
			return p.Name
		}
	}
	return ""
}

// Params lists the model's parameters in torchvision's state_dict order: the backbone's, then the head's.
// The stem's kernel takes the model's Channels.
func (m *Model) Params() []Param {
	ps := m.Backbone.Params()
	if c := m.Channels(); c != 3 {
		stem := m.StemName()
		for i, p := range ps {
			if p.Name == stem {
				p.TorchShape = []int{p.TorchShape[0], c, p.TorchShape[2], p.TorchShape[3]}
				ps[i] = p
			}
		}
	}
	in, group := m.FeatureDim(), m.HeadGroup()
	for i, name := range m.headLinears() {
		out := m.Head.NumClasses
		if i < len(m.Head.Hidden) {
			out = m.Head.Hidden[i]
		}
		ps = append(ps, LinearParams(name, in, out, group)...)
		in = out
	}
	return ps
}

// ImageSizeChecker is implemented by backbones that take only some image sizes: a Vision Transformer,
// multiples of its patch.
type ImageSizeChecker interface {
	// CheckImageSize returns why images of size x size pixels do not fit, nil when they do.
	CheckImageSize(size int) error
}

// CheckImageSize returns why the model cannot take images of size x size pixels (ImageSizeChecker), nil
// when it can: CNNs take any size.
func (m *Model) CheckImageSize(size int) error {
	if c, ok := m.Backbone.(ImageSizeChecker); ok {
		return c.CheckImageSize(size)
	}
	return nil
}

// IsHead reports whether p is one of the head's parameters.
func (m *Model) IsHead(p Param) bool { return p.Group == m.HeadGroup() }

// options returns opts with the model's compute dtype.
func (m *Model) options(opts Options) Options {
	opts.DType = m.ComputeDType()
	return opts
}

// Features computes the backbone's features [B, FeatureDim] (float32) of images [B, H, W, C], C the
// model's Channels.
func (m *Model) Features(store *model.Store, images *Node, opts Options) *Node {
	opts.Spatial = false
	features, _ := m.Backbone.Features(store, images, m.options(opts))
	return features
}

// FeaturesAndMap computes the backbone's features and its spatial map [B, h, w, C], the map Grad-CAM
// explains, in the model's compute dtype.
func (m *Model) FeaturesAndMap(store *model.Store, images *Node, opts Options) (features, spatial *Node) {
	opts.Spatial = true
	return m.Backbone.Features(store, images, m.options(opts))
}

// Classify applies the head to features [B, FeatureDim], returning logits [B, NumClasses].
func (m *Model) Classify(store *model.Store, features *Node) *Node {
	x := features
	names := m.headLinears()
	for i, name := range names {
		x = Linear(store, name, x)
		if i < len(names)-1 {
			x = ReLUMasked(x) // Keeps NaN, as torch does, so that a diverged head shows in the loss.
		}
	}
	return x
}

// Logits is Classify(Features(images)).
func (m *Model) Logits(store *model.Store, images *Node, opts Options) *Node {
	return m.Classify(store, m.Features(store, images, opts))
}

// FoldedLogits computes, in inference mode, the logits [B, NumClasses] of images [B, C, H, W] in channels-
// first layout from the store's values read now, as constants (Backbone.FoldedFeatures, then the head's
// products): the graph vegclf exports to ONNX. The model's float32 weights are used whatever its compute
// dtype. A missing or malformed variable panics, as graph building reports errors.
func (m *Model) FoldedLogits(store *model.Store, pixels *Node) *Node {
	g := pixels.Graph()
	x := m.Backbone.FoldedFeatures(store, pixels)
	names := m.headLinears()
	for i, name := range names {
		w := ConstValue(g, store, name+".weight")
		x = Add(MatMul(x, w), ConstValue(g, store, name+".bias", 1, w.Shape().Dimensions[1]))
		if i < len(names)-1 {
			x = Max(x, ScalarZero(g, x.DType()))
		}
	}
	return x
}

// initStream is the stream of Init's draws for a seed ("vegclf" in ASCII).
const initStream = 0x7665_6763_6c66

// Init creates the model's variables in store with torchvision's initialization, drawn from seed in the
// parameters' order: the backbone's (Backbone.InitParam), and the head's Linear layers uniform in
// ±1/sqrt(fan_in) for weights and biases (torch's nn.Linear). Only the parameters selected by include
// (nil: all) are initialized; existing variables are overwritten.
func (m *Model) Init(store *model.Store, seed uint64, include func(Param) bool) error {
	rng := rand.New(rand.NewPCG(seed, initStream))
	fanIn := map[string]int{}
	for _, p := range m.Params() {
		if p.Layout == LinearWeight {
			fanIn[strings.TrimSuffix(p.Name, ".weight")] = p.TorchShape[1]
		}
	}
	for _, p := range m.Params() {
		if include != nil && !include(p) {
			continue
		}
		var value *tensors.Tensor
		if m.IsHead(p) {
			bound := 1 / math.Sqrt(float64(fanIn[strings.TrimSuffix(strings.TrimSuffix(p.Name, ".weight"), ".bias")]))
			value = Fill(p.Shape().Dimensions, func() float32 { return float32((rng.Float64()*2 - 1) * bound) })
		} else {
			value = m.Backbone.InitParam(p, rng)
		}
		if err := SetVariable(store, p, value); err != nil {
			return err
		}
	}
	m.SetTrainable(store, TrainAll)
	return nil
}

// CheckStore verifies that every parameter of the model is in the store with its shape.
func (m *Model) CheckStore(store *model.Store) error {
	for _, p := range m.Params() {
		v := store.GetVariable(p.Path())
		if v == nil {
			return fmt.Errorf("model %s: variable %q is missing", m, p.Name)
		}
		if !v.Shape().Equal(p.Shape()) {
			return fmt.Errorf("model %s: variable %q has shape %s, want %s", m, p.Name, v.Shape(), p.Shape())
		}
	}
	return nil
}

// Training says which of a model's learnable parameters train; the others are frozen.
type Training int

const (
	TrainNothing Training = iota // Every parameter frozen: inference.
	TrainHead                    // The head trains on a frozen backbone.
	TrainAll                     // The backbone and the head train.
)

// SetTrainable marks the model's learnable parameters trainable or frozen as which says. Running
// statistics are never trainable.
func (m *Model) SetTrainable(store *model.Store, which Training) {
	for _, p := range m.Params() {
		if v := store.GetVariable(p.Path()); v != nil {
			trains := which == TrainAll || (which == TrainHead && m.IsHead(p))
			v.SetTrainable(p.Trainable && trains)
		}
	}
}
