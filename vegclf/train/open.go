package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/weights"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// Create prepares a fresh run of cfg in dir, which must not hold a run already (runfolder.ErrRunExists). Nothing
// is trained yet.
func Create(cfg recipe.Config, b compute.Backend, dir string) (*Run, error) {
	return open(cfg, b, dir, false)
}

// Resume prepares the run in dir to continue from its last checkpoint. The run keeps its saved
// configuration (ReadConfig): cfg must equal it but for settings of how it runs (strict, feature and image
// caches, memory limit, devices) and for epochs raised to train some more; any other difference is a
// *ResumeConflict naming each, and nothing in dir is changed. Nothing is trained yet.
func Resume(cfg recipe.Config, b compute.Backend, dir string) (*Run, error) {
	return open(cfg, b, dir, true)
}

// Open resumes the run in dir when it holds one (Resume, with its rules on cfg), and creates one (Create)
// otherwise: what a notebook run again, a demo or a restarted sweep want.
func Open(cfg recipe.Config, b compute.Backend, dir string) (*Run, error) {
	_, err := os.Stat(filepath.Join(dir, runfolder.LastFile))
	return open(cfg, b, dir, err == nil)
}

// ErrONNXTraining is returned (wrapped) when a run is asked to train on ONNX Runtime, which only predicts.
var ErrONNXTraining = errors.New("training on ONNX Runtime: not supported (GoMLX's gradients of strided convolutions need input dilation, which ONNX's Conv lacks); " +
	"train on the Go or an XLA backend, then predict, eval, serve or export with ONNX Runtime")

// open is Create, or with resume, Resume. Everything that can be checked is checked before anything is
// written: the settings, the folder, the data and the pretrained weights; a new run's folder is created
// last, so a refused run leaves none behind.
func open(cfg recipe.Config, b compute.Backend, dir string, resume bool) (*Run, error) {
	if backend.IsONNX(b) {
		return nil, ErrONNXTraining
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	saved, err := checkFolder(dir, cfg, resume)
	if err != nil {
		return nil, err
	}
	r, err := newRun(cfg, b, dir)
	if err != nil {
		return nil, err
	}
	if resume {
		return r, r.resume(saved)
	}
	return r, r.start()
}

// checkFolder makes sure dir can take the run, before anything is loaded: when it exists, it is writable;
// it holds a run to resume (whose saved configuration it returns, checked against cfg) or, for a new run,
// none. It creates nothing.
func checkFolder(dir string, cfg recipe.Config, resume bool) (recipe.Config, error) {
	if info, err := os.Stat(dir); err == nil && info.IsDir() {
		if err := runfolder.CheckWritable(dir); err != nil {
			return recipe.Config{}, err
		}
	} else if err == nil {
		return recipe.Config{}, fmt.Errorf("run folder %s is a file", dir)
	}
	_, lastErr := os.Stat(filepath.Join(dir, runfolder.LastFile))
	switch {
	case !resume && lastErr == nil:
		return recipe.Config{}, fmt.Errorf("%s: %w (%s): resume it, or choose another folder", dir, runfolder.ErrRunExists, runfolder.LastFile)
	case !resume:
		return recipe.Config{}, nil
	case lastErr != nil:
		return recipe.Config{}, fmt.Errorf("nothing to resume in %s: no %s (start a new run instead)", dir, runfolder.LastFile)
	}
	saved, err := runfolder.ReadConfig(dir)
	if err != nil {
		return recipe.Config{}, err
	}
	// The phase's own rule is checked again once the checkpoint says which phase the run is in.
	if _, err := checkResume(dir, saved, cfg, runfolder.Frozen); err != nil {
		return recipe.Config{}, err
	}
	return saved, nil
}

// newRun loads cfg's dataset and lays out its model and devices, noting what the report should say.
func newRun(cfg recipe.Config, b compute.Backend, dir string) (*Run, error) {
	parallel, parallelNote, err := parallelFor(b, cfg.Devices, cfg.Batch)
	if err != nil {
		return nil, err
	}
	ds, err := data.LoadDataset(cfg.Data, cfg.DatasetOptions())
	if err != nil {
		return nil, err
	}
	m, err := zoo.New(string(cfg.Arch), cfg.Head(len(ds.Classes)))
	if err != nil {
		return nil, err
	}
	if err := checkSizes(cfg, m); err != nil {
		return nil, err
	}
	r := &Run{Config: cfg, Dir: dir, Dataset: ds, Model: m, Backend: b, phase: runfolder.Frozen, parallel: parallel}
	r.Model.Precision, r.Model.InChannels = cfg.Precision.DType(), cfg.Transform().Channels
	if parallelNote != "" {
		r.Notes = append(r.Notes, parallelNote)
	}
	if n := len(ds.Skipped); n > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("Skipped %d unreadable files (in strict mode they are an error):\n%s", n, data.DescribeUnreadable(ds.Skipped, 20)))
	}
	if err := r.setUpInference(); err != nil {
		return nil, err
	}
	if ds.TestCarved {
		of := "each class of train"
		if cfg.MultiLabel {
			of = "each label of train (iterative stratification)"
		}
		r.Notes = append(r.Notes, fmt.Sprintf("The data has no test split: %.0f%% of %s (seed %d) is the test split: %d train, %d test images.",
			100*cfg.TestFraction, of, cfg.Seed, len(ds.Train.Samples), len(ds.Test.Samples)))
	}
	return r, nil
}

