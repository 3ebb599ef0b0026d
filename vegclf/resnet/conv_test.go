package resnet

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vegclf/vegclf/vegclf/internal/testenv"

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

// TestConvMatMulEqualsNative checks the im2col/matmul convolution against the backend's Convolve, for
// the outputs and for the gradients with respect to the input and the kernel.
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
			run := func(impl ConvImpl) []*tensors.Tensor {
				exec := MustNewExec(backend, func(x, kernel *Node) []*Node {
					y := Conv2D(x, kernel, tc.stride, tc.pad, impl)
					// A weighted sum makes the gradient depend on every output position.
					weights := Sin(Iota(x.Graph(), y.Shape(), 3))
					loss := ReduceAllSum(Mul(y, weights))
					grads := Gradient(loss, x, kernel)
					return []*Node{y, grads[0], grads[1]}
				})
				return exec.MustExec(x, kernel)
			}
			native, matmul := run(ConvNative), run(ConvMatMul)
			for i, name := range []string{"output", "input gradient", "kernel gradient"} {
				a, b := tensors.MustCopyFlatData[float32](native[i]), tensors.MustCopyFlatData[float32](matmul[i])
				if !native[i].Shape().Equal(matmul[i].Shape()) {
					t.Fatalf("%s shapes differ: %s vs %s", name, native[i].Shape(), matmul[i].Shape())
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
