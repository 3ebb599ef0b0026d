package train

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/vegclf/vegclf/vegclf/recipe"
)

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
func (l Loss) describe(weighting recipe.ClassWeighting, classes []string) string {
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
