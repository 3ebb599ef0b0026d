package rgb

import (
	"image"
	"image/color"
)

// ColorModel returns color.RGBAModel: every pixel is opaque.
func (m *Image) ColorModel() color.Model { return color.RGBAModel }

// Bounds returns the image's rectangle, from (0, 0).
func (m *Image) Bounds() image.Rectangle { return image.Rect(0, 0, m.Width, m.Height) }

// At returns the pixel at (x, y), opaque; outside the bounds, transparent black, as the image package's
// images do.
func (m *Image) At(x, y int) color.Color { return m.RGBAAt(x, y) }

// RGBAAt returns the pixel at (x, y) as a color.RGBA, opaque (transparent black outside the bounds).
func (m *Image) RGBAAt(x, y int) color.RGBA {
	if !(image.Point{x, y}.In(m.Bounds())) {
		return color.RGBA{}
	}
	i := (y*m.Width + x) * 3
	return color.RGBA{m.Pix[i], m.Pix[i+1], m.Pix[i+2], 255}
}

// New returns a black width x height image.
func New(width, height int) *Image {
	return &Image{Width: width, Height: height, Pix: make([]uint8, width*height*3)}
}
