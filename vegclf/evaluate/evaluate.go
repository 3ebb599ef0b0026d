// Package evaluate measures a classifier on a split: loss and accuracy as the tutorial reports them
// (loss averaged over batches, accuracy over samples), per-class accuracy, the confusion matrix, and the
// per-image results needed to show misclassified images.
package evaluate

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/predict"
)

// Result is the evaluation of a classifier on a split.
type Result struct {
	Classes   []string
	Loss      float64 // Mean over batches of the batch's mean cross-entropy.
	Accuracy  float64 // Correct predictions over samples.
	Correct   int
	Total     int
	Confusion [][]int // Confusion[true][predicted].
	Samples   []SampleResult
	Skipped   []string // Images left out because they could not be read.
	// Unreadable are the same images, each with why it could not be read.
	Unreadable []data.Unreadable
	// MultiLabel holds a multi-label classifier's figures (predict.Classifier.MultiLabel); Loss, Accuracy
	// (the exact-match ratio), Correct and Total are its, and Confusion and Samples are empty.
	MultiLabel *MultiLabelResult
}

// SampleResult is the outcome for one image.
type SampleResult struct {
	Path      string
	Label     int
	Predicted int
	Prob      float64 // Probability of the predicted class.
	Loss      float64 // Cross-entropy of the true class.
}

// Progress is called after each batch with the number of batches done and their total.
type Progress func(done, total int)

// Accumulator gathers loss and accuracy batch by batch as the tutorial computes them: each batch's mean
// cross-entropy averaged over batches, and correct predictions over images.
type Accumulator struct {
	lossSum                 float64
	batches, correct, total int
}

// Add takes one batch's log-probabilities (a row per image) and labels, and returns each image's
// predicted class and cross-entropy.
func (a *Accumulator) Add(logp [][]float32, labels []int32) (predicted []int, losses []float64) {
	var batchLoss float64
	for i, row := range logp {
		pred, loss := ArgMax(row), -float64(row[labels[i]])
		if pred == int(labels[i]) {
			a.correct++
		}
		batchLoss += loss
		predicted, losses = append(predicted, pred), append(losses, loss)
	}
	if len(logp) > 0 {
		a.lossSum += batchLoss / float64(len(logp))
		a.batches++
		a.total += len(logp)
	}
	return predicted, losses
}

// Loss is the mean over batches of each batch's mean cross-entropy (0 before any batch).
func (a *Accumulator) Loss() float64 { return a.lossSum / float64(max(a.batches, 1)) }

// Accuracy is the fraction of images predicted correctly (0 before any batch).
func (a *Accumulator) Accuracy() float64 { return float64(a.correct) / float64(max(a.total, 1)) }

// Split evaluates the classifier on the split's images, batch at a time. A multi-label classifier's
// figures are MultiLabelResult's, at its thresholds (Classifier.Thresholds), or when it has none, at
// thresholds tuned on the split (TuneThresholds).
func Split(c *predict.Classifier, split *data.Split, batch int, progress Progress) (*Result, error) {
	return SplitWithPosWeight(c, split, batch, progress, nil)
}

// SplitWithPosWeight is Split whose multi-label loss weighs each class's positive terms by posWeight
// (torch's BCEWithLogitsLoss pos_weight=, the loss a run with class weights trains on; nil: all 1). A
// single-label classifier's evaluation ignores it.
func SplitWithPosWeight(c *predict.Classifier, split *data.Split, batch int, progress Progress, posWeight []float64) (*Result, error) {
	if c.MultiLabel {
		return multiLabelSplit(c, split, batch, progress, posWeight)
	}
	n := len(c.Labels)
	r := &Result{Classes: c.Labels, Confusion: make([][]int, n)}
	for i := range r.Confusion {
		r.Confusion[i] = make([]int, n)
	}
	loader := &data.Loader{Samples: split.Samples, Transform: c.Transform, BatchSize: batch,
		Skip: func(path string, err error) {
			r.Skipped = append(r.Skipped, path)
			r.Unreadable = append(r.Unreadable, data.Unreadable{Path: path, Err: err})
		}}
	var acc Accumulator
	for b, err := range loader.Epoch(0) {
		if err != nil {
			return nil, fmt.Errorf("evaluating %s: %w", split.Name, err)
		}
		logp, err := c.LogProbabilities(b.Images)
		if err != nil {
			return nil, err
		}
		predicted, losses := acc.Add(logp, b.Labels)
		for i, row := range logp {
			label, pred := int(b.Labels[i]), predicted[i]
			r.Confusion[label][pred]++
			r.Samples = append(r.Samples, SampleResult{Path: b.Paths[i], Label: label, Predicted: pred,
				Prob: expf(row[pred]), Loss: losses[i]})
		}
		if progress != nil {
			progress(acc.batches, loader.NumBatches())
		}
	}
	if acc.total == 0 {
		return nil, fmt.Errorf("evaluating %s: the split has no images", split.Name)
	}
	r.Loss, r.Accuracy, r.Correct, r.Total = acc.Loss(), acc.Accuracy(), acc.correct, acc.total
	return r, nil
}

