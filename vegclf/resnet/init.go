package resnet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// initStream is the stream of Init's draws for a seed ("vegclf" in ASCII).
const initStream = 0x7665_6763_6c66

// Init creates the model's variables in store with torchvision's initialization, drawn from seed:
// convolutions Kaiming-normal (fan_out, ReLU gain), batch norm weight 1 and bias 0 with zero mean and unit
// variance statistics, Linear layers uniform in ±1/sqrt(fan_in) for weights and biases.
// Only the parameters selected by include (nil: all) are initialized; existing variables are overwritten.
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
		shape := p.Shape()
		var value *tensors.Tensor
		switch {
		case p.Layout == Counter:
			value = tensors.FromScalar(int64(0))
		case p.Layout == ConvKernel:
			fanOut := p.TorchShape[0] * p.TorchShape[2] * p.TorchShape[3]
			std := math.Sqrt(2 / float64(fanOut))
			value = fill(shape.Dimensions, func() float32 { return float32(rng.NormFloat64() * std) })
		case p.Layout == LinearWeight:
			bound := 1 / math.Sqrt(float64(p.TorchShape[1]))
			value = fill(shape.Dimensions, func() float32 { return float32((rng.Float64()*2 - 1) * bound) })
		case strings.HasSuffix(p.Name, ".running_var"), isBatchNormWeight(p):
			value = fill(shape.Dimensions, func() float32 { return 1 })
		case p.Layout == Vector && !p.Backbone: // A Linear bias.
			bound := 1 / math.Sqrt(float64(fanIn[strings.TrimSuffix(p.Name, ".bias")]))
			value = fill(shape.Dimensions, func() float32 { return float32((rng.Float64()*2 - 1) * bound) })
		default: // Batch-norm bias and running mean.
			value = fill(shape.Dimensions, func() float32 { return 0 })
		}
		if err := SetVariable(store, p, value); err != nil {
			return err
		}
	}
	m.SetTrainable(store, true, true)
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

func fill(dims []int, f func() float32) *tensors.Tensor {
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

// isBatchNormWeight reports whether p is a batch norm's weight (gamma): a backbone vector named *.weight.
func isBatchNormWeight(p Param) bool {
	return p.Layout == Vector && p.Backbone && strings.HasSuffix(p.Name, ".weight")
}
