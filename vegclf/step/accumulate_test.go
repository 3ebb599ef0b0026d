package step

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/schedule"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// TestAccumulationEqualsOneLargeBatch checks that accumulated micro-batches give the gradient of one batch
// of all their images: micro-batches of 2, 2 and 1 images (3 per update), and of 2 and 3 ended by Flush, as
// an epoch's last, short group is, against a step of the 5. It compares Adam's moments after the update,
// which are linear in the gradient (the update itself is Adam's sign-like step, where rounding noise in a
// gradient near zero moves a weight by the whole rate). Batch norm is in inference mode, so its
// statistics do not depend on how the images are grouped.
func TestAccumulationEqualsOneLargeBatch(t *testing.T) {
	const classes, size, lr = 3, 32, 1e-3
	b := testenv.Backend(t)
	images, labels := testenv.RandomBatch(20, 5, size, classes)
	slice := func(from, to int) (*tensors.Tensor, []int32) {
		flat := tensors.MustCopyFlatData[float32](images)
		n := size * size * 3
		return tensors.FromFlatDataAndDimensions(flat[from*n:to*n], to-from, size, size, 3), labels[from:to]
	}
	isMoment := func(path string) bool { return strings.HasPrefix(path, OptimizerPrefix) }
	// update takes one update of the micro-batches (one batch of all images when accumulate is 0) and
	// returns Adam's moments, the weights' largest move, and the store.
	update := func(accumulate int, micro [][2]int, flush bool) (map[string][]float32, float64, *model.Store) {
		m := zoo.MustNew("resnet18", nn.TutorialHead(classes))
		store := model.NewStore()
		if err := m.Init(store, 5, nil); err != nil {
			t.Fatal(err)
		}
		isWeight := func(path string) bool { return !isMoment(path) && !strings.HasPrefix(path, checkpoint.TransientPrefix) }
		start := testenv.FloatValues(t, store, isWeight)
		s, err := New(b, store, m, Config{Phase: runfolder.Finetune, Input: FromImages, Schedule: schedule.Constant{LR: lr}, Accumulate: accumulate})
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range micro {
			if _, _, err := s.Step(slice(r[0], r[1])); err != nil {
				t.Fatal(err)
			}
			if want := int64(0); i < len(micro)-1 && s.Steps != want {
				t.Fatalf("micro-batch %d of %d updated the weights", i+1, accumulate)
			}
		}
		if flush {
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if s.Steps != 1 {
			t.Fatalf("micro-batches %v (flushed: %v) with accumulate %d: %d updates, want 1", micro, flush, accumulate, s.Steps)
		}
		move := 0.0
		for path, w := range testenv.FloatValues(t, store, isWeight) {
			for i := range w {
				move = max(move, math.Abs(float64(w[i]-start[path][i])))
			}
		}
		return testenv.FloatValues(t, store, isMoment), move, store
	}
	want, _, _ := update(0, [][2]int{{0, 5}}, false)
	var store *model.Store
	for _, tc := range []struct {
		micro [][2]int
		flush bool
	}{{[][2]int{{0, 2}, {2, 4}, {4, 5}}, false}, {[][2]int{{0, 2}, {2, 5}}, true}} {
		got, move, s := update(3, tc.micro, tc.flush)
		store = s
		worstDiff, largest := 0.0, 0.0
		for path, w := range want {
			for i := range w {
				worstDiff = max(worstDiff, math.Abs(float64(got[path][i]-w[i])))
				largest = max(largest, math.Abs(float64(w[i])))
			}
		}
		t.Logf("micro-batches %v: moments differ by up to %.3g (largest %.3g); weights moved up to %.3g", tc.micro, worstDiff, largest, move)
		if worstDiff > 1e-5*largest || move < lr/2 {
			t.Errorf("micro-batches %v: Adam's moments differ from one batch's by up to %.3g (largest %.3g); weights moved up to %.3g", tc.micro, worstDiff, largest, move)
		}
	}
	m := zoo.MustNew("resnet18", nn.TutorialHead(classes))
	parts := store

	// A checkpoint keeps no gradient sums.
	path := filepath.Join(t.TempDir(), "c.safetensors")
	if err := checkpoint.Save(path, parts, checkpoint.Meta{Arch: m.Name(), Head: m.Head, Classes: []string{"a", "b", "c"}, ImageSize: size, Normalization: data.HalfNormalization}); err != nil {
		t.Fatal(err)
	}
	loaded, _, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for v := range loaded.IterVariables() {
		if strings.HasPrefix(v.Path(), checkpoint.TransientPrefix) {
			t.Errorf("the checkpoint keeps %s", v.Path())
		}
	}
	if parts.GetVariable(accumulatorPrefix+m.Params()[0].Path()) == nil {
		t.Error("no gradient sums in the store: the check above tests nothing")
	}
}
