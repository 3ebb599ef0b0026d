package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
)

// Layout says how a parameter is stored in torch and in the model.
type Layout int

const (
	// ConvKernel is torch [out, in/groups, kh, kw], stored [kh, kw, in/groups, out].
	ConvKernel Layout = iota
	// LinearWeight is torch [out, in], stored [in, out].
	LinearWeight
	// Unchanged is the same in both: biases, normalization parameters and statistics, embeddings.
	Unchanged
	// Counter is batch norm's num_batches_tracked, an int64 scalar.
	Counter
)

// Param is one tensor of the model's state_dict.
type Param struct {
	Name       string // torchvision's state_dict key, e.g. "layer1.0.conv1.weight".
	TorchShape []int  // Its shape in torch.
	Layout     Layout
	Trainable  bool // False for batch-norm running statistics and counters.
	Group      int  // Its layer group (Model.Groups).
}

// Path is the parameter's variable path in a model.Store.
func (p Param) Path() string {
	return VariablePath(p.Name)
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

// SetVariable sets (creating it if needed) the store variable of parameter p to value, which must have
// the parameter's model shape.
func SetVariable(store *model.Store, p Param, value *tensors.Tensor) error {
	if !value.Shape().Equal(p.Shape()) {
		return fmt.Errorf("parameter %q: value shape %s, want %s", p.Name, value.Shape(), p.Shape())
	}
	if v := store.GetVariable(p.Path()); v != nil {
		if err := v.SetValue(value); err != nil {
			return fmt.Errorf("setting %q: %w", p.Name, err)
		}
		v.SetTrainable(p.Trainable)
		return nil
	}
	v, err := store.CreateVariable(p.Path(), value)
	if err != nil {
		return fmt.Errorf("creating %q: %w", p.Name, err)
	}
	v.SetTrainable(p.Trainable)
	return nil
}

// Fill returns a float32 tensor of the given dimensions with values drawn from f, in row-major order.
func Fill(dims []int, f func() float32) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = f()
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

// HostValue returns the store's float32 variable for a state_dict key, read now, with its dimensions; it
// panics (inside graph building, where GoMLX reports panics as errors) when the variable is missing, cannot
// be read or is not float32.
func HostValue(store *model.Store, name string) ([]float32, []int) {
	v := store.GetVariable(VariablePath(name))
	if v == nil {
		exceptions.Panicf("the model has no variable %s", name)
	}
	t, err := v.Value()
	if err != nil {
		exceptions.Panicf("reading %s: %v", name, err)
	}
	if t.DType() != dtypes.Float32 {
		exceptions.Panicf("%s is %s, want float32", name, t.DType())
	}
	return tensors.MustCopyFlatData[float32](t), t.Shape().Dimensions
}

// ConstValue is the store's float32 variable for a state_dict key as a constant of g (HostValue), with
// the given dimensions (its own when none are given), reshaped on the host: graphs exported to ONNX hold
// no Reshape of their constants.
func ConstValue(g *Graph, store *model.Store, name string, dims ...int) *Node {
	values, own := HostValue(store, name)
	if len(dims) == 0 {
		dims = own
	}
	return Const(g, tensors.FromFlatDataAndDimensions(values, dims...))
}

// KaimingNormalFanOut returns a convolution kernel drawn from torch's kaiming_normal_(mode="fan_out",
// nonlinearity="relu"), as torchvision initializes its CNNs: normal with standard deviation
// sqrt(2 / (out * kh * kw)), drawn in the model's layout order.
func KaimingNormalFanOut(p Param, rng *rand.Rand) *tensors.Tensor {
	fanOut := p.TorchShape[0] * p.TorchShape[2] * p.TorchShape[3]
	std := math.Sqrt(2 / float64(fanOut))
	return Fill(p.Shape().Dimensions, func() float32 { return float32(rng.NormFloat64() * std) })
}
