package backend

import (
	"fmt"
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// Check runs a matrix product and a 3x3 convolution, the operations a ResNet spends its time in, on b
// and compares them with the same sums computed in Go: it tells that a backend not only starts but
// computes (a GPU plugin that loads can still fail at its first compilation). The bound, 1e-2 relative,
// admits TF32.
func Check(b compute.Backend) error {
	if err := check(b); err != nil {
		return fmt.Errorf("checking backend %s: %w", b.Name(), err)
	}
	return nil
}

func check(b compute.Backend) error {
	const n, c, o = 16, 8, 2 // Matrices n x n; an n x n image with c channels; o output channels.
	values := func(size, period int) []float32 {
		v := make([]float32, size)
		for i := range v {
			v[i] = float32(i%period) - float32(period/2)
		}
		return v
	}
	a, img, kernel := values(n*n, 7), values(n*n*c, 5), values(3*3*c*o, 3)
	out, err := graph.CallOnceN(b, func(a, img, kernel *graph.Node) []*graph.Node {
		return []*graph.Node{graph.MatMul(a, a), graph.Convolve(img, kernel).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()}
	}, tensors.FromFlatDataAndDimensions(a, n, n), tensors.FromFlatDataAndDimensions(img, 1, n, n, c),
		tensors.FromFlatDataAndDimensions(kernel, 3, 3, c, o))
	if err != nil {
		return err
	}
	product := tensors.MustCopyFlatData[float32](out[0])
	for i := range n {
		for j := range n {
			var want float64
			for k := range n {
				want += float64(a[i*n+k]) * float64(a[k*n+j])
			}
			if err := near("matrix product", product[i*n+j], want); err != nil {
				return err
			}
		}
	}
	pixel := func(y, x, ch int) float64 { // Zero outside the image: the padding.
		if y < 0 || y >= n || x < 0 || x >= n {
			return 0
		}
		return float64(img[(y*n+x)*c+ch])
	}
	conv := tensors.MustCopyFlatData[float32](out[1])
	for y := range n {
		for x := range n {
			for oc := range o {
				var want float64
				for dy := range 3 {
					for dx := range 3 {
						for ch := range c {
							want += pixel(y+dy-1, x+dx-1, ch) * float64(kernel[((dy*3+dx)*c+ch)*o+oc])
						}
					}
				}
				if err := near("convolution", conv[(y*n+x)*o+oc], want); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// near checks got against want within 1e-2 relative (1e-2 absolute near zero).
func near(op string, got float32, want float64) error {
	if math.Abs(float64(got)-want) > 1e-2*max(1, math.Abs(want)) {
		return fmt.Errorf("%s gives %g where %g is right", op, got, want)
	}
	return nil
}
