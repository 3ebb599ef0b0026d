package viz

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"maps"
	"math"
	"slices"

	"golang.org/x/image/font"
	"gonum.org/v1/plot/vg"

	"github.com/vegclf/vegclf/vegclf/rgb"
)

// LRFinder draws an LR finder's smoothed loss against the learning rate, on a logarithmic rate axis, with
// a labeled mark at each suggested rate.
func LRFinder(title string, rates, losses []float64, suggestions map[string]float64) (string, error) {
	var marks []Mark
	for _, name := range slices.Sorted(maps.Keys(suggestions)) {
		if rate := suggestions[name]; rate > 0 {
			marks = append(marks, Mark{X: rate, Label: fmt.Sprintf("%s %.2g", name, rate)})
		}
	}
	return Plot{Title: title, XLabel: "learning rate (log scale)", YLabel: "loss (smoothed)", LogX: true, Marks: marks,
		Width: 7 * vg.Inch, Lines: []Line{{Name: "smoothed loss", X: rates, Y: losses}}}.SVG()
}

// EpochFigures are one epoch's figures, as runfolder.EpochMetrics holds them.
type EpochFigures struct {
	Phase                       string
	Epoch                       int
	TrainLoss, TestLoss         float64
	TrainAccuracy, TestAccuracy float64
}

// TrainingCurves returns two charts side by side, loss and accuracy per epoch of the run (the frozen
// phase's, then fine-tuning's), train and test, with the start of fine-tuning marked: the live plot of a
// training run.
func TrainingCurves(epochs []EpochFigures) (string, error) {
	var x, trainLoss, testLoss, trainAcc, testAcc []float64
	var marks []Mark
	for i, e := range epochs {
		x = append(x, float64(i+1))
		trainLoss, testLoss = append(trainLoss, e.TrainLoss), append(testLoss, e.TestLoss)
		trainAcc, testAcc = append(trainAcc, 100*e.TrainAccuracy), append(testAcc, 100*e.TestAccuracy)
		if i > 0 && e.Phase != epochs[i-1].Phase {
			marks = append(marks, Mark{X: float64(i) + 0.5, Label: "fine-tuning"})
		}
	}
	zero, hundred := 0.0, 100.0
	const xLabel = "epoch"
	loss, err := Plot{Title: "Loss", XLabel: xLabel, YLabel: "cross-entropy", IntegerX: true, Marks: marks, YMin: &zero,
		Lines: []Line{{Name: "train", X: x, Y: trainLoss}, {Name: "test", X: x, Y: testLoss, Dashed: true}}}.SVG()
	if err != nil {
		return "", err
	}
	acc, err := Plot{Title: "Accuracy", XLabel: xLabel, YLabel: "accuracy (%)", IntegerX: true, Marks: marks, YMin: &zero, YMax: &hundred,
		Lines: []Line{{Name: "train", X: x, Y: trainAcc}, {Name: "test", X: x, Y: testAcc, Dashed: true}}}.SVG()
	if err != nil {
		return "", err
	}
	return `<div style="display:flex;gap:12px;flex-wrap:wrap">` + loss + acc + `</div>`, nil
}

// ConfusionMatrix draws the confusion matrix (rows: true class, columns: predicted) with each class's
// accuracy as a bar on the right.
func ConfusionMatrix(classes []string, confusion [][]int) *image.NRGBA {
	n := len(classes)
	cell := 34
	if n > 10 {
		cell = 26
	}
	// Rows: "1 Carrot", as wide as the longest name needs; columns: the rows' numbers. No name is cut.
	const top, barW = 30, 120
	labelW := 0
	for i, c := range classes {
		labelW = max(labelW, textWidth(fmt.Sprintf("%d %s", i+1, c), 12)+12)
	}
	labelW = max(labelW, 130)
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
		drawText(out, 4, y0+cell/2+4, fmt.Sprintf("%d %s", i+1, classes[i]), 12, color.Black, 0)
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
		txt := fmt.Sprint(j + 1)
		drawText(out, labelW+j*cell+cell/2-textWidth(txt, 11)/2, top+n*cell+14, txt, 11, color.Black, 0)
	}
	drawText(out, labelW+n*cell+20, 18, "per-class accuracy", 12, color.Black, 0)
	return out
}

// textWidth returns the width in pixels of text at size.
func textWidth(text string, size float64) int {
	return (&font.Drawer{Face: face(size)}).MeasureString(text).Ceil()
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
	img, err := rgb.DecodeFile(path, 0)
	if err != nil {
		out := image.NewNRGBA(image.Rect(0, 0, 2*size+12, size+26))
		fill(out, out.Bounds(), color.White)
		drawText(out, 4, 16, "unreadable: "+err.Error(), 12, color.Black, 2*size)
		return out
	}
	return SaliencyOf(img, saliency, size, caption)
}

// SaliencyOf is Saliency of a decoded image.
func SaliencyOf(full *rgb.Image, saliency [][]float32, size int, caption string) *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, 2*size+12, size+26))
	fill(out, out.Bounds(), color.White)
	img := rgb.Resize(full, size, size)
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
			c := img.RGBAAt(x, y)
			blend := func(base uint8, h float64) uint8 { return uint8(0.5*float64(base) + 0.5*h) }
			out.SetNRGBA(4+size+4+x, 4+y, color.NRGBA{blend(c.R, heat[0]), blend(c.G, heat[1]), blend(c.B, heat[2]), 255})
		}
	}
	drawText(out, 4, size+20, caption, 12, color.Black, 2*size)
	return out
}
