package rgb

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func encodePNG(t *testing.T, img image.Image) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// encodeJPEG encodes a w x h gradient as a baseline JPEG.
func encodeJPEG(t *testing.T, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withJPEGSize returns a copy of a baseline JPEG whose frame header (SOF0) declares another size.
func withJPEGSize(t *testing.T, content []byte, w, h int) []byte {
	out := bytes.Clone(content)
	i := bytes.Index(out, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0 marker")
	}
	out[i+5], out[i+6], out[i+7], out[i+8] = byte(h>>8), byte(h), byte(w>>8), byte(w)
	return out
}

func TestDecodeModes(t *testing.T) {
	gray16 := image.NewGray16(image.Rect(0, 0, 2, 1))
	gray16.SetGray16(0, 0, color.Gray16{0xABCD})
	rgba64 := image.NewNRGBA64(image.Rect(0, 0, 2, 1))
	rgba64.SetNRGBA64(0, 0, color.NRGBA64{0x1234, 0x5678, 0x9ABC, 0x0001})
	alpha := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	alpha.SetNRGBA(0, 0, color.NRGBA{200, 100, 50, 0}) // Fully transparent: the color is kept, as Pillow does.
	pal := image.NewPaletted(image.Rect(0, 0, 2, 1), color.Palette{color.NRGBA{1, 2, 3, 255}, color.NRGBA{9, 8, 7, 255}})
	pal.SetColorIndex(0, 0, 1)
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, pal, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		content []byte
		want    [3]uint8
	}{
		{"16-bit gray png", encodePNG(t, gray16), [3]uint8{0xAB, 0xAB, 0xAB}},
		{"16-bit rgba png", encodePNG(t, rgba64), [3]uint8{0x12, 0x56, 0x9A}},
		{"transparent png", encodePNG(t, alpha), [3]uint8{200, 100, 50}},
		{"paletted png", encodePNG(t, pal), [3]uint8{9, 8, 7}},
		{"gif", gifBuf.Bytes(), [3]uint8{9, 8, 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := Decode(tc.content, 0)
			if err != nil {
				t.Fatal(err)
			}
			if img.Width != 2 || img.Height != 1 {
				t.Fatalf("size %dx%d", img.Width, img.Height)
			}
			if got := [3]uint8(img.Pix[:3]); got != tc.want {
				t.Errorf("pixel = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDecodeErrorsNameTheFileAndProblem(t *testing.T) {
	dir := t.TempDir()
	good := encodePNG(t, image.NewGray(image.Rect(0, 0, 40, 40)))
	huge := encodePNG(t, image.NewGray(image.Rect(0, 0, 200, 100)))
	goodJPEG := encodeJPEG(t, 64, 48)
	garbage := append([]byte{0xff, 0xd8}, bytes.Repeat([]byte("garbage!"), 64)...)
	for _, tc := range []struct {
		name    string
		content []byte
		limit   int
		want    string
	}{
		{"text.jpg", []byte("hello, not an image"), 0, "unknown image format"},
		{"truncated.png", good[:len(good)/2], 0, "corrupt or truncated png"},
		{"empty.jpg", nil, 0, "unknown image format"},
		{"bomb.png", huge, 10_000, "over the limit of 10000 pixels"},
		{"truncated.jpg", goodJPEG[:len(goodJPEG)/2], 0, "corrupt or truncated jpeg"},
		{"no_end.jpg", goodJPEG[:len(goodJPEG)-2], 0, "corrupt or truncated jpeg"},
		{"header_only.jpg", goodJPEG[:bytes.Index(goodJPEG, []byte{0xff, 0xda})], 0, "not a valid jpeg file"},
		{"empty file", nil, 0, "empty file"},
		{"cut after its first marker.jpg", goodJPEG[:2], 0, "truncated JPEG: the file ends after 2 bytes, inside its header"},
		{"cut in its header.jpg", goodJPEG[:bytes.Index(goodJPEG, []byte{0xff, 0xda})/2], 0, "truncated JPEG"},
		// libjpeg-turbo reads a 0x0 frame from it, Go's decoder no header at all.
		{"garbage_after_soi.jpg", garbage, 0, "jpeg"},
		{"bomb.jpg", withJPEGSize(t, goodJPEG, 60000, 60000), 0, "jpeg image is 60000x60000, over the limit of 89478485 pixels"},
		{"zero_size.jpg", withJPEGSize(t, goodJPEG, 0, 48), 0, "jpeg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			os.WriteFile(p, tc.content, 0o644)
			_, err := DecodeFile(p, tc.limit)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("error = %v, want the path and %q", err, tc.want)
			}
			var limitErr *PixelLimitError
			if errors.As(err, &limitErr) != strings.HasPrefix(tc.name, "bomb") {
				t.Errorf("error = %v: a PixelLimitError is %v, want it for the bombs only", err, limitErr)
			}
		})
	}
}

func TestResizeIdentityAndBounds(t *testing.T) {
	img := &Image{Width: 3, Height: 2, Pix: []uint8{0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170}}
	same := Resize(img, 3, 2)
	if !bytes.Equal(same.Pix, img.Pix) {
		t.Error("resize to the same size changed pixels")
	}
	up := Resize(img, 7, 5)
	if up.Width != 7 || up.Height != 5 || len(up.Pix) != 7*5*3 {
		t.Fatalf("upscaled to %dx%d with %d values", up.Width, up.Height, len(up.Pix))
	}
	// Corners keep the corner colors when upscaling with a triangle filter (weights clamp at the edge).
	if [3]uint8(up.Pix[:3]) != [3]uint8{0, 10, 20} {
		t.Errorf("top-left = %v", up.Pix[:3])
	}
}
