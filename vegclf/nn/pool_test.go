package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
)

// TestMaxPool checks MaxPool3x3Stride2 against a direct computation of torch's MaxPool2d(3, 2, 1) on
// inputs full of ties (values 0, 1, 2, as after a ReLU), on odd and even sizes: the maximum of each window
// with both kinds of window taps, and, with the differentiable ones, a gradient that goes to the first
// maximum of each window in raster order, as torch's does.
func TestMaxPool(t *testing.T) {
	backend := testenv.Backend(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, dims := range [][4]int{{2, 8, 8, 3}, {1, 7, 9, 2}, {1, 1, 2, 1}, {2, 10, 5, 3}} {
		b, h, w, c := dims[0], dims[1], dims[2], dims[3]
		x := make([]float32, b*h*w*c)
		for i := range x {
			x[i] = float32(rng.IntN(3))
		}
		outH, outW := (h-1)/2+1, (w-1)/2+1
		weights := make([]float32, b*outH*outW*c)
		for i := range weights {
			weights[i] = float32(i%5) + 1
		}
		cropped := MustNewExec(backend, func(x *Node) *Node { return MaxPool3x3Stride2(x, false) })
		exec := MustNewExec(backend, func(x, weights *Node) []*Node {
			y := MaxPool3x3Stride2(x, true)
			return []*Node{y, Gradient(ReduceAllSum(Mul(y, weights)), x)[0]}
		})
		out := exec.MustCall(tensors.FromFlatDataAndDimensions(x, b, h, w, c), tensors.FromFlatDataAndDimensions(weights, b, outH, outW, c))
		got, grad := tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
		if fromCrops := tensors.MustCopyFlatData[float32](cropped.MustCall(tensors.FromFlatDataAndDimensions(x, b, h, w, c))[0]); !slices.Equal(fromCrops, got) {
			t.Fatalf("%v: the pool of cropped taps gives %v, of sliced taps %v", dims, fromCrops, got)
		}
		wantGrad := make([]float32, len(x))
		at := func(n, y, x, k int) int { return ((n*h+y)*w+x)*c + k }
		for n := 0; n < b; n++ {
			for oy := 0; oy < outH; oy++ {
				for ox := 0; ox < outW; ox++ {
					for k := 0; k < c; k++ {
						best, bestAt := float32(math.Inf(-1)), -1
						for dy := -1; dy <= 1; dy++ {
							for dx := -1; dx <= 1; dx++ {
								y, xx := 2*oy+dy, 2*ox+dx
								if y >= 0 && y < h && xx >= 0 && xx < w && x[at(n, y, xx, k)] > best {
									best, bestAt = x[at(n, y, xx, k)], at(n, y, xx, k)
								}
							}
						}
						o := ((n*outH+oy)*outW+ox)*c + k
						if got[o] != best {
							t.Fatalf("%v: output (%d,%d,%d,%d) = %g, want %g", dims, n, oy, ox, k, got[o], best)
						}
						wantGrad[bestAt] += weights[o]
					}
				}
			}
		}
		for i := range wantGrad {
			if grad[i] != wantGrad[i] {
				t.Fatalf("%v: gradient[%d] = %g, want %g", dims, i, grad[i], wantGrad[i])
			}
		}
	}
}
