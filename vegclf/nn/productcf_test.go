package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
)

// TestProductLayerNormGELU checks the channels-first product and LayerNorm, whose gradients are given
// in closed form, and GELU (the backend's fused activation), against autodiff of plain operations: outputs
// and the gradients of their inputs, with GoMLX's fusion on (the forward graph runs, the stand-in is
// differentiated) and off (the stand-in is computed).
func TestProductLayerNormGELU(t *testing.T) {
	backend := testenv.Backend(t)
	rng := rand.New(rand.NewPCG(9, 10))
	x, w := randomTensor(rng, 6, 2, 3, 5), randomTensor(rng, 6, 4)
	gProduct, gNorm := randomTensor(rng, 4, 2, 3, 5), randomTensor(rng, 6, 2, 3, 5)
	weight, bias := randomTensor(rng, 6), randomTensor(rng, 6)
	plainNorm := func(x, weight, bias *Node) *Node {
		mean := ReduceAndKeep(x, ReduceMean, 0)
		centered := Sub(x, mean)
		variance := ReduceAndKeep(Square(centered), ReduceMean, 0)
		y := Div(centered, Sqrt(AddScalar(variance, 1e-6)))
		return Add(Mul(y, Reshape(weight, 6, 1, 1, 1)), Reshape(bias, 6, 1, 1, 1))
	}
	run := func(product func(x, w *Node) *Node, norm func(x, weight, bias *Node) *Node, gelu func(x *Node) *Node) []*tensors.Tensor {
		return MustNewExec(backend, func(in []*Node) []*Node {
			x, w, weight, bias, gProduct, gNorm := in[0], in[1], in[2], in[3], in[4], in[5]
			p := product(x, w)
			n := norm(x, weight, bias)
			a := gelu(p)
			loss := Add(Add(ReduceAllSum(Mul(p, gProduct)), ReduceAllSum(Mul(n, gNorm))), ReduceAllSum(Mul(a, gProduct)))
			return append([]*Node{p, n, a}, Gradient(loss, x, w, weight, bias)...)
		}).MustCall(x, w, weight, bias, gProduct, gNorm)
	}
	want := run(func(x, w *Node) *Node { return Einsum("io,ibhw->obhw", w, x) }, plainNorm, PortableGELU)
	for _, fusion := range []string{"1", "0"} {
		t.Run("fusion="+fusion, func(t *testing.T) {
			t.Setenv("GOMLX_FUSION", fusion)
			got := run(ProductCF, func(x, weight, bias *Node) *Node { return LayerNormCF(x, weight, bias, 1e-6) }, GELU)
			for i, what := range []string{"product", "norm", "gelu", "x gradient", "w gradient", "weight gradient", "bias gradient"} {
				g, w := tensors.MustCopyFlatData[float32](got[i]), tensors.MustCopyFlatData[float32](want[i])
				if !got[i].Shape().Equal(want[i].Shape()) {
					t.Fatalf("%s: shape %s, want %s", what, got[i].Shape(), want[i].Shape())
				}
				for j := range w {
					if math.Abs(float64(g[j]-w[j])) > 1e-4*(1+math.Abs(float64(w[j]))) {
						t.Fatalf("%s[%d] = %g, want %g", what, j, g[j], w[j])
					}
				}
			}
		})
	}
}
