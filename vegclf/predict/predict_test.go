package predict

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/zoo"

	_ "github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/data"
)

func TestTopK(t *testing.T) {
	labels := []string{"a", "b", "c", "d"}
	for _, tc := range []struct {
		probs []float32
		k     int
		want  string
	}{
		{[]float32{0.1, 0.6, 0.05, 0.25}, 2, "b d"},
		{[]float32{0.25, 0.25, 0.25, 0.25}, 3, "a b c"}, // Ties keep index order.
		{[]float32{0.1, 0.6, 0.05, 0.25}, 10, "b d a c"},
		{[]float32{0.1, 0.6, 0.05, 0.25}, 0, "b"},
	} {
		var got []string
		for _, c := range TopK(tc.probs, labels, tc.k) {
			got = append(got, c.Label)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("TopK(%v, %d) = %v, want %s", tc.probs, tc.k, got, tc.want)
		}
	}
}

func TestFilesPredictsAndReportsBadImages(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i, c := range []color.NRGBA{{255, 0, 0, 255}, {0, 0, 255, 255}} {
		img := image.NewNRGBA(image.Rect(0, 0, 40, 30))
		for y := 0; y < 30; y++ {
			for x := 0; x < 40; x++ {
				img.Set(x, y, c)
			}
		}
		p := filepath.Join(dir, string(rune('a'+i))+".png")
		f, _ := os.Create(p)
		png.Encode(f, img)
		f.Close()
		paths = append(paths, p)
	}
	bad := filepath.Join(dir, "bad.jpg")
	os.WriteFile(bad, []byte("not an image"), 0o644)
	paths = append(paths[:1], bad, paths[1])

	m := zoo.MustNew("resnet18", nn.Head{NumClasses: 3})
	store := model.NewStore()
	if err := m.Init(store, 1, nil); err != nil {
		t.Fatal(err)
	}
	c, err := New(testenv.Backend(t), m, store, []string{"x", "y", "z"}, data.Transform{Size: 32, Normalization: data.HalfNormalization})
	if err != nil {
		t.Fatal(err)
	}
	preds, err := c.Files(paths, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(preds) != 3 || preds[1].Err == nil || !strings.Contains(preds[1].Err.Error(), bad) {
		t.Fatalf("predictions = %+v", preds)
	}
	for _, i := range []int{0, 2} {
		p := preds[i]
		if p.Err != nil || len(p.Top) != 2 || p.Image != paths[i] {
			t.Fatalf("prediction %d = %+v", i, p)
		}
		if p.Top[0].Prob < p.Top[1].Prob || p.Top[0].Prob <= 0 || p.Top[0].Prob > 1 {
			t.Errorf("prediction %d probabilities %+v", i, p.Top)
		}
	}
	// Probabilities of a batch sum to one.
	l := &data.Loader{Samples: []data.Sample{{Path: paths[0]}, {Path: paths[2]}}, Transform: c.Transform, BatchSize: 2}
	b, err := l.Batch([]int{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	probs, err := c.Probabilities(b.Images)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		sum := 0.0
		for _, v := range p {
			sum += float64(v)
		}
		if math.Abs(sum-1) > 1e-5 {
			t.Errorf("probabilities sum to %v", sum)
		}
	}
	if _, err := New(testenv.Backend(t), m, store, []string{"x"}, c.Transform); err == nil {
		t.Error("a label count that differs from the model's outputs should be an error")
	}
}

// TestTTAAveragesMirrorImages checks that test-time augmentation gives the average of the probabilities
// of each image and of its mirror image.
func TestTTAAveragesMirrorImages(t *testing.T) {
	m := zoo.MustNew("resnet18", nn.Head{NumClasses: 4})
	store := model.NewStore()
	if err := m.Init(store, 3, nil); err != nil {
		t.Fatal(err)
	}
	tf := data.Transform{Size: 32, Normalization: data.HalfNormalization}
	b := testenv.Backend(t)
	plain, err := New(b, m, store, []string{"a", "b", "c", "d"}, tf)
	if err != nil {
		t.Fatal(err)
	}
	tta, err := New(b, m, store, []string{"a", "b", "c", "d"}, tf, WithTTA())
	if err != nil || !tta.TTA {
		t.Fatal(err)
	}
	const n, size = 2, 32
	pix := make([]float32, n*size*size*3)
	mirror := make([]float32, len(pix))
	for i := range pix {
		pix[i] = float32((i*7919)%255)/127 - 1
	}
	for img := 0; img < n; img++ {
		for y := 0; y < size; y++ {
			for x := 0; x < size; x++ {
				for c := 0; c < 3; c++ {
					mirror[((img*size+y)*size+(size-1-x))*3+c] = pix[((img*size+y)*size+x)*3+c]
				}
			}
		}
	}
	p1, err1 := plain.Probabilities(tensors.FromFlatDataAndDimensions(pix, n, size, size, 3))
	p2, err2 := plain.Probabilities(tensors.FromFlatDataAndDimensions(mirror, n, size, size, 3))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	got, err := tta.Probabilities(tensors.FromFlatDataAndDimensions(pix, n, size, size, 3))
	if err != nil {
		t.Fatal(err)
	}
	differ := false
	for i := range got {
		for j := range got[i] {
			want := (p1[i][j] + p2[i][j]) / 2
			if math.Abs(float64(got[i][j]-want)) > 1e-5 {
				t.Errorf("image %d class %d: TTA %v, average %v", i, j, got[i][j], want)
			}
			differ = differ || math.Abs(float64(p1[i][j]-p2[i][j])) > 1e-4
		}
	}
	if !differ {
		t.Error("the mirror images give the same probabilities: the test cannot tell TTA from no TTA")
	}
}

// TestExecPadded runs batches through a graph that adds the batch size it was built for to every value:
// a batch smaller than the size runs padded, in the graph already built for the size, and keeps its own
// rows; one at or above the size, or any without a size, runs as it is.
func TestExecPadded(t *testing.T) {
	for _, tc := range []struct {
		name    string
		size    int
		batches []int // Images in each batch, run in this order on one exec.
		ranAt   []int // The batch size each one's graph was built for.
		builds  int
	}{
		{"below and at the size", 4, []int{4, 1, 3}, []int{4, 4, 4}, 1},
		{"below first", 4, []int{2, 4}, []int{4, 4}, 1},
		{"above the size", 4, []int{6, 2}, []int{6, 4}, 2},
		{"no size", 0, []int{3, 1}, []int{3, 1}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			builds := 0
			exec, err := model.NewExec(testenv.Backend(t), model.NewStore(), func(_ *model.Scope, x *graph.Node) *graph.Node {
				builds++
				return graph.AddScalar(x, float64(x.Shape().Dimensions[0]))
			})
			if err != nil {
				t.Fatal(err)
			}
			defer exec.Finalize()
			for i, n := range tc.batches {
				in := make([]float32, n*2*3)
				for j := range in {
					in[j] = float32(j)
				}
				out, err := ExecPadded(exec, tensors.FromFlatDataAndDimensions(in, n, 2, 3), tc.size)
				if err != nil {
					t.Fatal(err)
				}
				if dims := out.Shape().Dimensions; !slices.Equal(dims, []int{n, 2, 3}) {
					t.Fatalf("batch %d of %d: output %v, want [%d 2 3]", i, n, dims, n)
				}
				for j, v := range tensors.MustCopyFlatData[float32](out) {
					if want := in[j] + float32(tc.ranAt[i]); v != want {
						t.Fatalf("batch %d of %d, value %d: %v, want %v (run at batch size %d)", i, n, j, v, want, tc.ranAt[i])
					}
				}
				out.FinalizeAll()
			}
			if builds != tc.builds {
				t.Errorf("%d graphs built, want %d", builds, tc.builds)
			}
		})
	}
}
