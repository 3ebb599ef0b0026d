package train

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute"
	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/evaluate"
	"github.com/vegclf/vegclf/vegclf/internal/atomicfile"
	"github.com/vegclf/vegclf/vegclf/predict"
)

// CheckpointPath returns the checkpoint a run folder stands for, its best one, or the path given when it
// is not a folder (a checkpoint file).
func CheckpointPath(runOrCheckpoint string) string {
	if info, err := os.Stat(runOrCheckpoint); err == nil && info.IsDir() {
		return filepath.Join(runOrCheckpoint, BestFile)
	}
	return runOrCheckpoint
}

// LoadClassifier returns a classifier for a run folder's best checkpoint (or the checkpoint file given),
// with its metadata.
func LoadClassifier(b compute.Backend, runOrCheckpoint string, opts ...predict.Option) (*predict.Classifier, *checkpoint.Meta, error) {
	path := CheckpointPath(runOrCheckpoint)
	store, meta, err := checkpoint.Load(path)
	if err != nil {
		return nil, nil, err
	}
	m, err := meta.Model()
	if err != nil {
		return nil, nil, err
	}
	c, err := predict.New(b, m, store, meta.Classes, meta.Transform(), opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("loading %s: %w", path, err)
	}
	return c, meta, nil
}

// Validate evaluates the best checkpoint on the validation split, as the tutorial does after training,
// and reports "Validation: 99.96%, 0.003070". It returns nil when the data has no validation split.
func (r *Run) Validate() (*evaluate.Result, error) {
	if r.Dataset.Validation == nil {
		r.report("The data has no validation split: skipping validation.\n")
		return nil, nil
	}
	c, meta, err := LoadClassifier(r.Backend, r.Dir)
	if err != nil {
		return nil, err
	}
	res, err := evaluate.Split(c, r.Dataset.Validation, r.Config.Batch, nil)
	if err != nil {
		return nil, err
	}
	r.report("\nBest checkpoint: %s epoch %d, test accuracy %.2f%%.\n", meta.Phase, meta.Epoch, 100*meta.TestAccuracy)
	r.report("Validation: %.2f%%, %.6f\n", 100*res.Accuracy, res.Loss)
	return res, nil
}

// Summary is a run's outcome, written to summary.json and summary.txt.
type Summary struct {
	Model              string         `json:"model"`
	Classes            []string       `json:"classes"`
	TrainImages        int            `json:"train_images"`
	TestImages         int            `json:"test_images"`
	ValidationImages   int            `json:"validation_images"`
	TestCarved         bool           `json:"test_carved"`
	SkippedFiles       []string       `json:"skipped_files,omitempty"`
	BestPhase          string         `json:"best_phase"`
	BestEpoch          int            `json:"best_epoch"`
	BestTestAccuracy   float64        `json:"best_test_accuracy"`
	ValidationAccuracy *float64       `json:"validation_accuracy,omitempty"`
	ValidationLoss     *float64       `json:"validation_loss,omitempty"`
	Epochs             []EpochMetrics `json:"epochs"`
	TrainSeconds       float64        `json:"train_seconds"`
}

// WriteSummary writes summary.json and summary.txt from the metrics, the best checkpoint and the
// validation result (nil when there is none).
func (r *Run) WriteSummary(validation *evaluate.Result) (*Summary, error) {
	epochs, err := ReadMetrics(r.Dir)
	if err != nil {
		return nil, err
	}
	meta, _, err := checkpoint.ReadMeta(filepath.Join(r.Dir, BestFile))
	if err != nil {
		return nil, err
	}
	s := &Summary{
		Model: r.Model.String(), Classes: r.Dataset.Classes, TrainImages: len(r.Dataset.Train.Samples),
		TestImages: len(r.Dataset.Test.Samples), TestCarved: r.Dataset.TestCarved, BestPhase: meta.Phase,
		BestEpoch: meta.Epoch, BestTestAccuracy: meta.TestAccuracy, Epochs: epochs,
	}
	for _, e := range epochs {
		s.TrainSeconds += e.Seconds
	}
	for _, u := range r.Dataset.Skipped {
		s.SkippedFiles = append(s.SkippedFiles, u.Path)
	}
	for p := range r.skipped {
		s.SkippedFiles = append(s.SkippedFiles, p)
	}
	if validation != nil {
		s.ValidationImages = validation.Total
		s.ValidationAccuracy, s.ValidationLoss = &validation.Accuracy, &validation.Loss
	}
	if err := writeJSON(filepath.Join(r.Dir, SummaryFile), s); err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Model: %s\nClasses: %d (%s)\nImages: %d train, %d test", s.Model, len(s.Classes), strings.Join(s.Classes, ", "), s.TrainImages, s.TestImages)
	if s.TestCarved {
		b.WriteString(" (carved from train)")
	}
	fmt.Fprintf(&b, ", %d validation\n", s.ValidationImages)
	if len(s.SkippedFiles) > 0 {
		fmt.Fprintf(&b, "Skipped %d unreadable files: %s\n", len(s.SkippedFiles), strings.Join(s.SkippedFiles, ", "))
	}
	var phase Phase
	for _, e := range epochs {
		if e.Phase != phase {
			phase = e.Phase
			fmt.Fprintf(&b, "%s phase:\n", phase)
		}
		fmt.Fprintf(&b, "  %s\n", e)
	}
	fmt.Fprintf(&b, "Best: %s epoch %d, test accuracy %.2f%%\n", s.BestPhase, s.BestEpoch, 100*s.BestTestAccuracy)
	if validation != nil {
		fmt.Fprintf(&b, "Validation: %.2f%%, %.6f\n", 100*validation.Accuracy, validation.Loss)
	}
	fmt.Fprintf(&b, "Training time: %.1f s\n", s.TrainSeconds)
	if err := atomicfile.Write(filepath.Join(r.Dir, SummaryTxtFile), []byte(b.String())); err != nil {
		return nil, err
	}
	return s, nil
}
