package train

import (
	"context"
	"fmt"
	"iter"
	"math/rand/v2"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/augment"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/evaluate"
	"github.com/vegclf/vegclf/vegclf/predict"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/step"
)

// batchInput is one training batch: images or features, and labels; targets [B,N] are soft targets of
// mixed images (nil for the labels' one-hot rows); sets are multi-label images' classes (nil for
// single-label data).
type batchInput struct {
	inputs  *tensors.Tensor
	labels  []int32
	targets *tensors.Tensor
	sets    [][]int
	index   int // The batch's place in the epoch's order (data.Batch.Index).
}

// free releases the batch's tensors once stepped: their memory returns now, not after a garbage
// collection and their finalizers, which let the heap grow with the steps between collections.
func (b batchInput) free() {
	for _, t := range []*tensors.Tensor{b.inputs, b.targets} {
		if t != nil {
			t.FinalizeAll()
		}
	}
}

// stepBatch trains on b, with its soft targets where it has them, or its label sets.
func stepBatch(s *step.Stepper, b batchInput) (loss, correct float64, err error) {
	if s.MultiLabel() {
		if b.sets == nil {
			return 0, 0, fmt.Errorf("multi-label training: a batch without label sets")
		}
		return s.StepMulti(b.inputs, b.sets)
	}
	if b.targets != nil {
		return s.StepSoft(b.inputs, b.targets, b.labels)
	}
	return s.Step(b.inputs, b.labels)
}

// epochSource feeds a phase's epochs: the training batches in a seeded order, and the test evaluation.
type epochSource interface {
	input() step.Input
	numBatches() int
	// trainBatches yields the epoch's batches from its batch first on (by place in the order), the first
	// of them the index-th yielded (they differ when unreadable images left a batch empty).
	trainBatches(epoch, first, index int) iter.Seq2[batchInput, error]
	test(progress func(done, total int)) (testResult, error)
}

// testResult is an epoch's evaluation on the test split.
type testResult struct {
	loss, accuracy float64                    // A multi-label model's accuracy is its exact-match ratio.
	multi          *evaluate.MultiLabelResult // A multi-label model's figures; nil for single-label.
}

// score is what picks the best checkpoint: the accuracy, a multi-label model's mean average precision.
func (t testResult) score() float64 {
	if t.multi != nil {
		return t.multi.MAP
	}
	return t.accuracy
}

