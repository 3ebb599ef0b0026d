package resnet

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vegclf/vegclf/vegclf/internal/testenv"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

func randomTensor(rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

// TestConvMatMulEqualsNative checks the im2col/matmul convolution, with its patches kept for the
// backward pass and rebuilt there, against the backend's Convolve, for the outputs and for the gradients
// with respect to the input and the kernel.
func TestConvMatMulEqualsNative(t *testing.T) {
	backend := testenv.Backend(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name               string
		h, w, cin, cout, k int
		stride, pad        int
	}{
		{"stem 7x7/2", 20, 18, 3, 8, 7, 2, 3},
		{"3x3/1", 9, 9, 5, 6, 3, 1, 1},
		{"3x3/2 odd size", 9, 7, 4, 3, 3, 2, 1},
		{"1x1/1", 6, 6, 8, 4, 1, 1, 0},
		{"1x1/2 downsample", 7, 7, 8, 4, 1, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := randomTensor(rng, 2, tc.h, tc.w, tc.cin)
			kernel := randomTensor(rng, tc.k, tc.k, tc.cin, tc.cout)
			run := func(impl ConvImpl, recompute bool) []*tensors.Tensor {
				exec := MustNewExec(backend, func(x, kernel *Node) []*Node {
					y := conv2D(x, kernel, tc.stride, tc.pad, impl, recompute)
					// A weighted sum makes the gradient depend on every output position.
					weights := Sin(Iota(x.Graph(), y.Shape(), 3))
					loss := ReduceAllSum(Mul(y, weights))
					grads := Gradient(loss, x, kernel)
					return []*Node{y, grads[0], grads[1]}
				})
				return exec.MustCall(x, kernel)
			}
			native := run(ConvNative, false)
			for _, recompute := range []bool{false, true} {
				matmul := run(ConvMatMul, recompute)
				for i, name := range []string{"output", "input gradient", "kernel gradient"} {
					a, b := tensors.MustCopyFlatData[float32](native[i]), tensors.MustCopyFlatData[float32](matmul[i])
					if !native[i].Shape().Equal(matmul[i].Shape()) {
						t.Fatalf("%s shapes differ: %s vs %s", name, native[i].Shape(), matmul[i].Shape())
					}
					for j := range a {
						if math.Abs(float64(a[j]-b[j])) > 1e-4*(1+math.Abs(float64(a[j]))) {
							t.Fatalf("recompute=%v: %s[%d]: native %v, matmul %v", recompute, name, j, a[j], b[j])
						}
					}
				}
			}
		})
	}
}

// TestReLU checks both ReLUs' values and gradients against torch.relu's: 0 below and at 0, x above; the
// gradient is 1 above 0 and 0 below, and at exactly 0 it is torch's 0 for the masked ReLU (used when
// training, and in the head) and GoMLX Max's 1 for the other (the backbone without a backward pass). The
// masked ReLU keeps NaN, as torch does; the other, on the Go backend from compute v0.1.14, keeps it in whole
// 16-wide vectors but maps it to 0 in a tensor's last partial one (here all four values), which the
// backbone's activations (multiples of 16 channels) never have.
func TestReLU(t *testing.T) {
	backend := testenv.Backend(t)
	nan := float32(math.NaN())
	input := []float32{-2, 0, 3, nan}
	for _, tc := range []struct {
		name     string
		relu     func(*Node) *Node
		wantGrad []float32
		keepsNaN bool
	}{
		{"relu", relu, []float32{0, 1, 1}, false},
		{"reluMasked", reluMasked, []float32{0, 0, 1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exec := MustNewExec(backend, func(x *Node) []*Node {
				y := tc.relu(x)
				return []*Node{y, Gradient(ReduceAllSum(Mul(y, Const(x.Graph(), []float32{1, 1, 1, 0}))), x)[0]}
			})
			out := exec.MustCall(tensors.FromValue(input))
			y, grad := tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
			if y[0] != 0 || y[1] != 0 || y[2] != 3 {
				t.Errorf("relu(%v) = %v, want [0 0 3 ...]", input, y)
			}
			if tc.keepsNaN && !math.IsNaN(float64(y[3])) {
				t.Errorf("relu(NaN) = %v, want NaN", y[3])
			}
			for i, want := range tc.wantGrad {
				if grad[i] != want {
					t.Errorf("gradient at %v = %v, want %v", input[i], grad[i], want)
				}
			}
		})
	}
}

// TestHeadKeepsNaN: a NaN in the head's first layer must reach the logits (and so the loss, which stops a
// run), as in torch; a ReLU that dropped it would hide a diverged head behind finite logits. The hidden
// layer's 10 values are a partial vector, where the Go backend's Max drops NaN.
func TestHeadKeepsNaN(t *testing.T) {
	m := New(ResNet18, Head{Hidden: []int{10}, NumClasses: 3})
	store := model.NewStore()
	if err := m.Init(store, 1, nil); err != nil {
		t.Fatal(err)
	}
	w1 := store.GetVariable(VariablePath(m.Head.linearNames()[0] + ".weight"))
	value := tensors.MustCopyFlatData[float32](w1.MustValue())
	value[0] = float32(math.NaN())
	if err := w1.SetValue(tensors.FromFlatDataAndDimensions(value, w1.Shape().Dimensions...)); err != nil {
		t.Fatal(err)
	}
	exec, err := model.NewExec(testenv.Backend(t), store, func(scope *model.Scope, features *Node) *Node {
		return m.Classify(scope.Store(), features)
	})
	if err != nil {
		t.Fatal(err)
	}
	features := make([]float32, m.Arch.FeatureDim())
	for i := range features {
		features[i] = 1
	}
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(features, 1, m.Arch.FeatureDim()))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range tensors.MustCopyFlatData[float32](out[0]) {
		if !math.IsNaN(float64(v)) {
			t.Fatalf("logit %d = %v with a NaN first-layer weight, want NaN", i, v)
		}
	}
}

// TestConvResolve: ConvAuto takes XLA's native convolution and the matrix-multiplication form on the Go
// backend; an explicit choice stays.
func TestConvResolve(t *testing.T) {
	goBackend := testenv.Backend(t)
	for _, tc := range []struct {
		impl ConvImpl
		b    compute.Backend
		want ConvImpl
	}{
		{ConvAuto, goBackend, ConvMatMul},
		{ConvAuto, testenv.XLANamed{}, ConvNative},
		{ConvNative, goBackend, ConvNative},
		{ConvMatMul, testenv.XLANamed{}, ConvMatMul},
	} {
		if got := tc.impl.resolve(tc.b); got != tc.want {
			t.Errorf("%d.resolve(%s) = %d, want %d", tc.impl, tc.b.Name(), got, tc.want)
		}
	}
}
