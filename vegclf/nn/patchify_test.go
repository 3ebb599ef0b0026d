package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
)

// TestPatchifyAndDownsampleEqualConv2D checks the space-to-depth products of non-overlapping convolutions
// against Conv2D's gathered im2col patches in channels-last layout (the backend's convolution would give
// a wrong input gradient: see this file's subject): PatchifyCF on images (output and kernel gradient) and
// DownsampleCF on channels-first activations (output, input and kernel gradients), on sizes that are
// multiples of the stride and sizes that are not (whose last rows and columns the convolution drops).
func TestPatchifyAndDownsampleEqualConv2D(t *testing.T) {
	backend := testenv.Backend(t)
	rng := rand.New(rand.NewPCG(7, 8))
	compare := func(t *testing.T, what []string, want, got []*tensors.Tensor) {
		t.Helper()
		for i := range what {
			if !want[i].Shape().Equal(got[i].Shape()) {
				t.Fatalf("%s: shape %s, want %s", what[i], got[i].Shape(), want[i].Shape())
			}
			w, g := tensors.MustCopyFlatData[float32](want[i]), tensors.MustCopyFlatData[float32](got[i])
			for j := range w {
				if math.Abs(float64(g[j]-w[j])) > 1e-4*(1+math.Abs(float64(w[j]))) {
					t.Fatalf("%s[%d] = %g, want %g", what[i], j, g[j], w[j])
				}
			}
		}
	}
	weights := func(y *Node) *Node { return Sin(Iota(y.Graph(), y.Shape(), 3)) }
	for _, tc := range []struct{ b, h, w, cin, cout, k int }{{2, 16, 12, 3, 5, 4}, {1, 18, 13, 3, 4, 4}} {
		t.Run(fmt.Sprintf("patchify %dx%d/%d on %dx%d", tc.k, tc.k, tc.k, tc.h, tc.w), func(t *testing.T) {
			images, kernel := randomTensor(rng, tc.b, tc.h, tc.w, tc.cin), randomTensor(rng, tc.k, tc.k, tc.cin, tc.cout)
			run := func(conv func(x, kernel *Node) *Node) []*tensors.Tensor {
				return MustNewExec(backend, func(x, kernel *Node) []*Node {
					y := conv(x, kernel)
					return append([]*Node{y}, Gradient(ReduceAllSum(Mul(y, weights(y))), kernel)...)
				}).MustCall(images, kernel)
			}
			reference := func(x, kernel *Node) *Node {
				return ToChannelsFirst(Conv2D(x, kernel, tc.k, 0, ConvMatMul, KernelGrads))
			}
			compare(t, []string{"output", "kernel gradient"}, run(reference), run(PatchifyCF))
		})
	}
	for _, tc := range []struct{ c, b, h, w, cout, k int }{{4, 2, 8, 6, 6, 2}, {3, 2, 7, 5, 4, 2}, {3, 1, 4, 4, 5, 2}} {
		t.Run(fmt.Sprintf("downsample %dx%d/%d on %dx%d", tc.k, tc.k, tc.k, tc.h, tc.w), func(t *testing.T) {
			x, kernel := randomTensor(rng, tc.c, tc.b, tc.h, tc.w), randomTensor(rng, tc.k, tc.k, tc.c, tc.cout)
			run := func(conv func(x, kernel *Node) *Node) []*tensors.Tensor {
				return MustNewExec(backend, func(x, kernel *Node) []*Node {
					y := conv(x, kernel)
					return append([]*Node{y}, Gradient(ReduceAllSum(Mul(y, weights(y))), x, kernel)...)
				}).MustCall(x, kernel)
			}
			reference := func(x, kernel *Node) *Node {
				return ToChannelsFirst(Conv2D(TransposeAllAxes(x, 1, 2, 3, 0), kernel, tc.k, 0, ConvMatMul, AllGrads))
			}
			compare(t, []string{"output", "input gradient", "kernel gradient"}, run(reference), run(DownsampleCF))
		})
	}
}
