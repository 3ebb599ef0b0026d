package evaluate

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
)

// MultiLabelResult is the evaluation of a multi-label classifier (independent sigmoid outputs) on a split.
type MultiLabelResult struct {
	Classes    []string
	Loss       float64      // Mean over batches of the batch's binary cross-entropy (with the accumulator's PosWeight), mean over images and classes.
	MAP        float64      // Mean average precision: the mean of AveragePrecision over the classes with positives.
	MicroF1    float64      // F1 of all the (image, class) decisions together.
	MacroF1    float64      // The mean of the classes' F1.
	ExactMatch float64      // The fraction of images whose every class is decided right.
	Exact      int          // Those images.
	Total      int          // Images.
	Thresholds []float64    // Each class's threshold: an output above it is the class.
	PerClass   []ClassScore // By class, in Classes's order.
}

// ClassScore is one class's figures in a multi-label evaluation.
type ClassScore struct {
	Precision, Recall, F1 float64 // Of the decisions at the class's threshold (0 when undefined, as scikit-learn's zero_division=0).
	AP                    float64 // AveragePrecision of the class's probabilities; NaN without positives.
	Positives             int     // Images with the class.
}

// MultiLabelAccumulator gathers a multi-label classifier's probabilities and the images' classes batch by
// batch.
type MultiLabelAccumulator struct {
	// PosWeight weighs each class's positive terms of the loss, as torch's BCEWithLogitsLoss(pos_weight=)
	// does: the loss a run with class weights trains on (step.Loss.PosWeight). Nil: all 1.
	PosWeight []float64
	probs     [][]float64
	truth     [][]bool
	lossSum   float64
	batches   int
}

// Add takes one batch's log-probabilities (log σ of each output, a row per image) and each image's
// classes.
func (a *MultiLabelAccumulator) Add(logp [][]float32, sets [][]int) {
	if len(logp) == 0 {
		return
	}
	var batchLoss float64
	for i, row := range logp {
		probs, truth := make([]float64, len(row)), make([]bool, len(row))
		for _, c := range sets[i] {
			truth[c] = true
		}
		for c, lp := range row {
			probs[c] = math.Exp(float64(lp))
			if truth[c] {
				w := 1.0
				if a.PosWeight != nil {
					w = a.PosWeight[c]
				}
				batchLoss -= w * float64(lp)
			} else {
				batchLoss -= math.Log1p(-probs[c]) // log(1 - σ(x)).
			}
		}
		a.probs, a.truth = append(a.probs, probs), append(a.truth, truth)
	}
	a.lossSum += batchLoss / float64(len(logp)*len(logp[0]))
	a.batches++
}

// Total returns the number of images added.
func (a *MultiLabelAccumulator) Total() int { return len(a.probs) }

// TuneThresholds returns the per-class thresholds that maximize each class's F1 on the images added
// (TuneThresholds).
func (a *MultiLabelAccumulator) TuneThresholds() []float64 { return TuneThresholds(a.probs, a.truth) }

// Result returns the figures of the images added, deciding class c where its probability is above
// thresholds[c].
func (a *MultiLabelAccumulator) Result(classes []string, thresholds []float64) *MultiLabelResult {
	r := &MultiLabelResult{Classes: classes, Loss: a.lossSum / float64(max(a.batches, 1)), Total: len(a.probs),
		Thresholds: thresholds, PerClass: make([]ClassScore, len(classes))}
	predicted := Decide(a.probs, thresholds)
	for i, row := range predicted {
		if slices.Equal(row, a.truth[i]) {
			r.Exact++
		}
	}
	r.ExactMatch = float64(r.Exact) / float64(max(r.Total, 1))
	var precision, recall, f1 []float64
	precision, recall, f1, r.MicroF1, r.MacroF1 = F1Scores(predicted, a.truth)
	withPositives := 0
	for c := range classes {
		scores, truth := column(a.probs, c), column(a.truth, c)
		s := &r.PerClass[c]
		s.Precision, s.Recall, s.F1, s.AP = precision[c], recall[c], f1[c], AveragePrecision(scores, truth)
		for _, t := range truth {
			if t {
				s.Positives++
			}
		}
		if s.Positives > 0 {
			r.MAP += s.AP
			withPositives++
		}
	}
	r.MAP /= float64(max(withPositives, 1))
	return r
}

// column returns column c of rows.
func column[T any](rows [][]T, c int) []T {
	out := make([]T, len(rows))
	for i, row := range rows {
		out[i] = row[c]
	}
	return out
}

// Decide returns, for each image and class, whether the probability is above the class's threshold.
func Decide(probs [][]float64, thresholds []float64) [][]bool {
	out := make([][]bool, len(probs))
	for i, row := range probs {
		out[i] = make([]bool, len(row))
		for c, p := range row {
			out[i][c] = p > thresholds[c]
		}
	}
	return out
}

