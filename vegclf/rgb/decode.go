// Package rgb decodes image files (JPEG through libjpeg-turbo, PNG, GIF, BMP, TIFF, WebP) into 8-bit RGB
// images the way Pillow's Image.open(p).convert("RGB") does, checks their headers without decoding, and
// resizes them with Pillow's bilinear filter. Its Image is an image.Image, so the standard library's
// image/draw and encoders take it as it is.
package rgb

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"io"
	"os"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// DefaultMaxPixels is the largest image (width x height) Decode accepts unless told otherwise: Pillow's
// decompression-bomb threshold (MAX_IMAGE_PIXELS). Larger files are refused from their header, before
// any pixel is decoded, so a 10000x10000 JPEG cannot take the memory of several decoders at once.
const DefaultMaxPixels = 89_478_485

// PixelLimitError is the error of CheckHeader and Decode for an image whose header declares more pixels
// than the limit (errors.As finds it in a wrapped error).
type PixelLimitError struct {
	Format               string
	Width, Height, Limit int
}

func (e *PixelLimitError) Error() string {
	return fmt.Sprintf("%s image is %dx%d, over the limit of %d pixels", e.Format, e.Width, e.Height, e.Limit)
}

// Image is an 8-bit RGB image with interleaved channels: Pix[(y*Width+x)*3+c].
type Image struct {
	Width, Height int
	Pix           []uint8
}

// CheckHeader verifies that content starts like an image this package decodes, of a size within
// maxPixels (0: DefaultMaxPixels), without decoding its pixels.
func CheckHeader(content []byte, maxPixels int) error {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if len(content) == 0 {
		return errors.New("empty file (0 bytes): unknown image format")
	}
	for _, f := range formats {
		if !bytes.HasPrefix(content, []byte(f.magic)) {
			continue
		}
		width, height, err := f.size(content)
		if (err != nil || width <= 0 || height <= 0) && f.name == "jpeg" && !bytes.Contains(content, []byte{0xff, 0xda}) {
			// The header ends with the start of the scan (SOS): a file without one was cut inside its header.
			return fmt.Errorf("not a valid jpeg file: truncated JPEG: the file ends after %d bytes, inside its header", len(content))
		}
		if err != nil {
			return fmt.Errorf("not a valid %s file: %w", f.name, err)
		}
		if width <= 0 || height <= 0 {
			return fmt.Errorf("%s image has invalid size %dx%d", f.name, width, height)
		}
		if int64(width)*int64(height) > int64(maxPixels) {
			return &PixelLimitError{Format: f.name, Width: width, Height: height, Limit: maxPixels}
		}
		return nil
	}
	return fmt.Errorf("unknown image format (not JPEG, PNG, GIF, BMP, TIFF or WebP)")
}

// formats lists the decoders by content signature: the file's content, not its extension, decides
// (a GIF named .jpg is still read). size reads the width and height from the header alone.
var formats = []struct {
	name   string
	magic  string
	decode func(content []byte) (*Image, error)
	size   func(content []byte) (width, height int, err error)
}{
	{"jpeg", "\xff\xd8", decodeJPEG, jpegSize},
	{"png", "\x89PNG\r\n\x1a\n", viaImage(png.Decode), sizeOf(png.DecodeConfig)},
	{"gif", "GIF8", viaImage(gif.Decode), sizeOf(gif.DecodeConfig)},
	{"bmp", "BM", viaImage(bmp.Decode), sizeOf(bmp.DecodeConfig)},
	{"tiff", "II*\x00", viaImage(tiff.Decode), sizeOf(tiff.DecodeConfig)},
	{"tiff", "MM\x00*", viaImage(tiff.Decode), sizeOf(tiff.DecodeConfig)},
	{"webp", "RIFF", viaImage(webp.Decode), sizeOf(webp.DecodeConfig)},
}

// viaImage makes a decoder of an image.Image decoder: the image converted by FromImage.
func viaImage(decode func(io.Reader) (image.Image, error)) func([]byte) (*Image, error) {
	return func(content []byte) (*Image, error) {
		img, err := decode(bufio.NewReader(bytes.NewReader(content)))
		if err != nil {
			return nil, err
		}
		return FromImage(img), nil
	}
}

// sizeOf makes a size reader of an image.Config reader.
func sizeOf(config func(io.Reader) (image.Config, error)) func([]byte) (int, int, error) {
	return func(content []byte) (int, int, error) {
		cfg, err := config(bytes.NewReader(content))
		return cfg.Width, cfg.Height, err
	}
}

// DecodeFile reads and decodes the image file at path into RGB, as Pillow's Image.open(path).convert("RGB")
// does: grayscale is replicated, alpha is dropped (not composited), palettes are expanded, CMYK converted,
// 16-bit channels keep their high byte. Images above maxPixels (0 means DefaultMaxPixels) are refused before
// any pixel is decoded. Errors name the file. JPEGs are decoded by JPEGDecoder.
func DecodeFile(path string, maxPixels int) (*Image, error) {
	var img *Image
	err := DecodeFileWith(path, func(content []byte) (err error) {
		img, err = Decode(content, maxPixels)
		return err
	})
	return img, err
}

