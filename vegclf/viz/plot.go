package viz

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Line is one line of a Plot: the points (X[i], Y[i]); a NaN Y leaves a gap.
type Line struct {
	Name   string
	X, Y   []float64
	Dashed bool
}

// Point is one labeled point of a Plot's scatter: a run at its cost and accuracy.
type Point struct {
	X, Y  float64
	Label string
}

// Mark is a vertical line at X with a label: a suggested rate, a phase change.
type Mark struct {
	X     float64
	Label string
}

// Plot is a line chart (or a scatter of labeled points) drawn as SVG by gonum's plot: ticks at round values (niceTicks), or at each power of
// ten on a logarithmic axis (decadeTicks), axis labels (with their units), a legend and labeled marks.
type Plot struct {
	Title, XLabel, YLabel string
	Lines                 []Line
	Points                []Point // Drawn as labeled dots, without lines.
	Marks                 []Mark
	LogX, LogY            bool
	IntegerX              bool     // Ticks at whole numbers only (epochs, steps).
	YMin, YMax            *float64 // A fixed y range; nil: from the data.
	XMin, XMax            *float64 // A fixed x range; nil: from the data.
	Width, Height         vg.Length
}

// SVG draws the plot.
func (p Plot) SVG() (string, error) {
	pl := plot.New()
	// Liberation Sans: gonum sizes text with its metrics, the same as Arial's, which browsers substitute.
	for _, style := range []*text.Style{&pl.Title.TextStyle, &pl.X.Label.TextStyle, &pl.Y.Label.TextStyle,
		&pl.X.Tick.Label, &pl.Y.Tick.Label, &pl.Legend.TextStyle} {
		style.Font.Typeface, style.Font.Variant = "Liberation", "Sans"
	}
	pl.Title.Text = p.Title
	pl.X.Label.Text, pl.Y.Label.Text = p.XLabel, p.YLabel
	pl.Legend.Top = true
	pl.Add(plotter.NewGrid())
	pl.X.Tick.Marker, pl.Y.Tick.Marker = niceTicks{}, niceTicks{}
	if p.LogX {
		pl.X.Scale, pl.X.Tick.Marker = plot.LogScale{}, decadeTicks{}
	}
	if p.LogY {
		pl.Y.Scale, pl.Y.Tick.Marker = plot.LogScale{}, decadeTicks{}
	}
	if p.IntegerX {
		pl.X.Tick.Marker = integerTicks{}
	}
	for i, l := range p.Lines {
		style := draw.LineStyle{Color: plotutil.Color(i), Width: vg.Points(1.5)}
		if l.Dashed {
			style.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		var legend plot.Thumbnailer
		for _, seg := range segments(l.X, l.Y) {
			line, points, err := plotter.NewLinePoints(seg)
			if err != nil {
				return "", fmt.Errorf("plotting %s: %w", l.Name, err)
			}
			line.LineStyle = style
			points.Shape, points.Color, points.Radius = draw.CircleGlyph{}, style.Color, vg.Points(2)
			pl.Add(line, points)
			legend = line
		}
		if legend != nil && l.Name != "" {
			pl.Legend.Add(l.Name, legend)
		}
	}
	if len(p.Points) > 0 {
		xys, labels := make(plotter.XYs, len(p.Points)), make([]string, len(p.Points))
		for i, pt := range p.Points {
			xys[i], labels[i] = plotter.XY{X: pt.X, Y: pt.Y}, " "+pt.Label
		}
		dots, err := plotter.NewScatter(xys)
		if err != nil {
			return "", fmt.Errorf("plotting %q: %w", p.Title, err)
		}
		dots.GlyphStyle = draw.GlyphStyle{Shape: draw.CircleGlyph{}, Color: plotutil.Color(0), Radius: vg.Points(3.5)}
		names, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
		if err != nil {
			return "", fmt.Errorf("plotting %q: %w", p.Title, err)
		}
		for i := range names.TextStyle {
			names.TextStyle[i].Font.Typeface, names.TextStyle[i].Font.Variant = "Liberation", "Sans"
			names.TextStyle[i].YAlign = draw.YCenter
		}
		pl.Add(dots, names)
	}
	// A flat line on a logarithmic axis (a constant learning rate): gonum would widen the empty range by
	// ±1, below zero. From the power of ten below the value to the one above instead.
	if p.LogY && pl.Y.Min == pl.Y.Max && pl.Y.Min > 0 {
		pl.Y.Min, pl.Y.Max = decadesAround(pl.Y.Min)
	}
	if p.LogX && pl.X.Min == pl.X.Max && pl.X.Min > 0 {
		pl.X.Min, pl.X.Max = decadesAround(pl.X.Min)
	}
	if p.YMin != nil {
		pl.Y.Min = *p.YMin
	}
	if p.YMax != nil {
		pl.Y.Max = *p.YMax
	}
	if p.XMin != nil {
		pl.X.Min = *p.XMin
	}
	if p.XMax != nil {
		pl.X.Max = *p.XMax
	}
	for i, m := range p.Marks {
		mark, err := plotter.NewLine(plotter.XYs{{X: m.X, Y: pl.Y.Min}, {X: m.X, Y: pl.Y.Max}})
		if err != nil {
			return "", err
		}
		mark.LineStyle = draw.LineStyle{Color: color.Gray{Y: 110}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(3), vg.Points(3)}}
		// At the bottom (the legend is at the top), each mark's a line higher than the one before, so that
		// the labels of close marks do not overlap.
		y := pl.Y.Min + float64(i)*0.08*(pl.Y.Max-pl.Y.Min)
		if p.LogY {
			y = pl.Y.Min * math.Pow(pl.Y.Max/pl.Y.Min, 0.08*float64(i))
		}
		label, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: m.X, Y: y}}, Labels: []string{" " + m.Label}})
		if err != nil {
			return "", err
		}
		label.TextStyle[0].YAlign = draw.YBottom
		label.TextStyle[0].Font.Typeface, label.TextStyle[0].Font.Variant = "Liberation", "Sans"
		pl.Add(mark, label)
	}
	w, h := p.Width, p.Height
	if w == 0 {
		w = 5 * vg.Inch
	}
	if h == 0 {
		h = 3.2 * vg.Inch
	}
	wt, err := pl.WriterTo(w, h, "svg")
	if err != nil {
		return "", fmt.Errorf("drawing %q: %w", p.Title, err)
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("drawing %q: %w", p.Title, err)
	}
	return buf.String(), nil
}

