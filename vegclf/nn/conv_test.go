package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vegclf/vegclf/vegclf/internal/testenv"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
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

// TestConvMatMulEqualsNative checks the im2col/matmul convolution, built for each set of gradients
// (ConvGrads), against the backend's Convolve: the output, the kernel's gradient, and the input's where
// the convolution is built for it; and the same with GoMLX's fused ops turned off (GOMLX_FUSION=0),
// where trainingProduct's decomposed graph computes the output; and the input's gradient taken alone,
// without the kernel's (a frozen layer above a trained one).
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
		{"1x1/1 widening", 6, 5, 4, 8, 1, 1, 0},
		{"1x1/2 downsample", 7, 7, 8, 4, 1, 2, 0},
	} {
		x := randomTensor(rng, 2, tc.h, tc.w, tc.cin)
		kernel := randomTensor(rng, tc.k, tc.k, tc.cin, tc.cout)
		// run returns the output and the gradients wrt: the kernel's, the input's, or both (kernel first).
		run := func(impl ConvImpl, grads ConvGrads, wrt string) []*tensors.Tensor {
			return MustNewExec(backend, func(x, kernel *Node) []*Node {
				y := Conv2D(x, kernel, tc.stride, tc.pad, impl, grads)
				// A weighted sum makes the gradient depend on every output position.
				loss := ReduceAllSum(Mul(y, Sin(Iota(x.Graph(), y.Shape(), 3))))
				nodes := map[string][]*Node{"kernel": {kernel}, "input": {x}, "both": {kernel, x}}[wrt]
				return append([]*Node{y}, Gradient(loss, nodes...)...)
			}).MustCall(x, kernel)
		}
		native := run(ConvNative, NoGrads, "both")
		for _, c := range []struct {
			grads  ConvGrads
			wrt    string
			fusion bool
		}{
			{NoGrads, "kernel", true}, {KernelGrads, "kernel", true}, {AllGrads, "both", true}, {AllGrads, "input", true},
			{KernelGrads, "kernel", false}, {AllGrads, "both", false}, {AllGrads, "input", false},
		} {
			t.Run(fmt.Sprintf("%s/grads=%d/wrt=%s/fusion=%v", tc.name, c.grads, c.wrt, c.fusion), func(t *testing.T) {
				if !c.fusion {
					t.Setenv("GOMLX_FUSION", "0")
				}
				matmul := run(ConvMatMul, c.grads, c.wrt)
				want := map[string][]int{"kernel": {0, 1}, "input": {0, 2}, "both": {0, 1, 2}}[c.wrt]
				for i, n := range want {
					name := []string{"output", "kernel gradient", "input gradient"}[n]
					a, b := tensors.MustCopyFlatData[float32](native[n]), tensors.MustCopyFlatData[float32](matmul[i])
					if !native[n].Shape().Equal(matmul[i].Shape()) {
						t.Fatalf("%s shapes differ: %s vs %s", name, native[n].Shape(), matmul[i].Shape())
					}
					for j := range a {
						if math.Abs(float64(a[j]-b[j])) > 1e-4*(1+math.Abs(float64(a[j]))) {
							t.Fatalf("%s[%d]: native %v, matmul %v", name, j, a[j], b[j])
						}
					}
				}
			})
		}
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
		{"ReLU", ReLU, []float32{0, 1, 1}, false},
		{"ReLUMasked", ReLUMasked, []float32{0, 0, 1}, true},
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

// BenchmarkTrainingConv times ResNet-50's convolution shapes at 224x224, batch 16, as inference builds
// them ("forward") and as fine-tuning does ("train": the forward pass, and the gradients of the kernel and,
// but for the stem, of the input). A training step's arithmetic is three products where the forward's is
// one, so train/forward near 3 means the backward pass moves little data.
//
//	GOTOOLCHAIN=go1.27.3 GOEXPERIMENT=simd go test -run '^$' -bench TrainingConv -benchtime 5x ./vegclf/nn
func BenchmarkTrainingConv(b *testing.B) {
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
		{"layer2 3x3/2 128-128 56", 56, 128, 128, 3, 2},
		{"layer2 1x1/2 256-512 56", 56, 256, 512, 1, 2},
		{"layer3 3x3 256-256 14", 14, 256, 256, 3, 1},
		{"layer3 1x1 1024-256 14", 14, 1024, 256, 1, 1},
		{"layer4 1x1 512-2048 7", 7, 512, 2048, 1, 1},
	} {
		x := randomTensor(rng, batch, shape.size, shape.size, shape.cin)
		kernel := randomTensor(rng, shape.k, shape.k, shape.cin, shape.cout)
		for _, train := range []bool{false, true} {
			name := shape.name + "/forward"
			if train {
				name = shape.name + "/train"
			}
			b.Run(name, func(b *testing.B) {
				exec := MustNewExec(backend, func(x, kernel *Node) []*Node {
					if !train {
						return []*Node{Conv2D(x, kernel, shape.str, shape.k/2, ConvMatMul, NoGrads)}
					}
					if shape.cin == 3 {
						y := Conv2D(x, kernel, shape.str, shape.k/2, ConvMatMul, KernelGrads)
						return Gradient(ReduceAllSum(Mul(y, y)), kernel)
					}
					y := Conv2D(x, kernel, shape.str, shape.k/2, ConvMatMul, AllGrads)
					return Gradient(ReduceAllSum(Mul(y, y)), x, kernel)
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
