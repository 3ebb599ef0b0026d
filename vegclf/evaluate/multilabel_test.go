package evaluate

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/internal/testenv"
)

// TestMultiLabelMetricsMatchScikitLearn compares AveragePrecision, the mean average precision, and
// F1Scores's precision, recall, F1, micro and macro F1 with scikit-learn's on the same probabilities (with
// ties) and decisions (a class deciding nothing included), to 1e-6.
func TestMultiLabelMetricsMatchScikitLearn(t *testing.T) {
	for _, seed := range []string{"1", "2"} {
		var ref struct {
			N, Classes                int
			Probs, Thresholds         []float64
			Truth                     []int
			AP, Precision, Recall, F1 []float64
			RawMAP                    float64 `json:"map"`
			RawMicro                  float64 `json:"micro_f1"`
			RawMacro                  float64 `json:"macro_f1"`
		}
		if err := json.Unmarshal(testenv.RunPython(t, "multilabel_metrics.py", seed), &ref); err != nil {
			t.Fatal(err)
		}
		probs, truth := make([][]float64, ref.N), make([][]bool, ref.N)
		for i := range probs {
			probs[i] = ref.Probs[i*ref.Classes : (i+1)*ref.Classes]
			truth[i] = make([]bool, ref.Classes)
			for c := range truth[i] {
				truth[i][c] = ref.Truth[i*ref.Classes+c] == 1
			}
		}
		near := func(what string, got, want float64) {
			t.Helper()
			if math.Abs(got-want) > 1e-6 {
				t.Errorf("seed %s: %s %.9f, scikit-learn's %.9f", seed, what, got, want)
			}
		}
		mean := 0.0
		for c := range ref.Classes {
			ap := AveragePrecision(column(probs, c), column(truth, c))
			near(fmt.Sprintf("average precision of class %d", c), ap, ref.AP[c])
			mean += ap / float64(ref.Classes)
		}
		near("mean average precision", mean, ref.RawMAP)
		precision, recall, f1, micro, macro := F1Scores(Decide(probs, ref.Thresholds), truth)
		for c := range ref.Classes {
			near("precision", precision[c], ref.Precision[c])
			near("recall", recall[c], ref.Recall[c])
			near("F1", f1[c], ref.F1[c])
		}
		near("micro F1", micro, ref.RawMicro)
		near("macro F1", macro, ref.RawMacro)
		if ref.Precision[ref.Classes-1] != 0 || ref.F1[ref.Classes-1] != 0 {
			t.Errorf("seed %s: the last class decides nothing, yet scikit-learn's precision is %g: the case tests nothing", seed, ref.Precision[ref.Classes-1])
		}
		// The accumulator's result agrees: its probabilities are the same values.
		var acc MultiLabelAccumulator
		logp := make([][]float32, ref.N)
		sets := make([][]int, ref.N)
		for i := range logp {
			logp[i] = make([]float32, ref.Classes)
			for c, p := range probs[i] {
				logp[i][c] = float32(math.Log(max(p, 1e-30)))
				if truth[i][c] {
					sets[i] = append(sets[i], c)
				}
			}
		}
		acc.Add(logp, sets)
		res := acc.Result([]string{"a", "b", "c", "d", "e"}, ref.Thresholds)
		if math.Abs(res.MAP-ref.RawMAP) > 1e-5 || math.Abs(res.MicroF1-ref.RawMicro) > 1e-6 || math.Abs(res.MacroF1-ref.RawMacro) > 1e-6 {
			t.Errorf("seed %s: accumulator mAP %g, micro %g, macro %g; scikit-learn's %g, %g, %g", seed, res.MAP, res.MicroF1, res.MacroF1, ref.RawMAP, ref.RawMicro, ref.RawMacro)
		}
	}
}

// TestAveragePrecisionCases checks AveragePrecision's definition on small cases worked by hand.
func TestAveragePrecisionCases(t *testing.T) {
	for _, tc := range []struct {
		scores []float64
		truth  []bool
		want   float64
	}{
		{[]float64{0.9, 0.8, 0.1}, []bool{true, true, false}, 1},                   // Ranked perfectly.
		{[]float64{0.9, 0.8, 0.1}, []bool{false, true, true}, 0.5*0.5 + 0.5*2.0/3}, // 1/2 at recall 1/2, 2/3 at 1.
		{[]float64{0.5, 0.5, 0.5}, []bool{true, false, false}, 1.0 / 3},            // One threshold for all.
	} {
		if got := AveragePrecision(tc.scores, tc.truth); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("AveragePrecision(%v, %v) = %g, want %g", tc.scores, tc.truth, got, tc.want)
		}
	}
	if ap := AveragePrecision([]float64{0.3}, []bool{false}); !math.IsNaN(ap) {
		t.Errorf("no positives: average precision %g, want NaN", ap)
	}
}

