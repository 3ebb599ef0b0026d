//go:build !cgo

package rgb

import (
	"bytes"
	"image/jpeg"
)

// JPEGDecoder names the JPEG decoder of this build: without cgo, the Go standard library's image/jpeg,
// whose IDCT differs from libjpeg's (README: the pixels differ slightly from Pillow's); its chroma is
// upsampled and converted to RGB as libjpeg does (ycbcrToRGB).
const JPEGDecoder = "Go image/jpeg (built without cgo: pixels differ slightly from Pillow's)"

// jpegSize returns a JPEG's width and height from its header.
func jpegSize(content []byte) (width, height int, err error) {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(content))
	return cfg.Width, cfg.Height, err
}

// decodeJPEG decodes a JPEG to RGB (see FromImage). The size must have been checked (CheckHeader) before.
func decodeJPEG(content []byte) (*Image, error) {
	img, err := jpeg.Decode(bytes.NewReader(content))
	if err != nil {
		return nil, err
	}
	return FromImage(img), nil
}
