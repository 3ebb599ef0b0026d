// Package predict classifies images with a model: class probabilities for batches, top-k classes for
// files.
package predict

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	vbackend "github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/nn"
)

// Classifier turns images into class probabilities with a model in inference mode.
type Classifier struct {
	Model     *nn.Model
	Store     *model.Store
	Labels    []string
	Transform data.Transform
	BatchSize int  // Images per forward pass when predicting files; 16 if zero.
	TTA       bool // Test-time augmentation is on (see WithTTA).
	// MultiLabel says the outputs are independent sigmoids (WithMultiLabel): LogProbabilities returns each
	// output's log σ, and Files lists the classes above their thresholds.
	MultiLabel bool
	// Thresholds are a multi-label classifier's, one per class: an output above it is the class. Nil:
	// DefaultThreshold for Files, tuned on the split for evaluate.Split.
	Thresholds []float64
	padTo      int // WithBatchPadding's batch size; 0: none.
	exec       *model.Exec
}

// Option configures a Classifier.
type Option func(*options)

type options struct {
	tta        bool
	multiLabel bool
	thresholds []float64
	padTo      int
}

// DefaultThreshold is the probability above which a multi-label classifier without thresholds lists a
// class.
const DefaultThreshold = 0.5

// WithMultiLabel makes the classifier a multi-label one: independent sigmoid outputs, each class listed
// when its probability is above its threshold (thresholds, one per class; nil: none set).
func WithMultiLabel(thresholds []float64) Option {
	return func(o *options) { o.multiLabel, o.thresholds = true, thresholds }
}

// WithBatchPadding makes the classifier run a batch of fewer than n images padded with black images to n
// (their outputs dropped), so that one compiled graph serves a split whose last batch is smaller: ONNX
// Runtime compiles a graph per batch size, which takes seconds for a large model.
func WithBatchPadding(n int) Option { return func(o *options) { o.padTo = n } }

// WithTTA turns on test-time augmentation: each image's probabilities are the average of those of the
// image and of its mirror image (horizontal flip).
func WithTTA() Option { return func(o *options) { o.tta = true } }

// New returns a classifier for the model whose variables are in store. labels name the model's outputs.
func New(backend compute.Backend, m *nn.Model, store *model.Store, labels []string, tf data.Transform, opts ...Option) (*Classifier, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if len(labels) != m.Head.NumClasses {
		return nil, fmt.Errorf("classifier: %d labels for a model with %d outputs", len(labels), m.Head.NumClasses)
	}
	if err := m.CheckStore(store); err != nil {
		return nil, fmt.Errorf("classifier: %w", err)
	}
	logits := func(store *model.Store, images *graph.Node) *graph.Node {
		return m.Logits(store, images, nn.Options{})
	}
	if vbackend.IsONNX(backend) {
		// ONNX Runtime runs the exported graph (native convolutions, batch norms folded), with the weights
		// as they are now as constants: the classifier does not see later changes of the store.
		logits = func(store *model.Store, images *graph.Node) *graph.Node {
			return m.FoldedLogits(store, graph.TransposeAllAxes(images, 0, 3, 1, 2))
		}
	}
	if o.thresholds != nil && len(o.thresholds) != len(labels) {
		return nil, fmt.Errorf("classifier: %d thresholds for %d classes", len(o.thresholds), len(labels))
	}
	logProbs := func(x *graph.Node) *graph.Node { return graph.LogSoftmax(x, -1) }
	if o.multiLabel {
		logProbs = LogSigmoid
	}
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, images *graph.Node) *graph.Node {
		logp := logProbs(logits(scope.Store(), images))
		if !o.tta {
			return logp
		}
		mirrored := logProbs(logits(scope.Store(), graph.Reverse(images, 2)))
		// log((p + q) / 2), computed stably from the log-probabilities.
		top := graph.Max(logp, mirrored)
		sum := graph.Add(graph.Exp(graph.Sub(logp, top)), graph.Exp(graph.Sub(mirrored, top)))
		return graph.AddScalar(graph.Add(top, graph.Log(sum)), -math.Ln2)
	})
	if err != nil {
		return nil, fmt.Errorf("classifier: %w", err)
	}
	return &Classifier{Model: m, Store: store, Labels: labels, Transform: tf, TTA: o.tta, MultiLabel: o.multiLabel,
		Thresholds: o.thresholds, padTo: o.padTo, exec: exec}, nil
}

