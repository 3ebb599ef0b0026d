package runimport

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/weights"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// TestImport: an imported run's checkpoints hold the optimizer's state, and the caller's store is left as
// it was; an optimizer missing a parameter's state is refused with nothing written and nothing added to
// the store; a folder holding a run is runfolder.ErrRunExists.
func TestImport(t *testing.T) {
	m := zoo.MustNew("resnet18", nn.Head{NumClasses: 2})
	store := model.NewStore()
	if err := m.Init(store, 1, nil); err != nil {
		t.Fatal(err)
	}
	sd, err := weights.FromStore(store, m)
	if err != nil {
		t.Fatal(err)
	}
	cfg := recipe.Default()
	cfg.Arch, cfg.FrozenEpochs, cfg.FinetuneEpochs = "resnet18", 0, 0
	classes := []string{"a", "b"}
	vars := store.NumVariables()

	// The state of one parameter only: refused, after the check of every parameter.
	var first string
	for _, p := range m.Params() {
		if p.Trainable {
			first = p.Name
			break
		}
	}
	partial := &weights.AdamState{Step: 3, ExpAvg: map[string]*weights.Tensor{first: sd.Tensors[first]}, ExpAvgSq: map[string]*weights.Tensor{first: sd.Tensors[first]}}
	dir := filepath.Join(t.TempDir(), "run")
	if err := Write(dir, cfg, classes, m, store, partial, "partial.pth"); err == nil || !strings.Contains(err.Error(), "the optimizer has no state for") {
		t.Errorf("partial optimizer state: %v", err)
	}
	if _, err := os.Stat(dir); err == nil || store.NumVariables() != vars {
		t.Errorf("a refused import wrote %s (%v) or changed the store: %d variables, had %d", dir, err, store.NumVariables(), vars)
	}

	full := &weights.AdamState{Step: 7, ExpAvg: sd.Tensors, ExpAvgSq: sd.Tensors}
	if err := Write(dir, cfg, classes, m, store, full, "full.pth"); err != nil {
		t.Fatal(err)
	}
	if store.NumVariables() != vars {
		t.Errorf("the import left %d variables in the caller's store, had %d", store.NumVariables(), vars)
	}
	saved, meta, err := checkpoint.Load(filepath.Join(dir, runfolder.LastFile))
	if err != nil || meta.Step != 7 || saved.NumVariables() <= vars {
		t.Errorf("the imported checkpoint: step %v, %d variables (the model has %d), %v", meta, saved.NumVariables(), vars, err)
	}
	if err := Write(dir, cfg, classes, m, store, nil, "again.pth"); !errors.Is(err, runfolder.ErrRunExists) {
		t.Errorf("importing into a run: %v, want runfolder.ErrRunExists", err)
	}
}
