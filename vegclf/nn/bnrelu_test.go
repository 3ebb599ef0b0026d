package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
)

// bnStore returns a store holding batch norm bn's variables over c channels, its weight and bias random.
func bnStore(t testing.TB, bn BatchNorm, c int, rng *rand.Rand) *model.Store {
	store := model.NewStore()
	for _, p := range bn.Params(c, 0) {
		value, _ := InitBatchNorm(p)
		if p.Trainable {
			value = randomTensor(rng, c)
		}
		if err := SetVariable(store, p, value); err != nil {
			t.Fatal(err)
		}
	}
	return store
}

// bnReLUGraph returns relu(bn(x) + residual) (without the ReLU if !relu) with its gradients wrt x, the
// weight, the bias and the residual, for a loss that weighs every output differently; parts 0 takes
// autodiff's of Train, Add and ReLUMasked, otherwise trainParts on x and the residual split into that many
// parts on the batch axis.
func bnReLUGraph(bn BatchNorm, parts int, withResidual, relu bool) func(scope *model.Scope, x, residual, weights *Node) []*Node {
	return func(scope *model.Scope, x, residual, weights *Node) []*Node {
		store := scope.Store()
		if !withResidual {
			residual = nil
		}
		var out *Node
		if parts > 0 {
			size := x.Shape().Dimensions[0] / parts
			split := func(v *Node) []*Node {
				if v == nil {
					return nil
				}
				vs := make([]*Node, parts)
				for i := range vs {
					vs[i] = Slice(v, AxisRange(i*size, (i+1)*size))
				}
				return vs
			}
			out = Concatenate(bn.trainParts(store, split(x), split(residual), relu), 0)
		} else {
			out = bn.Train(store, x)
			if residual != nil {
				out = Add(out, residual)
			}
			if relu {
				out = ReLUMasked(out)
			}
		}
		g := x.Graph()
		wrt := []*Node{x, Value(store, g, bn.Name+".weight"), Value(store, g, bn.Name+".bias")}
		if residual != nil {
			wrt = append(wrt, residual)
		}
		return append([]*Node{out}, Gradient(ReduceAllSum(Mul(out, weights)), wrt...)...)
	}
}

// TestTrainPartsGradients checks the batch norm (+ residual) (+ ReLU) unit with its hand-written gradient,
// on the batch whole and split in parts, against autodiff of the plain ops (Train, Add, ReLUMasked): the
// output, the gradients of x, gamma, beta and the residual, and the running statistics it updates; with
// GoMLX's fusion on (the unit's forward runs, its decomposed graph is differentiated) and off.
func TestTrainPartsGradients(t *testing.T) {
	backend := testenv.Backend(t)
	for _, tc := range []struct {
		name           string
		dims           []int
		parts          int
		residual, relu bool
		fusion         bool
	}{
		{"ReLU", []int{2, 5, 4, 16}, 1, false, true, true},
		{"residual, ReLU", []int{3, 4, 4, 32}, 1, true, true, true},
		{"residual, ReLU, fusion off", []int{2, 3, 5, 16}, 1, true, true, false},
		{"2 parts, ReLU", []int{4, 3, 3, 16}, 2, false, true, true},
		{"2 parts, residual, ReLU", []int{2, 4, 5, 16}, 2, true, true, true},
		{"2 parts, no ReLU", []int{4, 3, 2, 16}, 2, false, false, true},
		{"3 parts, residual, ReLU, fusion off", []int{3, 3, 3, 16}, 3, true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.fusion {
				t.Setenv("GOMLX_FUSION", "0")
			}
			rng := rand.New(rand.NewPCG(5, 6))
			c := tc.dims[3]
			x, residual, weights := randomTensor(rng, tc.dims...), randomTensor(rng, tc.dims...), randomTensor(rng, tc.dims...)
			bn := BatchNorm{Name: "bn"}
			var results [2][]*tensors.Tensor
			var stats [2][][]float32
			for i, parts := range []int{0, tc.parts} {
				store := bnStore(t, bn, c, rand.New(rand.NewPCG(7, 8)))
				exec, err := model.NewExec(backend, store, bnReLUGraph(bn, parts, tc.residual, tc.relu))
				if err != nil {
					t.Fatal(err)
				}
				if results[i], err = exec.Exec(x, residual, weights); err != nil {
					t.Fatal(err)
				}
				for _, name := range []string{"running_mean", "running_var"} {
					v, _ := HostValue(store, bn.Name+"."+name)
					stats[i] = append(stats[i], v)
				}
			}
			names := []string{"output", "x gradient", "weight gradient", "bias gradient", "residual gradient"}
			for n := range results[0] {
				want, got := tensors.MustCopyFlatData[float32](results[0][n]), tensors.MustCopyFlatData[float32](results[1][n])
				for j := range want {
					if math.Abs(float64(want[j]-got[j])) > 1e-4*(1+math.Abs(float64(want[j]))) {
						t.Fatalf("%s[%d]: autodiff %v, hand-written %v", names[n], j, want[j], got[j])
					}
				}
			}
			for s := range stats[0] {
				for j := range stats[0][s] {
					if math.Abs(float64(stats[0][s][j]-stats[1][s][j])) > 1e-6 {
						t.Fatalf("running statistic %d[%d]: autodiff's update %v, the unit's %v", s, j, stats[0][s][j], stats[1][s][j])
					}
				}
			}
		})
	}
}

