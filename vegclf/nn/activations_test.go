package nn

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
)

// TestSiLU checks SiLU, its portable form and the gradient of SiLU against torch's formulas in float64:
// x * sigmoid(x), and sigmoid(x) * (1 + x * (1 - sigmoid(x))), over the range activations take.
func TestSiLU(t *testing.T) {
	xs := make([]float32, 4001)
	for i := range xs {
		xs[i] = float32(i-2000) / 100 // -20 to 20.
	}
	exec := MustNewExec(testenv.Backend(t), func(x *Node) []*Node {
		y := SiLU(x)
		return []*Node{y, PortableSiLU(x), Gradient(ReduceAllSum(y), x)[0]}
	})
	out := exec.MustCall(tensors.FromFlatDataAndDimensions(xs, len(xs)))
	y, portable, grad := tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1]), tensors.MustCopyFlatData[float32](out[2])
	for i, x32 := range xs {
		x := float64(x32)
		s := 1 / (1 + math.Exp(-x))
		want, wantGrad := x*s, s*(1+x*(1-s))
		bound := 2e-6 * max(1, math.Abs(want))
		if math.Abs(float64(y[i])-want) > bound || math.Abs(float64(portable[i])-want) > bound || math.Abs(float64(grad[i])-wantGrad) > 2e-6 {
			t.Fatalf("x = %g: SiLU %g, portable %g, gradient %g; want %g and %g", x, y[i], portable[i], grad[i], want, wantGrad)
		}
	}
}

// TestStochasticDepth: in training with a random state, torchvision's stochastic_depth(x, p, "row"): each
// sample (here on axis 1, channels first) is zeroed whole with probability p, else scaled by 1/(1-p), and
// its gradient is the same mask; two states draw two masks, the same state the same; without a state, in
// inference or with p = 0 it is the identity.
func TestStochasticDepth(t *testing.T) {
	const c, b, h, w, p = 3, 2000, 2, 2, 0.25
	ones := make([]float32, c*b*h*w)
	for i := range ones {
		ones[i] = 1
	}
	state := func(seed int64) *tensors.Tensor {
		s, err := RNGStateFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	exec := MustNewExec(testenv.Backend(t), func(x, state1, state2 *Node) []*Node {
		train := Options{Train: true, RNG: state1}
		first := StochasticDepth(x, p, 1, &train)
		again := StochasticDepth(x, p, 1, &Options{Train: true, RNG: state1})
		second := StochasticDepth(x, p, 1, &Options{Train: true, RNG: state2})
		advanced := StochasticDepth(x, p, 1, &train) // From the state the first draw left.
		identity := Add(Add(StochasticDepth(x, p, 1, &Options{Train: true}), StochasticDepth(x, p, 1, &Options{RNG: state1})),
			StochasticDepth(x, 0, 1, &Options{Train: true, RNG: state1}))
		return []*Node{first, again, second, advanced, identity, Gradient(ReduceAllSum(first), x)[0]}
	})
	out := exec.MustCall(tensors.FromFlatDataAndDimensions(ones, c, b, h, w), state(1), state(2))
	var values [6][]float32
	for i := range values {
		values[i] = tensors.MustCopyFlatData[float32](out[i])
	}
	first, again, second, advanced, identity, grad := values[0], values[1], values[2], values[3], values[4], values[5]
	dropped, differ, differAdvanced := 0, 0, 0
	for n := range b {
		v := first[n*h*w]
		for ch := range c {
			for k := range h * w {
				i := (ch*b+n)*h*w + k
				if first[i] != v || grad[i] != v {
					t.Fatalf("sample %d: values %g and %g (gradient %g) within it", n, v, first[i], grad[i])
				}
			}
		}
		switch {
		case v == 0:
			dropped++
		case math.Abs(float64(v)-1/(1-p)) > 1e-6:
			t.Fatalf("sample %d kept as %g, want %g", n, v, 1/(1-p))
		}
		if second[n*h*w] != v {
			differ++
		}
		if advanced[n*h*w] != v {
			differAdvanced++
		}
	}
	for i := range ones {
		if again[i] != first[i] {
			t.Fatal("the same state drew two masks")
		}
		if identity[i] != 3 {
			t.Fatalf("without a random state, in inference or at p = 0: %g at %d, want the input", identity[i]/3, i)
		}
	}
	if frac := float64(dropped) / b; frac < 0.22 || frac > 0.28 || differ == 0 || differAdvanced == 0 {
		t.Errorf("dropped %.3f of the samples (want about %g); other states' masks differ in %d and %d", frac, p, differ, differAdvanced)
	}
}
