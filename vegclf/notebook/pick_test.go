package notebook

import (
	"bytes"
	"encoding/base64"
	"fmt"
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

// TestExplainerMultiLabel checks the pick-an-image cell of a multi-label classifier (a randomly initialized
// ResNet-18 at 32 px, independent sigmoid outputs): with per-class thresholds (each class's median
// probability over the images), an explanation lists exactly the classes above their thresholds, most
// probable first, as Classifier.Files does, whatever k, and maps the first; with thresholds no image
// reaches, it says that no class is above its threshold and maps the most probable class, and so do
// ShowPredictions and ShowGradCAM.
func TestExplainerMultiLabel(t *testing.T) {
	b := testenv.Backend(t)
	m := zoo.MustNew("resnet18", nn.Head{Hidden: []int{16}, NumClasses: 3})
	store := model.NewStore()
	if err := m.Init(store, 5, nil); err != nil {
		t.Fatal(err)
	}
	labels := []string{"Bean", "Carrot", "Eggplant"}
	c, err := predict.New(b, m, store, labels, data.Transform{Size: 32, Normalization: data.HalfNormalization}, predict.WithMultiLabel(nil))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := synthveg.Generate(dir, synthveg.Options{Classes: 3, Train: 2, Size: 48, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	images, _ := filepath.Glob(filepath.Join(dir, "train", "*", "*.jpg"))
	samples := make([]data.Sample, len(images))
	for i, p := range images {
		samples[i] = data.Sample{Path: p}
	}
	all := make([]int, len(images))
	for i := range all {
		all[i] = i
	}
	batch, err := (&data.Loader{Samples: samples, Transform: c.Transform, BatchSize: len(images)}).Batch(all)
	if err != nil {
		t.Fatal(err)
	}
	probs, err := c.Probabilities(batch.Images)
	if err != nil {
		t.Fatal(err)
	}
	c.Thresholds = make([]float64, len(labels))
	for class := range labels {
		col := make([]float64, len(images))
		for i := range images {
			col[i] = float64(probs[i][class])
		}
		slices.Sort(col)
		c.Thresholds[class] = col[len(col)/2]
	}
	e, err := NewExplainer(b, c)
	if err != nil {
		t.Fatal(err)
	}
	g, err := interpret.NewGradCAM(b, m, store)
	if err != nil {
		t.Fatal(err)
	}
	files, err := c.Files(images, 3)
	if err != nil {
		t.Fatal(err)
	}
	some, short := false, false // An image listing a class; one listing fewer than all.
	for i, path := range images {
		x, err := e.Explain(path, 3)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for class, p := range probs[i] {
			if float64(p) > c.Thresholds[class] {
				want = append(want, labels[class])
			}
		}
		var got []string
		for j, cl := range x.Top {
			got = append(got, cl.Label)
			if math.Abs(cl.Prob-float64(probs[i][cl.Index])) > 1e-6 || j > 0 && cl.Prob > x.Top[j-1].Prob {
				t.Errorf("%s: class %v, probability %g", path, cl, probs[i][cl.Index])
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) || !slices.EqualFunc(x.Top, files[i].Top, func(a, b predict.Class) bool {
			return a.Index == b.Index && math.Abs(a.Prob-b.Prob) < 1e-6
		}) {
			t.Errorf("%s: lists %v, want the classes above their thresholds %v (Files: %v)", path, x.Top, want, files[i].Top)
		}
		some, short = some || len(want) > 0, short || len(want) < len(labels)
		if len(x.Top) > 0 && x.Mapped != x.Top[0] {
			t.Errorf("%s: the map explains %v, not the first class listed %v", path, x.Mapped, x.Top[0])
		}
		if len(x.Top) > 0 && (strings.Contains(x.Text(), predict.NoClassAbove) || strings.Count(x.Text(), "%") != len(x.Top)) {
			t.Errorf("%s: text %q for %v", path, x.Text(), x.Top)
		}
	}
	if !some || !short {
		t.Fatalf("the thresholds %v list every class or none of every image: the test cannot tell top-k from thresholds", c.Thresholds)
	}

	c.Thresholds = []float64{0.9999, 0.9999, 0.9999}
	path := images[0]
	x, err := e.Explain(path, 3)
	if err != nil {
		t.Fatal(err)
	}
	top := predict.TopK(probs[0], labels, 1)[0]
	if len(x.Top) != 0 || x.Text() != path+": no class above its threshold" || x.Mapped.Index != top.Index {
		t.Errorf("no class above its threshold: lists %v, text %q, maps %v (most probable %v)", x.Top, x.Text(), x.Mapped, top)
	}
	maps, err := g.Maps(batch.Images, []int32{int32(top.Index), int32(top.Index), int32(top.Index), int32(top.Index), int32(top.Index), int32(top.Index)})
	if err != nil {
		t.Fatal(err)
	}
	if !equalMaps(maps[0], x.Map) {
		t.Error("no class above its threshold: the map is not the most probable class's")
	}
	if page := x.HTML(); !strings.Contains(page, `<p class="vegclf-pick-top">`+html.EscapeString(x.Text())+"</p>") {
		t.Errorf("HTML without the text %q", x.Text())
	}
	out := stdoutOf(t, func() {
		if err := PickImage(e, images, 3); err != nil {
			t.Error(err)
		}
	})
	if !strings.Contains(out, path+": no class above its threshold") {
		t.Errorf("PickImage printed %q", out)
	}
	out = stdoutOf(t, func() {
		if err := ShowPredictions(c, images[:2], 3); err != nil {
			t.Error(err)
		}
	})
	if strings.Count(out, ": no class above its threshold\n") != 2 {
		t.Errorf("ShowPredictions printed %q", out)
	}
	out = stdoutOf(t, func() {
		if err := ShowGradCAM(b, c, images[:1]); err != nil {
			t.Error(err)
		}
	})
	if want := fmt.Sprintf("%s: Grad-CAM of %s %.0f%%", path, top.Label, 100*top.Prob); !strings.Contains(out, want) {
		t.Errorf("ShowGradCAM printed %q, want %q", out, want)
	}
}
