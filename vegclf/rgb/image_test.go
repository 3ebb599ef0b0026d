package rgb

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"testing"
)

// TestImageIsAnImage draws an RGB image with image/draw and encodes it with image/png: every pixel
// comes through, opaque, and reading the PNG back gives the same pixels.
func TestImageIsAnImage(t *testing.T) {
	m := New(5, 3)
	for i := range m.Pix {
		m.Pix[i] = uint8(17 * i)
	}
	var _ image.Image = m
	dst := image.NewNRGBA(image.Rect(0, 0, 5, 3))
	draw.Draw(dst, dst.Bounds(), m, image.Point{}, draw.Src)
	for y := range 3 {
		for x := range 5 {
			i := (y*5 + x) * 3
			want := color.NRGBA{m.Pix[i], m.Pix[i+1], m.Pix[i+2], 255}
			if got := dst.NRGBAAt(x, y); got != want {
				t.Errorf("pixel (%d,%d) drawn as %v, want %v", x, y, got, want)
			}
		}
	}
	if got := m.At(5, 0); got != (color.RGBA{}) {
		t.Errorf("At outside the bounds = %v, want transparent black", got)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	back, err := Decode(b.Bytes(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Pix, m.Pix) || back.Width != 5 || back.Height != 3 {
		t.Errorf("PNG round trip: %dx%d %v, want %v", back.Width, back.Height, back.Pix, m.Pix)
	}
}