// AveragePrecision returns the average precision of scores for the binary truth, as scikit-learn's
// average_precision_score defines it: Σ_n (R_n - R_{n-1}) P_n over the distinct scores taken as thresholds
// from the highest down, P_n and R_n the precision and recall of deciding the scores at or above the n-th.
// It is NaN when truth has no positives.
func AveragePrecision(scores []float64, truth []bool) float64 {
	idx := make([]int, len(scores))
	positives := 0
	for i := range idx {
		idx[i] = i
		if truth[i] {
			positives++
		}
	}
	if positives == 0 {
		return math.NaN()
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
	ap, tp, fp, lastRecall := 0.0, 0, 0, 0.0
	for k, i := range idx {
		if truth[i] {
			tp++
		} else {
			fp++
		}
		if k+1 < len(idx) && scores[idx[k+1]] == scores[i] {
			continue // Ties are one threshold.
		}
		recall := float64(tp) / float64(positives)
		ap += (recall - lastRecall) * float64(tp) / float64(tp+fp)
		lastRecall = recall
	}
	return ap
}

// F1Scores returns each class's precision, recall and F1 of the decisions predicted against truth (0 where
// undefined, scikit-learn's zero_division=0), the micro F1 (of all decisions counted together) and the
// macro F1 (the mean of the classes'), as scikit-learn's precision_recall_fscore_support and f1_score
// compute them.
func F1Scores(predicted, truth [][]bool) (precision, recall, f1 []float64, micro, macro float64) {
	if len(truth) == 0 {
		return nil, nil, nil, 0, 0
	}
	n := len(truth[0])
	tp, fp, fn := make([]int, n), make([]int, n), make([]int, n)
	for i := range truth {
		for c := range n {
			switch p, t := predicted[i][c], truth[i][c]; {
			case p && t:
				tp[c]++
			case p:
				fp[c]++
			case t:
				fn[c]++
			}
		}
	}
	ratio := func(a, b int) float64 {
		if b == 0 {
			return 0
		}
		return float64(a) / float64(b)
	}
	precision, recall, f1 = make([]float64, n), make([]float64, n), make([]float64, n)
	var sumTP, sumFP, sumFN int
	for c := range n {
		precision[c], recall[c] = ratio(tp[c], tp[c]+fp[c]), ratio(tp[c], tp[c]+fn[c])
		f1[c] = ratio(2*tp[c], 2*tp[c]+fp[c]+fn[c])
		macro += f1[c] / float64(n)
		sumTP, sumFP, sumFN = sumTP+tp[c], sumFP+fp[c], sumFN+fn[c]
	}
	return precision, recall, f1, ratio(2*sumTP, 2*sumTP+sumFP+sumFN), macro
}

// TuneThresholds returns, for each class, the threshold that maximizes its F1 on probs against truth:
// halfway between the lowest probability it decides as the class and the next lower one (0 below the
// lowest), the highest such cut on ties of F1. A class without positives keeps 0.5.
func TuneThresholds(probs [][]float64, truth [][]bool) []float64 {
	if len(probs) == 0 {
		return nil
	}
	thresholds := make([]float64, len(probs[0]))
	for c := range thresholds {
		scores, labels := column(probs, c), column(truth, c)
		positives := 0
		for _, t := range labels {
			if t {
				positives++
			}
		}
		thresholds[c] = 0.5
		if positives == 0 {
			continue
		}
		idx := make([]int, len(scores))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
		best, tp := -1.0, 0
		for k, i := range idx {
			if labels[i] {
				tp++
			}
			if k+1 < len(idx) && scores[idx[k+1]] == scores[i] {
				continue
			}
			// Deciding the k+1 highest: F1 = 2tp / (decided + positives).
			f1 := 2 * float64(tp) / float64(k+1+positives)
			if f1 > best {
				best = f1
				next := 0.0
				if k+1 < len(idx) {
					next = scores[idx[k+1]]
				}
				thresholds[c] = (scores[i] + next) / 2
				if !(scores[i] > thresholds[c]) { // Scores one float apart, or a lowest score of 0.
					thresholds[c] = math.Nextafter(scores[i], math.Inf(-1))
				}
			}
		}
	}
	return thresholds
}

// WriteReport writes the loss, mean average precision, F1s, exact-match ratio and per-class figures as
// text.
func (r *MultiLabelResult) WriteReport(w io.Writer) {
	fmt.Fprintf(w, "Loss: %.6f, mAP: %.4f, micro F1: %.4f, macro F1: %.4f, exact match: %.2f%% (%d of %d)\n",
		r.Loss, r.MAP, r.MicroF1, r.MacroF1, 100*r.ExactMatch, r.Exact, r.Total)
	width := 5
	for _, c := range r.Classes {
		width = max(width, len(c))
	}
	fmt.Fprintf(w, "\nPer class (an output above its threshold is the class):\n  %-*s %9s %9s %9s %9s %9s %9s\n",
		width, "class", "threshold", "precision", "recall", "F1", "AP", "positives")
	for c, s := range r.PerClass {
		fmt.Fprintf(w, "  %-*s %9.4f %9.4f %9.4f %9.4f %9.4f %9d\n", width, r.Classes[c], r.Thresholds[c], s.Precision, s.Recall, s.F1, s.AP, s.Positives)
	}
}
