package train

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/evaluate"
	"github.com/vegclf/vegclf/vegclf/internal/atomicfile"
	"github.com/vegclf/vegclf/vegclf/memlimit"
	"github.com/vegclf/vegclf/vegclf/predict"
	"github.com/vegclf/vegclf/vegclf/resnet"
	"github.com/vegclf/vegclf/vegclf/schedule"
	"github.com/vegclf/vegclf/vegclf/weights"
)

// Phase is a training phase.
type Phase string

// The tutorial's two phases.
const (
	Frozen   Phase = "frozen"   // Backbone frozen, only the head is trained.
	Finetune Phase = "finetune" // Everything is trained.
)

// Files of a run folder.
const (
	ConfigFile     = "config.json"
	MetricsFile    = "metrics.jsonl"
	BestFile       = "best.ckpt"
	LastFile       = "last.ckpt"
	MetricsCSVFile = "metrics.csv" // The same figures as metrics.jsonl, for spreadsheets, pandas and plotting tools.
	SummaryFile    = "summary.json"
	SummaryTxtFile = "summary.txt"
)

// EpochMetrics are one epoch's figures, as written to metrics.jsonl.
type EpochMetrics struct {
	Phase           Phase   `json:"phase"`
	Epoch           int     `json:"epoch"` // 1-based, within the phase.
	TrainLoss       float64 `json:"train_loss"`
	TrainAccuracy   float64 `json:"train_accuracy"`
	TestLoss        float64 `json:"test_loss"`
	TestAccuracy    float64 `json:"test_accuracy"`
	Seconds         float64 `json:"seconds"`
	ImagesPerSecond float64 `json:"train_images_per_second"`
	Best            bool    `json:"best"` // This epoch's checkpoint became best.ckpt.
}

// String formats the metrics as the tutorial's report line.
func (e EpochMetrics) String() string {
	return fmt.Sprintf("Epoch %2d - Train accuracy: %.2f%%, Train loss: %.6f; Test accuracy: %.2f%%, Test loss: %.6f",
		e.Epoch, 100*e.TrainAccuracy, e.TrainLoss, 100*e.TestAccuracy, e.TestLoss)
}

// Progress describes where a running epoch is, for progress bars.
type Progress struct {
	Phase         Phase
	Epoch, Epochs int
	Stage         string // "train" or "test".
	Done, Total   int    // Batches.
	Elapsed       time.Duration
}

// Run is a training run in its folder.
type Run struct {
	Config  Config
	Dir     string
	Dataset *Dataset
	Model   *resnet.Model
	Store   *model.Store
	Backend compute.Backend

	// Report receives the report lines (phase headers, epoch lines); OnProgress is called after every batch
	// and OnEpoch after every epoch. All three are optional.
	Report     io.Writer
	OnProgress func(Progress)
	OnEpoch    func(EpochMetrics)
	// FeatureCache, when set, is a folder of frozen-backbone features that runs share (a sweep's): runs with
	// the same backbone values, transform and images compute them once. By default the run folder keeps its own.
	FeatureCache string

	// Where the run stands: the phase and the epochs of it completed, the optimizer steps taken in it.
	phase Phase
	epoch int
	step  int64
	best  float64
	// Notes about the run's setup (weights loaded, carved split), reported once.
	Notes []string
	// Files skipped while loading because their pixel data is damaged (past a valid header).
	skipped   map[string]bool
	skippedMu sync.Mutex
	images    *data.ImageCache
	sinceBest int // Epochs since the test accuracy last improved, for early stopping.

	probeMemory bool      // The next fine-tuning step sets the automatic soft memory limit (memlimit.Probe).
	parallel    *Parallel // Data-parallel training's layout; nil on one device.
}

// skip records an image that could not be loaded during training, warning once per file.
func (r *Run) skip(path string, err error) {
	r.skippedMu.Lock()
	defer r.skippedMu.Unlock()
	if r.skipped == nil {
		r.skipped = map[string]bool{}
	}
	if !r.skipped[path] {
		r.skipped[path] = true
		r.report("warning: skipping unreadable image: %v\n", err)
	}
}

// ErrRunExists is returned (wrapped) when a new run is asked for in a folder that holds one.
var ErrRunExists = errors.New("the folder already holds a run")

