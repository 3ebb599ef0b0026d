package viz

import (
	"bytes"
	"encoding/xml"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/synthveg"
)

func sampleImages(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	if _, err := synthveg.Generate(dir, synthveg.Options{Classes: 3, Train: 2, Size: 48, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "train", "*", "*.jpg"))
	return paths
}

// inked counts the pixels of r that are not white.
func inked(img *image.NRGBA, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if c := img.NRGBAAt(x, y); c.R < 200 || c.G < 200 || c.B < 200 {
				n++
			}
		}
	}
	return n
}

func TestGrid(t *testing.T) {
	paths := sampleImages(t)
	items := []Labeled{{Path: paths[0], Caption: "Bean"}, {Path: paths[3], Caption: "Carrot", Color: color.NRGBA{200, 0, 0, 255}},
		{Path: filepath.Join(t.TempDir(), "missing.jpg"), Caption: "missing"}}
	img := Grid(items, 2, 64)
	if b := img.Bounds(); b.Dx() != 2*70+6 || b.Dy() != 2*(64+18+6)+6 {
		t.Fatalf("grid size %v", b)
	}
	// The first image is drawn in its cell, its caption below it, the missing one as a gray cell.
	if inked(img, image.Rect(6, 6, 70, 70)) < 64*64/4 {
		t.Error("first image not drawn")
	}
	if n := inked(img, image.Rect(6, 72, 70, 88)); n == 0 {
		t.Error("first caption not drawn")
	}
	if c := img.NRGBAAt(10, 6+88+10); c != (color.NRGBA{200, 200, 200, 255}) {
		t.Errorf("unreadable cell color %v", c)
	}
	if _, err := png.Decode(bytes.NewReader(PNG(img))); err != nil {
		t.Fatal(err)
	}
}

func TestTrainingCurves(t *testing.T) {
	epochs := []EpochFigures{
		{"frozen", 1, 1.2, 1.0, 0.5, 0.6}, {"frozen", 2, 0.8, 0.7, 0.7, 0.75}, {"finetune", 1, 0.3, 0.4, 0.9, 0.95},
	}
	svg := TrainingCurves(epochs)
	dec := xml.NewDecoder(strings.NewReader(svg))
	polylines, points := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			polylines++
			for _, a := range se.Attr {
				if a.Name.Local == "points" {
					points += len(strings.Fields(a.Value))
				}
			}
		}
	}
	if polylines != 4 || points != 12 {
		t.Errorf("%d lines with %d points, want 4 lines (train/test loss and accuracy) of 3 points", polylines, points)
	}
	for _, want := range []string{"Loss", "Accuracy (%)", "fine-tuning", "FT 1"} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if strings.Contains(svg, "NaN") || strings.Contains(svg, "http://cdn") {
		t.Error("SVG has NaN coordinates or remote resources")
	}
	// A single point and a flat line still draw.
	flat := Chart{XLabels: []string{"a"}, Series: []Series{{Name: "s", Color: "red", Values: []float64{math.NaN()}}}}.SVG()
	if !strings.HasPrefix(flat, "<svg") {
		t.Error("empty chart")
	}
}

func TestConfusionMatrixAndPrediction(t *testing.T) {
	img := ConfusionMatrix([]string{"Bean", "Carrot"}, [][]int{{3, 1}, {0, 4}})
	if img.Bounds().Dx() < 200 || inked(img, img.Bounds()) < 500 {
		t.Errorf("confusion matrix %v barely drawn", img.Bounds())
	}
	// The wrong prediction's cell (row 0, column 1) is reddish, the diagonal bluish.
	if c := img.NRGBAAt(130+34+5, 30+5); c.R != 255 || c.G == 255 {
		t.Errorf("off-diagonal cell color %v", c)
	}
	if c := img.NRGBAAt(130+5, 30+5); c.B != 255 || c.R == 255 {
		t.Errorf("diagonal cell color %v", c)
	}
	paths := sampleImages(t)
	p := Prediction(paths[0], []string{"Bean", "Carrot", "Eggplant"}, []float64{0.9, 0.07, 0.03}, 96)
	if inked(p, image.Rect(4, 4, 100, 100)) < 96*96/4 || inked(p, image.Rect(110, 0, 330, 80)) == 0 {
		t.Error("prediction card not drawn")
	}
	if os.Getenv("VIZ_WRITE") != "" {
		os.WriteFile("/tmp/viz_cm.png", PNG(img), 0o644)
		os.WriteFile("/tmp/viz_pred.png", PNG(p), 0o644)
		os.WriteFile("/tmp/viz_grid.png", PNG(Grid([]Labeled{{Path: paths[0], Caption: "Bean"}, {Path: paths[3], Caption: "Carrot"}}, 2, 96)), 0o644)
	}
}

func TestSaliency(t *testing.T) {
	paths := sampleImages(t)
	hot := [][]float32{{0, 0}, {0, 1}} // The bottom-right quarter is salient.
	img := Saliency(paths[0], hot, 64, "Bean 90%")
	right := func(x, y int) color.NRGBA { return img.NRGBAAt(4+64+4+x, 4+y) }
	if a, b := right(60, 60), right(3, 3); a.R <= b.R || a.B >= b.B {
		t.Errorf("salient corner %v should be redder and less blue than the cold one %v", a, b)
	}
	if inked(img, image.Rect(4, 4, 68, 68)) < 64*64/4 {
		t.Error("the plain image is not drawn")
	}
}

func TestLRFinder(t *testing.T) {
	var rates, losses []float64
	for i := range 30 {
		rates = append(rates, 1e-6*math.Pow(10, float64(i)/5))
		losses = append(losses, 2-math.Tanh(float64(i-15)/4))
	}
	svg := LRFinder("LR finder", rates, losses, map[string]float64{"steepest": rates[15], "min/10": rates[29] / 10, "same": rates[15]})
	if got := strings.Count(svg, "<polyline"); got != 1 {
		t.Errorf("%d lines, want 1", got)
	}
	for _, want := range []string{"LR finder", "same, steepest", "min/10", "1e-6", "1e-1"} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}