// LogSigmoid returns log σ(x) of logits x, computed stably: -(log(1 + exp(-|x|)) + max(-x, 0)).
func LogSigmoid(x *graph.Node) *graph.Node {
	softplus := graph.Add(graph.Log1p(graph.Exp(graph.Neg(graph.Abs(x)))), graph.Max(graph.Neg(x), graph.ZerosLike(x)))
	return graph.Neg(softplus)
}

// threshold returns class c's threshold (Thresholds's, else DefaultThreshold).
func (c *Classifier) threshold(class int) float64 {
	if c.Thresholds == nil {
		return DefaultThreshold
	}
	return c.Thresholds[class]
}

// AboveThresholds returns a multi-label classifier's classes whose probability is above their threshold,
// most probable first (ties by index).
func (c *Classifier) AboveThresholds(probs []float32) []Class {
	out := []Class{}
	for _, cl := range TopK(probs, c.Labels, len(probs)) {
		if cl.Prob > c.threshold(cl.Index) {
			out = append(out, cl)
		}
	}
	return out
}

// Classes returns the classes a prediction lists for one image's probabilities: the top k, or a
// multi-label classifier's every class above its threshold, most probable first, whatever k (possibly
// none).
func (c *Classifier) Classes(probs []float32, k int) []Class {
	if c.MultiLabel {
		return c.AboveThresholds(probs)
	}
	return TopK(probs, c.Labels, k)
}

// LogProbabilities returns the log of the class probabilities (log-softmax of the logits, computed in
// the graph for accuracy; a multi-label classifier's, each output's log-sigmoid) of a batch of
// transformed images [B, H, W, 3].
func (c *Classifier) LogProbabilities(images *tensors.Tensor) ([][]float32, error) {
	count := images.Shape().Dimensions[0]
	out, err := ExecPadded(c.exec, images, c.padTo)
	if err != nil {
		return nil, fmt.Errorf("classifying: %w", err)
	}
	flat := tensors.MustCopyFlatData[float32](out)
	out.FinalizeAll()
	n := len(c.Labels)
	logp := make([][]float32, count)
	for i := range logp {
		logp[i] = flat[i*n : (i+1)*n]
	}
	return logp, nil
}

// padBatch returns images [B, ...] followed by zero images up to n, or images itself when B >= n.
func padBatch(images *tensors.Tensor, n int) *tensors.Tensor {
	dims := images.Shape().Dimensions
	if dims[0] >= n {
		return images
	}
	flat := tensors.MustCopyFlatData[float32](images)
	padded := make([]float32, len(flat)/dims[0]*n)
	copy(padded, flat)
	return tensors.FromFlatDataAndDimensions(padded, append([]int{n}, dims[1:]...)...)
}

// ExecPadded runs exec, whose graph maps a batch [B, ...] to one float32 output [B, ...], on batch padded
// with zero rows to size (padBatch), so that one compiled graph serves every batch of a pass, its smaller
// last one included, and returns the output's first B rows: those of batch's own images. A batch of size
// or more images (any batch when size <= 0) runs as it is. The output is the caller's to free.
func ExecPadded(exec *model.Exec, batch *tensors.Tensor, size int) (*tensors.Tensor, error) {
	n := batch.Shape().Dimensions[0]
	padded := padBatch(batch, size)
	out, err := exec.Exec(padded)
	if padded != batch {
		padded.FinalizeAll()
	}
	if err != nil {
		return nil, err
	}
	dims := out[0].Shape().Dimensions
	if dims[0] == n {
		return out[0], nil
	}
	flat := tensors.MustCopyFlatData[float32](out[0])
	out[0].FinalizeAll()
	return tensors.FromFlatDataAndDimensions(flat[:len(flat)/dims[0]*n], append([]int{n}, dims[1:]...)...), nil
}

