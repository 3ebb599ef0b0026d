package viz

import (
	"fmt"
	"html"
	"image"
	"image/color"
	"image/draw"
	"maps"
	"math"
	"slices"
	"strings"
)

// Series is one line of a chart: a value per x position (NaN for none).
type Series struct {
	Name   string
	Color  string // CSS color.
	Values []float64
	Dashed bool
}

// Chart is a line chart drawn as self-contained SVG.
type Chart struct {
	Title   string
	XLabels []string // One per x position.
	Series  []Series
	YMin    *float64 // Fixed y range start; nil: from the data.
	YMax    *float64
	Width   int
	Height  int
	Marks   map[int]string // Vertical marks before x positions, with a label (e.g. a phase change).
}

// SVG renders the chart.
func (c Chart) SVG() string {
	w, h := c.Width, c.Height
	if w == 0 {
		w = 420
	}
	if h == 0 {
		h = 260
	}
	const left, right, top, bottom = 50, 12, 28, 52
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for _, v := range s.Values {
			if !math.IsNaN(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if c.YMin != nil {
		lo = *c.YMin
	}
	if c.YMax != nil {
		hi = *c.YMax
	}
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		lo, hi = 0, 1
	}
	if hi-lo < 1e-9 {
		hi = lo + 1
	}
	n := len(c.XLabels)
	x := func(i int) float64 {
		if n <= 1 {
			return left + pw/2
		}
		return left + pw*float64(i)/float64(n-1)
	}
	y := func(v float64) float64 { return top + ph*(1-(v-lo)/(hi-lo)) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`, w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`, w, h)
	fmt.Fprintf(&b, `<text x="%d" y="16" font-size="13" font-weight="bold">%s</text>`, left, html.EscapeString(c.Title))
	for k := 0; k <= 4; k++ {
		v := lo + (hi-lo)*float64(k)/4
		fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`, left, left+pw, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, left-4, y(v)+4, formatTick(v))
	}
	for i, l := range c.XLabels {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x(i), top+ph+14, html.EscapeString(l))
	}
	for i, label := range c.Marks {
		mx := x(i) - pw/float64(max(n-1, 1))/2
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%.1f" stroke="#999" stroke-dasharray="3,3"/>`, mx, mx, top, top+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#666">%s</text>`, mx+3, top+10, html.EscapeString(label))
	}
	for si, s := range c.Series {
		var pts []string
		for i, v := range s.Values {
			if !math.IsNaN(v) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`, x(i), y(v), s.Color)
			}
		}
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="5,3"`
		}
		fmt.Fprintf(&b, `<polyline class="series" points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`, strings.Join(pts, " "), s.Color, dash)
		lx := float64(left) + float64(si)*pw/float64(len(c.Series))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="12" height="3" fill="%s"/><text x="%.1f" y="%d">%s</text>`,
			lx, h-14, s.Color, lx+16, h-10, html.EscapeString(s.Name))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func formatTick(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 1:
		return fmt.Sprintf("%.2g", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// LRFinder draws an LR finder's smoothed loss against the learning rate (one point per step of the
// exponential sweep, so the x axis is logarithmic), with a mark at each suggested rate.
func LRFinder(title string, rates, losses []float64, suggestions map[string]float64) string {
	labels := make([]string, len(rates))
	for i, rate := range rates {
		if i%max(len(rates)/6, 1) == 0 {
			labels[i] = fmt.Sprintf("1e%d", int(math.Round(math.Log10(rate))))
		}
	}
	marks := map[int]string{}
	for _, name := range slices.Sorted(maps.Keys(suggestions)) {
		rate := suggestions[name]
		if len(rates) == 0 || rate <= 0 {
			continue
		}
		nearest := 0
		for i, r := range rates {
			if math.Abs(math.Log(r/rate)) < math.Abs(math.Log(rates[nearest]/rate)) {
				nearest = i
			}
		}
		if marks[nearest] != "" {
			name = marks[nearest] + ", " + name
		}
		marks[nearest] = name
	}
	return Chart{Title: title, XLabels: labels, Width: 600, Marks: marks,
		Series: []Series{{Name: "smoothed loss", Color: "#1f77b4", Values: losses}}}.SVG()
}

// EpochFigures are one epoch's figures, as train.EpochMetrics holds them.
type EpochFigures struct {
	Phase                       string
	Epoch                       int
	TrainLoss, TestLoss         float64
	TrainAccuracy, TestAccuracy float64
}

// TrainingCurves returns two charts side by side, loss and accuracy per epoch, train and test, with the
// phase change marked: the live plot of a training run.
func TrainingCurves(epochs []EpochFigures) string {
	labels := make([]string, len(epochs))
	var trainLoss, testLoss, trainAcc, testAcc []float64
	marks := map[int]string{}
	for i, e := range epochs {
		labels[i] = fmt.Sprintf("%s %d", map[string]string{"frozen": "F", "finetune": "FT"}[e.Phase], e.Epoch)
		trainLoss, testLoss = append(trainLoss, e.TrainLoss), append(testLoss, e.TestLoss)
		trainAcc, testAcc = append(trainAcc, 100*e.TrainAccuracy), append(testAcc, 100*e.TestAccuracy)
		if i > 0 && e.Phase != epochs[i-1].Phase {
			marks[i] = "fine-tuning"
		}
	}
	zero, hundred := 0.0, 100.0
	loss := Chart{Title: "Loss", XLabels: labels, Marks: marks, YMin: &zero, Series: []Series{
		{Name: "train", Color: "#1f77b4", Values: trainLoss}, {Name: "test", Color: "#ff7f0e", Values: testLoss, Dashed: true}}}
	acc := Chart{Title: "Accuracy (%)", XLabels: labels, Marks: marks, YMin: &zero, YMax: &hundred, Series: []Series{
		{Name: "train", Color: "#1f77b4", Values: trainAcc}, {Name: "test", Color: "#ff7f0e", Values: testAcc, Dashed: true}}}
	return `<div style="display:flex;gap:12px;flex-wrap:wrap">` + loss.SVG() + acc.SVG() + `</div>`
}

// ConfusionMatrix draws the confusion matrix (rows: true class, columns: predicted) with each class's
// accuracy as a bar on the right.
func ConfusionMatrix(classes []string, confusion [][]int) *image.NRGBA {
	n := len(classes)
	cell := 34
	if n > 10 {
		cell = 26
	}
	const labelW, top, barW = 130, 30, 120
	size := image.Rect(0, 0, labelW+n*cell+20+barW+50, top+n*cell+24)
	out := image.NewNRGBA(size)
	fill(out, size, color.White)
	drawText(out, labelW, 18, "predicted →", 12, color.Black, 0)
	for i, row := range confusion {
		total := 0
		for _, v := range row {
			total += v
		}
		y0 := top + i*cell
		drawText(out, 4, y0+cell/2+4, classes[i], 12, color.Black, labelW-8)
		for j, v := range row {
			frac := 0.0
			if total > 0 {
				frac = float64(v) / float64(total)
			}
			shade := uint8(255 - 200*frac)
			c := color.NRGBA{shade, shade, 255, 255}
			if i != j && v > 0 {
				c = color.NRGBA{255, shade, shade, 255}
			}
			r := image.Rect(labelW+j*cell, y0, labelW+(j+1)*cell-1, y0+cell-1)
			fill(out, r, c)
			txt := fmt.Sprint(v)
			tc := color.Color(color.Black)
			if frac > 0.6 {
				tc = color.White
			}
			drawText(out, r.Min.X+cell/2-4*len(txt), y0+cell/2+4, txt, 11, tc, cell)
		}
		acc := 0.0
		if total > 0 {
			acc = float64(row[i]) / float64(total)
		}
		bx := labelW + n*cell + 20
		fill(out, image.Rect(bx, y0+6, bx+barW, y0+cell-6), color.Gray{230})
		fill(out, image.Rect(bx, y0+6, bx+int(acc*barW), y0+cell-6), color.NRGBA{60, 160, 80, 255})
		drawText(out, bx+barW+4, y0+cell/2+4, fmt.Sprintf("%.0f%%", 100*acc), 11, color.Black, 0)
	}
	for j := range classes {
		// Column labels: the classes' first letters, rotated text being out of reach of a simple drawer.
		drawText(out, labelW+j*cell+2, top+n*cell+14, abbreviate(classes[j], cell), 10, color.Black, cell)
	}
	drawText(out, labelW+n*cell+20, 18, "per-class accuracy", 12, color.Black, 0)
	return out
}

func abbreviate(s string, width int) string {
	max := width / 6
	if len(s) > max {
		return s[:max]
	}
	return s
}

// Prediction draws an image with its top classes as bars.
func Prediction(path string, top []string, probs []float64, size int) *image.NRGBA {
	const barW = 220
	out := image.NewNRGBA(image.Rect(0, 0, size+barW+80, max(size, 24*len(top)+10)+8))
	fill(out, out.Bounds(), color.White)
	if img, err := thumbnail(path, size); err == nil {
		draw.Draw(out, image.Rect(4, 4, 4+size, 4+size), img, image.Point{}, draw.Src)
	}
	for i, label := range top {
		y0 := 10 + i*24
		x0 := size + 14
		fill(out, image.Rect(x0, y0+12, x0+barW, y0+20), color.Gray{230})
		fill(out, image.Rect(x0, y0+12, x0+int(probs[i]*barW), y0+20), color.NRGBA{31, 119, 180, 255})
		drawText(out, x0, y0+10, fmt.Sprintf("%s  %.1f%%", label, 100*probs[i]), 12, color.Black, barW+60)
	}
	return out
}

// Saliency draws an image with a saliency map (values in [0,1], any resolution) laid over it in a
// blue-to-red scale, next to the plain image, with a caption.
func Saliency(path string, saliency [][]float32, size int, caption string) *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, 2*size+12, size+26))
	fill(out, out.Bounds(), color.White)
	img, err := thumbnail(path, size)
	if err != nil {
		drawText(out, 4, 16, "unreadable: "+err.Error(), 12, color.Black, 2*size)
		return out
	}
	draw.Draw(out, image.Rect(4, 4, 4+size, 4+size), img, image.Point{}, draw.Src)
	h, w := len(saliency), len(saliency[0])
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			// Bilinear sample of the map at the pixel's center.
			fy := math.Max(0, math.Min(float64(h-1), (float64(y)+0.5)*float64(h)/float64(size)-0.5))
			fx := math.Max(0, math.Min(float64(w-1), (float64(x)+0.5)*float64(w)/float64(size)-0.5))
			y0, x0 := int(fy), int(fx)
			y1, x1 := min(y0+1, h-1), min(x0+1, w-1)
			dy, dx := fy-float64(y0), fx-float64(x0)
			v := (1-dy)*((1-dx)*float64(saliency[y0][x0])+dx*float64(saliency[y0][x1])) +
				dy*((1-dx)*float64(saliency[y1][x0])+dx*float64(saliency[y1][x1]))
			heat := [3]float64{255 * math.Min(1, 2*v), 255 * (1 - math.Abs(2*v-1)), 255 * math.Min(1, 2*(1-v))}
			c := img.NRGBAAt(x, y)
			blend := func(base uint8, h float64) uint8 { return uint8(0.5*float64(base) + 0.5*h) }
			out.SetNRGBA(4+size+4+x, 4+y, color.NRGBA{blend(c.R, heat[0]), blend(c.G, heat[1]), blend(c.B, heat[2]), 255})
		}
	}
	drawText(out, 4, size+20, caption, 12, color.Black, 2*size)
	return out
}