// TestTuneThresholds checks that each class's tuned threshold reaches the best F1 any threshold reaches
// (by trying every probability as a cut), and that it separates a separable class.
func TestTuneThresholds(t *testing.T) {
	probs := [][]float64{{0.9, 0.2}, {0.8, 0.7}, {0.4, 0.6}, {0.3, 0.65}, {0.2, 0.1}}
	truth := [][]bool{{true, false}, {true, true}, {false, false}, {false, true}, {false, false}}
	thresholds := TuneThresholds(probs, truth)
	for c := range thresholds {
		scores, labels := column(probs, c), column(truth, c)
		f1At := func(th float64) float64 {
			_, _, f1, _, _ := F1Scores(Decide(column2(scores), []float64{th}), column2b(labels))
			return f1[0]
		}
		best := 0.0
		for _, s := range append(scores, 0) {
			best = max(best, f1At(s), f1At(s-1e-9))
		}
		if got := f1At(thresholds[c]); math.Abs(got-best) > 1e-12 {
			t.Errorf("class %d: threshold %g gives F1 %g, the best is %g", c, thresholds[c], got, best)
		}
	}
	if !(thresholds[0] > 0.4 && thresholds[0] < 0.8) {
		t.Errorf("class 0 is separated by any threshold in (0.4, 0.8): tuned %g", thresholds[0])
	}
	var b strings.Builder
	var acc MultiLabelAccumulator
	acc.Add([][]float32{{float32(math.Log(0.9)), float32(math.Log(0.2))}}, [][]int{{0}})
	acc.Result([]string{"box", "disc"}, []float64{0.5, 0.5}).WriteReport(&b)
	for _, want := range []string{"mAP: 1.0000", "exact match: 100.00% (1 of 1)", "box", "disc"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

func column2(v []float64) [][]float64 {
	out := make([][]float64, len(v))
	for i, x := range v {
		out[i] = []float64{x}
	}
	return out
}

func column2b(v []bool) [][]bool {
	out := make([][]bool, len(v))
	for i, x := range v {
		out[i] = []bool{x}
	}
	return out
}

// TestMultiLabelLossWithPosWeight checks the accumulated loss against torch's BCEWithLogitsLoss formula
// with pos_weight, (1-t)·x + (1 + (w-1)·t)·(log(1 + exp(-|x|)) + max(-x, 0)) averaged over each batch's
// images and classes, then over the batches, computed here from the logits; without PosWeight, the plain
// binary cross-entropy (w = 1), which differs.
func TestMultiLabelLossWithPosWeight(t *testing.T) {
	logits := [][][]float64{ // Two batches of images x 3 classes.
		{{1.5, -0.3, 0.8}, {-2, 0.1, 1.9}, {0.4, -1.2, -0.7}},
		{{-0.9, 1.1, 0.05}, {1.7, -1.6, 0.6}},
	}
	sets := [][][]int{{{0, 2}, {1}, {0, 1, 2}}, {{2}, {0}}}
	posWeight := []float64{2.5, 0.5, 1.75}
	torchLoss := func(w []float64) float64 {
		sum := 0.0
		for b, batch := range logits {
			batchSum := 0.0
			for i, row := range batch {
				for c, x := range row {
					tc := 0.0
					for _, k := range sets[b][i] {
						if k == c {
							tc = 1
						}
					}
					batchSum += (1-tc)*x + (1+(w[c]-1)*tc)*(math.Log1p(math.Exp(-math.Abs(x)))+math.Max(-x, 0))
				}
			}
			sum += batchSum / float64(len(batch)*len(batch[0]))
		}
		return sum / float64(len(logits))
	}
	for _, tc := range []struct {
		name      string
		posWeight []float64
		want      float64
	}{
		{"pos_weight", posWeight, torchLoss(posWeight)},
		{"none", nil, torchLoss([]float64{1, 1, 1})},
	} {
		acc := MultiLabelAccumulator{PosWeight: tc.posWeight}
		for b, batch := range logits {
			logp := make([][]float32, len(batch))
			for i, row := range batch {
				for _, x := range row {
					logp[i] = append(logp[i], float32(-math.Log1p(math.Exp(-x)))) // log σ(x).
				}
			}
			acc.Add(logp, sets[b])
		}
		got := acc.Result([]string{"a", "b", "c"}, []float64{0.5, 0.5, 0.5}).Loss
		if math.Abs(got-tc.want) > 2e-6 {
			t.Errorf("%s: loss %.8f, torch's formula %.8f", tc.name, got, tc.want)
		}
	}
	if math.Abs(torchLoss(posWeight)-torchLoss([]float64{1, 1, 1})) < 1e-3 {
		t.Fatal("pos_weight barely changes the loss: the test cannot tell them apart")
	}
}
