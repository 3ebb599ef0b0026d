// Package viz draws what a learner wants to see of a run, as images and self-contained SVG that work
// offline (in a notebook, a browser or a file): a grid of sample images with their classes, train/test
// loss and accuracy per epoch, the confusion matrix with per-class accuracy, a gallery of misclassified
// images, and an image with its top predictions.
package viz

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"strings"
	"sync"

	"github.com/vegclf/vegclf/vegclf/rgb"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Labeled is an image (a file, or an image already decoded) with a caption.
type Labeled struct {
	Path    string
	Image   *rgb.Image // Used instead of Path when set.
	Caption string
	Color   color.Color // Caption color; nil for black.
}

var faces sync.Map // Font size -> font.Face.

// face returns the Go font at the given pixel size.
func face(size float64) font.Face {
	if f, ok := faces.Load(size); ok {
		return f.(font.Face)
	}
	parsed, err := opentype.Parse(goregular.TTF)
	if err != nil {
		panic(err) // The embedded font always parses.
	}
	f, err := opentype.NewFace(parsed, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		panic(err)
	}
	faces.Store(size, f)
	return f
}

// drawText writes text with its baseline at (x, y), shortened with "..." to fit maxWidth pixels (0: no
// limit), cut between characters, never inside one.
func drawText(dst draw.Image, x, y int, text string, size float64, c color.Color, maxWidth int) {
	d := &font.Drawer{Dst: dst, Src: image.NewUniform(c), Face: face(size)}
	if maxWidth > 0 && d.MeasureString(text).Ceil() > maxWidth {
		runes := []rune(text)
		for len(runes) > 1 && d.MeasureString(string(runes)+"...").Ceil() > maxWidth {
			runes = runes[:len(runes)-1]
		}
		text = string(runes) + "..."
	}
	d.Dot = fixed.P(x, y)
	d.DrawString(text)
}

// wrapLines breaks text at spaces into at most maxLines lines of at most maxWidth pixels; a word longer
// than a line, or what the last line cannot hold, is left for drawText to shorten.
func wrapLines(text string, size float64, maxWidth, maxLines int) []string {
	d := &font.Drawer{Face: face(size)}
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case d.MeasureString(line+" "+word).Ceil() <= maxWidth || len(lines) == maxLines-1:
			line += " " + word
		default:
			lines, line = append(lines, line), word
		}
	}
	return append(lines, line)
}

// fill paints r with c.
func fill(dst draw.Image, r image.Rectangle, c color.Color) {
	draw.Draw(dst, r, image.NewUniform(c), image.Point{}, draw.Src)
}

// thumbnail decodes an image file and scales it to size x size (Pillow's bilinear filter).
func thumbnail(path string, size int) (*rgb.Image, error) {
	img, err := rgb.DecodeFile(path, 0)
	if err != nil {
		return nil, err
	}
	return rgb.Resize(img, size, size), nil
}

// Grid draws the images in a grid of cols columns, each cell size x size pixels with its caption below.
// An image that cannot be read is drawn as a gray cell with the error's start.
func Grid(items []Labeled, cols, size int) *image.NRGBA {
	if cols <= 0 {
		cols = 4
	}
	rows := (len(items) + cols - 1) / cols
	const pad, captionH = 6, 32 // Two lines of caption.
	cellW, cellH := size+pad, size+captionH+pad
	out := image.NewNRGBA(image.Rect(0, 0, cols*cellW+pad, rows*cellH+pad))
	fill(out, out.Bounds(), color.White)
	for i, it := range items {
		x0, y0 := pad+(i%cols)*cellW, pad+(i/cols)*cellH
		cell := image.Rect(x0, y0, x0+size, y0+size)
		if it.Image != nil {
			draw.Draw(out, cell, rgb.Resize(it.Image, size, size), image.Point{}, draw.Src)
		} else if img, err := thumbnail(it.Path, size); err == nil {
			draw.Draw(out, cell, img, image.Point{}, draw.Src)
		} else {
			fill(out, cell, color.Gray{200})
			drawText(out, x0+4, y0+size/2, "unreadable", 12, color.Black, size-8)
		}
		c := it.Color
		if c == nil {
			c = color.Black
		}
		for j, line := range wrapLines(it.Caption, 12, size, 2) {
			drawText(out, x0, y0+size+14+14*j, line, 12, c, size)
		}
	}
	return out
}

// PNG encodes an image as PNG.
func PNG(img image.Image) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(fmt.Sprintf("encoding PNG: %v", err)) // Encoding an in-memory image cannot fail.
	}
	return buf.Bytes()
}