// epochSource returns cached features for a frozen phase with batch norm in inference mode (unless the
// cache is turned off), and images otherwise. Computing the features stops, their pass saved in parts,
// when ctx is cancelled.
func (r *Run) epochSource(ctx context.Context, phase runfolder.Phase, bnTrain bool) (epochSource, error) {
	// Fine-tuning takes the crops with --augment, and the policy and random erasing when they are set;
	// the frozen phase takes all of them with --augment-frozen.
	finetune, frozenAugmented := phase == runfolder.Finetune, phase == runfolder.Frozen && r.Config.AugmentFrozen
	crops := finetune && r.Config.Augment || frozenAugmented
	policy := (finetune || frozenAugmented) && r.Config.AugmentPolicy.Enabled()
	erasing := (finetune || frozenAugmented) && r.Config.RandomErasing > 0
	augmented := crops || policy || erasing
	if phase == runfolder.Frozen && r.Config.CacheFeatures && augmented {
		r.report("Feature caching is off: augmented images give different features every epoch.\n")
	}
	if phase == runfolder.Frozen && !bnTrain && r.Config.CacheFeatures && !augmented {
		train, test, err := r.frozenFeatures(ctx)
		if err != nil {
			return nil, err
		}
		exec, err := model.NewExec(r.Backend, r.Store, func(scope *model.Scope, x *Node) *Node {
			if r.Config.MultiLabel {
				return predict.LogSigmoid(r.Model.Classify(scope.Store(), x))
			}
			return LogSoftmax(r.Model.Classify(scope.Store(), x), -1)
		})
		if err != nil {
			return nil, err
		}
		r.report("The frozen backbone's features are computed once and the head trains on them (turn the feature cache off to run the backbone on every batch).\n")
		src := &featureSource{r: r, train: train, testSet: test, exec: exec}
		if r.Config.BalancedSampling {
			src.weights = data.BalancedWeights(train.samples, len(r.Dataset.Classes))
			r.reportBalancedSampling()
		}
		return src, nil
	}
	if phase == runfolder.Frozen && r.Config.CacheFeatures && bnTrain {
		r.report("Feature caching is off: with batch norm in train mode the frozen backbone's output changes every step.\n")
	}
	classifier, err := predict.New(r.Backend, r.Model, r.Store, r.Dataset.Classes, r.Config.Transform(), r.classifierOptions()...)
	if err != nil {
		return nil, err
	}
	loader := &data.Loader{Samples: r.Dataset.Train.Samples, Transform: r.Config.Transform(), BatchSize: r.Config.Batch,
		Shuffle: true, Seed: r.Config.Seed, Cache: r.imageCache()}
	if !r.Config.Strict {
		loader.Skip = r.skip
	}
	if r.Config.BalancedSampling {
		loader.Weights = data.BalancedWeights(loader.Samples, len(r.Dataset.Classes))
		r.reportBalancedSampling()
	}
	if crops {
		loader.Augment = augment.Default()
		r.report("Augmentation: random resized crops, horizontal flips, rotations up to 10 degrees, colour jitter (seeded).\n")
	}
	if policy {
		loader.Policy = r.Config.AugmentPolicy
		r.report("Augmentation policy: %s, as torchvision's %s, on each resized image (seeded).\n", loader.Policy, policyName(loader.Policy))
	}
	if erasing {
		loader.Erasing = augment.Erasing{P: r.Config.RandomErasing}
		r.report("Random erasing: p %g, as torchvision's RandomErasing after normalization (seeded).\n", r.Config.RandomErasing)
	}
	src := &imageSource{r: r, loader: loader, classifier: classifier}
	if mix := r.Config.Mix(); mix.Enabled() && (phase == runfolder.Finetune || augmented) {
		src.mix = mix
		r.report("Mixing images: mixup %g, cutmix %g (Beta parameters; 0: off), with soft targets.\n", mix.Mixup, mix.Cutmix)
	}
	return src, nil
}

// policyName names the torchvision transform an augmentation policy is.
func policyName(p augment.AutoPolicy) string {
	if p.Kind == augment.RandAugment {
		return fmt.Sprintf("RandAugment(num_ops=%d, magnitude=%d)", p.NumOps, p.Magnitude)
	}
	return "TrivialAugmentWide()"
}

// imageSource trains and tests on images.
type imageSource struct {
	r          *Run
	loader     *data.Loader
	classifier *predict.Classifier
	mix        *augment.Mix // Mixup and cutmix of training batches; nil: off.
}

func (s *imageSource) input() step.Input { return step.FromImages }

// setTrainSize makes the training images size x size (progressive resizing). The image cache holds
// images of the run's ImageSize only: training images of other sizes are decoded every epoch.
func (s *imageSource) setTrainSize(size int) {
	s.loader.Transform.Size = size
	s.loader.Cache = nil
	if size == s.r.Config.ImageSize {
		s.loader.Cache = s.r.imageCache()
	}
}

func (s *imageSource) numBatches() int { return s.loader.NumBatches() }

func (s *imageSource) trainBatches(epoch, first, index int) iter.Seq2[batchInput, error] {
	return func(yield func(batchInput, error) bool) {
		for b, err := range s.loader.EpochFrom(epoch, first) {
			var in batchInput
			if err == nil {
				in = batchInput{inputs: b.Images, labels: b.Labels, sets: b.LabelSets}
				if s.mix != nil {
					in, err = s.mixed(b, epoch, index)
				}
			}
			if err != nil {
				yield(batchInput{}, err)
				return
			}
			in.index = b.Index
			if !yield(in, nil) {
				return
			}
			index++
		}
	}
}

