package train

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
)

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
	switch strings.TrimSpace(string(text)) {
	case "", "none":
		*w = NoClassWeights
	case "balanced":
		*w = BalancedClassWeights
	default:
		return fmt.Errorf("class weights %q: want none or balanced", text)
	}
	return nil
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

// Loss shapes the cross-entropy a training step minimizes, as torch's CrossEntropyLoss's arguments do; the
// zero value is the plain one.
type Loss struct {
	// LabelSmoothing mixes each target with the uniform distribution: (1-ε)·t + ε/N (label_smoothing=).
	LabelSmoothing float64
	// ClassWeights weighs each class's terms (weight=); nil: all 1.
	ClassWeights []float64
}

// IsPlain reports whether the loss is the plain cross-entropy.
func (l Loss) IsPlain() bool { return l.LabelSmoothing == 0 && l.ClassWeights == nil }

// Targets returns the targets [B,N] for which CrossEntropy (a mean over the batch of -Σ_c t_c log p_c)
// equals torch's CrossEntropyLoss(weight=w, label_smoothing=ε) of the same logits, and so has its
// gradients, for targets [B,N]: class indices y (one-hot rows) when hard, class probabilities (mixup's
// and cutmix's rows) otherwise. Torch computes Σ_i Σ_c s_ic w_c (-log p_ic) / D with s = (1-ε)·t + ε/N and
// D = Σ_i w_{y_i} for class indices but D = B for probabilities; the returned targets are s_ic·w_c·B/D.
// labels are the y_i.
func (l Loss) Targets(targets *tensors.Tensor, labels []int32, hard bool) *tensors.Tensor {
	if l.IsPlain() {
		return targets
	}
	dims := targets.Shape().Dimensions
	batch, classes := dims[0], dims[1]
	t := tensors.MustCopyFlatData[float32](targets)
	eps := l.LabelSmoothing
	scale := 1.0
	if l.ClassWeights != nil && hard {
		d := 0.0
		for _, y := range labels {
			d += l.ClassWeights[y]
		}
		scale = float64(batch) / d
	}
	out := make([]float32, len(t))
	for i := range batch {
		for c := range classes {
			s := (1-eps)*float64(t[i*classes+c]) + eps/float64(classes)
			if l.ClassWeights != nil {
				s *= l.ClassWeights[c]
			}
			out[i*classes+c] = float32(s * scale)
		}
	}
	return tensors.FromFlatDataAndDimensions(out, batch, classes)
}

// describe says, for the report, how the loss differs from the plain one ("" when it does not).
func (l Loss) describe(weighting ClassWeighting, classes []string) string {
	var parts []string
	if l.LabelSmoothing != 0 {
		parts = append(parts, fmt.Sprintf("label smoothing %g", l.LabelSmoothing))
	}
	if l.ClassWeights != nil {
		var ws []string
		for c, w := range l.ClassWeights {
			ws = append(ws, fmt.Sprintf("%s %.3g", classes[c], w))
		}
		parts = append(parts, fmt.Sprintf("class weights %s (%s)", weighting, strings.Join(ws, ", ")))
	}
	if parts == nil {
		return ""
	}
	return "Loss: cross-entropy with " + strings.Join(parts, " and ") + ", as torch's CrossEntropyLoss computes it."
}
