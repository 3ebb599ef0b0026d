// Package checkpoint saves and restores a training run's state: every variable of the model's store
// (weights, batch-norm statistics, optimizer moments) and what is needed to use or resume it (classes,
// architecture, head, image size, normalization, phase, epoch, metrics), in one safetensors file
// written to a temporary name and renamed, so that a killed writer never leaves a broken checkpoint.
// SaveModel writes a lean one: the model's variables alone, what inference and export read.
package checkpoint

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/weights"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// FormatVersion is the version of the checkpoint layout written by Save.
const FormatVersion = 1

// metaKey is the safetensors metadata key holding Meta as JSON.
const metaKey = "vegclf"

// Meta describes a checkpoint.
type Meta struct {
	Version       int                `json:"version"`
	Arch          string             `json:"arch"`
	Head          nn.Head            `json:"head"`
	Classes       []string           `json:"classes"`
	ImageSize     int                `json:"image_size"`
	Normalization data.Normalization `json:"normalization"`
	Phase         string             `json:"phase"`              // "frozen" or "finetune": the phase of the last completed epoch.
	Epoch         int                `json:"epoch"`              // Epochs completed in that phase.
	Step          int64              `json:"step"`               // Optimizer steps taken in that phase.
	TestAccuracy  float64            `json:"test_accuracy"`      // Of the last completed epoch.
	TestLoss      float64            `json:"test_loss"`          // Of the last completed epoch.
	BestAccuracy  float64            `json:"best_accuracy"`      // Best test accuracy of the run so far (a multi-label run's: best test mean average precision).
	Averaged      bool               `json:"averaged,omitempty"` // The weights are the run's weight average (EMA), which tested better.
	// MultiLabel says the outputs are independent sigmoids, trained with binary cross-entropy; TestAccuracy
	// is then the exact-match ratio.
	MultiLabel bool `json:"multi_label,omitempty"`
	// Thresholds are a multi-label model's, one per class (an output above it is the class): the run's
	// threshold, or those tuned on the test split for these weights.
	Thresholds []float64         `json:"thresholds,omitempty"`
	TestMAP    float64           `json:"test_map,omitempty"` // A multi-label model's test mean average precision.
	Extra      map[string]string `json:"extra,omitempty"`

	// TrainImageSize is, with progressive resizing, the size the checkpoint's epoch trained at; ImageSize
	// stays the size the model is tested and used at.
	TrainImageSize int `json:"train_image_size,omitempty"`
	// InChannels is the images' channels when not RGB's 3 (nn.Model.InChannels, data.Transform.Channels).
	InChannels int `json:"in_channels,omitempty"`
	// Position, in a last.ckpt saved inside an epoch, is where in that epoch (Epoch+1 of Phase) the run
	// stood; nil at an epoch's end.
	Position *Position `json:"position,omitempty"`
}

// Position is where a run stood inside an epoch when its last.ckpt was saved there: what a resumed run
// needs to finish that epoch exactly as a run that went straight through would. The order of the epoch's
// batches, their augmentation and the steps' dropout are functions of the seed, the epoch, the batch and
// the step, so the batches trained and the epoch's sums so far are all it takes; it is saved between
// optimizer updates, so no accumulated gradient is pending.
type Position struct {
	Epoch   int     `json:"epoch"`    // The epoch in progress, Meta.Epoch+1.
	Batches int     `json:"batches"`  // Batches trained in it.
	Next    int     `json:"next"`     // The next batch's place in the epoch's order (past batches left empty by unreadable images too).
	Of      int     `json:"of"`       // Batches in the epoch.
	LossSum float64 `json:"loss_sum"` // The batches' losses summed.
	Correct float64 `json:"correct"`  // Their correct predictions.
	Seen    int     `json:"seen"`     // Their images.
	Seconds float64 `json:"seconds"`  // The epoch's training time so far.
}

// Model returns the model the checkpoint holds.
func (m *Meta) Model() (*nn.Model, error) {
	model, err := zoo.New(m.Arch, m.Head)
	if err != nil {
		return nil, err
	}
	model.InChannels = m.InChannels
	return model, nil
}

// Transform returns the input transform the model was trained with.
func (m *Meta) Transform() data.Transform {
	return data.Transform{Size: m.ImageSize, Normalization: m.Normalization, Channels: m.InChannels}
}

// TransientPrefix is the store scope of variables a checkpoint does not keep: working state that is empty
// whenever one is saved (a training step's gradient sums).
const TransientPrefix = "/transient/"

// Save writes every variable of store but the transient ones (TransientPrefix), and meta, to path,
// atomically.
func Save(path string, store *model.Store, meta Meta) error {
	return save(path, store, meta, func(name string) bool { return !strings.HasPrefix(name, TransientPrefix) })
}

// SaveModel writes, atomically, a lean checkpoint to path: the variables of meta's model alone (its
// weights and batch-norm statistics), without the optimizer's state or a weight average, and meta.
// Inference, evaluation and export read it as they read a full one; a run cannot resume from it.
func SaveModel(path string, store *model.Store, meta Meta) error {
	m, err := meta.Model()
	if err != nil {
		return fmt.Errorf("saving checkpoint %s: %w", path, err)
	}
	params := map[string]bool{}
	for _, p := range m.Params() {
		params[p.Path()] = true
	}
	return save(path, store, meta, func(name string) bool { return params[name] })
}

