// Package train runs the tutorial's transfer-learning recipe (package recipe's settings): a frozen-backbone
// phase that trains only a new head, then a fine-tuning phase of the whole network, with per-epoch reports in
// the tutorial's format, metrics in the run folder (package runfolder), best and last checkpoints, exact
// resumption, and validation of the best checkpoint; and the LR finder. Each phase's optimizer steps are
// package step's. The CLI and the notebooks both drive it.
package train

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/step"
)

// Progress describes where a running epoch is, for progress bars.
type Progress struct {
	Phase         runfolder.Phase
	Epoch, Epochs int
	Stage         string // "train" or "test".
	Done, Total   int    // Batches.
	Elapsed       time.Duration
	// While training, ImagesPerSecond is the epoch's speed so far (its first step, which compiles, left
	// out); EpochLeft and RunLeft estimate the time left in the epoch's training and in the whole run, its
	// test passes included. Each is 0 while not known (after one step, or before the speeds they need were
	// measured: fine-tuning's is estimated from the backbone's forward pass until its first steps). In the
	// feature pass (Stage "features"), ImagesPerSecond and EpochLeft are the pass's over the split.
	ImagesPerSecond    float64
	EpochLeft, RunLeft time.Duration
}

// Checkpoint says where a checkpoint saved inside an epoch stands: after step Step of the Steps (batches)
// of the phase's epoch Epoch.
type Checkpoint struct {
	Phase       runfolder.Phase
	Epoch       int
	Step, Steps int
}

// Run is a training run in its folder.
type Run struct {
	Config  recipe.Config
	Dir     string
	Dataset *data.Dataset
	Model   *nn.Model
	Store   *model.Store
	Backend compute.Backend

	// Report receives the report lines (phase headers, epoch lines); OnProgress is called after every batch
	// and OnEpoch after every epoch. All three are optional.
	Report     io.Writer
	OnProgress func(Progress)
	OnEpoch    func(runfolder.EpochMetrics)
	// OnCheckpoint, optional, is called after each checkpoint saved inside an epoch (Config.CheckpointEvery,
	// or a cancelled context).
	OnCheckpoint func(Checkpoint)
	// FeatureCache, when set, is a folder of frozen-backbone features that runs share (a sweep's): runs with
	// the same backbone values, transform and images compute them once. By default the run folder keeps its own.
	FeatureCache string

	// Where the run stands: the phase and the epochs of it completed, the optimizer steps taken in it.
	phase runfolder.Phase
	epoch int
	step  int64
	best  float64
	// position, after a resume from a checkpoint saved inside an epoch, is where in it the run continues.
	position *checkpoint.Position
	// lastAccuracy and lastLoss are the test accuracy and loss of the last completed epoch, for the checkpoints' meta.
	lastAccuracy, lastLoss float64
	lastMAP                float64 // A multi-label run's: the last completed epoch's test mean average precision.
	// haveBest says whether the run has a best checkpoint yet: until it does, the next epoch is the best.
	haveBest bool
	// loadedBest is best.ckpt as loadBest read it; nil: not read since it was last written.
	loadedBest *bestCheckpoint
	// Notes about the run's setup (weights loaded, carved split), reported once.
	Notes []string
	// Files skipped while loading because their pixel data is damaged (past a valid header).
	skipped   map[string]bool
	skippedMu sync.Mutex
	images    *data.ImageCache
	sinceBest int // Epochs since the test accuracy last improved, for early stopping.

	ema         *WeightAverage // Config.EMA's average of the weights; nil: off.
	probeMemory bool           // The next fine-tuning step sets the automatic soft memory limit (memlimit.Probe).
	memoryAuto  bool           // The soft memory limit is automatic: probed again when progressive resizing grows the images.
	trainSize   int            // The size the current epoch's training images have.
	probedSize  int            // The training image size the automatic memory limit was probed at (0: not yet).
	parallel    *step.Parallel // Data-parallel training's layout; nil on one device.
	// A multi-label run's thresholds of the last epoch's weights and of their average (the epoch's test
	// split tuned them, or the run's threshold), for its checkpoints.
	thresholds, emaThresholds []float64
	speeds                    speeds // Measured speeds, for the estimates of the time left.
	// featureSeconds is the time the frozen backbone's feature pass of the run folder's features took
	// (every part of it, when it was interrupted), 0 when the run did not compute them.
	featureSeconds float64
	openFeatures   []*features      // Feature stores reading from files, closed when Train returns.
	onnx           compute.Backend  // ONNX Runtime, for the passes without gradients that run on it (onnxFor); nil: none.
	now            func() time.Time // The clock of the estimates; nil: time.Now.
}

// clock returns the run's clock (time.Now but in tests).
func (r *Run) clock() func() time.Time {
	if r.now != nil {
		return r.now
	}
	return time.Now
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