// DecodeFileWith reads the image file at path and hands its content to decode, its errors wrapped to name
// the file as DecodeFile's are: the one reading of an image file for decoders of other forms (bands, a
// transform's input).
func DecodeFileWith(path string, decode func(content []byte) error) error {
	content, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading image: %w", err)
	}
	if err := decode(content); err != nil {
		return fmt.Errorf("decoding image %s: %w", path, err)
	}
	return nil
}

// Decode decodes an encoded image (JPEG, PNG, GIF, BMP, TIFF, WebP) into RGB; see DecodeFile.
func Decode(content []byte, maxPixels int) (*Image, error) {
	if err := CheckHeader(content, maxPixels); err != nil {
		return nil, err
	}
	for _, f := range formats {
		if bytes.HasPrefix(content, []byte(f.magic)) {
			img, err := f.decode(content)
			if err != nil {
				return nil, fmt.Errorf("corrupt or truncated %s file: %w", f.name, err)
			}
			return img, nil
		}
	}
	panic("unreachable: CheckHeader accepted an unknown format")
}

// FromImage converts any image to 8-bit RGB, dropping alpha as Pillow's convert("RGB") does.
func FromImage(img image.Image) *Image {
	b := img.Bounds()
	out := &Image{Width: b.Dx(), Height: b.Dy(), Pix: make([]uint8, b.Dx()*b.Dy()*3)}
	switch src := img.(type) {
	case *image.YCbCr:
		ycbcrToRGB(src, out)
	case *image.Gray:
		for y := 0; y < out.Height; y++ {
			row := src.Pix[y*src.Stride : y*src.Stride+out.Width]
			for x, v := range row {
				i := (y*out.Width + x) * 3
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = v, v, v
			}
		}
	case *image.NRGBA:
		for y := 0; y < out.Height; y++ {
			for x := 0; x < out.Width; x++ {
				s := y*src.Stride + x*4
				i := (y*out.Width + x) * 3
				copy(out.Pix[i:i+3], src.Pix[s:s+3])
			}
		}
	case *image.CMYK:
		for y := 0; y < out.Height; y++ {
			cmykToRGB(src.Pix[y*src.Stride:][:out.Width*4], out.Pix[y*out.Width*3:][:out.Width*3], 0)
		}
	case *image.Paletted:
		palette := make([][3]uint8, len(src.Palette))
		for i, c := range src.Palette {
			palette[i] = straightRGB(c)
		}
		for y := 0; y < out.Height; y++ {
			for x := 0; x < out.Width; x++ {
				idx := int(src.Pix[y*src.Stride+x])
				i := (y*out.Width + x) * 3
				if idx < len(palette) {
					copy(out.Pix[i:i+3], palette[idx][:])
				}
			}
		}
	default:
		for y := 0; y < out.Height; y++ {
			for x := 0; x < out.Width; x++ {
				c := straightRGB(img.At(b.Min.X+x, b.Min.Y+y))
				i := (y*out.Width + x) * 3
				copy(out.Pix[i:i+3], c[:])
			}
		}
	}
	return out
}

// invertedCMYKToRGB converts the CMYK pixels of a JPEG as stored (Adobe's convention, 255 = no ink, which
// Pillow assumes for every CMYK JPEG) to RGB.
func invertedCMYKToRGB(cmyk []uint8) []uint8 {
	rgb := make([]uint8, len(cmyk)/4*3)
	cmykToRGB(cmyk, rgb, 255)
	return rgb
}

// cmykToRGB converts CMYK pixels (each value XORed with invert first: 0, or 255 for inverted values) to
// RGB with Pillow's formula (cmyk2rgb): channel = (255-k) - c*(255-k)/255, rounded as Pillow rounds.
func cmykToRGB(cmyk, rgb []uint8, invert uint8) {
	for i := 0; i < len(cmyk)/4; i++ {
		nk := 255 - int32(cmyk[4*i+3]^invert)
		for c := range 3 {
			t := int32(cmyk[4*i+c]^invert)*nk + 128
			rgb[3*i+c] = clamp8(nk - ((t>>8)+t)>>8)
		}
	}
}

// straightRGB returns the un-premultiplied 8-bit color, without alpha. A straight color keeps its RGB
// even where it is fully transparent (a palette's transparent entry), as Pillow's convert("RGB") does.
func straightRGB(c color.Color) [3]uint8 {
	if n, ok := c.(color.NRGBA); ok {
		return [3]uint8{n.R, n.G, n.B}
	}
	n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
	return [3]uint8{uint8(n.R >> 8), uint8(n.G >> 8), uint8(n.B >> 8)}
}

