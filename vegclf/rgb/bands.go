package rgb

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"io"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// Bands is an 8-bit image of C interleaved bands (channels): Pix[(y*Width+x)*C+c]. It is what DecodeBands
// makes of a file for models of other than three input channels (grayscale, gray and alpha, RGB and a
// fourth band).
type Bands struct {
	Width, Height, C int
	Pix              []uint8
}

// Luminance returns Pillow's 8-bit luminance of an RGB pixel, as its convert("L") computes it (ITU-R
// 601-2: L = R*299/1000 + G*587/1000 + B*114/1000, in Pillow's fixed point, rounded):
// (R*19595 + G*38470 + B*7471 + 0x8000) >> 16. A gray pixel (v, v, v) gives v: the weights sum to 65536.
func Luminance(r, g, b uint8) uint8 {
	return uint8((uint32(r)*19595 + uint32(g)*38470 + uint32(b)*7471 + 0x8000) >> 16)
}

// DecodeBands decodes an encoded image into c bands, as Pillow's Image.open(p).convert(mode) does for
// 8-bit images:
//
//   - 1: "L", the luminance (Luminance) of the RGB pixels Decode gives: a grayscale file's own values,
//     RGB, palette and CMYK images through Pillow's formula.
//   - 2: "LA", that luminance and the file's alpha (straight, not premultiplied; 255 without one).
//   - 3: "RGB", Decode's pixels.
//   - 4: "RGBA", Decode's pixels and the alpha.
//
// A PNG or TIFF with an alpha band (RGBA, gray and alpha, a palette with transparency) gives its alpha; a
// file with none, 255 everywhere. Files of other band counts are read through these modes: an RGB file
// for c=1 is its luminance, a grayscale one for c=4 is gray in R, G and B with alpha 255.
func DecodeBands(content []byte, maxPixels, c int) (*Bands, error) {
	if c < 1 || c > 4 {
		return nil, fmt.Errorf("images of %d bands: want 1 to 4", c)
	}
	var alpha []uint8
	img, err := Decode(content, maxPixels)
	if err != nil {
		return nil, err
	}
	if c == 2 || c == 4 {
		if alpha, err = decodeAlpha(content); err != nil {
			return nil, err
		}
	}
	n := img.Width * img.Height
	out := &Bands{Width: img.Width, Height: img.Height, C: c, Pix: make([]uint8, n*c)}
	for i := range n {
		px, dst := img.Pix[3*i:3*i+3], out.Pix[c*i:c*i+c]
		a := uint8(255)
		if alpha != nil {
			a = alpha[i]
		}
		switch c {
		case 1:
			dst[0] = Luminance(px[0], px[1], px[2])
		case 2:
			dst[0], dst[1] = Luminance(px[0], px[1], px[2]), a
		case 3:
			copy(dst, px)
		case 4:
			copy(dst, px)
			dst[3] = a
		}
	}
	return out, nil
}

// RGB returns the bands as an RGB image to show: one or two bands (luminance, then alpha) as gray, three
// or four as their first three (the fourth, alpha, dropped as Pillow's convert("RGB") drops it).
func (b *Bands) RGB() *Image {
	n := b.Width * b.Height
	out := &Image{Width: b.Width, Height: b.Height, Pix: make([]uint8, n*3)}
	for i := range n {
		px, dst := b.Pix[b.C*i:b.C*i+b.C], out.Pix[3*i:3*i+3]
		if b.C < 3 {
			dst[0], dst[1], dst[2] = px[0], px[0], px[0]
		} else {
			copy(dst, px[:3])
		}
	}
	return out
}

// decodeAlpha returns the straight alpha of each pixel of an encoded image, nil when its format or mode
// has none (JPEG, grayscale, RGB without transparency).
func decodeAlpha(content []byte) ([]uint8, error) {
	var decode func(io.Reader) (image.Image, error)
	switch {
	case bytes.HasPrefix(content, []byte("\x89PNG\r\n\x1a\n")):
		decode = png.Decode
	case bytes.HasPrefix(content, []byte("II*\x00")), bytes.HasPrefix(content, []byte("MM\x00*")):
		decode = tiff.Decode
	case bytes.HasPrefix(content, []byte("GIF8")):
		decode = gif.Decode
	case bytes.HasPrefix(content, []byte("BM")):
		decode = bmp.Decode
	case bytes.HasPrefix(content, []byte("RIFF")):
		decode = webp.Decode
	default:
		return nil, nil
	}
	img, err := decode(bufio.NewReader(bytes.NewReader(content)))
	if err != nil {
		return nil, err
	}
	switch img.(type) {
	case *image.Gray, *image.Gray16, *image.YCbCr, *image.CMYK:
		return nil, nil
	}
	b := img.Bounds()
	alpha := make([]uint8, b.Dx()*b.Dy())
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			alpha[y*b.Dx()+x] = uint8(color.NRGBA64Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64).A >> 8)
		}
	}
	return alpha, nil
}

// ResizeBandsCrop returns the pixels within crop of the bands resized to width x height with Pillow's
// filter f, each band on its own as Pillow resizes an "L" image (ResizeCrop's arithmetic, bit-identical):
// alpha is a band like the others, not premultiplied as Pillow's resize of an "LA" or "RGBA" image does.
func ResizeBandsCrop(b *Bands, width, height int, f Filter, crop image.Rectangle) *Bands {
	out := &Bands{Width: crop.Dx(), Height: crop.Dy(), C: b.C, Pix: make([]uint8, crop.Dx()*crop.Dy()*b.C)}
	n := b.Width * b.Height
	// Three bands at a time, as the channels of an Image.
	for first := 0; first < b.C; first += 3 {
		packed := &Image{Width: b.Width, Height: b.Height, Pix: make([]uint8, n*3)}
		for i := range n {
			for k := 0; k < 3 && first+k < b.C; k++ {
				packed.Pix[3*i+k] = b.Pix[b.C*i+first+k]
			}
		}
		resized := ResizeCrop(packed, width, height, f, crop)
		for i := range out.Width * out.Height {
			for k := 0; k < 3 && first+k < b.C; k++ {
				out.Pix[b.C*i+first+k] = resized.Pix[3*i+k]
			}
		}
	}
	return out
}
