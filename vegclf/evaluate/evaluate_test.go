package evaluate

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestResultReport(t *testing.T) {
	r := &Result{
		Classes:   []string{"Bean", "Carrot"},
		Loss:      0.25,
		Accuracy:  0.75,
		Correct:   3,
		Total:     4,
		Confusion: [][]int{{2, 0}, {1, 1}},
		Samples: []SampleResult{
			{Path: "a", Label: 0, Predicted: 0}, {Path: "b", Label: 1, Predicted: 0, Loss: 0.7},
			{Path: "c", Label: 1, Predicted: 1}, {Path: "d", Label: 0, Predicted: 0},
		},
	}
	if got := r.PerClassAccuracy(); !slices.Equal(got, []float64{1, 0.5}) {
		t.Errorf("per-class accuracy = %v", got)
	}
	r.Samples = append(r.Samples, SampleResult{Path: "e", Label: 0, Predicted: 1, Loss: 2.5})
	mis := r.Misclassified()
	if len(mis) != 2 || mis[0].Path != "e" || mis[1].Path != "b" {
		t.Errorf("misclassified = %+v, want e then b (largest loss first)", mis)
	}
	top := r.TopLosses(2)
	if len(top) != 2 || top[0].Path != "e" || top[1].Path != "b" {
		t.Errorf("top losses = %+v", top)
	}
	r.Confusion = [][]int{{5, 2, 0}, {3, 4, 1}, {0, 1, 6}}
	r.Classes = []string{"Bean", "Carrot", "Tomato"}
	confused := r.MostConfused(2)
	if len(confused) != 2 || confused[0] != (Confusion{"Carrot", "Bean", 3}) || confused[1] != (Confusion{"Bean", "Carrot", 2}) {
		t.Errorf("most confused = %+v", confused)
	}
	r.Confusion = [][]int{{2, 0}, {1, 1}}
	r.Classes = []string{"Bean", "Carrot"}
	var b strings.Builder
	r.WriteReport(&b)
	for _, want := range []string{"Loss: 0.250000, Accuracy: 75.00% (3 of 4)", "Bean    100.00% (2 of 2)", "Carrot   50.00% (1 of 2)", "Carrot    1   1"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

// TestAccumulator checks the tutorial's figures: the loss is the mean over batches of each batch's
// mean cross-entropy (not the mean over images), and accuracy is over images.
func TestAccumulator(t *testing.T) {
	ln := func(p float64) float32 { return float32(math.Log(p)) }
	var a Accumulator
	if a.Loss() != 0 || a.Accuracy() != 0 {
		t.Errorf("empty accumulator: loss %g, accuracy %g", a.Loss(), a.Accuracy())
	}
	for _, batch := range []struct {
		logp      [][]float32
		labels    []int32
		predicted []int
	}{
		{[][]float32{{ln(0.5), ln(0.5)}, {ln(0.25), ln(0.75)}}, []int32{0, 1}, []int{0, 1}},
		{[][]float32{{ln(0.9), ln(0.1)}}, []int32{1}, []int{0}},
	} {
		predicted, losses := a.Add(batch.logp, batch.labels)
		for i := range predicted {
			if predicted[i] != batch.predicted[i] || math.Abs(losses[i]+float64(batch.logp[i][batch.labels[i]])) > 1e-9 {
				t.Errorf("image %d: predicted %d, loss %g", i, predicted[i], losses[i])
			}
		}
	}
	wantLoss := ((-math.Log(0.5)-math.Log(0.75))/2 - math.Log(0.1)) / 2
	if math.Abs(a.Loss()-wantLoss) > 1e-6 || math.Abs(a.Accuracy()-2.0/3) > 1e-12 {
		t.Errorf("loss %.6f, accuracy %.4f; want %.6f and 0.6667", a.Loss(), a.Accuracy(), wantLoss)
	}
}
