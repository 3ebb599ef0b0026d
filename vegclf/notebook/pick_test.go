package notebook

import (
	"bytes"
	"encoding/base64"
	"html"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/interpret"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/predict"
	"github.com/vegclf/vegclf/vegclf/synthveg"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// stdoutOf runs f and returns what it printed to the standard output.
func stdoutOf(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	defer func() { os.Stdout = saved }()
	f()
	w.Close()
	os.Stdout = saved
	return <-out
}

// TestExplainer checks the pick-an-image cell's pieces on a randomly initialized ResNet-18 with 3 classes:
// an explanation's classes are Classifier.Files's, its map is the Grad-CAM map of the top class, its HTML
// shows two decodable pictures and the classes as text, and PickImage outside a notebook shows the first
// image at once.
func TestExplainer(t *testing.T) {
	b := testenv.Backend(t)
	m := zoo.MustNew("resnet18", nn.Head{Hidden: []int{16}, NumClasses: 3})
	store := model.NewStore()
	if err := m.Init(store, 5, nil); err != nil {
		t.Fatal(err)
	}
	c, err := predict.New(b, m, store, []string{"Bean", "Carrot", "Eggplant & <Co>"},
		data.Transform{Size: 32, Normalization: data.HalfNormalization})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := synthveg.Generate(dir, synthveg.Options{Classes: 3, Train: 2, Size: 48, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	images, _ := filepath.Glob(filepath.Join(dir, "train", "*", "*.jpg"))
	e, err := NewExplainer(b, c)
	if err != nil {
		t.Fatal(err)
	}
	g, err := interpret.NewGradCAM(b, m, store)
	if err != nil {
		t.Fatal(err)
	}
	want, err := c.Files(images, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i, path := range images[:3] {
		x, err := e.Explain(path, 3)
		if err != nil {
			t.Fatal(err)
		}
		// One image at a time, or in a batch of all: the same classes, probabilities within rounding.
		if x.Image != path || !slices.EqualFunc(x.Top, want[i].Top, func(a, b predict.Class) bool {
			return a.Index == b.Index && a.Label == b.Label && math.Abs(a.Prob-b.Prob) < 1e-6
		}) {
			t.Errorf("%s: top %v, Classifier.Files gives %v", path, x.Top, want[i].Top)
		}
		batch, err := (&data.Loader{Samples: []data.Sample{{Path: path}}, Transform: c.Transform, BatchSize: 1}).Batch([]int{0})
		if err != nil {
			t.Fatal(err)
		}
		// The map is the top class's, and another class's differs (so a map of the wrong class would show).
		differs := false
		for class := range 3 {
			maps, err := g.Maps(batch.Images, []int32{int32(class)})
			if err != nil {
				t.Fatal(err)
			}
			same := equalMaps(maps[0], x.Map)
			if class == x.Top[0].Index && !same {
				t.Errorf("%s: the map is not the Grad-CAM map of the top class %d", path, class)
			}
			differs = differs || !same
		}
		if !differs {
			t.Fatalf("%s: every class has the same Grad-CAM map: the test cannot tell them apart", path)
		}
		page := x.HTML()
		pics := regexp.MustCompile(`<img src="data:image/png;base64,([^"]+)">`).FindAllStringSubmatch(page, -1)
		if len(pics) != 2 {
			t.Fatalf("%s: %d pictures in the HTML, want 2", path, len(pics))
		}
		for _, p := range pics {
			raw, err := base64.StdEncoding.DecodeString(p[1])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
				t.Errorf("%s: a picture does not decode: %v", path, err)
			}
		}
		if !strings.Contains(page, `<p class="vegclf-pick-top">`+html.EscapeString(x.Text())+"</p>") ||
			strings.Contains(page, "<Co>") {
			t.Errorf("%s: the HTML lacks the escaped classes %q", path, x.Text())
		}
		if strings.Count(x.Text(), "%") != 3 || !strings.HasPrefix(x.Text(), path+": "+x.Top[0].Label+" ") {
			t.Errorf("text %q", x.Text())
		}
	}
	if _, err := e.Explain(filepath.Join(dir, "missing.jpg"), 3); err == nil || !strings.Contains(err.Error(), "missing.jpg") {
		t.Errorf("a missing image: %v", err)
	}

	out := stdoutOf(t, func() {
		if err := PickImage(e, images, 2); err != nil {
			t.Error(err)
		}
	})
	first, _ := e.Explain(images[0], 2)
	if !strings.Contains(out, "No page answered the image choice") || !strings.Contains(out, first.Text()) {
		t.Errorf("PickImage outside a notebook printed %q, want the first image's %q", out, first.Text())
	}
	if err := PickImage(e, nil, 3); err == nil {
		t.Error("PickImage with no images: no error")
	}
	if err := PickImage(e, []string{filepath.Join(dir, "missing.jpg")}, 3); err == nil || !strings.Contains(err.Error(), "missing.jpg") {
		t.Errorf("PickImage of a missing image: %v", err)
	}
}

// equalMaps reports whether two maps are equal.
func equalMaps(a, b [][]float32) bool {
	return slices.EqualFunc(a, b, func(x, y []float32) bool { return slices.Equal(x, y) })
}
