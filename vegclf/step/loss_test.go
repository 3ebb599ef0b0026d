package step

import (
	"encoding/json"
	"math"
	"slices"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/recipe"
)

// TestLossParityWithTorch compares the loss a step minimizes, and its gradient with respect to the logits,
// with torch's CrossEntropyLoss(weight=, label_smoothing=) on the same logits, for class indices and for
// mixed (soft) targets, with and without label smoothing and balanced class weights.
func TestLossParityWithTorch(t *testing.T) {
	var ref struct {
		Batch, Classes int
		Logits, Soft   []float64
		Labels         []int32
		Weights        []float64
		Cases          []struct {
			Hard, Weighted bool
			Smoothing      float64
			Loss           float64
			Grad           []float64
		}
	}
	if err := json.Unmarshal(testenv.RunPython(t, "loss_reference.py", "3"), &ref); err != nil {
		t.Fatal(err)
	}
	f32 := func(v []float64) []float32 {
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x)
		}
		return out
	}
	counts := make([]int, ref.Classes)
	for _, y := range ref.Labels {
		counts[y]++
	}
	if w := recipe.BalancedClassWeights.Weights(counts); !slices.EqualFunc(w, ref.Weights, func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }) {
		t.Errorf("balanced weights %v, torch's usual n/(classes*count) %v", w, ref.Weights)
	}
	exec := MustNewExec(testenv.Backend(t), func(logits, targets, labels *Node) []*Node {
		loss, _ := CrossEntropy(logits, targets, labels)
		return []*Node{loss, Gradient(loss, logits)[0]}
	})
	logits := tensors.FromFlatDataAndDimensions(f32(ref.Logits), ref.Batch, ref.Classes)
	var plain [2]float64 // The plain loss of hard and soft targets, from torch.
	for _, c := range ref.Cases {
		if c.Smoothing == 0 && !c.Weighted {
			plain[btoi(c.Hard)] = c.Loss
		}
	}
	for _, c := range ref.Cases {
		l := Loss{LabelSmoothing: c.Smoothing}
		if c.Weighted {
			l.ClassWeights = recipe.BalancedClassWeights.Weights(counts)
		}
		targets, kind := oneHot(ref.Labels, ref.Classes), ClassIndices
		if !c.Hard {
			targets, kind = tensors.FromFlatDataAndDimensions(f32(ref.Soft), ref.Batch, ref.Classes), ClassProbabilities
		}
		out := exec.MustCall(logits, l.Targets(targets, ref.Labels, kind), ref.Labels)
		loss := float64(tensors.ToScalar[float32](out[0]))
		grad := tensors.MustCopyFlatData[float32](out[1])
		name := map[bool]string{true: "class indices", false: "soft targets"}[c.Hard]
		if math.Abs(loss-c.Loss) > 1e-6 {
			t.Errorf("%s, smoothing %g, weighted %v: loss %.9f, torch %.9f", name, c.Smoothing, c.Weighted, loss, c.Loss)
		}
		worst := 0.0
		for i, g := range grad {
			worst = max(worst, math.Abs(float64(g)-c.Grad[i]))
		}
		if worst > 1e-6 {
			t.Errorf("%s, smoothing %g, weighted %v: gradient off torch's by %.3g", name, c.Smoothing, c.Weighted, worst)
		}
		// The settings change torch's loss, so the comparison fails when they are ignored.
		if (c.Smoothing != 0 || c.Weighted) && math.Abs(c.Loss-plain[btoi(c.Hard)]) < 1e-3 {
			t.Errorf("%s, smoothing %g, weighted %v: torch's loss %.6f is the plain one's: the case tests nothing", name, c.Smoothing, c.Weighted, c.Loss)
		}
	}
}