// decadesAround returns the powers of ten below and above v (for v = 1e-3: 1e-4 and 1e-2).
func decadesAround(v float64) (float64, float64) {
	exp := math.Log10(v)
	return math.Pow10(int(math.Floor(exp - 1e-9))), math.Pow10(int(math.Ceil(exp + 1e-9)))
}

// segments splits a line at its NaN values into runs of points.
func segments(xs, ys []float64) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	for i := range min(len(xs), len(ys)) {
		if math.IsNaN(ys[i]) || math.IsNaN(xs[i]) {
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, plotter.XY{X: xs[i], Y: ys[i]})
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// integerTicks labels whole numbers only: the multiples of the smallest step of 1, 2 or 5 times a power of
// ten that gives at most ten of them.
type integerTicks struct{}

func (integerTicks) Ticks(lo, hi float64) []plot.Tick {
	first, last := int(math.Ceil(lo)), int(math.Floor(hi))
	step := 1
	for mult := 1; (last-first)/step > 10; mult *= 10 {
		for _, s := range []int{1, 2, 5} {
			if step = s * mult; (last-first)/step <= 10 {
				break
			}
		}
	}
	var ticks []plot.Tick
	for v := (first + step - 1) / step * step; v <= last; v += step {
		ticks = append(ticks, plot.Tick{Value: float64(v), Label: strconv.Itoa(v)})
	}
	return ticks
}

// niceTicks labels a linear axis every 1, 2, 2.5 or 5 times a power of ten: the smallest of these steps
// that fits the range at most 7 times, each label written with the digits its step needs.
type niceTicks struct{}

func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)}}
	}
	var step float64
	for exp := math.Floor(math.Log10(hi-lo)) - 1; step == 0; exp++ {
		for _, m := range []float64{1, 2, 2.5, 5} {
			if s := m * math.Pow(10, exp); (hi-lo)/s <= 7 {
				step = s
				break
			}
		}
	}
	decimals := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	if m := step / math.Pow(10, math.Floor(math.Log10(step)+1e-9)); math.Abs(m-2.5) < 1e-9 {
		decimals++ // 0.25, 2.5
	}
	var ticks []plot.Tick
	for k := math.Ceil(lo/step - 1e-9); k*step <= hi+1e-9*step; k++ {
		v := k*step + 0 // + 0 turns -0 into 0.
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', decimals, 64)})
	}
	return ticks
}

// decadeTicks labels a logarithmic axis at each power of ten ("1e-05" ... "0.01", "0.1", "1", "10", "100",
// "1e+03"), with unlabeled ticks at its multiples 2 to 9.
type decadeTicks struct{}

func (decadeTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0 && hi >= lo && !math.IsInf(hi, 0)) {
		return nil // No logarithmic range (Plot.SVG gives a flat line one).
	}
	var ticks []plot.Tick
	// The tolerance keeps log10's rounding of an exact power of ten (1e-4) from adding a decade.
	for exp := int(math.Floor(math.Log10(lo) + 1e-9)); exp <= int(math.Ceil(math.Log10(hi)-1e-9)); exp++ {
		decade := math.Pow10(exp)
		label := strconv.FormatFloat(decade, 'g', -1, 64)
		if exp < -2 || exp > 2 {
			label = strconv.FormatFloat(decade, 'e', 0, 64)
		}
		ticks = append(ticks, plot.Tick{Value: decade, Label: label})
		for m := 2; m <= 9; m++ {
			ticks = append(ticks, plot.Tick{Value: float64(m) * decade})
		}
	}
	return ticks
}
