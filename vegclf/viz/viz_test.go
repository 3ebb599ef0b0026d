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
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/synthveg"
	"gonum.org/v1/plot"
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
	items := []Labeled{{Path: paths[0], Caption: "Bean"}, {Path: paths[3], Caption: "Carrot → Bitter_Gourd", Color: color.NRGBA{200, 0, 0, 255}},
		{Path: filepath.Join(t.TempDir(), "missing.jpg"), Caption: "missing"}}
	img := Grid(items, 2, 64)
	if b := img.Bounds(); b.Dx() != 2*70+6 || b.Dy() != 2*(64+32+6)+6 {
		t.Fatalf("grid size %v", b)
	}
	// A caption too wide for its cell goes on to a second line rather than being cut.
	if n := inked(img, image.Rect(76, 72+14, 140, 72+30)); n == 0 {
		t.Error("the long caption has no second line")
	}
	if lines := wrapLines("Carrot → Bitter_Gourd", 12, 64, 2); len(lines) != 2 || lines[0] != "Carrot →" || lines[1] != "Bitter_Gourd" {
		t.Errorf("wrapped %q", lines)
	}
	// The first image is drawn in its cell, its caption below it, the missing one as a gray cell.
	if inked(img, image.Rect(6, 6, 70, 70)) < 64*64/4 {
		t.Error("first image not drawn")
	}
	if n := inked(img, image.Rect(6, 72, 70, 88)); n == 0 {
		t.Error("first caption not drawn")
	}
	if c := img.NRGBAAt(10, 6+102+10); c != (color.NRGBA{200, 200, 200, 255}) {
		t.Errorf("unreadable cell color %v", c)
	}
	if _, err := png.Decode(bytes.NewReader(PNG(img))); err != nil {
		t.Fatal(err)
	}
}

// svgText is a text element of an SVG: its position and content.
type svgText struct {
	x, y float64
	text string
}

// svgTexts returns the text elements of the SVG documents in s.
func svgTexts(t *testing.T, s string) []svgText {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(s))
	dec.Strict = false
	var out []svgText
	var cur *svgText
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if el.Name.Local == "text" {
				cur = &svgText{}
				for _, a := range el.Attr {
					switch a.Name.Local {
					case "x":
						cur.x, _ = strconv.ParseFloat(a.Value, 64)
					case "y":
						cur.y, _ = strconv.ParseFloat(a.Value, 64)
					}
				}
			}
		case xml.CharData:
			if cur != nil {
				cur.text += string(el)
			}
		case xml.EndElement:
			if el.Name.Local == "text" && cur != nil {
				cur.text = strings.TrimSpace(cur.text)
				out = append(out, *cur)
				cur = nil
			}
		}
	}
	return out
}

// xTickLabels returns, left to right, the labels on the line of the x axis's tick labels of the first
// chart in s: the texts at the height of the one reading first.
func xTickLabels(t *testing.T, s, first string) []string {
	t.Helper()
	texts := svgTexts(t, s)
	at := -1
	for i, tx := range texts {
		if tx.text == first {
			at = i
			break
		}
	}
	if at < 0 {
		t.Fatalf("no tick label %q in %v", first, texts)
	}
	var row []svgText
	for _, tx := range texts[at:] {
		if tx.y != texts[at].y || tx.x < texts[at].x && len(row) > 0 {
			break
		}
		row = append(row, tx)
	}
	labels := make([]string, len(row))
	for i, tx := range row {
		labels[i] = tx.text
	}
	return labels
}

func TestTrainingCurves(t *testing.T) {
	epochs := []EpochFigures{
		{"frozen", 1, 1.2, 1.0, 0.5, 0.6}, {"frozen", 2, 0.8, 0.7, 0.7, 0.75}, {"finetune", 1, 0.3, 0.4, 0.9, 0.95},
	}
	svg, err := TrainingCurves(epochs)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(svg, "<svg"); got != 2 {
		t.Errorf("%d charts, want loss and accuracy", got)
	}
	if got := xTickLabels(t, svg, "1"); !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Errorf("epoch ticks %v, want 1 2 3", got)
	}
	for _, want := range []string{"Loss", "Accuracy", "accuracy (%)", "cross-entropy", "epoch", "fine-tuning", "train", "test", ">100<", ">1.2<"} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if strings.Contains(svg, "NaN") || strings.Contains(svg, "http://cdn") || strings.Contains(svg, "-0.0<") {
		t.Error("SVG has NaN coordinates, remote resources or a negative zero")
	}
	// One epoch, and a gap (NaN), still draw.
	if _, err := (Plot{Lines: []Line{{Name: "s", X: []float64{1, 2, 3}, Y: []float64{1, math.NaN(), 2}}}}).SVG(); err != nil {
		t.Error(err)
	}
	if _, err := TrainingCurves(epochs[:1]); err != nil {
		t.Error(err)
	}
	// A constant learning rate on a logarithmic axis: from the power of ten below to the one above.
	flat, err := Plot{LogY: true, Lines: []Line{{Name: "rate", X: []float64{1, 2, 3}, Y: []float64{1e-3, 1e-3, 1e-3}}}}.SVG()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{">1e-04<", ">1e-03<", ">0.01<"} {
		if !strings.Contains(flat, want) {
			t.Errorf("a flat line at 1e-3 on a log axis lacks the label %s", want)
		}
	}
}