// ycbcrToRGB converts a decoded JPEG to RGB as libjpeg does by default: chroma is upsampled with its
// "fancy" triangle filter (4:2:0, 4:2:2, 4:4:0), then converted with libjpeg's fixed-point tables, so the
// pixels match Pillow's.
func ycbcrToRGB(src *image.YCbCr, out *Image) {
	w, h := out.Width, out.Height
	cb := upsampleChroma(src, src.Cb, w, h)
	cr := upsampleChroma(src, src.Cr, w, h)
	for y := 0; y < h; y++ {
		yRow := src.Y[y*src.YStride:]
		for x := 0; x < w; x++ {
			yy := int32(yRow[x])
			cbv, crv := int32(cb[y*w+x])-128, int32(cr[y*w+x])-128
			i := (y*w + x) * 3
			out.Pix[i] = clamp8(yy + ((91881*crv + 32768) >> 16))
			out.Pix[i+1] = clamp8(yy + ((-22554*cbv - 46802*crv + 32768) >> 16))
			out.Pix[i+2] = clamp8(yy + ((116130*cbv + 32768) >> 16))
		}
	}
}

func clamp8(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// upsampleChroma returns the chroma plane at full resolution (w x h).
func upsampleChroma(src *image.YCbCr, plane []uint8, w, h int) []uint8 {
	stride := src.CStride
	out := make([]uint8, w*h)
	switch src.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
		for y := 0; y < h; y++ {
			copy(out[y*w:(y+1)*w], plane[y*stride:y*stride+w])
		}
	case image.YCbCrSubsampleRatio422:
		cw := (w + 1) / 2
		row := make([]uint8, 2*cw)
		for y := 0; y < h; y++ {
			fancyH2(plane[y*stride:y*stride+cw], row)
			copy(out[y*w:(y+1)*w], row)
		}
	case image.YCbCrSubsampleRatio420:
		cw, ch := (w+1)/2, (h+1)/2
		row := make([]uint8, 2*cw)
		for cy := 0; cy < ch; cy++ {
			cur := plane[cy*stride : cy*stride+cw]
			above := plane[max(cy-1, 0)*stride:][:cw]
			below := plane[min(cy+1, ch-1)*stride:][:cw]
			for v, other := range [2][]uint8{above, below} {
				y := 2*cy + v
				if y >= h {
					break
				}
				fancyH2V2(cur, other, v, row)
				copy(out[y*w:(y+1)*w], row)
			}
		}
	case image.YCbCrSubsampleRatio440:
		ch := (h + 1) / 2
		for cy := 0; cy < ch; cy++ {
			cur := plane[cy*stride:][:w]
			above := plane[max(cy-1, 0)*stride:][:w]
			below := plane[min(cy+1, ch-1)*stride:][:w]
			for v, other := range [2][]uint8{above, below} {
				y := 2*cy + v
				if y >= h {
					break
				}
				bias := int32(1 + v)
				for x := 0; x < w; x++ {
					out[y*w+x] = uint8((int32(cur[x])*3 + int32(other[x]) + bias) >> 2)
				}
			}
		}
	default: // 4:1:1 and 4:1:0: nearest neighbour, as Go's image/jpeg does.
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				out[y*w+x] = plane[src.COffset(x, y)-src.COffset(0, 0)]
			}
		}
	}
	return out
}

// fancyH2 is libjpeg's h2v1_fancy_upsample: horizontal 2x with a triangle filter.
func fancyH2(in, out []uint8) {
	n := len(in)
	if n == 1 {
		out[0], out[1] = in[0], in[0]
		return
	}
	out[0] = in[0]
	out[1] = uint8((int32(in[0])*3 + int32(in[1]) + 2) >> 2)
	for c := 1; c < n-1; c++ {
		v := int32(in[c]) * 3
		out[2*c] = uint8((v + int32(in[c-1]) + 1) >> 2)
		out[2*c+1] = uint8((v + int32(in[c+1]) + 2) >> 2)
	}
	out[2*n-2] = uint8((int32(in[n-1])*3 + int32(in[n-2]) + 1) >> 2)
	out[2*n-1] = in[n-1]
}

// fancyH2V2 is libjpeg's h2v2_fancy_upsample for one output row: v is 0 for the upper row (other is the
// chroma row above) and 1 for the lower one (other is the row below).
func fancyH2V2(cur, other []uint8, v int, out []uint8) {
	n := len(cur)
	colsum := func(c int) int32 { return int32(cur[c])*3 + int32(other[c]) }
	this := colsum(0)
	if n == 1 {
		out[0] = uint8((this*4 + 8) >> 4)
		out[1] = uint8((this*4 + 7) >> 4)
		return
	}
	next := colsum(1)
	out[0] = uint8((this*4 + 8) >> 4)
	out[1] = uint8((this*3 + next + 7) >> 4)
	last := this
	this = next
	for c := 1; c < n-1; c++ {
		next = colsum(c + 1)
		out[2*c] = uint8((this*3 + last + 8) >> 4)
		out[2*c+1] = uint8((this*3 + next + 7) >> 4)
		last, this = this, next
	}
	out[2*n-2] = uint8((this*3 + last + 8) >> 4)
	out[2*n-1] = uint8((this*4 + 7) >> 4)
	_ = v
}