// TestBinaryCrossEntropyParityWithTorch compares the multi-label loss a step minimizes, and its gradient
// with respect to the logits, with torch's BCEWithLogitsLoss(pos_weight=) on the same logits, with and
// without timm's label smoothing and the balanced pos_weight (negatives / positives), to 1e-6.
func TestBinaryCrossEntropyParityWithTorch(t *testing.T) {
	var ref struct {
		Batch, Classes int
		Logits, Labels []float64
		PosWeight      []float64 `json:"pos_weight"`
		Cases          []struct {
			Weighted  bool
			Smoothing float64
			Loss      float64
			Grad      []float64
		}
	}
	if err := json.Unmarshal(testenv.RunPython(t, "bce_reference.py", "3"), &ref); err != nil {
		t.Fatal(err)
	}
	f32 := func(v []float64) []float32 {
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x)
		}
		return out
	}
	sets := make([][]int, ref.Batch)
	positives := make([]int, ref.Classes)
	for i := range sets {
		for c := range ref.Classes {
			if ref.Labels[i*ref.Classes+c] == 1 {
				sets[i] = append(sets[i], c)
				positives[c]++
			}
		}
	}
	if w := recipe.BalancedClassWeights.PosWeights(positives, ref.Batch); !slices.EqualFunc(w, ref.PosWeight, func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }) {
		t.Errorf("balanced pos_weight %v, the reference's negatives/positives %v", w, ref.PosWeight)
	}
	logits := tensors.FromFlatDataAndDimensions(f32(ref.Logits), ref.Batch, ref.Classes)
	hot := MultiHot(sets, ref.Classes)
	backend := testenv.Backend(t)
	plain := 0.0
	for _, c := range ref.Cases {
		if c.Smoothing == 0 && !c.Weighted {
			plain = c.Loss
		}
	}
	for _, c := range ref.Cases {
		l := Loss{MultiLabel: true, LabelSmoothing: c.Smoothing}
		if c.Weighted {
			l.PosWeight = recipe.BalancedClassWeights.PosWeights(positives, ref.Batch)
		}
		exec := MustNewExec(backend, func(logits, targets, labels *Node) []*Node {
			loss, exact := l.objective()(logits, targets, labels)
			return []*Node{loss, Gradient(loss, logits)[0], exact}
		})
		out := exec.MustCall(logits, l.multiLabelTargets(hot), hot)
		loss := float64(tensors.ToScalar[float32](out[0]))
		grad := tensors.MustCopyFlatData[float32](out[1])
		if math.Abs(loss-c.Loss) > 1e-6 {
			t.Errorf("smoothing %g, pos_weight %v: loss %.9f, torch %.9f", c.Smoothing, c.Weighted, loss, c.Loss)
		}
		worst := 0.0
		for i, g := range grad {
			worst = max(worst, math.Abs(float64(g)-c.Grad[i]))
		}
		if worst > 1e-6 {
			t.Errorf("smoothing %g, pos_weight %v: gradient off torch's by %.3g", c.Smoothing, c.Weighted, worst)
		}
		t.Logf("smoothing %g, pos_weight %v: loss %.6f, off torch's by %.2g; gradient by %.2g", c.Smoothing, c.Weighted, loss, math.Abs(loss-c.Loss), worst)
		if (c.Smoothing != 0 || c.Weighted) && math.Abs(c.Loss-plain) < 1e-3 {
			t.Errorf("smoothing %g, pos_weight %v: torch's loss %.6f is the plain one's: the case tests nothing", c.Smoothing, c.Weighted, c.Loss)
		}
		// Exact matches: rows whose every logit is on its label's side of 0.
		want := 0
		for i := range ref.Batch {
			match := true
			for k := range ref.Classes {
				match = match && (ref.Logits[i*ref.Classes+k] > 0) == (ref.Labels[i*ref.Classes+k] == 1)
			}
			if match {
				want++
			}
		}
		if got := tensors.ToScalar[float32](out[2]); int(got) != want {
			t.Errorf("exact matches %g, want %d", got, want)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