// Open prepares a run in dir: a fresh one (dir must not hold a run already), or, with resume, the run
// already there, continued from its last checkpoint. A resumed run keeps its saved configuration
// (ReadConfig): cfg must equal it but for settings of how it runs (strict, feature and image caches,
// memory limit, devices) and for epochs raised to train some more; any other difference is a
// *ResumeConflict naming each. Nothing is trained yet.
func Open(cfg Config, b compute.Backend, dir string, resume bool) (*Run, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating run folder: %w", err)
	}
	if err := checkWritable(dir); err != nil {
		return nil, err
	}
	last := filepath.Join(dir, LastFile)
	_, lastErr := os.Stat(last)
	var saved Config
	if resume {
		if lastErr != nil {
			return nil, fmt.Errorf("nothing to resume in %s: no %s (start a new run instead)", dir, LastFile)
		}
		var err error
		if saved, err = ReadConfig(dir); err != nil {
			return nil, err
		}
		// Before anything is loaded; the phase's own rule is checked again after the restore.
		if _, err := checkResume(dir, saved, cfg, Frozen); err != nil {
			return nil, err
		}
	} else if lastErr == nil {
		return nil, fmt.Errorf("%s: %w (%s): resume it, or choose another folder", dir, ErrRunExists, LastFile)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	parallel, parallelNote, err := parallelFor(b, cfg.Devices, cfg.Batch)
	if err != nil {
		return nil, err
	}
	ds, err := LoadDataset(cfg)
	if err != nil {
		return nil, err
	}
	arch, _ := resnet.ArchByName(cfg.Arch)
	r := &Run{Config: cfg, Dir: dir, Dataset: ds, Model: resnet.New(arch, cfg.Head(len(ds.Classes))), Backend: b, phase: Frozen, parallel: parallel}
	if parallelNote != "" {
		r.Notes = append(r.Notes, parallelNote)
	}
	r.Model.Precision, _ = resnet.ParsePrecision(cfg.Precision)
	if n := len(ds.Skipped); n > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("Skipped %d unreadable files (in strict mode they are an error):\n%s", n, describeUnreadable(ds.Skipped, 20)))
	}
	if ds.TestCarved {
		r.Notes = append(r.Notes, fmt.Sprintf("The data has no test split: %.0f%% of each class of train (seed %d) is the test split: %d train, %d test images.",
			100*cfg.TestFraction, cfg.Seed, len(ds.Train.Samples), len(ds.Test.Samples)))
	}
	if resume {
		if err := r.restore(last); err != nil {
			return nil, err
		}
		notes, err := checkResume(dir, saved, cfg, r.phase)
		if err != nil {
			return nil, err
		}
		if len(notes) > 0 {
			r.Notes = append(r.Notes, notes...)
			if err := writeJSON(filepath.Join(dir, ConfigFile), cfg); err != nil {
				return nil, err
			}
		}
		return r, nil
	}
	r.Store = model.NewStore()
	if err := r.Model.Init(r.Store, cfg.Seed, nil); err != nil {
		return nil, err
	}
	weightsPath, err := r.loadPretrained()
	if err != nil {
		return nil, err
	}
	provenance, err := newProvenance(ds, cfg.Data, weightsPath, b)
	if err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(dir, ProvenanceFile), provenance); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(dir, ConfigFile), cfg); err != nil {
		return nil, err
	}
	// A fresh run starts a fresh metrics file.
	if err := atomicfile.Write(filepath.Join(dir, MetricsFile), nil); err != nil {
		return nil, err
	}
	if err := writeMetricsCSV(dir, nil); err != nil {
		return nil, err
	}
	return r, nil
}

// checkWritable fails early, before any training, when the run folder cannot be written.
func checkWritable(dir string) error {
	probe, err := os.CreateTemp(dir, ".write-test*")
	if err != nil {
		return fmt.Errorf("run folder %s is not writable: %w", dir, err)
	}
	_, err = probe.Write(make([]byte, 1<<16))
	probe.Close()
	os.Remove(probe.Name())
	if err != nil {
		return fmt.Errorf("run folder %s cannot be written (disk full?): %w", dir, err)
	}
	return nil
}