// save writes the variables of store that keep accepts, and meta, to path, atomically.
func save(path string, store *model.Store, meta Meta, keep func(name string) bool) error {
	meta.Version = FormatVersion
	sd := weights.NewStateDict(path)
	var names []string
	vars := map[string]*model.Variable{}
	for v := range store.IterVariables() {
		if !keep(v.Path()) {
			continue
		}
		names = append(names, v.Path())
		vars[v.Path()] = v
	}
	slices.Sort(names)
	for _, name := range names {
		v := vars[name]
		value, err := v.Value()
		if err != nil {
			return fmt.Errorf("saving checkpoint %s: variable %s: %w", path, name, err)
		}
		t := &weights.Tensor{Shape: slices.Clone(value.Shape().Dimensions)}
		switch value.DType() {
		case dtypes.Float32:
			t.Float32 = tensors.MustCopyFlatData[float32](value)
		case dtypes.Int64:
			t.Int64 = tensors.MustCopyFlatData[int64](value)
		default:
			return fmt.Errorf("saving checkpoint %s: variable %s has unsupported dtype %s", path, name, value.DType())
		}
		if err := sd.Add(name, t); err != nil {
			return fmt.Errorf("saving checkpoint %s: %w", path, err)
		}
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("saving checkpoint %s: %w", path, err)
	}
	sd.Metadata = map[string]string{metaKey: string(metaJSON)}
	if err := weights.WriteSafetensors(path, sd); err != nil {
		return fmt.Errorf("saving checkpoint: %w", err)
	}
	return nil
}

// ReadMeta reads only what a checkpoint describes, checking its format.
func ReadMeta(path string) (*Meta, *weights.StateDict, error) {
	sd, err := weights.Read(path)
	if err != nil {
		return nil, nil, fmt.Errorf("loading checkpoint: %w", err)
	}
	raw, ok := sd.Metadata[metaKey]
	if !ok {
		return nil, nil, fmt.Errorf("loading checkpoint %s: not a vegclf checkpoint (no %q metadata; pretrained weights load as weights, not as a run's checkpoint)", path, metaKey)
	}
	var meta Meta
	if err := json.Unmarshal([]byte(raw), &meta); err != nil {
		return nil, nil, fmt.Errorf("loading checkpoint %s: invalid metadata: %w", path, err)
	}
	if meta.Version != FormatVersion {
		return nil, nil, fmt.Errorf("loading checkpoint %s: format version %d, this vegclf reads version %d", path, meta.Version, FormatVersion)
	}
	if len(meta.Classes) != meta.Head.NumClasses {
		return nil, nil, fmt.Errorf("loading checkpoint %s: %d class names for a head with %d outputs", path, len(meta.Classes), meta.Head.NumClasses)
	}
	if meta.Thresholds != nil && len(meta.Thresholds) != len(meta.Classes) {
		return nil, nil, fmt.Errorf("loading checkpoint %s: %d thresholds for %d classes", path, len(meta.Thresholds), len(meta.Classes))
	}
	if meta.ImageSize <= 0 {
		return nil, nil, fmt.Errorf("loading checkpoint %s: invalid image size %d", path, meta.ImageSize)
	}
	return &meta, sd, nil
}

// Load reads a checkpoint into a new store, checking that it holds every parameter of its model.
func Load(path string) (*model.Store, *Meta, error) {
	meta, sd, err := ReadMeta(path)
	if err != nil {
		return nil, nil, err
	}
	m, err := meta.Model()
	if err != nil {
		return nil, nil, fmt.Errorf("loading checkpoint %s: %w", path, err)
	}
	store := model.NewStore()
	for _, name := range sd.Names {
		t := sd.Tensors[name]
		var value *tensors.Tensor
		if t.Int64 != nil {
			value = tensors.FromFlatDataAndDimensions(t.Int64, t.Shape...)
		} else {
			value = tensors.FromFlatDataAndDimensions(t.Float32, t.Shape...)
		}
		if _, err := store.CreateVariable(name, value); err != nil {
			return nil, nil, fmt.Errorf("loading checkpoint %s: variable %s: %w", path, name, err)
		}
	}
	if err := m.CheckStore(store); err != nil {
		return nil, nil, fmt.Errorf("loading checkpoint %s: %w", path, err)
	}
	m.SetTrainable(store, nn.TrainNothing)
	return store, meta, nil
}

// CheckClasses returns an error if the checkpoint's classes differ from want (names and order).
func (m *Meta) CheckClasses(want []string) error {
	if slices.Equal(m.Classes, want) {
		return nil
	}
	if len(m.Classes) != len(want) {
		return fmt.Errorf("checkpoint has %d classes (%s), the data has %d (%s)", len(m.Classes), short(m.Classes), len(want), short(want))
	}
	return fmt.Errorf("checkpoint classes %s differ from the data's %s", short(m.Classes), short(want))
}

func short(names []string) string {
	if len(names) > 6 {
		return strings.Join(names[:6], ", ") + ", ..."
	}
	return strings.Join(names, ", ")
}
