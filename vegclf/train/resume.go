package train

import (
	"fmt"
	"strings"

	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
)

// ResumeConflict is the error of resuming a run with settings that would change what the run means.
type ResumeConflict struct {
	Dir         string
	Differences []recipe.Difference
}

func (e *ResumeConflict) Error() string {
	parts := make([]string, len(e.Differences))
	for i, d := range e.Differences {
		parts[i] = fmt.Sprintf("%s: saved %s, given %s", d.Key, d.Saved, d.Given)
		if d.Why != "" {
			parts[i] += " (" + d.Why + ")"
		}
	}
	return fmt.Sprintf("the run in %s was made with other settings (%s): a resumed run keeps its settings; "+
		"start a new run in another folder to train with these", e.Dir, strings.Join(parts, "; "))
}

// resumeSettings are the settings a resumed run may take with new values, as they change how it runs,
// not what it computes: the data it reads and the weights it learns stay those of the saved settings.
var resumeSettings = map[string]bool{
	"strict": true, "cache_features": true, "image_cache_mb": true, "memory_limit": true, "devices": true,
	"checkpoint_every": true, "feature_cache_mb": true, "best_optimizer_state": true,
}

// sameSizes reports whether a and b train their first epochs fine-tuning epochs at the same sizes.
func sameSizes(a, b recipe.Config, epochs int) bool {
	for e := 1; e <= epochs; e++ {
		if a.FinetuneSize(e) != b.FinetuneSize(e) {
			return false
		}
	}
	return true
}

// checkResume compares the configuration a run is resumed with to its saved one, given the phase its
// last checkpoint is in. Run settings (resumeSettings) may change; epochs may be raised to extend the run,
// the frozen phase's only while the run is still in it; any other difference is a *ResumeConflict. It
// returns what the resumed run does differently, for the report.
func checkResume(dir string, saved, given recipe.Config, phase runfolder.Phase) ([]string, error) {
	var notes []string
	conflict := &ResumeConflict{Dir: dir}
	for _, d := range recipe.Differences(saved, given) {
		// Epochs may be raised to train some more (fastai's "fit some more"), the frozen phase's only while
		// the run is still in it.
		raised, why := false, ""
		switch d.Key {
		case "frozen_epochs":
			raised, why = given.FrozenEpochs > saved.FrozenEpochs, "a run's phases cannot be shortened"
			if raised && phase == runfolder.Finetune {
				raised, why = false, "the run's frozen phase is over: only fine-tuning epochs can be added"
			}
		case "finetune_epochs":
			raised, why = given.FinetuneEpochs > saved.FinetuneEpochs, "a run's phases cannot be shortened"
		case "finetune_image_sizes":
			// Progressive resizing's sizes may go on with the epochs added; those of the run's epochs stay.
			raised, why = given.FinetuneEpochs > saved.FinetuneEpochs && sameSizes(saved, given, saved.FinetuneEpochs),
				"the run's fine-tuning epochs keep their image sizes: only the epochs added may be given sizes"
		}
		switch {
		case d.Key == "data" && saved.Data == "":
			notes = append(notes, fmt.Sprintf("The run trains on %s (it had no data: imported).", d.Given))
		case resumeSettings[d.Key]:
			notes = append(notes, fmt.Sprintf("Resumed with %s %s (the run had %s).", d.Key, d.Given, d.Saved))
		case raised:
			notes = append(notes, fmt.Sprintf("Extending the run: %s %s (it had %s).", d.Key, d.Given, d.Saved))
		default:
			d.Why = why
			conflict.Differences = append(conflict.Differences, d)
		}
	}
	if len(conflict.Differences) > 0 {
		return nil, conflict
	}
	return notes, nil
}
