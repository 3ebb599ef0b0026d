package rgb

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoder: it must return an image or an error, never panic,
// and never decode more pixels than the limit.
func FuzzDecode(f *testing.F) {
	img := image.NewNRGBA(image.Rect(0, 0, 9, 7))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 13)
	}
	for _, encode := range []func(*bytes.Buffer) error{
		func(b *bytes.Buffer) error { return png.Encode(b, img) },
		func(b *bytes.Buffer) error { return jpeg.Encode(b, img, nil) },
		func(b *bytes.Buffer) error {
			return jpeg.Encode(b, image.NewGray(image.Rect(0, 0, 17, 5)), &jpeg.Options{Quality: 50})
		},
		func(b *bytes.Buffer) error {
			pal := image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{color.Black, color.White})
			return gif.Encode(b, pal, nil)
		},
	} {
		var buf bytes.Buffer
		if err := encode(&buf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte("BM"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBP"))
	const limit = 1 << 20
	f.Fuzz(func(t *testing.T, content []byte) {
		rgb, err := Decode(content, limit)
		if err != nil {
			return
		}
		if rgb.Width*rgb.Height > limit || len(rgb.Pix) != rgb.Width*rgb.Height*3 {
			t.Fatalf("decoded %dx%d with %d values", rgb.Width, rgb.Height, len(rgb.Pix))
		}
		Resize(rgb, 5, 3)
	})
}
