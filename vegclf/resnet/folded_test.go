package resnet_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
	. "github.com/vegclf/vegclf/vegclf/resnet"
)

// TestFoldedLogitsEqualLogits checks the export graph (channels first, batch norms folded into constant
// kernels and biases) against the model's own inference graph, for both block kinds, with batch norms whose
// statistics and affine parameters are far from their initial values (so that folding them matters).
func TestFoldedLogitsEqualLogits(t *testing.T) {
	backend := testenv.Backend(t)
	for _, arch := range []Arch{ResNet18, ResNet50} {
		t.Run(arch.Name(), func(t *testing.T) {
			m := New(arch, nn.TutorialHead(4))
			store := model.NewStore()
			if err := m.Init(store, 3, nil); err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(8, 9))
			for _, p := range m.Params() {
				var lo, hi float64
				switch {
				case strings.HasSuffix(p.Name, "running_var"), strings.Contains(p.Name, "bn") && strings.HasSuffix(p.Name, ".weight"),
					strings.Contains(p.Name, "downsample.1.weight"):
					lo, hi = 0.5, 1.5
				case strings.HasSuffix(p.Name, "running_mean"), strings.Contains(p.Name, "bn") && strings.HasSuffix(p.Name, ".bias"),
					strings.Contains(p.Name, "downsample.1.bias"):
					lo, hi = -0.3, 0.3
				default:
					continue
				}
				values := make([]float32, p.Shape().Size())
				for i := range values {
					values[i] = float32(lo + (hi-lo)*rng.Float64())
				}
				if err := store.GetVariable(p.Path()).SetValue(tensors.FromFlatDataAndDimensions(values, p.Shape().Dimensions...)); err != nil {
					t.Fatal(err)
				}
			}
			pixels := make([]float32, 3*3*40*40)
			for i := range pixels {
				pixels[i] = float32(rng.NormFloat64())
			}
			nchw := tensors.FromFlatDataAndDimensions(pixels, 3, 3, 40, 40)
			exec, err := model.NewExec(backend, store, func(scope *model.Scope, x *Node) []*Node {
				return []*Node{m.FoldedLogits(scope.Store(), x), m.Logits(scope.Store(), TransposeAllAxes(x, 0, 2, 3, 1), nn.Options{})}
			})
			if err != nil {
				t.Fatal(err)
			}
			out, err := exec.Exec(nchw)
			if err != nil {
				t.Fatal(err)
			}
			got, want := tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
			worst, largest := 0.0, 0.0
			for i := range want {
				worst = max(worst, math.Abs(float64(got[i]-want[i])))
				largest = max(largest, math.Abs(float64(want[i])))
			}
			t.Logf("logits differ by up to %.3g (largest %.3g)", worst, largest)
			if len(got) != 12 || worst > 1e-4*max(largest, 1) {
				t.Errorf("folded logits %v, the model's %v", got, want)
			}
		})
	}
}