// checkSizes checks that the model takes the run's image sizes (a ViT: multiples of its patch), the
// progressive ones too: a size it refuses is an *recipe.InvalidSetting.
func checkSizes(cfg recipe.Config, m *nn.Model) error {
	if err := m.CheckImageSize(cfg.ImageSize); err != nil {
		return &recipe.InvalidSetting{Key: "image_size", Problem: err.Error(), Want: "a size the architecture takes"}
	}
	for _, e := range cfg.FinetuneImageSizes.Entries() {
		if err := m.CheckImageSize(e.Size); err != nil {
			return &recipe.InvalidSetting{Key: "finetune_image_sizes", Problem: "fine-tuning image sizes " + cfg.FinetuneImageSizes.String() + ": " + err.Error(),
				Want: "sizes the architecture takes"}
		}
	}
	return nil
}

// start initializes a fresh run: the model's variables, the pretrained backbone, then the run folder
// and its files.
func (r *Run) start() error {
	r.Store = model.NewStore()
	if err := r.Model.Init(r.Store, r.Config.Seed, nil); err != nil {
		return err
	}
	weightsPath, err := r.loadPretrained()
	if err != nil {
		return err
	}
	provenance, err := runfolder.NewProvenance(r.Dataset, r.Config.Data, r.Config.Labels, weightsPath, r.Backend)
	if err != nil {
		return err
	}
	// Everything is at hand: the folder is created now, not before, so that a refused run leaves none.
	if err := os.MkdirAll(r.Dir, 0o777); err != nil {
		return fmt.Errorf("creating run folder: %w", err)
	}
	if err := runfolder.CheckWritable(r.Dir); err != nil {
		return err
	}
	return runfolder.Start(r.Dir, r.Config, provenance)
}

// resume restores the run from its last checkpoint and checks the configuration it continues with
// against saved, recording the settings it takes anew.
func (r *Run) resume(saved recipe.Config) error {
	if err := r.restore(filepath.Join(r.Dir, runfolder.LastFile)); err != nil {
		return err
	}
	notes, err := checkResume(r.Dir, saved, r.Config, r.phase)
	if err != nil {
		return err
	}
	if len(notes) == 0 {
		return nil
	}
	r.Notes = append(r.Notes, notes...)
	return runfolder.WriteConfig(r.Dir, r.Config)
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
	path, _, err = zoo.ResolveWeights(r.Config.Weights, string(r.Config.Arch), cache)
	if err != nil {
		return "", err
	}
	report, err := weights.LoadFile(r.Store, r.Model, path, weights.DropHead)
	if err != nil {
		return "", err
	}
	r.Notes = append(r.Notes, fmt.Sprintf("Pretrained backbone from %s: %d tensors loaded, ImageNet classifier dropped for the new head %s.",
		path, report.Loaded, r.Model.Head))
	if report.Adapted != "" {
		how := "summed over R, G and B"
		if c := r.Model.Channels(); c != 1 {
			how = fmt.Sprintf("R, G, B repeated over the %d channels and scaled by 3/%d", c, c)
		}
		r.Notes = append(r.Notes, fmt.Sprintf("Input channels: %d; the RGB stem %s adapted as timm's adapt_input_conv does (%s).", r.Model.Channels(), report.Adapted, how))
	}
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
	if meta.InChannels != r.Model.InChannels {
		return fmt.Errorf("resuming from %s: checkpoint takes images of %d channels, the run's config says %d", path, max(meta.InChannels, 3), r.Model.Channels())
	}
	if meta.Arch != string(r.Config.Arch) || meta.ImageSize != r.Config.ImageSize {
		return fmt.Errorf("resuming from %s: checkpoint is %s at %dpx, the run's config says %s at %dpx", path, meta.Arch, meta.ImageSize, r.Config.Arch, r.Config.ImageSize)
	}
	if meta.MultiLabel != r.Config.MultiLabel {
		return fmt.Errorf("resuming from %s: the checkpoint's multi-label setting is %v, the run's config says %v", path, meta.MultiLabel, r.Config.MultiLabel)
	}
	r.Store, r.phase, r.epoch, r.step, r.best = store, runfolder.Phase(meta.Phase), meta.Epoch, meta.Step, meta.BestAccuracy
	r.position, r.lastAccuracy, r.lastLoss = meta.Position, meta.TestAccuracy, meta.TestLoss
	_, err = os.Stat(filepath.Join(r.Dir, runfolder.BestFile))
	r.haveBest = err == nil
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
	inside := ""
	if p := r.position; p != nil {
		inside = fmt.Sprintf(" and %d of %d steps of epoch %d", p.Batches, p.Of, p.Epoch)
	}
	best := fmt.Sprintf("best test accuracy %.2f%%", 100*r.best)
	if r.Config.MultiLabel {
		best = fmt.Sprintf("best test mean average precision %.4f", r.best)
	}
	r.Notes = append(r.Notes, fmt.Sprintf("Resuming from %s: %s phase, %s%s done, %s.", path, r.phase, epochCount(r.epoch), inside, best))
	return nil
}
