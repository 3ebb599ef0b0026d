// Package runfolder reads and writes a training run's folder: its files' names, its settings
// (config.json), its metrics (metrics.jsonl and metrics.csv), its summary, its provenance, its checkpoints,
// and the classifier of its best checkpoint. The trainer writes run folders through it; predict, eval,
// serve, export and the notebooks read them through it, without the trainer.
package runfolder

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/internal/atomicfile"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/predict"
	"github.com/vegclf/vegclf/vegclf/recipe"
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
	ProvenanceFile = "provenance.json" // What the run was made from (Provenance).
)

// ErrRunExists is returned (wrapped) when a new run is asked for in a folder that holds one (its LastFile):
// by a fresh training run, and by an import.
var ErrRunExists = errors.New("the folder already holds a run")

// Phase is a training phase.
type Phase string

// The tutorial's two phases.
const (
	Frozen   Phase = "frozen"   // Backbone frozen, only the head is trained.
	Finetune Phase = "finetune" // Everything is trained.
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
	// With a weight average (Config.EMA): its test loss and accuracy, and whether best.ckpt holds it.
	EMATestLoss     *float64 `json:"ema_test_loss,omitempty"`
	EMATestAccuracy *float64 `json:"ema_test_accuracy,omitempty"`
	BestIsAverage   bool     `json:"best_is_average,omitempty"`
	// A multi-label run's (TrainAccuracy and TestAccuracy are then exact-match ratios): the test mean
	// average precision, which picks the best checkpoint, the micro and macro F1, each class's figures, and
	// with a weight average, its test mean average precision.
	TestMAP     *float64       `json:"test_map,omitempty"`
	TestMicroF1 *float64       `json:"test_micro_f1,omitempty"`
	TestMacroF1 *float64       `json:"test_macro_f1,omitempty"`
	TestClasses []ClassMetrics `json:"test_classes,omitempty"`
	EMATestMAP  *float64       `json:"ema_test_map,omitempty"`
	// With progressive resizing (Config.FinetuneImageSizes), the size a fine-tuning epoch trained at.
	TrainImageSize int `json:"train_image_size,omitempty"`
}

