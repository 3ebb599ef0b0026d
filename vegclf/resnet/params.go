package resnet

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

// Layout says how a parameter is stored in torch and in the model.
type Layout int

const (
	// ConvKernel is torch [out, in, kh, kw], stored [kh, kw, in, out].
	ConvKernel Layout = iota
	// LinearWeight is torch [out, in], stored [in, out].
	LinearWeight
	// Vector is a 1-D tensor, the same in both (biases, batch-norm parameters and statistics).
	Vector
	// Counter is batch norm's num_batches_tracked, an int64 scalar.
	Counter
)

// Param is one tensor of the model's state_dict.
type Param struct {
	Name       string // torchvision's state_dict key, e.g. "layer1.0.conv1.weight".
	TorchShape []int  // Its shape in torch.
	Layout     Layout
	Trainable  bool // False for batch-norm running statistics and counters.
	Backbone   bool // False for the head's parameters.
}

// Path is the parameter's variable path in a model.Store.
func (p Param) Path() string {
	return VariablePath(p.Name)
}

// VariablePath converts a state_dict key to a model.Store variable path.
func VariablePath(name string) string {
	return "/" + strings.ReplaceAll(name, ".", "/")
}

// Shape is the parameter's shape in the model.
func (p Param) Shape() shapes.Shape {
	s := p.TorchShape
	switch p.Layout {
	case ConvKernel:
		return shapes.Make(dtypes.Float32, s[2], s[3], s[1], s[0])
	case LinearWeight:
		return shapes.Make(dtypes.Float32, s[1], s[0])
	case Counter:
		return shapes.Make(dtypes.Int64)
	}
	return shapes.Make(dtypes.Float32, s...)
}

// Model is a ResNet architecture with a head.
type Model struct {
	Arch Arch
	Head Head
	// Precision is the dtype of the backbone's convolutions and activations: float32 (the zero value)
	// or, for mixed precision, bfloat16 or float16. The variables stay float32 (master weights, cast per
	// use), batch norm normalizes in float32, and the pooled features, the head and the loss are float32.
	Precision dtypes.DType
}

// ComputeDType returns the dtype the backbone computes in: Precision, or float32 when unset.
func (m *Model) ComputeDType() dtypes.DType {
	if m.Precision == dtypes.InvalidDType {
		return dtypes.Float32
	}
	return m.Precision
}

// ParsePrecision returns the compute dtype named float32 (or fp32, or empty), bfloat16 (bf16) or
// float16 (fp16).
func ParsePrecision(name string) (dtypes.DType, error) {
	switch strings.ToLower(name) {
	case "", "float32", "fp32", "f32":
		return dtypes.Float32, nil
	case "bfloat16", "bf16":
		return dtypes.BFloat16, nil
	case "float16", "fp16", "f16", "half":
		return dtypes.Float16, nil
	}
	return dtypes.InvalidDType, fmt.Errorf("precision %q: want float32, bfloat16 or float16", name)
}

// Precision is the backbone's compute dtype as a configuration holds it: float32 (the zero value),
// bfloat16 or float16, written and parsed as those names (flags, JSON).
type Precision dtypes.DType

// DType returns the compute dtype: float32 for the zero value.
func (p Precision) DType() dtypes.DType {
	if dtypes.DType(p) == dtypes.InvalidDType {
		return dtypes.Float32
	}
	return dtypes.DType(p)
}

// String returns the dtype's name: "float32", "bfloat16", "float16".
func (p Precision) String() string { return strings.ToLower(p.DType().String()) }

// MarshalText writes the precision's name.
func (p Precision) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText sets the precision named by text (ParsePrecision).
func (p *Precision) UnmarshalText(text []byte) error {
	dtype, err := ParsePrecision(string(text))
	if err != nil {
		return err
	}
	*p = Precision(dtype)
	if dtype == dtypes.Float32 {
		*p = 0 // The zero value, so that float32 written out and read back equals the default.
	}
	return nil
}

// New returns the model of the given architecture and head.
func New(arch Arch, head Head) *Model {
	return &Model{Arch: arch, Head: head}
}

