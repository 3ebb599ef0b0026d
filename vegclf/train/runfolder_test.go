package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/evaluate"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/synthveg"
)

// TestReadRecord reads run folders as a comparison does: a trained run without a summary, then with one
// (ranked by its validation accuracy), its settings as config.json's keys; a folder with a broken
// config.json is an error naming the file.
func TestReadRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	cfg := smallConfig(generate(t, synthveg.Options{Classes: 2, Train: 4, Test: 2, Validation: 2, Size: 32, Seed: 5}))
	cfg.FrozenEpochs, cfg.FinetuneEpochs = 2, 0
	r, _ := trainFresh(t, cfg)
	rec, err := runfolder.ReadRecord(r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Dir != r.Dir || rec.Config != r.Config || len(rec.Metrics) != 2 || rec.Summary != nil || rec.Accuracy() != 0 {
		t.Errorf("before the summary: %+v", rec)
	}
	validation, err := r.EvaluateBest()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.WriteSummary(validation); err != nil {
		t.Fatal(err)
	}
	if rec, err = runfolder.ReadRecord(r.Dir); err != nil {
		t.Fatal(err)
	}
	if rec.Summary == nil || rec.Accuracy() != validation.Accuracy || rec.Summary.BestTestAccuracy != rec.Metrics[0].TestAccuracy && rec.Summary.BestTestAccuracy != rec.Metrics[1].TestAccuracy {
		t.Errorf("after the summary: %+v, accuracy %v; validation %v", rec.Summary, rec.Accuracy(), validation.Accuracy)
	}
	settings, err := rec.Config.Settings()
	if err != nil {
		t.Fatal(err)
	}
	if settings["arch"] != "resnet18" || settings["frozen_epochs"] != 2.0 || settings["normalization"] != "half" {
		t.Errorf("settings %v", settings)
	}
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, runfolder.ConfigFile), []byte(`{"arch": "vgg16"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runfolder.ReadRecord(broken); err == nil || !strings.Contains(err.Error(), filepath.Join(broken, runfolder.ConfigFile)) || !strings.Contains(err.Error(), "vgg16") {
		t.Errorf("broken config: %v", err)
	}
}

// TestBestCheckpointReadOnce: a trained run's validation, summary and classifiers of its best checkpoint
// share one reading of best.ckpt. With the file moved away once the validation has read it, the summary
// is still written and a classifier still made, whose validation loss and accuracy are those of a
// classifier loaded from the moved file; once a later epoch is best, the classifier is the new file's.
func TestBestCheckpointReadOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	cfg := smallConfig(generate(t, synthveg.Options{Classes: 2, Train: 4, Test: 2, Validation: 2, Size: 32, Seed: 5}))
	cfg.FrozenEpochs, cfg.FinetuneEpochs = 1, 0
	r, _ := trainFresh(t, cfg)
	validation, err := r.EvaluateBest()
	if err != nil {
		t.Fatal(err)
	}
	best, moved := filepath.Join(r.Dir, runfolder.BestFile), filepath.Join(t.TempDir(), "moved.ckpt")
	if err := os.Rename(best, moved); err != nil {
		t.Fatal(err)
	}
	s, err := r.WriteSummary(validation)
	if err != nil {
		t.Fatalf("summary after validation, best.ckpt moved away: %v", err)
	}
	if s.BestEpoch != 1 || *s.ValidationLoss != validation.Loss {
		t.Errorf("summary: best epoch %d, validation loss %v; want 1, %v", s.BestEpoch, *s.ValidationLoss, validation.Loss)
	}
	c, meta, err := r.BestClassifier(r.Backend)
	if err != nil {
		t.Fatalf("classifier after validation, best.ckpt moved away: %v", err)
	}
	fromFile, _, err := runfolder.LoadClassifier(r.Backend, moved)
	if err != nil {
		t.Fatal(err)
	}
	got, err := evaluate.Split(c, r.Dataset.Validation, cfg.Batch, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := evaluate.Split(fromFile, r.Dataset.Validation, cfg.Batch, nil)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Epoch != 1 || got.Loss != want.Loss || got.Accuracy != want.Accuracy || got.Loss != validation.Loss {
		t.Errorf("classifier of the run: epoch %d, loss %v, accuracy %v; of the file: loss %v, accuracy %v; validation loss %v",
			meta.Epoch, got.Loss, got.Accuracy, want.Loss, want.Accuracy, validation.Loss)
	}

	// A later epoch that is best writes best.ckpt again: the classifier is then that file's.
	if err := r.endEpoch(runfolder.EpochMetrics{Phase: runfolder.Frozen, Epoch: 2, Best: true, TestAccuracy: 1}); err != nil {
		t.Fatal(err)
	}
	if _, meta, err := r.BestClassifier(r.Backend); err != nil {
		t.Errorf("after a new best epoch 2: %v", err)
	} else if meta.Epoch != 2 {
		t.Errorf("after a new best epoch 2: the classifier is epoch %d's", meta.Epoch)
	}
}
