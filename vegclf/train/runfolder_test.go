package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
