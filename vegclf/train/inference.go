package train

import (
	"fmt"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/predict"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/step"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// onnxMinImages is the fewest images a pass without gradients needs to run on ONNX Runtime in the auto
// mode (recipe.InferenceAuto). ONNX Runtime's graph holds the weights as constants, so it is built and
// compiled again whenever they have changed: about 1.9 s for ResNet-50 at 224 (0.8 s building the graph
// with its constants, 1.1 s compiling it, of which 0.8 s ONNX Runtime's session), against the 0.015 s
// an image its inference saves over the Go backend's (19.9 against 15.4 images/s), so it repays from
// about 130 images on (AMD EPYC, 2 cores; BENCHMARKS.md, issue 47). The smaller models it runs faster
// build faster and save more an image.
const onnxMinImages = 128

// setUpInference chooses where the run's passes without gradients may run (Config.InferenceBackend):
// it starts ONNX Runtime when the setting asks for it, or, in the auto mode, when the run trains on the
// pure Go backend and ONNX Runtime is installed; r.onnx stays nil otherwise.
func (r *Run) setUpInference() error {
	mode := r.Config.InferenceBackend
	if mode == recipe.InferenceTrain || mode == recipe.InferenceAuto && !backend.IsGo(r.Backend) {
		return nil
	}
	if arch, err := zoo.Lookup(string(r.Config.Arch)); err == nil && mode == recipe.InferenceAuto && !arch.FasterOnONNXRuntime {
		return nil // The Go backend runs it faster.
	}
	ort, err := backend.NewONNXRuntime()
	if err != nil {
		if mode == recipe.InferenceONNX {
			return fmt.Errorf("the inference_backend setting asks for ONNX Runtime: %w", err)
		}
		return nil // Not installed: the Go backend runs them.
	}
	r.onnx = ort
	which := "every pass"
	if mode == recipe.InferenceAuto {
		which = fmt.Sprintf("each pass over at least %d images", onnxMinImages)
	}
	r.Notes = append(r.Notes, fmt.Sprintf("Passes without gradients (the feature pass, test evaluation, validation) run on ONNX Runtime, %s: the exported graph, built from the weights of the moment.", which))
	return nil
}

// onnxFor returns ONNX Runtime when a pass without gradients over images runs on it, nil when it runs on
// the training backend.
func (r *Run) onnxFor(images int) compute.Backend {
	if r.onnx == nil || r.Config.InferenceBackend == recipe.InferenceAuto && images < onnxMinImages {
		return nil
	}
	return r.onnx
}

// featureExtractor returns the frozen backbone's features [B, FeatureDim] of a batch of images, for a
// pass over images: on ONNX Runtime (onnxFor), the exported graph's features, every batch padded to the
// batch size so that one graph serves the pass; on the training backend otherwise, split across its
// devices when the run is data parallel. done frees its graphs.
func (r *Run) featureExtractor(images int) (run func(batch *tensors.Tensor) (*tensors.Tensor, error), done func(), err error) {
	if ort := r.onnxFor(images); ort != nil {
		exec, err := model.NewExec(ort, r.Store, func(scope *model.Scope, images *Node) *Node {
			return r.Model.Backbone.FoldedFeatures(scope.Store(), TransposeAllAxes(images, 0, 3, 1, 2))
		})
		if err != nil {
			return nil, nil, err
		}
		run = func(batch *tensors.Tensor) (*tensors.Tensor, error) {
			return predict.ExecPadded(exec, batch, r.Config.Batch)
		}
		return run, exec.Finalize, nil
	}
	backbone, err := step.NewInference(r.Backend, r.Store, r.parallel, func(scope *model.Scope, images *Node) *Node {
		return r.Model.Features(scope.Store(), images, nn.Options{})
	})
	if err != nil {
		return nil, nil, err
	}
	return backbone.Run, func() {}, nil
}

// classifierOptions returns the options of the run's classifiers.
func (r *Run) classifierOptions() []predict.Option {
	if r.Config.MultiLabel {
		return []predict.Option{predict.WithMultiLabel(r.fixedThresholds())}
	}
	return nil
}

// testClassifier returns the classifier that evaluates the weights of the moment on the test split:
// onTrain, the one on the training backend, or, when the split runs on ONNX Runtime (onnxFor), one built
// now from the weights (done frees it).
func (r *Run) testClassifier(onTrain *predict.Classifier) (c *predict.Classifier, done func(), err error) {
	ort := r.onnxFor(len(r.Dataset.Test.Samples))
	if ort == nil {
		return onTrain, func() {}, nil
	}
	opts := append(r.classifierOptions(), predict.WithBatchPadding(r.Config.Batch))
	c, err = predict.New(ort, r.Model, r.Store, r.Dataset.Classes, r.Config.Transform(), opts...)
	if err != nil {
		return nil, nil, err
	}
	return c, c.Close, nil
}

// bestCheckpoint is the run folder's best checkpoint read into memory: its model, variables and meta.
type bestCheckpoint struct {
	model *nn.Model
	store *model.Store
	meta  *checkpoint.Meta
}

// loadBest returns the run folder's best checkpoint, read from disk only when it has not been since it
// was last written: a finished run's validation (EvaluateBest), its summary (WriteSummary) and its
// classifiers (BestClassifier) share one reading (0.2-1.5 s for ResNet-50). saveEpoch drops it when it
// writes a new best.
func (r *Run) loadBest() (*bestCheckpoint, error) {
	if r.loadedBest == nil {
		m, store, meta, err := runfolder.LoadModel(r.Dir)
		if err != nil {
			return nil, err
		}
		r.loadedBest = &bestCheckpoint{model: m, store: store, meta: meta}
	}
	return r.loadedBest, nil
}

// BestClassifier returns a classifier on backend b of the run folder's best checkpoint, with its meta. The
// checkpoint is read once for the run's validation, summary and classifiers (loadBest): the classifiers
// share its variables.
func (r *Run) BestClassifier(b compute.Backend, opts ...predict.Option) (*predict.Classifier, *checkpoint.Meta, error) {
	best, err := r.loadBest()
	if err != nil {
		return nil, nil, err
	}
	c, err := runfolder.NewClassifier(b, best.model, best.store, best.meta, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("loading %s: %w", runfolder.CheckpointPath(r.Dir), err)
	}
	return c, best.meta, nil
}

// bestClassifier returns the classifier of the run folder's best checkpoint for the validation split: on
// ONNX Runtime when the split runs on it (onnxFor). done frees it.
func (r *Run) bestClassifier() (c *predict.Classifier, meta *checkpoint.Meta, done func(), err error) {
	b, opts := r.Backend, []predict.Option(nil)
	if ort := r.onnxFor(len(r.Dataset.Validation.Samples)); ort != nil {
		b, opts = ort, []predict.Option{predict.WithBatchPadding(r.Config.Batch)}
	}
	c, meta, err = r.BestClassifier(b, opts...)
	if err != nil {
		return nil, nil, nil, err
	}
	return c, meta, c.Close, nil
}
