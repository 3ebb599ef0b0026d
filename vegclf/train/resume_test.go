package train

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/memlimit"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
)

func TestCheckResume(t *testing.T) {
	saved := recipe.Default()
	saved.Data, saved.FrozenEpochs, saved.FinetuneEpochs = "/data", 2, 1
	change := func(f func(*recipe.Config)) recipe.Config { c := saved; f(&c); return c }
	for _, tc := range []struct {
		name      string
		given     recipe.Config
		phase     runfolder.Phase
		wantKeys  []string // The conflicting settings, in order.
		wantNotes []string
	}{
		{"unchanged", saved, runfolder.Frozen, nil, nil},
		{"data and seed", change(func(c *recipe.Config) { c.Data, c.Seed = "/other", 3 }), runfolder.Frozen, []string{"data", "seed"}, nil},
		{"hidden and normalization", change(func(c *recipe.Config) { c.Hidden, c.Normalization = 64, data.ImageNetNormalization }), runfolder.Finetune, []string{"normalization", "hidden"}, nil},
		{"more fine-tuning", change(func(c *recipe.Config) { c.FinetuneEpochs = 3 }), runfolder.Finetune, nil, []string{"Extending the run: finetune_epochs 3 (it had 1)."}},
		{"more frozen epochs, still frozen", change(func(c *recipe.Config) { c.FrozenEpochs = 4 }), runfolder.Frozen, nil, []string{"Extending the run: frozen_epochs 4 (it had 2)."}},
		{"more frozen epochs, fine-tuning", change(func(c *recipe.Config) { c.FrozenEpochs = 4 }), runfolder.Finetune, []string{"frozen_epochs"}, nil},
		{"fewer epochs", change(func(c *recipe.Config) { c.FinetuneEpochs = 0 }), runfolder.Frozen, []string{"finetune_epochs"}, nil},
		{"run settings", change(func(c *recipe.Config) { c.Strict, c.MemoryLimit = true, memlimit.Policy{Bytes: 3 << 30} }), runfolder.Finetune, nil,
			[]string{"Resumed with strict true (the run had false).", `Resumed with memory_limit "3GiB" (the run had "auto").`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			notes, err := checkResume("/runs/a", saved, tc.given, tc.phase)
			var conflict *ResumeConflict
			if len(tc.wantKeys) == 0 {
				if err != nil {
					t.Fatal(err)
				}
			} else if !errors.As(err, &conflict) {
				t.Fatalf("error %v, want a *ResumeConflict", err)
			} else {
				var keys []string
				for _, d := range conflict.Differences {
					keys = append(keys, d.Key)
				}
				if !slices.Equal(keys, tc.wantKeys) || !strings.Contains(err.Error(), "/runs/a") {
					t.Errorf("conflict %v on %v, want %v", err, keys, tc.wantKeys)
				}
			}
			if !slices.Equal(notes, tc.wantNotes) {
				t.Errorf("notes %q, want %q", notes, tc.wantNotes)
			}
		})
	}
}
