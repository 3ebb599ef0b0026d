package recipe

// ClassWeighting says how the loss weighs each class: "none" (the zero value: all 1) or "balanced".
type ClassWeighting string

const (
	// NoClassWeights weighs every class 1.
	NoClassWeights ClassWeighting = ""
	// BalancedClassWeights weighs class c by n / (classes * count_c), its training images' count
	// count_c among n (scikit-learn's and Keras's usual "balanced"), so each class adds as much to the
	// loss.
	BalancedClassWeights ClassWeighting = "balanced"
)

// String returns "none" or "balanced".
func (w ClassWeighting) String() string {
	if w == NoClassWeights {
		return "none"
	}
	return string(w)
}

// MarshalText writes the weighting (String).
func (w ClassWeighting) MarshalText() ([]byte, error) { return []byte(w.String()), nil }

// UnmarshalText reads "none" (or "") or "balanced".
func (w *ClassWeighting) UnmarshalText(text []byte) error {
	return setChoice(w, "class weights", "none", text, BalancedClassWeights)
}

// Weights returns the class weights for training images counted per class (counts[c] of class c), nil
// for none. A class without images gets weight 0: it has no term to weigh.
func (w ClassWeighting) Weights(counts []int) []float64 {
	if w != BalancedClassWeights {
		return nil
	}
	n := 0
	for _, c := range counts {
		n += c
	}
	weights := make([]float64, len(counts))
	for c, count := range counts {
		if count > 0 {
			weights[c] = float64(n) / float64(len(counts)*count)
		}
	}
	return weights
}

// PosWeights returns, for multi-label training, torch's BCEWithLogitsLoss pos_weight for n training images
// of which positives[c] have class c, nil for none: balanced weighs class c's positive terms by
// negatives_c / positives_c, (n - positives[c]) / positives[c], so that its positives add as much to the
// loss as its negatives. A class without positives gets 1: it has no positive term to weigh.
func (w ClassWeighting) PosWeights(positives []int, n int) []float64 {
	if w != BalancedClassWeights {
		return nil
	}
	weights := make([]float64, len(positives))
	for c, p := range positives {
		weights[c] = 1
		if p > 0 {
			weights[c] = float64(n-p) / float64(p)
		}
	}
	return weights
}