// loadPretrained loads the configured backbone weights (the head stays freshly initialized).
func (r *Run) loadPretrained() (path string, err error) {
	if strings.EqualFold(r.Config.Weights, "none") || r.Config.Weights == "" {
		r.Notes = append(r.Notes, "No pretrained weights: the backbone starts from random initialization.")
		return "", nil
	}
	cache, err := weights.CacheDir()
	if err != nil {
		return "", err
	}
	path, _, err = weights.Resolve(r.Config.Weights, cache)
	if err != nil {
		return "", err
	}
	report, err := weights.LoadFile(r.Store, r.Model, path, weights.DropHead)
	if err != nil {
		return "", err
	}
	r.Notes = append(r.Notes, fmt.Sprintf("Pretrained backbone from %s: %d tensors loaded, ImageNet classifier dropped for the new head %s.",
		path, report.Loaded, r.Model.Head))
	return path, nil
}

// restore continues from a checkpoint: variables, optimizer state, phase, epoch and best accuracy.
func (r *Run) restore(path string) error {
	store, meta, err := checkpoint.Load(path)
	if err != nil {
		return err
	}
	if err := meta.CheckClasses(r.Dataset.Classes); err != nil {
		return fmt.Errorf("resuming from %s: %w", path, err)
	}
	if meta.Arch != r.Config.Arch || meta.ImageSize != r.Config.ImageSize {
		return fmt.Errorf("resuming from %s: checkpoint is %s at %dpx, the run's config says %s at %dpx", path, meta.Arch, meta.ImageSize, r.Config.Arch, r.Config.ImageSize)
	}
	r.Store, r.phase, r.epoch, r.step, r.best = store, Phase(meta.Phase), meta.Epoch, meta.Step, meta.BestAccuracy
	kept, err := r.trimMetrics()
	if err != nil {
		return err
	}
	for _, m := range kept {
		if m.Phase != r.phase {
			continue
		}
		if m.Best {
			r.sinceBest = 0
		} else {
			r.sinceBest++
		}
	}
	r.Notes = append(r.Notes, fmt.Sprintf("Resuming from %s: %s phase, %s done, best test accuracy %.2f%%.", path, r.phase, epochCount(r.epoch), 100*r.best))
	return nil
}

// trimMetrics drops metrics lines of epochs after the restored checkpoint (written before a kill), and
// returns the epochs kept.
func (r *Run) trimMetrics() ([]EpochMetrics, error) {
	path := filepath.Join(r.Dir, MetricsFile)
	content, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading metrics: %w", err)
	}
	var kept []byte
	var epochs []EpochMetrics
	for _, line := range strings.SplitAfter(string(content), "\n") {
		var e EpochMetrics
		if strings.TrimSpace(line) == "" || json.Unmarshal([]byte(line), &e) != nil || !strings.HasSuffix(line, "\n") {
			continue // A line cut short by a kill.
		}
		if e.Phase == Frozen && (r.phase == Finetune || e.Epoch <= r.epoch) || e.Phase == Finetune && r.phase == Finetune && e.Epoch <= r.epoch {
			kept = append(kept, line...)
			epochs = append(epochs, e)
		}
	}
	if err := atomicfile.Write(path, kept); err != nil {
		return nil, err
	}
	return epochs, writeMetricsCSV(r.Dir, epochs)
}

