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
// backward pass or rebuilt there, and its product laid out either way, against the backend's Convolve,
// for the outputs and for the gradients with respect to the input and the kernel.
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
		{"3x3/2 even size", 8, 10, 4, 3, 3, 2, 1},
		{"3x3/3", 10, 9, 2, 3, 3, 3, 1},
		{"1x1/1", 6, 6, 8, 4, 1, 1, 0},
		{"1x1/2 downsample", 7, 7, 8, 4, 1, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := randomTensor(rng, 2, tc.h, tc.w, tc.cin)
			kernel := randomTensor(rng, tc.k, tc.k, tc.cin, tc.cout)
			run := func(conv func(x, kernel *Node) *Node) []*tensors.Tensor {
				exec := MustNewExec(backend, func(x, kernel *Node) []*Node {
					y := conv(x, kernel)
					// A weighted sum makes the gradient depend on every output position.
					weights := Sin(Iota(x.Graph(), y.Shape(), 3))
					loss := ReduceAllSum(Mul(y, weights))
					grads := Gradient(loss, x, kernel)
					return []*Node{y, grads[0], grads[1]}
				})
				return exec.MustCall(x, kernel)
			}
			native := run(func(x, kernel *Node) *Node { return conv2D(x, kernel, tc.stride, tc.pad, ConvNative, false) })
			// Without a backward pass through the patches (cropped window taps), the output and the kernel's
			// gradient.
			crops := MustNewExec(backend, func(x, kernel *Node) []*Node {
				y := matMulConv(x, kernel, tc.stride, tc.pad, false, false, false)
				return []*Node{y, Gradient(ReduceAllSum(Mul(y, Sin(Iota(x.Graph(), y.Shape(), 3)))), kernel)[0]}
			}).MustCall(x, kernel)
			for i, j := range []int{0, 2} {
				a, b := tensors.MustCopyFlatData[float32](native[j]), tensors.MustCopyFlatData[float32](crops[i])
				for k := range a {
					if math.Abs(float64(a[k]-b[k])) > 1e-4*(1+math.Abs(float64(a[k]))) {
						t.Fatalf("cropped taps: output %d [%d]: native %v, matmul %v", j, k, a[k], b[k])
					}
				}
			}
			for _, layout := range []struct{ recompute, swapped bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
				matmul := run(func(x, kernel *Node) *Node {
					return matMulConv(x, kernel, tc.stride, tc.pad, layout.recompute, layout.swapped, true)
				})
				for i, name := range []string{"output", "input gradient", "kernel gradient"} {
					a, b := tensors.MustCopyFlatData[float32](native[i]), tensors.MustCopyFlatData[float32](matmul[i])
					if !native[i].Shape().Equal(matmul[i].Shape()) {
						t.Fatalf("%+v: %s shapes differ: %s vs %s", layout, name, native[i].Shape(), matmul[i].Shape())
					}
					for j := range a {
						if math.Abs(float64(a[j]-b[j])) > 1e-4*(1+math.Abs(float64(a[j]))) {
							t.Fatalf("%+v: %s[%d]: native %v, matmul %v", layout, name, j, a[j], b[j])
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

// BenchmarkConvLayouts times the forward and backward pass (gradients of the input and the kernel) of
// ResNet-50's convolution shapes at 224x224, batch 16, with the product laid out both ways (see
// matMulConv): "rows" computes out = P . W, "swapped" out^T = W^T . P^T. kxk convolutions rebuild their
// patches in the backward pass, as fine-tuning does. swappedProduct picks the faster layout per shape.
//
//	GOTOOLCHAIN=go1.27.3 GOEXPERIMENT=simd go test -run '^$' -bench ConvLayouts -benchtime 5x ./vegclf/resnet
func BenchmarkConvLayouts(b *testing.B) {
	backend := testenv.Backend(b)
	rng := rand.New(rand.NewPCG(3, 4))
	const batch = 16
	for _, shape := range []struct {
		name                    string
		size, cin, cout, k, str int
	}{
		{"stem 7x7/2 3-64 224", 224, 3, 64, 7, 2},
		{"layer1 3x3 64-64 56", 56, 64, 64, 3, 1},
		{"layer1 1x1 64-256 56", 56, 64, 256, 1, 1},
		{"layer1 1x1 256-64 56", 56, 256, 64, 1, 1},
		{"layer2 1x1/2 256-512 56", 56, 256, 512, 1, 2},
		{"layer3 3x3 256-256 14", 14, 256, 256, 3, 1},
		{"layer3 1x1 1024-256 14", 14, 1024, 256, 1, 1},
		{"layer4 1x1 512-2048 7", 7, 512, 2048, 1, 1},
	} {
		x := randomTensor(rng, batch, shape.size, shape.size, shape.cin)
		kernel := randomTensor(rng, shape.k, shape.k, shape.cin, shape.cout)
		for _, swapped := range []bool{false, true} {
			name := shape.name + "/rows"
			if swapped {
				name = shape.name + "/swapped"
			}
			b.Run(name, func(b *testing.B) {
				exec := MustNewExec(backend, func(x, kernel *Node) []*Node {
					y := matMulConv(x, kernel, shape.str, shape.k/2, shape.k > 1, swapped, true)
					grads := Gradient(ReduceAllSum(Mul(y, y)), x, kernel)
					return []*Node{grads[0], grads[1]}
				})
				for _, t := range exec.MustCall(x, kernel) { // Compiles outside the timing.
					t.FinalizeAll()
				}
				b.ResetTimer()
				for b.Loop() {
					for _, t := range exec.MustCall(x, kernel) {
						t.FinalizeAll()
					}
				}
			})
		}
	}
}