// TestTickers: every axis's labels are distinct, in increasing order, inside the range, at round values;
// a logarithmic axis is labeled at each power of ten.
func TestTickers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ticker plot.Ticker
		lo, hi float64
		want   []string
	}{
		{"loss", niceTicks{}, 0.28, 1.1, []string{"0.4", "0.6", "0.8", "1.0"}},
		{"accuracy", niceTicks{}, 0, 100, []string{"0", "20", "40", "60", "80", "100"}},
		{"flat", niceTicks{}, 0.93, 1.2, []string{"0.95", "1.00", "1.05", "1.10", "1.15", "1.20"}},
		{"tiny", niceTicks{}, 1e-5, 1e-3, []string{"0.0002", "0.0004", "0.0006", "0.0008", "0.0010"}},
		{"quarter", niceTicks{}, 0, 1.6, []string{"0.00", "0.25", "0.50", "0.75", "1.00", "1.25", "1.50"}},
		{"negative", niceTicks{}, -3, 2, []string{"-3", "-2", "-1", "0", "1", "2"}},
		{"rates", decadeTicks{}, 1e-7, 10, []string{"1e-07", "1e-06", "1e-05", "1e-04", "1e-03", "0.01", "0.1", "1", "10"}},
		{"schedule", decadeTicks{}, 1e-5, 1e-4, []string{"1e-05", "1e-04"}},
		{"no log range", decadeTicks{}, -0.999, 1.001, nil},
		{"epochs", integerTicks{}, 1, 7, []string{"1", "2", "3", "4", "5", "6", "7"}},
		{"steps", integerTicks{}, 1, 480, []string{"50", "100", "150", "200", "250", "300", "350", "400", "450"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var labels []string
			prev := math.Inf(-1)
			for _, tick := range tc.ticker.Ticks(tc.lo, tc.hi) {
				if tick.Value <= prev {
					t.Errorf("tick %v after %v", tick.Value, prev)
				}
				prev = tick.Value
				if tick.Label != "" {
					labels = append(labels, tick.Label)
				}
			}
			if !slices.Equal(labels, tc.want) {
				t.Errorf("labels %q, want %q", labels, tc.want)
			}
		})
	}
}

func TestConfusionMatrixAndPrediction(t *testing.T) {
	// A long class name widens the label column rather than being cut; the columns are numbered.
	wide := ConfusionMatrix([]string{"Bean", "Bottle_Gourd_and_Cauliflower"}, [][]int{{3, 1}, {0, 4}})
	if need := textWidth("2 Bottle_Gourd_and_Cauliflower", 12); inked(wide, image.Rect(4+need-8, 30, 4+need, 30+2*34)) == 0 {
		t.Error("the long class name is cut")
	}
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
	svg, err := LRFinder("LR finder", rates, losses, map[string]float64{"steepest": rates[15], "min/10": rates[29] / 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := xTickLabels(t, svg, "1e-06"); !slices.Equal(got, []string{"1e-06", "1e-05", "1e-04", "1e-03", "0.01", "0.1"}) {
		t.Errorf("rate axis labels %v, want each power of ten from 1e-06 to 0.1 (a logarithmic axis)", got)
	}
	for _, want := range []string{"LR finder", "steepest 0.001", "min/10 0.063", "learning rate (log scale)", "smoothed loss"} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}

// TestScatter: a plot of labeled points draws each point (a circle) with its label, its axis labels, and
// the fixed ranges as round ticks.
func TestScatter(t *testing.T) {
	zero, hundred := 0.0, 100.0
	svg, err := Plot{Title: "Accuracy against training time", XLabel: "seconds per training epoch", YLabel: "accuracy (%)",
		XMin: &zero, YMin: &zero, YMax: &hundred,
		Points: []Point{{X: 12.5, Y: 97, Label: "resnet50"}, {X: 3.2, Y: 91.5, Label: "mobilenet_v3_large"}}}.SVG()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"resnet50", "mobilenet_v3_large", "seconds per training epoch", "accuracy (%)", ">0<", ">100<"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the scatter lacks %q", want)
		}
	}
	if n := strings.Count(svg, "<path") - strings.Count(plotWithoutPoints(t), "<path"); n < 2 {
		t.Errorf("the scatter draws %d more paths than the empty plot, want a circle per point", n)
	}
}

func plotWithoutPoints(t *testing.T) string {
	zero, hundred := 0.0, 100.0
	svg, err := Plot{Title: "Accuracy against training time", XLabel: "seconds per training epoch", YLabel: "accuracy (%)",
		XMin: &zero, XMax: &hundred, YMin: &zero, YMax: &hundred}.SVG()
	if err != nil {
		t.Fatal(err)
	}
	return svg
}