// String describes the model, e.g. "resnet50 + Linear(in,128)-ReLU-Linear(128,15)".
func (m *Model) String() string {
	return fmt.Sprintf("%s + %s", m.Arch.Name, m.Head)
}

// Params lists the model's parameters in torchvision's state_dict order.
func (m *Model) Params() []Param {
	var ps []Param
	conv := func(name string, in, out, k int) {
		ps = append(ps, Param{Name: name + ".weight", TorchShape: []int{out, in, k, k}, Layout: ConvKernel, Trainable: true, Backbone: true})
	}
	bn := func(name string, c int) {
		ps = append(ps,
			Param{Name: name + ".weight", TorchShape: []int{c}, Layout: Vector, Trainable: true, Backbone: true},
			Param{Name: name + ".bias", TorchShape: []int{c}, Layout: Vector, Trainable: true, Backbone: true},
			Param{Name: name + ".running_mean", TorchShape: []int{c}, Layout: Vector, Backbone: true},
			Param{Name: name + ".running_var", TorchShape: []int{c}, Layout: Vector, Backbone: true},
			Param{Name: name + ".num_batches_tracked", TorchShape: []int{}, Layout: Counter, Backbone: true},
		)
	}
	conv("conv1", 3, 64, 7)
	bn("bn1", 64)
	in := 64
	for _, b := range m.blocks() {
		switch m.Arch.Block {
		case Basic:
			conv(b.name+".conv1", in, b.width, 3)
			bn(b.name+".bn1", b.width)
			conv(b.name+".conv2", b.width, b.width, 3)
			bn(b.name+".bn2", b.width)
		case Bottleneck:
			conv(b.name+".conv1", in, b.width, 1)
			bn(b.name+".bn1", b.width)
			conv(b.name+".conv2", b.width, b.width, 3)
			bn(b.name+".bn2", b.width)
			conv(b.name+".conv3", b.width, b.out, 1)
			bn(b.name+".bn3", b.out)
		}
		if b.downsample {
			conv(b.name+".downsample.0", in, b.out, 1)
			bn(b.name+".downsample.1", b.out)
		}
		in = b.out
	}
	for i, name := range m.Head.linearNames() {
		out := m.Head.NumClasses
		if i < len(m.Head.Hidden) {
			out = m.Head.Hidden[i]
		}
		ps = append(ps,
			Param{Name: name + ".weight", TorchShape: []int{out, in}, Layout: LinearWeight, Trainable: true},
			Param{Name: name + ".bias", TorchShape: []int{out}, Layout: Vector, Trainable: true},
		)
		in = out
	}
	return ps
}

// block is one residual block of the backbone.
type block struct {
	name       string // "layer2.0"
	width      int    // Channels of the block's inner convolutions.
	out        int    // Output channels.
	stride     int
	downsample bool // Whether the shortcut is a strided 1x1 conv + batch norm.
}

func (m *Model) blocks() []block {
	var bs []block
	in := 64
	for layer, n := range m.Arch.Layers {
		width := 64 << layer
		out := width * m.Arch.expansion()
		for i := 0; i < n; i++ {
			stride := 1
			if i == 0 && layer > 0 {
				stride = 2
			}
			bs = append(bs, block{
				name: fmt.Sprintf("layer%d.%d", layer+1, i), width: width, out: out, stride: stride,
				downsample: i == 0 && (stride != 1 || in != out),
			})
			in = out
		}
	}
	return bs
}

// Layer groups, from the input to the output: the units that per-group learning rates and gradual
// unfreezing act on (fastai's and timm's parameter groups for ResNets).
const (
	GroupStem = iota // conv1, bn1.
	GroupLayer1
	GroupLayer2
	GroupLayer3
	GroupLayer4
	GroupHead // fc.
	NumGroups
)

// GroupNames names the layer groups.
var GroupNames = [NumGroups]string{"stem", "layer1", "layer2", "layer3", "layer4", "head"}

// Group returns the layer group of the parameter.
func (p Param) Group() int {
	for g := GroupLayer1; g <= GroupLayer4; g++ {
		if strings.HasPrefix(p.Name, GroupNames[g]+".") {
			return g
		}
	}
	if !p.Backbone {
		return GroupHead
	}
	return GroupStem
}