// ClassMetrics are one class's test figures in a multi-label run's epoch.
type ClassMetrics struct {
	Class     string  `json:"class"`
	Threshold float64 `json:"threshold"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	AP        float64 `json:"ap"`
}

// Score is what picks the best checkpoint: the test accuracy, a multi-label run's test mean average
// precision; with a weight average that is best (BestIsAverage), the average's.
func (e EpochMetrics) Score() float64 {
	switch {
	case e.TestMAP != nil && e.BestIsAverage:
		return *e.EMATestMAP
	case e.TestMAP != nil:
		return *e.TestMAP
	}
	accuracy, _ := e.BestAccuracy()
	return accuracy
}

// String formats the metrics as the tutorial's report line.
func (e EpochMetrics) String() string {
	if e.TestMAP != nil {
		line := fmt.Sprintf("Epoch %2d - Train exact match: %.2f%%, Train loss: %.6f; Test mAP: %.4f, micro F1: %.4f, macro F1: %.4f, exact match: %.2f%%, Test loss: %.6f",
			e.Epoch, 100*e.TrainAccuracy, e.TrainLoss, *e.TestMAP, *e.TestMicroF1, *e.TestMacroF1, 100*e.TestAccuracy, e.TestLoss)
		if e.EMATestMAP != nil {
			line += fmt.Sprintf("; Average: test mAP %.4f, test loss %.6f", *e.EMATestMAP, *e.EMATestLoss)
		}
		return line
	}
	line := fmt.Sprintf("Epoch %2d - Train accuracy: %.2f%%, Train loss: %.6f; Test accuracy: %.2f%%, Test loss: %.6f",
		e.Epoch, 100*e.TrainAccuracy, e.TrainLoss, 100*e.TestAccuracy, e.TestLoss)
	if e.EMATestAccuracy != nil {
		line += fmt.Sprintf("; Average: test accuracy %.2f%%, test loss %.6f", 100**e.EMATestAccuracy, *e.EMATestLoss)
	}
	return line
}

// BestAccuracy is the test accuracy best.ckpt has when the epoch's checkpoint is best: the weights' or
// their average's.
func (e EpochMetrics) BestAccuracy() (accuracy, loss float64) {
	if e.BestIsAverage {
		return *e.EMATestAccuracy, *e.EMATestLoss
	}
	return e.TestAccuracy, e.TestLoss
}

// CheckWritable fails early, before any training, when the run folder cannot be written.
func CheckWritable(dir string) error {
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

// WriteMetricsCSV writes the run's metrics (all of metrics.jsonl's epochs) to metrics.csv, whole: a header
// of metrics.jsonl's keys, then one row per epoch (no TensorBoard event files: no maintained Go writer of
// them is served).
func WriteMetricsCSV(dir string, metrics []EpochMetrics) error {
	var b strings.Builder
	w := csv.NewWriter(&b)
	header := []string{"phase", "epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds", "train_images_per_second", "best"}
	averaged := slices.ContainsFunc(metrics, func(m EpochMetrics) bool { return m.EMATestAccuracy != nil })
	if averaged {
		header = append(header, "ema_test_loss", "ema_test_accuracy", "best_is_average")
	}
	multi := slices.ContainsFunc(metrics, func(m EpochMetrics) bool { return m.TestMAP != nil })
	if multi {
		header = append(header, "test_map", "test_micro_f1", "test_macro_f1")
		if averaged {
			header = append(header, "ema_test_map")
		}
	}
	w.Write(header)
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	opt := func(v *float64) string {
		if v == nil {
			return ""
		}
		return num(*v)
	}
	for _, m := range metrics {
		row := []string{string(m.Phase), strconv.Itoa(m.Epoch), num(m.TrainLoss), num(m.TrainAccuracy), num(m.TestLoss),
			num(m.TestAccuracy), num(m.Seconds), num(m.ImagesPerSecond), strconv.FormatBool(m.Best)}
		if averaged {
			row = append(row, opt(m.EMATestLoss), opt(m.EMATestAccuracy), strconv.FormatBool(m.BestIsAverage))
		}
		if multi {
			row = append(row, opt(m.TestMAP), opt(m.TestMicroF1), opt(m.TestMacroF1))
			if averaged {
				row = append(row, opt(m.EMATestMAP))
			}
		}
		w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("writing %s: %w", MetricsCSVFile, err)
	}
	return atomicfile.Write(filepath.Join(dir, MetricsCSVFile), []byte(b.String()))
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

// CheckpointPath returns the checkpoint a run folder stands for, its best one, or the path given when it
// is not a folder (a checkpoint file).
func CheckpointPath(runOrCheckpoint string) string {
	if info, err := os.Stat(runOrCheckpoint); err == nil && info.IsDir() {
		return filepath.Join(runOrCheckpoint, BestFile)
	}
	return runOrCheckpoint
}

// LoadModel reads a run's best checkpoint (or the checkpoint file runOrCheckpoint, see CheckpointPath): the
// model it holds, its variables, and what it says of itself.
func LoadModel(runOrCheckpoint string) (*nn.Model, *model.Store, *checkpoint.Meta, error) {
	store, meta, err := checkpoint.Load(CheckpointPath(runOrCheckpoint))
	if err != nil {
		return nil, nil, nil, err
	}
	m, err := meta.Model()
	if err != nil {
		return nil, nil, nil, err
	}
	return m, store, meta, nil
}

// LoadClassifier returns a classifier for a run folder's best checkpoint (or the checkpoint file given),
// with its metadata.
func LoadClassifier(b compute.Backend, runOrCheckpoint string, opts ...predict.Option) (*predict.Classifier, *checkpoint.Meta, error) {
	m, store, meta, err := LoadModel(runOrCheckpoint)
	if err != nil {
		return nil, nil, err
	}
	c, err := NewClassifier(b, m, store, meta, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("loading %s: %w", CheckpointPath(runOrCheckpoint), err)
	}
	return c, meta, nil
}

// NewClassifier returns a classifier on b of a checkpoint already read (LoadModel's model, variables and
// meta): its classes, its transform and, for a multi-label model, its thresholds. The classifier shares
// store's variables.
func NewClassifier(b compute.Backend, m *nn.Model, store *model.Store, meta *checkpoint.Meta, opts ...predict.Option) (*predict.Classifier, error) {
	if meta.MultiLabel {
		opts = append(slices.Clone(opts), predict.WithMultiLabel(meta.Thresholds))
	}
	return predict.New(b, m, store, meta.Classes, meta.Transform(), opts...)
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
	BestTestMAP        *float64       `json:"best_test_map,omitempty"` // A multi-label run's (its accuracies are exact-match ratios).
	ValidationAccuracy *float64       `json:"validation_accuracy,omitempty"`
	ValidationMAP      *float64       `json:"validation_map,omitempty"`
	ValidationLoss     *float64       `json:"validation_loss,omitempty"`
	Epochs             []EpochMetrics `json:"epochs"`
	TrainSeconds       float64        `json:"train_seconds"`
	// PhaseSeconds is each phase's wall time: its epochs' (training and testing, over every resumed part)
	// and, for the frozen phase, the feature pass's.
	PhaseSeconds map[Phase]float64 `json:"phase_seconds,omitempty"`
	// PeakRSSMB is the peak resident memory (MB, 2^20 bytes) of the process that finished the run, when
	// it finished: of its last part, for a resumed run; 0 where the system does not say.
	PeakRSSMB float64 `json:"peak_rss_mb,omitempty"`
}

// Start writes a fresh run's files: what it was made from (p; nil for an imported run, which was made
// elsewhere), its configuration, and its metrics, empty.
func Start(dir string, cfg recipe.Config, p *Provenance) error {
	if p != nil {
		if err := writeJSON(filepath.Join(dir, ProvenanceFile), p); err != nil {
			return err
		}
	}
	if err := WriteConfig(dir, cfg); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, MetricsFile), nil); err != nil {
		return err
	}
	return WriteMetricsCSV(dir, nil)
}

// WriteConfig writes the run's configuration (config.json).
func WriteConfig(dir string, cfg recipe.Config) error {
	return writeJSON(filepath.Join(dir, ConfigFile), cfg)
}

// writeJSON writes v as indented JSON to path through a temporary file and a rename.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'))
}

// readJSON reads the JSON file path into v; what names it in errors ("config").
func readJSON(path, what string, v any) error {
	content, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading run %s: %w", what, err)
	}
	if err := json.Unmarshal(content, v); err != nil {
		return fmt.Errorf("reading run %s %s: %w", what, path, err)
	}
	return nil
}

// ReadConfig returns the configuration saved in the run folder dir (its config.json).
func ReadConfig(dir string) (recipe.Config, error) {
	var c recipe.Config
	err := readJSON(filepath.Join(dir, ConfigFile), "config", &c)
	return c, err
}

// Record is a run folder as training left it: its configuration, its metrics, and its summary (nil until
// the run has finished).
type Record struct {
	Dir     string
	Config  recipe.Config
	Metrics []EpochMetrics
	Summary *Summary
}

// ReadRecord reads the run folder dir.
func ReadRecord(dir string) (*Record, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	r := &Record{Dir: dir, Config: cfg}
	if r.Metrics, err = ReadMetrics(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, SummaryFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return r, nil
	}
	if r.Summary, err = ReadSummary(dir); err != nil {
		return nil, err
	}
	return r, nil
}

// ReadSummary reads the summary of the finished run in dir (its summary.json).
func ReadSummary(dir string) (*Summary, error) {
	var s Summary
	if err := readJSON(filepath.Join(dir, SummaryFile), "summary", &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Ranking returns the figures a finished run is ranked by, its best checkpoint's on the validation split
// (-1 when the data has none) and on test: accuracies, or a multi-label run's mean average precisions (the
// metric its best checkpoint is chosen by; its accuracies are exact-match ratios). multiLabel says which.
func (s *Summary) Ranking() (validation, test float64, multiLabel bool) {
	if s.BestTestMAP != nil {
		validation = -1
		if s.ValidationMAP != nil {
			validation = *s.ValidationMAP
		}
		return validation, *s.BestTestMAP, true
	}
	validation = -1
	if s.ValidationAccuracy != nil {
		validation = *s.ValidationAccuracy
	}
	return validation, s.BestTestAccuracy, false
}

// RankingMetric names the metric of Ranking for runs of which multi of total are multi-label: "accuracy",
// "mAP", or both.
func RankingMetric(multi, total int) string {
	switch multi {
	case 0:
		return "accuracy"
	case total:
		return "mAP"
	}
	return "accuracy, multi-label runs' mAP"
}

// Accuracy is the validation accuracy, else the best test accuracy; 0 for a run without a summary. (Runs
// are ranked by Summary.Ranking, which ranks multi-label runs by mean average precision.)
func (r *Record) Accuracy() float64 {
	switch {
	case r.Summary == nil:
		return 0
	case r.Summary.ValidationAccuracy != nil:
		return *r.Summary.ValidationAccuracy
	}
	return r.Summary.BestTestAccuracy
}

// ReadProvenance reads a run folder's provenance.json.
func ReadProvenance(dir string) (*Provenance, error) {
	var p Provenance
	if err := readJSON(filepath.Join(dir, ProvenanceFile), "provenance", &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Checkpoints says which of a run's checkpoints SaveCheckpoints writes.
type Checkpoints int

const (
	LastOnly    Checkpoints = iota // last.ckpt.
	LastAndBest                    // best.ckpt, then last.ckpt: the run's best so far.
)

// SaveCheckpoints writes the run's last checkpoint and, for LastAndBest, its best one first, lean (SaveBest).
func SaveCheckpoints(dir string, store *model.Store, meta checkpoint.Meta, which Checkpoints) error {
	if which == LastAndBest {
		if err := SaveBest(dir, store, meta, false); err != nil {
			return err
		}
	}
	return checkpoint.Save(filepath.Join(dir, LastFile), store, meta)
}

// SaveBest writes the run's best checkpoint: lean (checkpoint.SaveModel: the model's weights and
// statistics, what predict, serve, eval and export read), or with the optimizer's state and the weight
// average too when optimizer is set. A run resumes from its last checkpoint, which always keeps them.
func SaveBest(dir string, store *model.Store, meta checkpoint.Meta, optimizer bool) error {
	path := filepath.Join(dir, BestFile)
	if optimizer {
		return checkpoint.Save(path, store, meta)
	}
	return checkpoint.SaveModel(path, store, meta)
}

// WriteSummary writes the run's summary to summary.json and, as text, to summary.txt.
func WriteSummary(dir string, s *Summary) error {
	if err := writeJSON(filepath.Join(dir, SummaryFile), s); err != nil {
		return err
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
	for _, e := range s.Epochs {
		if e.Phase != phase {
			phase = e.Phase
			fmt.Fprintf(&b, "%s phase:\n", phase)
		}
		fmt.Fprintf(&b, "  %s\n", e)
	}
	if s.BestTestMAP != nil {
		fmt.Fprintf(&b, "Best: %s epoch %d, test mAP %.4f, exact match %.2f%%\n", s.BestPhase, s.BestEpoch, *s.BestTestMAP, 100*s.BestTestAccuracy)
	} else {
		fmt.Fprintf(&b, "Best: %s epoch %d, test accuracy %.2f%%\n", s.BestPhase, s.BestEpoch, 100*s.BestTestAccuracy)
	}
	if s.ValidationMAP != nil {
		fmt.Fprintf(&b, "Validation: mAP %.4f, exact match %.2f%%, %.6f\n", *s.ValidationMAP, 100**s.ValidationAccuracy, *s.ValidationLoss)
	} else if s.ValidationAccuracy != nil {
		fmt.Fprintf(&b, "Validation: %.2f%%, %.6f\n", 100**s.ValidationAccuracy, *s.ValidationLoss)
	}
	fmt.Fprintf(&b, "Training time: %.1f s", s.TrainSeconds)
	var phases []string
	for _, p := range []Phase{Frozen, Finetune} {
		if secs, ok := s.PhaseSeconds[p]; ok {
			phases = append(phases, fmt.Sprintf("%s phase %.1f s", p, secs))
		}
	}
	if len(phases) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(phases, ", "))
	}
	b.WriteString("\n")
	return atomicfile.Write(filepath.Join(dir, SummaryTxtFile), []byte(b.String()))
}

// AppendMetrics appends an epoch's line to metrics.jsonl, synced, and rewrites metrics.csv from all its
// lines.
func AppendMetrics(dir string, m EpochMetrics) error {
	line, err := json.Marshal(m)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, MetricsFile), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
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
	metrics, err := ReadMetrics(dir)
	if err != nil {
		return err
	}
	return WriteMetricsCSV(dir, metrics)
}
