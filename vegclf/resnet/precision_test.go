package resnet_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
	. "github.com/vegclf/vegclf/vegclf/resnet"
)

// cosine is the cosine similarity of two vectors: how well a gradient keeps its direction.
func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// TestMixedPrecision runs ResNet-18 forward and backward with bfloat16 compute against float32 on the
// same float32 weights and images, with batch norm in both modes: the logits agree to a few bfloat16
// roundings, the gradients keep their direction (a bfloat16 gradient summed over many positions differs
// elementwise), the outputs and variables stay float32. Float16 is checked for inference.
func TestMixedPrecision(t *testing.T) {
	for _, tc := range []struct {
		name string
		want dtypes.DType
	}{{"", dtypes.Float32}, {"fp32", dtypes.Float32}, {"bf16", dtypes.BFloat16}, {"BFloat16", dtypes.BFloat16}, {"float16", dtypes.Float16}, {"int8", dtypes.InvalidDType}} {
		got, err := nn.ParsePrecision(tc.name)
		if got != tc.want || (err != nil) != (tc.want == dtypes.InvalidDType) {
			t.Errorf("ParsePrecision(%q) = %s, %v", tc.name, got, err)
		}
	}
	backend := testenv.Backend(t)
	m := New(ResNet18, nn.TutorialHead(5))
	store := model.NewStore()
	if err := m.Init(store, 3, nil); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 5))
	pixels := make([]float32, 8*64*64*3)
	for i := range pixels {
		pixels[i] = float32(rng.NormFloat64())
	}
	images := tensors.FromFlatDataAndDimensions(pixels, 8, 64, 64, 3)
	params := []string{"conv1.weight", "layer3.1.conv2.weight", "fc.2.weight"}
	run := func(dtype dtypes.DType, trainBN bool) [][]float32 {
		m.Precision = dtype
		exec, err := model.NewExec(backend, store, func(scope *model.Scope, x *Node) []*Node {
			y := m.Logits(scope.Store(), x, nn.Options{Train: trainBN, Backward: true})
			loss := ReduceAllMean(Square(y))
			var vars []*Node
			for _, p := range params {
				vars = append(vars, store.GetVariable(nn.VariablePath(p)).NodeValue(x.Graph()))
			}
			return append([]*Node{y}, Gradient(loss, vars...)...)
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Exec(images)
		if err != nil {
			t.Fatalf("%s: %v", dtype, err)
		}
		var flat [][]float32
		for _, o := range out {
			if o.DType() != dtypes.Float32 {
				t.Errorf("%s: an output is %s, want float32", dtype, o.DType())
			}
			flat = append(flat, tensors.MustCopyFlatData[float32](o))
		}
		return flat
	}
	for _, trainBN := range []bool{false, true} {
		ref := run(dtypes.Float32, trainBN)
		for _, tc := range []struct {
			dtype       dtypes.DType
			logitsBound float64 // Relative to the largest logit.
			gradients   bool
		}{{dtypes.BFloat16, 0.05, true}, {dtypes.Float16, 0.01, false}} {
			got := run(tc.dtype, trainBN)
			e := relErr(got[0], ref[0])
			t.Logf("%s, batch norm train %v: logits relative error %.2g", tc.dtype, trainBN, e)
			if e > tc.logitsBound || math.IsNaN(e) {
				t.Errorf("%s, batch norm train %v: logits relative error %.3g over %g", tc.dtype, trainBN, e, tc.logitsBound)
			}
			for i, p := range params {
				if !tc.gradients {
					break
				}
				c := cosine(got[i+1], ref[i+1])
				t.Logf("%s, batch norm train %v: %s gradient cosine %.4f", tc.dtype, trainBN, p, c)
				// Batch statistics subtract means of bfloat16 gradients, so their direction drifts more.
				bound := map[bool]float64{false: 0.95, true: 0.8}[trainBN]
				if c < bound || math.IsNaN(c) {
					t.Errorf("%s, batch norm train %v: %s gradient cosine similarity %.3f under %g", tc.dtype, trainBN, p, c, bound)
				}
			}
		}
	}
	if v := store.GetVariable(nn.VariablePath("layer1.0.conv1.weight")); v.Shape().DType != dtypes.Float32 {
		t.Errorf("variables became %s", v.Shape().DType)
	}
}