// multiLabelSplit is Split for a multi-label classifier.
func multiLabelSplit(c *predict.Classifier, split *data.Split, batch int, progress Progress, posWeight []float64) (*Result, error) {
	r := &Result{Classes: c.Labels}
	loader := &data.Loader{Samples: split.Samples, Transform: c.Transform, BatchSize: batch,
		Skip: func(path string, err error) {
			r.Skipped = append(r.Skipped, path)
			r.Unreadable = append(r.Unreadable, data.Unreadable{Path: path, Err: err})
		}}
	acc := MultiLabelAccumulator{PosWeight: posWeight}
	done := 0
	for b, err := range loader.Epoch(0) {
		if err != nil {
			return nil, fmt.Errorf("evaluating %s: %w", split.Name, err)
		}
		logp, err := c.LogProbabilities(b.Images)
		if err != nil {
			return nil, err
		}
		sets := b.LabelSets
		if sets == nil { // Single-label samples: each image has its one class.
			sets = make([][]int, len(b.Labels))
			for i, l := range b.Labels {
				sets[i] = []int{int(l)}
			}
		}
		acc.Add(logp, sets)
		done++
		if progress != nil {
			progress(done, loader.NumBatches())
		}
	}
	if acc.Total() == 0 {
		return nil, fmt.Errorf("evaluating %s: the split has no images", split.Name)
	}
	thresholds := c.Thresholds
	if thresholds == nil {
		thresholds = acc.TuneThresholds()
	}
	m := acc.Result(c.Labels, thresholds)
	r.MultiLabel, r.Loss, r.Accuracy, r.Correct, r.Total = m, m.Loss, m.ExactMatch, m.Exact, m.Total
	return r, nil
}

// PerClassAccuracy returns each class's accuracy (recall); NaN-free: a class without samples gets 0.
func (r *Result) PerClassAccuracy() []float64 {
	acc := make([]float64, len(r.Classes))
	for i, row := range r.Confusion {
		total := 0
		for _, v := range row {
			total += v
		}
		if total > 0 {
			acc[i] = float64(row[i]) / float64(total)
		}
	}
	return acc
}

// Misclassified returns the wrongly predicted samples, the most confidently wrong first.
func (r *Result) Misclassified() []SampleResult {
	var out []SampleResult
	for _, s := range r.Samples {
		if s.Predicted != s.Label {
			out = append(out, s)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Loss > out[j-1].Loss; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// WriteReport writes the loss, accuracy, per-class accuracy and confusion matrix as text; for a multi-label
// classifier, MultiLabelResult's report.
func (r *Result) WriteReport(w io.Writer) {
	if r.MultiLabel != nil {
		if len(r.Skipped) > 0 {
			fmt.Fprintf(w, "Skipped %d unreadable images: %s\n", len(r.Skipped), strings.Join(r.Skipped, ", "))
		}
		r.MultiLabel.WriteReport(w)
		return
	}
	fmt.Fprintf(w, "Loss: %.6f, Accuracy: %.2f%% (%d of %d)\n", r.Loss, 100*r.Accuracy, r.Correct, r.Total)
	if len(r.Skipped) > 0 {
		fmt.Fprintf(w, "Skipped %d unreadable images: %s\n", len(r.Skipped), strings.Join(r.Skipped, ", "))
	}
	fmt.Fprintf(w, "\nPer-class accuracy:\n")
	width := 5
	for _, c := range r.Classes {
		width = max(width, len(c))
	}
	acc := r.PerClassAccuracy()
	for i, c := range r.Classes {
		total := 0
		for _, v := range r.Confusion[i] {
			total += v
		}
		fmt.Fprintf(w, "  %-*s %7.2f%% (%d of %d)\n", width, c, 100*acc[i], r.Confusion[i][i], total)
	}
	fmt.Fprintf(w, "\nConfusion matrix (rows: true class, columns: predicted, in the order above):\n")
	for i, row := range r.Confusion {
		cells := make([]string, len(row))
		for j, v := range row {
			cells[j] = fmt.Sprintf("%4d", v)
		}
		fmt.Fprintf(w, "  %-*s %s\n", width, r.Classes[i], strings.Join(cells, ""))
	}
}

// ArgMax returns the index of the largest value of row (the first one on ties).
func ArgMax(row []float32) int {
	best := 0
	for j, v := range row {
		if v > row[best] {
			best = j
		}
	}
	return best
}

func expf(v float32) float64 {
	return math.Exp(float64(v))
}

// TopLosses returns the n samples with the largest loss (the true class's cross-entropy), largest first:
// fastai's top_losses, correct predictions with little confidence included.
func (r *Result) TopLosses(n int) []SampleResult {
	out := slices.Clone(r.Samples)
	slices.SortStableFunc(out, func(a, b SampleResult) int { return cmp.Compare(b.Loss, a.Loss) })
	return out[:min(n, len(out))]
}

// Confusion is how often one class was predicted for another.
type Confusion struct {
	True, Predicted string
	Count           int
}

// MostConfused returns the class pairs most often mistaken (true class predicted as another), most
// frequent first, those seen at least minCount times: fastai's most_confused.
func (r *Result) MostConfused(minCount int) []Confusion {
	var out []Confusion
	for i, row := range r.Confusion {
		for j, v := range row {
			if i != j && v >= max(minCount, 1) {
				out = append(out, Confusion{True: r.Classes[i], Predicted: r.Classes[j], Count: v})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Confusion) int { return cmp.Compare(b.Count, a.Count) })
	return out
}