// mixStream is XORed into the seed for the draws of mixup and cutmix, so that they are not the shuffle's
// ("mix" in ASCII).
const mixStream = 0x6d6978

// mixed applies mixup or cutmix to batch index of epoch, seeded by both, so a resumed run mixes the
// same way.
func (s *imageSource) mixed(b *data.Batch, epoch, index int) (batchInput, error) {
	dims := b.Images.Shape().Dimensions
	classes := len(s.r.Dataset.Classes)
	rng := rand.New(rand.NewPCG(s.r.Config.Seed^mixStream, uint64(epoch)<<32|uint64(index)))
	m, err := s.mix.Apply(b.Pixels, b.Labels, dims[1], dims[2], classes, rng)
	if err != nil {
		return batchInput{}, err
	}
	return batchInput{
		inputs:  tensors.FromFlatDataAndDimensions(m.Pixels, dims...),
		labels:  b.Labels,
		targets: tensors.FromFlatDataAndDimensions(m.Targets, len(b.Labels), classes),
	}, nil
}

func (s *imageSource) test(progress func(done, total int)) (testResult, error) {
	c, done, err := s.r.testClassifier(s.classifier)
	if err != nil {
		return testResult{}, err
	}
	defer done()
	res, err := evaluate.SplitWithPosWeight(c, s.r.Dataset.Test, s.r.Config.Batch, progress, s.r.posWeight())
	if err != nil {
		return testResult{}, err
	}
	return testResult{loss: res.Loss, accuracy: res.Accuracy, multi: res.MultiLabel}, nil
}

// reportBalancedSampling says how balanced sampling draws an epoch.
func (r *Run) reportBalancedSampling() {
	r.report("Balanced sampling: each epoch draws %d training images with replacement, each class equally often (seeded).\n", len(r.Dataset.Train.Samples))
}

// featureSource trains and tests the head on cached backbone features.
type featureSource struct {
	r              *Run
	train, testSet *features
	exec           *model.Exec
	weights        []float64 // Balanced sampling's draw weights; nil: a permutation.
}

func (s *featureSource) input() step.Input { return step.FromFeatures }

func (s *featureSource) numBatches() int {
	return (len(s.train.samples) + s.r.Config.Batch - 1) / s.r.Config.Batch
}

func (s *featureSource) trainBatches(epoch, first, _ int) iter.Seq2[batchInput, error] {
	return func(yield func(batchInput, error) bool) {
		// The same seeded order as the image loader's, so cached and uncached runs see the same batches.
		order := (&data.Loader{Samples: s.train.samples, Shuffle: true, Seed: s.r.Config.Seed, Weights: s.weights}).Order(epoch)
		for start := first * s.r.Config.Batch; start < len(order); start += s.r.Config.Batch {
			x, labels, sets, err := s.train.batch(order[start:min(start+s.r.Config.Batch, len(order))])
			if err != nil {
				yield(batchInput{}, err)
				return
			}
			if !yield(batchInput{inputs: x, labels: labels, sets: sets, index: start / s.r.Config.Batch}, nil) {
				return
			}
		}
	}
}

func (s *featureSource) test(progress func(done, total int)) (testResult, error) {
	res, err := s.r.headEvaluation(s.exec, s.testSet)
	progress(1, 1)
	return res, err
}

// fixedThresholds returns a multi-label run's thresholds when they are not tuned: its threshold for every
// class; nil when tuned (on the test split, each epoch).
func (r *Run) fixedThresholds() []float64 {
	if r.Config.Threshold.Tune {
		return nil
	}
	thresholds := make([]float64, len(r.Dataset.Classes))
	for c := range thresholds {
		thresholds[c] = r.Config.Threshold.Probability()
	}
	return thresholds
}
