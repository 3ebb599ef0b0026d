// Package runimport makes a run folder of a model trained elsewhere (such as the PyTorch tutorial's
// checkpoint, which vegclf import reads): its settings, empty metrics, and checkpoints at the start of a
// fine-tuning phase, with the optimizer's state when there is one, which a resumed run continues.
package runimport

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/step"
	"github.com/vegclf/vegclf/vegclf/weights"
)

// Write makes a run folder in dir from a model trained elsewhere (such as the PyTorch tutorial's
// checkpoint): config.json (cfg, whose epochs say what is left to train: none by default), an empty
// metrics.jsonl, and best.ckpt and last.ckpt holding store's variables at the start of a fine-tuning
// phase, with source noted. Predict, eval and the notebooks take the folder; resuming it with fine-tuning
// epochs trains the model further (and, with cfg.Data empty, with the data given then). adam, when not nil,
// is the fine-tuning phase's optimizer state: its moments by parameter name, in torch's layout, and its step
// count, which the next step continues; the checkpoints hold it beside store's variables. dir must not hold
// a run (runfolder.ErrRunExists). Every argument is checked before anything is written, and store is left as it was.
func Write(dir string, cfg recipe.Config, classes []string, m *nn.Model, store *model.Store, adam *weights.AdamState, source string) error {
	if _, err := os.Stat(filepath.Join(dir, runfolder.LastFile)); err == nil {
		return fmt.Errorf("%s: %w (%s): choose another folder", dir, runfolder.ErrRunExists, runfolder.LastFile)
	}
	if len(classes) != m.Head.NumClasses {
		return fmt.Errorf("importing %s: %d class names for a head with %d outputs", source, len(classes), m.Head.NumClasses)
	}
	if err := m.CheckStore(store); err != nil {
		return fmt.Errorf("importing %s: %w", source, err)
	}
	meta := checkpoint.Meta{
		Arch: m.Name(), Head: m.Head, Classes: classes, ImageSize: cfg.ImageSize,
		Normalization: cfg.Transform().Normalization, Phase: string(runfolder.Finetune),
		Extra: map[string]string{"imported_from": source},
	}
	// The optimizer's moments, all read and checked before any is added.
	type moment struct {
		path  string
		value *tensors.Tensor
	}
	var moments []moment
	if adam != nil {
		sources := map[string]map[string]*weights.Tensor{"m": adam.ExpAvg, "v": adam.ExpAvgSq}
		for _, p := range m.Params() {
			if !p.Trainable {
				continue
			}
			for _, kind := range []string{"m", "v"} {
				t, ok := sources[kind][p.Name]
				if !ok {
					return fmt.Errorf("importing %s: the optimizer has no state for %s", source, p.Name)
				}
				value, err := weights.ToModelLayout(p, t)
				if err != nil {
					return fmt.Errorf("importing %s: optimizer state of %s: %w", source, p.Name, err)
				}
				moments = append(moments, moment{step.MomentPath(runfolder.Finetune, kind, p.Path()), value})
			}
		}
		meta.Step = adam.Step
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("creating run folder: %w", err)
	}
	// The moments are in store while the checkpoints are written, and taken out again after.
	var added []string
	defer func() {
		for _, path := range added {
			store.DeleteVariable(path)
		}
	}()
	for _, mo := range moments {
		if _, err := store.CreateVariable(mo.path, mo.value); err != nil {
			return fmt.Errorf("importing %s: %w", source, err)
		}
		added = append(added, mo.path)
	}
	if err := runfolder.Start(dir, cfg, nil); err != nil {
		return err
	}
	return runfolder.SaveCheckpoints(dir, store, meta, runfolder.LastAndBest)
}