// Close frees the classifier's compiled graphs (on ONNX Runtime, with the weights they hold). The
// classifier cannot be used after.
func (c *Classifier) Close() { c.exec.Finalize() }

// Probabilities returns the class probabilities of a batch of transformed images [B, H, W, 3].
func (c *Classifier) Probabilities(images *tensors.Tensor) ([][]float32, error) {
	logp, err := c.LogProbabilities(images)
	if err != nil {
		return nil, err
	}
	for _, row := range logp {
		for j, v := range row {
			row[j] = float32(math.Exp(float64(v)))
		}
	}
	return logp, nil
}

// Class is one class with its probability.
type Class struct {
	Index int     `json:"index"`
	Label string  `json:"label"`
	Prob  float64 `json:"prob"`
}

// Prediction is the top classes of one image (a multi-label classifier's: every class above its threshold,
// possibly none). Err is set, and Top empty, when the image could not be read.
type Prediction struct {
	Image string  `json:"image"`
	Top   []Class `json:"top"`
	Err   error   `json:"-"`
}

// NoClassAbove is what a multi-label prediction that lists no class says.
const NoClassAbove = "no class above its threshold"

// Text is the prediction in one line: "path: label 97.1%, label 2.0%", or "path: no class above its
// threshold" for a multi-label prediction that lists none (NoClassAbove), or the image's error.
func (p Prediction) Text() string {
	if p.Err != nil {
		return p.Image + ": " + p.Err.Error()
	}
	if len(p.Top) == 0 {
		return p.Image + ": " + NoClassAbove
	}
	text := make([]string, len(p.Top))
	for i, cl := range p.Top {
		text[i] = fmt.Sprintf("%s %.1f%%", cl.Label, 100*cl.Prob)
	}
	return p.Image + ": " + strings.Join(text, ", ")
}

// TopK returns the k most probable classes, most probable first (ties by index).
func TopK(probs []float32, labels []string, k int) []Class {
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case probs[a] > probs[b]:
			return -1
		case probs[a] < probs[b]:
			return 1
		}
		return 0
	})
	k = min(max(k, 1), len(idx))
	out := make([]Class, k)
	for i, j := range idx[:k] {
		out[i] = Class{Index: j, Label: labels[j], Prob: float64(probs[j])}
	}
	return out
}

// Files predicts the top-k classes of each image file (a multi-label classifier's: the classes above their
// thresholds, whatever k). An image that cannot be read gets its Err set; the others are still predicted.
// The error return is for failures of the model itself.
func (c *Classifier) Files(paths []string, k int) ([]Prediction, error) {
	preds := make([]Prediction, len(paths))
	samples := make([]data.Sample, len(paths))
	for i, p := range paths {
		preds[i].Image = p
		samples[i] = data.Sample{Path: p, Label: i} // The label carries the image's index.
	}
	batch := c.BatchSize
	if batch <= 0 {
		batch = 16
	}
	// One bad file is left out of its batch (and reported) instead of failing the batch.
	failed := map[string]error{}
	loader := &data.Loader{Samples: samples, Transform: c.Transform, BatchSize: batch,
		Skip: func(path string, err error) { failed[path] = err }}
	for b, err := range loader.Epoch(0) {
		if err != nil {
			return nil, err
		}
		probs, err := c.Probabilities(b.Images)
		if err != nil {
			return nil, err
		}
		for i, p := range probs {
			preds[b.Labels[i]].Top = c.Classes(p, k)
		}
	}
	for i := range preds {
		if err, ok := failed[preds[i].Image]; ok && preds[i].Top == nil {
			preds[i].Err = err
		}
	}
	return preds, nil
}
