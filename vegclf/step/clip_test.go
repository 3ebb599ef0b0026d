package step

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/schedule"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// TestClipGradientsParityWithTorch checks --clip-grad against torch's clip_grad_norm_ and
// clip_grad_value_ on one update of a fine-tuned ResNet-18 (every parameter trainable), plainly and with
// accumulation (two micro-batches, clipped once, after summing). The gradient an update used is read
// from Adam's first moment, which after one step from zero is (1-beta1) times it. The update's unclipped
// gradients go to torch (clip_reference.py), whose clipped ones the clipped update's must equal within
// 1e-6; the limits are chosen so that clipping changes every case by far more than that.
func TestClipGradientsParityWithTorch(t *testing.T) {
	testenv.Python(t)
	const classes, size = 3, 32
	b := testenv.Backend(t)
	images, labels := testenv.RandomBatch(31, 4, size, classes)
	half := func(from, to int) (*tensors.Tensor, []int32) {
		flat := tensors.MustCopyFlatData[float32](images)
		n := size * size * 3
		return tensors.FromFlatDataAndDimensions(flat[from*n:to*n], to-from, size, size, 3), labels[from:to]
	}
	// update takes one update and returns the gradient it used, every trainable variable's flattened in
	// order, and their shapes in torch's order of axes (the model's layout: what matters is the same values).
	update := func(accumulate int, limit float64, mode recipe.ClipMode) ([]float32, [][]int) {
		m := zoo.MustNew("resnet18", nn.TutorialHead(classes))
		store := model.NewStore()
		if err := m.Init(store, 5, nil); err != nil {
			t.Fatal(err)
		}
		s, err := New(b, store, m, Config{Phase: runfolder.Finetune, Input: FromImages, Schedule: schedule.Constant{LR: 1e-3},
			Accumulate: accumulate, ClipGrad: limit, ClipMode: mode})
		if err != nil {
			t.Fatal(err)
		}
		if accumulate > 1 {
			for _, r := range [][2]int{{0, 2}, {2, 4}} {
				if _, _, err := s.Step(half(r[0], r[1])); err != nil {
					t.Fatal(err)
				}
			}
		} else if _, _, err := s.Step(images, labels); err != nil {
			t.Fatal(err)
		}
		if s.Steps != 1 {
			t.Fatalf("%d updates, want 1", s.Steps)
		}
		var grads []float32
		var shapes [][]int
		for _, pair := range s.opt.moments {
			value, err := pair[0].Value()
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range tensors.MustCopyFlatData[float32](value) {
				grads = append(grads, float32(float64(v)/(1-adamBeta1)))
			}
			shapes = append(shapes, value.Shape().Dimensions)
		}
		return grads, shapes
	}
	for _, accumulate := range []int{0, 2} {
		raw, shapes := update(accumulate, 0, recipe.ClipNorm)
		total, largest := 0.0, 0.0
		for _, g := range raw {
			total += float64(g) * float64(g)
			largest = max(largest, math.Abs(float64(g)))
		}
		total = math.Sqrt(total)
		maxNorm, maxValue := total/4, largest/8
		dir := t.TempDir()
		writeClipInput(t, dir, raw, shapes)
		var ref struct {
			TotalNorm float64 `json:"total_norm"`
		}
		if err := json.Unmarshal(testenv.RunPython(t, "clip_reference.py", dir,
			strconv.FormatFloat(maxNorm, 'g', -1, 64), strconv.FormatFloat(maxValue, 'g', -1, 64)), &ref); err != nil {
			t.Fatal(err)
		}
		if math.Abs(ref.TotalNorm-total) > 1e-5*total {
			t.Errorf("accumulate %d: torch's total norm %.7g, the host's %.7g", accumulate, ref.TotalNorm, total)
		}
		for _, mode := range []recipe.ClipMode{recipe.ClipNorm, recipe.ClipValue} {
			want := testenv.ReadFloat32s(t, filepath.Join(dir, map[recipe.ClipMode]string{recipe.ClipNorm: "norm.bin", recipe.ClipValue: "value.bin"}[mode]))
			limit := map[recipe.ClipMode]float64{recipe.ClipNorm: maxNorm, recipe.ClipValue: maxValue}[mode]
			got, _ := update(accumulate, limit, mode)
			if len(got) != len(want) {
				t.Fatalf("%d clipped gradients, torch's %d", len(got), len(want))
			}
			worst, changed := 0.0, 0.0
			for i := range got {
				worst = max(worst, math.Abs(float64(got[i]-want[i])))
				changed = max(changed, math.Abs(float64(raw[i]-want[i])))
			}
			t.Logf("accumulate %d, clip %s at %.4g: %d gradients off torch's by up to %.3g; clipping moved them by up to %.3g (total norm %.4g, largest %.4g)",
				accumulate, mode, limit, len(got), worst, changed, total, largest)
			if worst > 1e-6 {
				t.Errorf("accumulate %d, clip %s: the clipped gradients are off torch's by up to %.3g", accumulate, mode, worst)
			}
			if changed < 1e-3 {
				t.Errorf("accumulate %d, clip %s: torch's clipping moves the gradients by only %.3g: the case tests nothing", accumulate, mode, changed)
			}
		}
	}
}

// writeClipInput writes clip_reference.py's input: the gradients' shapes and values.
func writeClipInput(t *testing.T, dir string, grads []float32, shapes [][]int) {
	t.Helper()
	js, err := json.Marshal(shapes)
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 4*len(grads))
	for i, g := range grads {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(g))
	}
	if err := os.WriteFile(filepath.Join(dir, "shapes.json"), js, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "grads.bin"), raw, 0o666); err != nil {
		t.Fatal(err)
	}
}
