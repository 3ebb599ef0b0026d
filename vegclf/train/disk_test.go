package train

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/step"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// TestReadmeDiskFigures checks the README's table of the disk a run takes per architecture against
// checkpoints written as a run writes them: best.ckpt lean (the model's variables alone), last.ckpt with
// Adam's moments of the head (frozen phase) or of every parameter (fine-tuning), with the tutorial's head
// for 15 classes; a finished run keeps one of each. Feature-cache figures are the backbone's feature width
// in float32. It also checks that the lean best.ckpt is smaller than the fine-tuning last.ckpt by Adam's
// two moments of every trainable parameter (to within the metadata's few KB).
func TestReadmeDiskFigures(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9_]+)` \\| ([\\d.]+) MB \\| ([\\d.]+) MB \\| ([\\d.]+) MB \\| ([\\d.]+) MB \\| (\\d+) KB \\|$")
	rows := row.FindAllStringSubmatch(string(raw), -1)
	if len(rows) < 4 {
		t.Fatalf("the README's disk table has %d rows", len(rows))
	}
	dir := t.TempDir()
	for _, r := range rows {
		arch := r[1]
		m := zoo.MustNew(arch, nn.Head{Hidden: []int{128}, NumClasses: 15})
		store := model.NewStore()
		if err := m.Init(store, 1, nil); err != nil {
			t.Fatal(err)
		}
		meta := checkpoint.Meta{Arch: arch, Head: m.Head, Classes: make([]string, 15), ImageSize: 224, Normalization: data.HalfNormalization, Phase: "finetune", Epoch: 2}
		size := func(phase runfolder.Phase, head bool) int64 {
			if err := step.DeleteOptimizerState(store, phase); err != nil { // As a phase's stepper does.
				t.Fatal(err)
			}
			for _, p := range m.Params() {
				if !p.Trainable || head && !m.IsHead(p) {
					continue
				}
				v := store.GetVariable(p.Path())
				for _, kind := range []string{"m", "v"} {
					if _, err := store.CreateVariable(step.MomentPath(phase, kind, p.Path()), tensors.FromShape(v.Shape())); err != nil {
						t.Fatal(err)
					}
				}
			}
			path := filepath.Join(dir, arch+string(phase)+".ckpt")
			if err := checkpoint.Save(path, store, meta); err != nil {
				t.Fatal(err)
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			return info.Size()
		}
		frozen := size(runfolder.Frozen, true)
		finetune := size(runfolder.Finetune, false)
		leanPath := filepath.Join(dir, arch+"best.ckpt")
		if err := checkpoint.SaveModel(leanPath, store, meta); err != nil { // The store holds Adam's moments of every parameter.
			t.Fatal(err)
		}
		info, err := os.Stat(leanPath)
		if err != nil {
			t.Fatal(err)
		}
		lean := info.Size()
		moments := int64(0)
		for _, p := range m.Params() {
			if p.Trainable {
				moments += 2 * 4 * int64(p.Shape().Size())
			}
		}
		if d := finetune - lean - moments; d < 0 || d > 64<<10 {
			t.Errorf("%s: best.ckpt takes %d bytes, last.ckpt %d: %d apart, want Adam's moments (%d bytes) and a few KB of names", arch, lean, finetune, finetune-lean, moments)
		}
		got := []string{mb(lean), mb(frozen), mb(finetune), mb(lean + finetune), strconv.Itoa((4*m.Backbone.FeatureDim() + 512) / 1024)}
		want := []string{r[2] + " MB", r[3] + " MB", r[4] + " MB", r[5] + " MB", r[6]}
		if strings.Join(got, ", ") != strings.Join(want, ", ") {
			t.Errorf("%s: the README says %v, the checkpoints take %v", arch, want, got)
		}
	}
}

// mb writes n bytes in MB (10^6) as the README does: whole MB, with a decimal under 10.
func mb(n int64) string {
	if n < 10e6 {
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.0f MB", float64(n)/1e6)
}