// writeMetricsCSV writes the run's metrics (all of metrics.jsonl's epochs) to metrics.csv, whole: a header
// of metrics.jsonl's keys, then one row per epoch (no TensorBoard event files: no maintained Go writer of
// them is served).
func writeMetricsCSV(dir string, metrics []EpochMetrics) error {
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write([]string{"phase", "epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds", "train_images_per_second", "best"})
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, m := range metrics {
		w.Write([]string{string(m.Phase), strconv.Itoa(m.Epoch), num(m.TrainLoss), num(m.TrainAccuracy), num(m.TestLoss),
			num(m.TestAccuracy), num(m.Seconds), num(m.ImagesPerSecond), strconv.FormatBool(m.Best)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("writing %s: %w", MetricsCSVFile, err)
	}
	return atomicfile.Write(filepath.Join(dir, MetricsCSVFile), []byte(b.String()))
}

// Train runs the remaining epochs of both phases. It stops early, with ctx's error, when ctx is
// cancelled; checkpoints of completed epochs are kept, so --resume continues from the last one.
func (r *Run) Train(ctx context.Context) error {
	for _, note := range r.Notes {
		r.report("%s\n", note)
	}
	r.Notes = nil
	// The soft memory limit holds while the run trains; the process's own comes back after.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	policy, _ := MemoryPolicy(r.Config.MemoryLimit, r.Backend) // Validated when the run opened.
	if policy.Bytes > 0 {
		debug.SetMemoryLimit(policy.Bytes)
		r.report("Memory: soft limit %d MB, as configured.\n", policy.Bytes>>20)
	}
	r.probeMemory = policy.Auto
	for _, phase := range []Phase{Frozen, Finetune} {
		epochs, lr := r.Config.FrozenEpochs, r.Config.LR
		if phase == Finetune {
			epochs, lr = r.Config.FinetuneEpochs, r.Config.FinetuneLR
		}
		if phase == Frozen && r.phase == Finetune {
			continue // Done before the resume.
		}
		if phase == Finetune && r.phase == Frozen {
			r.phase, r.epoch, r.step = Finetune, 0, 0
		}
		if r.epoch >= epochs {
			continue
		}
		if err := r.runPhase(ctx, phase, epochs, lr); err != nil {
			return err
		}
	}
	return nil
}

// MemoryPolicy reads a memory-limit setting (memlimit.Parse) for a run on b. On XLA there is no
// automatic limit: its tensors live in the plugin's memory, not in Go's heap, which the limit bounds.
func MemoryPolicy(spec string, b compute.Backend) (memlimit.Policy, error) {
	policy, err := memlimit.Parse(spec)
	if policy.Auto && backend.IsXLA(b) {
		policy.Auto = false
	}
	return policy, err
}

func (r *Run) report(format string, args ...any) {
	if r.Report != nil {
		fmt.Fprintf(r.Report, format, args...)
	}
}

// epochCount writes n epochs in words: "1 epoch", "5 epochs".
func epochCount(n int) string {
	if n == 1 {
		return "1 epoch"
	}
	return fmt.Sprintf("%d epochs", n)
}

func (r *Run) runPhase(ctx context.Context, phase Phase, epochs int, lr float64) error {
	bnTrain := phase == Finetune || r.Config.FrozenBatchNormTrain
	if phase == Frozen {
		r.report("\nTransfer learning: backbone frozen, training the head %s, Adam lr %g, %s (batch norm in %s mode).\n",
			r.Model.Head, lr, epochCount(epochs), map[bool]string{true: "train", false: "inference"}[bnTrain])
	} else {
		r.report("\nFine-tuning: all layers trained, fresh Adam lr %g, %s.\n", lr, epochCount(epochs))
	}
	if p := r.Model.ComputeDType(); p != dtypes.Float32 {
		r.report("Mixed precision: the backbone computes in %s; weights, batch norm, head and loss stay float32.\n", p)
		if !backend.IsXLA(r.Backend) {
			r.report("Note: the pure Go backend runs %s many times slower than float32 (measured 30x at 64px); mixed precision pays on a GPU.\n", p)
		}
	}
	src, err := r.epochSource(phase, bnTrain)
	if err != nil {
		return err
	}
	scales := unitScales()
	if phase == Finetune {
		if lr, scales, err = r.Config.finetuneRates(); err != nil {
			return err
		}
		if scales != unitScales() {
			var parts []string
			for g, s := range scales {
				parts = append(parts, fmt.Sprintf("%s %.3g", resnet.GroupNames[g], lr*s))
			}
			r.report("Discriminative learning rates: %s.\n", strings.Join(parts, ", "))
		}
	}
	sched, err := schedule.Parse(r.Config.Schedule, lr, r.Config.Warmup)
	if err != nil {
		return err
	}
	totalSteps := int64(epochs * src.numBatches())
	if _, constant := sched.(schedule.Constant); !constant {
		r.report("Learning rate: %s, stepped per batch over %d steps.\n", sched, totalSteps)
	}
	if r.epoch == 0 {
		r.sinceBest = 0 // Patience counts within a phase.
	}
	var stepper *Stepper
	unfrozenFrom := -1 // The first unfrozen layer group of the current stepper.
	for r.epoch < epochs {
		if p := r.Config.Patience; p > 0 && r.sinceBest >= p {
			r.report("Early stopping: no better test accuracy for %s; ending the %s phase after %d of %s.\n", epochCount(p), phase, r.epoch, epochCount(epochs))
			break
		}
		// Gradual unfreezing: fine-tuning epoch e trains the head and the last e layer groups.
		from := resnet.GroupStem
		if phase == Finetune && r.Config.GradualUnfreeze {
			from = max(resnet.GroupHead-(r.epoch+1), resnet.GroupStem)
		}
		if stepper == nil || from != unfrozenFrom {
			stepper, err = NewPartialStepper(r.Backend, r.Store, r.Model, phase, lr, bnTrain, r.step, src.input(),
				func(g int) bool { return g >= from })
			if err != nil {
				return err
			}
			if r.parallel != nil {
				if err := stepper.DataParallel(r.parallel); err != nil {
					return err
				}
			}
			stepper.SetSchedule(sched, totalSteps)
			stepper.SetGroupScales(scales)
			if phase == Finetune && r.Config.GradualUnfreeze {
				r.report("Gradual unfreezing: training %s to the head.\n", resnet.GroupNames[from])
			}
			unfrozenFrom = from
		}
		epoch := r.epoch + 1
		start := time.Now()
		progress := func(stage string) func(done, total int) {
			return func(done, total int) {
				if r.OnProgress != nil {
					r.OnProgress(Progress{Phase: phase, Epoch: epoch, Epochs: epochs, Stage: stage, Done: done, Total: total, Elapsed: time.Since(start)})
				}
			}
		}
		var lossSum, correct float64
		batches, seen := 0, 0
		// The shuffle depends on the phase and epoch only, so a resumed run sees the same order.
		shuffleEpoch := epoch
		if phase == Finetune {
			shuffleEpoch += 1 << 20
		}
		for b, err := range src.trainBatches(shuffleEpoch) {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			loss, batchCorrect, err := r.trainStep(stepper, b)
			if err != nil {
				return fmt.Errorf("%s epoch %d, step %d: %w", phase, epoch, batches+1, err)
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return fmt.Errorf("%s epoch %d, step %d: the loss is %v; stopping (the last good checkpoint is %s)",
					phase, epoch, batches+1, loss, filepath.Join(r.Dir, LastFile))
			}
			r.step = stepper.Steps
			lossSum += loss
			correct += batchCorrect
			batches++
			seen += len(b.labels)
			progress("train")(batches, src.numBatches())
		}
		trainSeconds := time.Since(start).Seconds()
		if err := ctx.Err(); err != nil {
			return err
		}
		testLoss, testAccuracy, err := src.test(progress("test"))
		if err != nil {
			return err
		}
		m := EpochMetrics{
			Phase: phase, Epoch: epoch, TrainLoss: lossSum / float64(batches), TrainAccuracy: correct / float64(seen),
			TestLoss: testLoss, TestAccuracy: testAccuracy, Seconds: time.Since(start).Seconds(),
			ImagesPerSecond: float64(seen) / trainSeconds, Best: testAccuracy > r.best,
		}
		r.epoch = epoch
		if m.Best {
			r.sinceBest = 0
		} else {
			r.sinceBest++
		}
		if err := r.saveEpoch(m); err != nil {
			return err
		}
		r.report("%s\n", m)
		if r.OnEpoch != nil {
			r.OnEpoch(m)
		}
	}
	return nil
}

// trainStep takes a training step; the run's first fine-tuning step (the first through the backbone) also
// sets the automatic soft memory limit from the memory it uses.
func (r *Run) trainStep(s *Stepper, b batchInput) (loss, correct float64, err error) {
	if !r.probeMemory || s.Phase != Finetune {
		return s.stepBatch(b)
	}
	r.probeMemory = false
	growth := r.imageCacheGrowth()
	limit, err := memlimit.Probe(func() error {
		loss, correct, err = s.stepBatch(b)
		return err
	}, memlimit.Margin, growth)
	if limit > 0 && err == nil {
		r.report("Memory: soft limit %d MB: the first fine-tuning step's live memory plus %.0f%%, and %d MB for the image cache to fill.\n",
			limit>>20, (memlimit.Margin-1)*100, growth>>20)
	}
	return loss, correct, err
}

// batchInput is one training batch: images or features, and labels; targets [B,N] are soft targets of
// mixed images (nil for the labels' one-hot rows).
type batchInput struct {
	inputs  *tensors.Tensor
	labels  []int32
	targets *tensors.Tensor
}

// stepBatch trains on b, with its soft targets where it has them.
func (s *Stepper) stepBatch(b batchInput) (loss, correct float64, err error) {
	if b.targets != nil {
		return s.StepSoft(b.inputs, b.targets, b.labels)
	}
	return s.Step(b.inputs, b.labels)
}

// epochSource feeds a phase's epochs: the training batches in a seeded order, and the test evaluation.
type epochSource interface {
	input() StepInput
	numBatches() int
	trainBatches(epoch int) iter.Seq2[batchInput, error]
	test(progress func(done, total int)) (loss, accuracy float64, err error)
}

// epochSource returns cached features for a frozen phase with batch norm in inference mode (unless the
// cache is turned off), and images otherwise.
func (r *Run) epochSource(phase Phase, bnTrain bool) (epochSource, error) {
	augment := phase == Finetune && r.Config.Augment || phase == Frozen && r.Config.AugmentFrozen
	if phase == Frozen && r.Config.CacheFeatures && augment {
		r.report("Feature caching is off: augmented images give different features every epoch.\n")
	}
	if phase == Frozen && !bnTrain && r.Config.CacheFeatures && !augment {
		train, test, err := r.frozenFeatures()
		if err != nil {
			return nil, err
		}
		exec, err := model.NewExec(r.Backend, r.Store, func(scope *model.Scope, x *Node) *Node {
			return LogSoftmax(r.Model.Classify(scope.Store(), x), -1)
		})
		if err != nil {
			return nil, err
		}
		r.report("The frozen backbone's features are computed once and the head trains on them (turn the feature cache off to run the backbone on every batch).\n")
		return &featureSource{r: r, train: train, testSet: test, exec: exec}, nil
	}
	if phase == Frozen && r.Config.CacheFeatures && bnTrain {
		r.report("Feature caching is off: with batch norm in train mode the frozen backbone's output changes every step.\n")
	}
	classifier, err := predict.New(r.Backend, r.Model, r.Store, r.Dataset.Classes, r.Config.Transform())
	if err != nil {
		return nil, err
	}
	loader := &data.Loader{Samples: r.Dataset.Train.Samples, Transform: r.Config.Transform(), BatchSize: r.Config.Batch,
		Shuffle: true, Seed: r.Config.Seed, Cache: r.imageCache()}
	if !r.Config.Strict {
		loader.Skip = r.skip
	}
	if augment {
		loader.Augment = data.DefaultAugmentation()
		r.report("Augmentation: random resized crops, horizontal flips, rotations up to 10 degrees, colour jitter (seeded).\n")
	}
	src := &imageSource{r: r, loader: loader, classifier: classifier}
	if mix := r.Config.mix(); mix.Enabled() && (phase == Finetune || augment) {
		src.mix = mix
		r.report("Mixing images: mixup %g, cutmix %g (Beta parameters; 0: off), with soft targets.\n", mix.Mixup, mix.Cutmix)
	}
	return src, nil
}

// imageSource trains and tests on images.
type imageSource struct {
	r          *Run
	loader     *data.Loader
	classifier *predict.Classifier
	mix        *data.Mix // Mixup and cutmix of training batches; nil: off.
}

func (s *imageSource) input() StepInput { return FromImages }
func (s *imageSource) numBatches() int  { return s.loader.NumBatches() }

func (s *imageSource) trainBatches(epoch int) iter.Seq2[batchInput, error] {
	return func(yield func(batchInput, error) bool) {
		index := 0
		for b, err := range s.loader.Epoch(epoch) {
			var in batchInput
			if err == nil {
				in = batchInput{inputs: b.Images, labels: b.Labels}
				if s.mix != nil {
					in, err = s.mixed(b, epoch, index)
				}
			}
			if err != nil {
				yield(batchInput{}, err)
				return
			}
			if !yield(in, nil) {
				return
			}
			index++
		}
	}
}

// mixed applies mixup or cutmix to batch index of epoch, seeded by both, so a resumed run mixes the
// same way.
func (s *imageSource) mixed(b *data.Batch, epoch, index int) (batchInput, error) {
	dims := b.Images.Shape().Dimensions
	classes := len(s.r.Dataset.Classes)
	rng := rand.New(rand.NewPCG(s.r.Config.Seed^0x6d6978, uint64(epoch)<<32|uint64(index)))
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

func (s *imageSource) test(progress func(done, total int)) (float64, float64, error) {
	res, err := evaluate.Split(s.classifier, s.r.Dataset.Test, s.r.Config.Batch, progress)
	if err != nil {
		return 0, 0, err
	}
	return res.Loss, res.Accuracy, nil
}

// featureSource trains and tests the head on cached backbone features.
type featureSource struct {
	r              *Run
	train, testSet *features
	exec           *model.Exec
}

func (s *featureSource) input() StepInput { return FromFeatures }
func (s *featureSource) numBatches() int {
	return (len(s.train.samples) + s.r.Config.Batch - 1) / s.r.Config.Batch
}

func (s *featureSource) trainBatches(epoch int) iter.Seq2[batchInput, error] {
	return func(yield func(batchInput, error) bool) {
		// The same seeded order as the image loader's, so cached and uncached runs see the same batches.
		order := (&data.Loader{Samples: s.train.samples, Shuffle: true, Seed: s.r.Config.Seed}).Order(epoch)
		for chunk := range slices.Chunk(order, s.r.Config.Batch) {
			x, labels := s.train.batch(chunk)
			if !yield(batchInput{inputs: x, labels: labels}, nil) {
				return
			}
		}
	}
}

func (s *featureSource) test(progress func(done, total int)) (float64, float64, error) {
	loss, acc, err := s.r.headEvaluation(s.exec, s.testSet)
	progress(1, 1)
	return loss, acc, err
}

// saveEpoch appends the metrics line, then writes the best checkpoint (if the epoch improved) and the
// last one. A kill at any point leaves whole files: each checkpoint is renamed into place, and a resume
// from the last checkpoint drops metrics lines past it (that epoch is trained again).
func (r *Run) saveEpoch(m EpochMetrics) error {
	line, err := json.Marshal(m)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(r.Dir, MetricsFile), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("writing metrics: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("writing metrics: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing metrics: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing metrics: %w", err)
	}
	metrics, err := ReadMetrics(r.Dir)
	if err != nil {
		return err
	}
	if err := writeMetricsCSV(r.Dir, metrics); err != nil {
		return err
	}
	if m.Best {
		r.best = m.TestAccuracy
	}
	meta := checkpoint.Meta{
		Arch: r.Model.Arch.Name, Head: r.Model.Head, Classes: r.Dataset.Classes, ImageSize: r.Config.ImageSize,
		Normalization: r.Config.Transform().Normalization, Phase: string(m.Phase), Epoch: m.Epoch, Step: r.step,
		TestAccuracy: m.TestAccuracy, TestLoss: m.TestLoss, BestAccuracy: r.best,
	}
	if m.Best {
		if err := checkpoint.Save(filepath.Join(r.Dir, BestFile), r.Store, meta); err != nil {
			return err
		}
	}
	return checkpoint.Save(filepath.Join(r.Dir, LastFile), r.Store, meta)
}

// ReadMetrics reads a run folder's metrics file.
func ReadMetrics(dir string) ([]EpochMetrics, error) {
	content, err := os.ReadFile(filepath.Join(dir, MetricsFile))
	if err != nil {
		return nil, fmt.Errorf("reading metrics: %w", err)
	}
	var out []EpochMetrics
	for i, line := range strings.Split(strings.TrimSpace(string(content)), "\n") {
		if line == "" {
			continue
		}
		var e EpochMetrics
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			return nil, fmt.Errorf("reading metrics %s line %d: %w", filepath.Join(dir, MetricsFile), i+1, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// imageCacheGrowth is how many bytes the image cache may still add: the training images it has not
// cached yet, up to its budget.
func (r *Run) imageCacheGrowth() int64 {
	if r.Config.ImageCacheMB <= 0 {
		return 0
	}
	perImage := int64(r.Config.ImageSize) * int64(r.Config.ImageSize) * 3 * 4
	full := min(int64(r.Config.ImageCacheMB)<<20, int64(len(r.Dataset.Train.Samples))*perImage)
	cached := int64(0)
	if r.images != nil {
		cached = r.images.Bytes()
	}
	return max(full-cached, 0)
}

// imageCache returns the run's cache of transformed images (nil when off), shared by its loaders.
func (r *Run) imageCache() *data.ImageCache {
	if r.Config.ImageCacheMB <= 0 {
		return nil
	}
	if r.images == nil {
		r.images = data.NewImageCache(int64(r.Config.ImageCacheMB) << 20)
	}
	return r.images
}