// BenchmarkTrainParts times ResNet-50's batch norm (+ residual) + ReLU units at 224x224, batch 16, forward
// and gradients: autodiff's ("decomposed"), the hand-written one on the whole batch ("unit") and on the
// batch in two parts ("2-parts"), alternately in one process; it reports the median milliseconds of each.
//
//	GOTOOLCHAIN=go1.27.3 GOEXPERIMENT=simd go test -run '^$' -bench TrainParts -benchtime 1x ./vegclf/nn
func BenchmarkTrainParts(b *testing.B) {
	backend := testenv.Backend(b)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, shape := range []struct {
		name     string
		dims     []int
		residual bool
	}{
		{"stem 112 64", []int{16, 112, 112, 64}, false},
		{"layer1 56 64", []int{16, 56, 56, 64}, false},
		{"layer1 56 256 residual", []int{16, 56, 56, 256}, true},
		{"layer3 14 1024 residual", []int{16, 14, 14, 1024}, true},
	} {
		b.Run(shape.name, func(b *testing.B) {
			x, residual, weights := randomTensor(rng, shape.dims...), randomTensor(rng, shape.dims...), randomTensor(rng, shape.dims...)
			bn := BatchNorm{Name: "bn"}
			variants := []struct {
				name  string
				parts int
			}{{"decomposed", 0}, {"unit", 1}, {"2-parts", 2}}
			execs := make([]*model.Exec, len(variants))
			for i, v := range variants {
				var err error
				store := bnStore(b, bn, shape.dims[3], rng)
				if execs[i], err = model.NewExec(backend, store, bnReLUGraph(bn, v.parts, shape.residual, true)); err != nil {
					b.Fatal(err)
				}
			}
			times := make([][]float64, len(variants))
			for range b.N {
				for round := range 7 {
					for i, exec := range execs {
						t0 := time.Now()
						out, err := exec.Exec(x, residual, weights)
						if err != nil {
							b.Fatal(err)
						}
						for _, o := range out {
							o.FinalizeAll()
						}
						if round > 0 { // The first call compiles.
							times[i] = append(times[i], time.Since(t0).Seconds()*1000)
						}
					}
				}
			}
			for i, v := range variants {
				slices.Sort(times[i])
				b.ReportMetric(times[i][len(times[i])/2], "ms-"+v.name)
			}
		})
	}
}
