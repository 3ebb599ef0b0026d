package step

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/vegclf/vegclf/vegclf/recipe"
)

// Loss shapes the cross-entropy a training step minimizes, as torch's CrossEntropyLoss's arguments do; the
// zero value is the plain one. With MultiLabel it is torch's BCEWithLogitsLoss instead.
type Loss struct {
	// LabelSmoothing mixes each target with the uniform distribution: (1-ε)·t + ε/N (label_smoothing=);
	// multi-label, as timm's BinaryCrossEntropy smooths: t·(1-ε) + ε/N.
	LabelSmoothing float64
	// ClassWeights weighs each class's terms (weight=); nil: all 1. Single-label only.
	ClassWeights []float64
	// MultiLabel trains independent sigmoid outputs with binary cross-entropy (BinaryCrossEntropy).
	MultiLabel bool
	// PosWeight weighs each class's positive terms of the binary cross-entropy (BCEWithLogitsLoss's
	// pos_weight=); nil: all 1. Multi-label only.
	PosWeight []float64
}

// IsPlain reports whether the loss is the plain cross-entropy.
func (l Loss) IsPlain() bool { return l.LabelSmoothing == 0 && l.ClassWeights == nil && !l.MultiLabel }

// objective returns the graph of the loss a step minimizes, and its count of correct predictions, of
// logits [B,N], targets [B,N] (Targets's) and labels: int32 class indices [B], or multi-label, the
// multi-hot rows [B,N] float32 (MultiHot) the targets were made from.
func (l Loss) objective() func(logits, targets, labels *Node) (loss, correct *Node) {
	if l.MultiLabel {
		return func(logits, targets, labels *Node) (*Node, *Node) {
			return BinaryCrossEntropy(logits, targets, labels, l.PosWeight)
		}
	}
	return CrossEntropy
}

// BinaryCrossEntropy returns torch's BCEWithLogitsLoss(pos_weight=posWeight) (mean over the batch and the
// classes) of logits [B,N] for targets [B,N] in [0,1], computed as torch does:
// (1-t)·x + (1 + (w-1)·t)·(log(1 + exp(-|x|)) + max(-x, 0)), w the class's pos_weight (nil: all 1); and the
// number of exact matches, rows whose outputs are all on their label's side of probability 0.5 (logit 0),
// as a float32 scalar, labels [B,N] the rows' multi-hot labels (1 or 0).
func BinaryCrossEntropy(logits, targets, labels *Node, posWeight []float64) (loss, exact *Node) {
	dims := logits.Shape().Dimensions
	softplus := Add(Log1p(Exp(Neg(Abs(logits)))), Max(Neg(logits), ZerosLike(logits))) // -log σ(x).
	weight := OnesLike(targets)
	if posWeight != nil {
		w := make([]float32, len(posWeight))
		for c, v := range posWeight {
			w[c] = float32(v - 1)
		}
		pw := BroadcastToDims(Reshape(Const(logits.Graph(), w), 1, dims[1]), dims...)
		weight = AddScalar(Mul(targets, pw), 1)
	}
	loss = ReduceAllMean(Add(Mul(OneMinus(targets), logits), Mul(weight, softplus)))
	predicted := ConvertDType(GreaterThan(logits, ZerosLike(logits)), dtypes.Float32)
	truth := ConvertDType(GreaterThan(labels, ConstAs(labels, 0.5)), dtypes.Float32)
	matches := LogicalAll(Equal(predicted, truth), -1)
	return loss, ReduceAllSum(ConvertDType(matches, dtypes.Float32))
}

// MultiHot returns the multi-hot rows [B,N] of label sets: 1 at each of a row's classes.
func MultiHot(sets [][]int, numClasses int) *tensors.Tensor {
	t := make([]float32, len(sets)*numClasses)
	for i, set := range sets {
		for _, c := range set {
			t[i*numClasses+c] = 1
		}
	}
	return tensors.FromFlatDataAndDimensions(t, len(sets), numClasses)
}

// multiLabelTargets returns the binary cross-entropy's targets of multi-hot rows y [B,N]: smoothed as timm's
// BinaryCrossEntropy does, y·on + (1-y)·off with off = ε/N and on = 1 - ε + off.
func (l Loss) multiLabelTargets(multiHot *tensors.Tensor) *tensors.Tensor {
	if l.LabelSmoothing == 0 {
		return multiHot
	}
	dims := multiHot.Shape().Dimensions
	y := tensors.MustCopyFlatData[float32](multiHot)
	off := l.LabelSmoothing / float64(dims[1])
	on := 1 - l.LabelSmoothing + off
	for i, v := range y {
		y[i] = float32(float64(v)*on + (1-float64(v))*off)
	}
	return tensors.FromFlatDataAndDimensions(y, dims...)
}

// TargetKind says what a batch's targets [B,N] are, which changes how torch weights its loss.
type TargetKind int

const (
	ClassIndices       TargetKind = iota // One-hot rows: each image's class y_i.
	ClassProbabilities                   // Rows of class probabilities, as mixup and cutmix make.
)

// Targets returns the targets [B,N] for which CrossEntropy (a mean over the batch of -Σ_c t_c log p_c)
// equals torch's CrossEntropyLoss(weight=w, label_smoothing=ε) of the same logits, and so has its
// gradients, for targets [B,N] of the given kind: class indices y (one-hot rows) or class probabilities
// (mixup's and cutmix's rows). Torch computes Σ_i Σ_c s_ic w_c (-log p_ic) / D with s = (1-ε)·t + ε/N and
// D = Σ_i w_{y_i} for class indices but D = B for probabilities; the returned targets are s_ic·w_c·B/D.
// labels are the y_i.
func (l Loss) Targets(targets *tensors.Tensor, labels []int32, kind TargetKind) *tensors.Tensor {
	if l.IsPlain() {
		return targets
	}
	dims := targets.Shape().Dimensions
	batch, classes := dims[0], dims[1]
	t := tensors.MustCopyFlatData[float32](targets)
	eps := l.LabelSmoothing
	scale := 1.0
	if l.ClassWeights != nil && kind == ClassIndices {
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

// Describe says, for the report, how the loss differs from the plain one ("" when it does not).
func (l Loss) Describe(weighting recipe.ClassWeighting, classes []string) string {
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
	if l.MultiLabel {
		if l.PosWeight != nil {
			var ws []string
			for c, w := range l.PosWeight {
				ws = append(ws, fmt.Sprintf("%s %.3g", classes[c], w))
			}
			parts = append(parts, fmt.Sprintf("pos_weight %s, negatives/positives (%s)", weighting, strings.Join(ws, ", ")))
		}
		if parts == nil {
			return "Loss: binary cross-entropy of independent sigmoid outputs, as torch's BCEWithLogitsLoss computes it."
		}
		return "Loss: binary cross-entropy of independent sigmoid outputs with " + strings.Join(parts, " and ") +
			", as torch's BCEWithLogitsLoss computes it (smoothing as timm's BinaryCrossEntropy)."
	}
	if parts == nil {
		return ""
	}
	return "Loss: cross-entropy with " + strings.Join(parts, " and ") + ", as torch's CrossEntropyLoss computes it."
}
