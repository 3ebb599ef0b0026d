package data

import (
	"encoding/json"
	"fmt"
	"image"
	"math"
	"strings"

	"github.com/vegclf/vegclf/vegclf/rgb"
)

// Normalization is the per-channel mean and standard deviation applied after scaling pixels to [0,1],
// as torchvision's Normalize does.
type Normalization struct {
	Name      string
	Mean, Std [3]float32
}

// The normalizations built in: the tutorial's (0.5, 0.5) and ImageNet's statistics.
var (
	HalfNormalization     = Normalization{Name: "half", Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.5, 0.5}}
	ImageNetNormalization = Normalization{Name: "imagenet", Mean: [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225}}
)

// NormalizationByName returns the built-in normalization called name ("half" or "imagenet").
func NormalizationByName(name string) (Normalization, error) {
	for _, n := range []Normalization{HalfNormalization, ImageNetNormalization} {
		if strings.EqualFold(name, n.Name) {
			return n, nil
		}
	}
	return Normalization{}, fmt.Errorf("unknown normalization %q (want half or imagenet)", name)
}

// String returns the normalization's name.
func (n Normalization) String() string { return n.Name }

// MarshalText writes a built-in normalization as its name, as configurations and checkpoints hold it.
func (n Normalization) MarshalText() ([]byte, error) {
	if builtin, err := NormalizationByName(n.Name); err != nil || builtin != n {
		return nil, fmt.Errorf("normalization %q (mean %v, std %v) is not a built-in one", n.Name, n.Mean, n.Std)
	}
	return []byte(n.Name), nil
}

// UnmarshalText sets the built-in normalization named by text (NormalizationByName).
func (n *Normalization) UnmarshalText(text []byte) error {
	builtin, err := NormalizationByName(string(text))
	if err != nil {
		return err
	}
	*n = builtin
	return nil
}

// UnmarshalJSON reads a normalization's name or, as checkpoints before names were written hold it, an
// object of its name, means and standard deviations.
func (n *Normalization) UnmarshalJSON(b []byte) error {
	var name string
	if json.Unmarshal(b, &name) == nil {
		return n.UnmarshalText([]byte(name))
	}
	type values Normalization // Without the methods.
	var v values
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("normalization: %w", err)
	}
	*n = Normalization(v)
	return nil
}

// Transform turns a decoded image into the model's input, Size x Size pixels, as torchvision's transforms
// on PIL images do it, with Pillow's resampling (bit-identical) and channels last:
//
//   - With Resize 0, the tutorial's Compose([Resize((size, size), interpolation), ToTensor(),
//     Normalize(mean, std)]): the image squashed to Size x Size.
//   - With Resize r, the ImageNet evaluation of torchvision's weights (ImageClassification(crop_size=size,
//     resize_size=r, interpolation)): Compose([Resize(r, interpolation), CenterCrop(size), ToTensor(),
//     Normalize(mean, std)]), the shorter side resized to r keeping the aspect ratio, then the center
//     Size x Size cropped out, padded with black where the resized image is smaller.
//
// Resize and Interpolation at their zero values give the first, and are left out of the JSON: a
// Transform written before they existed reads and writes the same.
type Transform struct {
	Size          int
	Normalization Normalization
	MaxPixels     int // Largest image accepted by the decoder; 0 means rgb.DefaultMaxPixels.
	// Resize is the length the shorter side is resized to before the center crop; 0 squashes the image
	// to Size x Size instead.
	Resize int `json:",omitempty"`
	// Interpolation is the resampling filter, Pillow's bilinear (the zero value) or bicubic.
	Interpolation rgb.Filter `json:",omitempty"`
	// Channels is the model's input channels, 1 to 4; 0 means 3, RGB. Other counts read files as
	// rgb.DecodeBands does (1: Pillow's "L", 2: "LA", 4: "RGBA"), resize each band as Pillow resizes an "L"
	// image, and normalize channel c with Normalization.Channel's mean and deviation.
	Channels int `json:",omitempty"`
}

// NumChannels returns the channels of the transformed images: Channels, or 3 when 0.
func (t Transform) NumChannels() int {
	if t.Channels == 0 {
		return 3
	}
	return t.Channels
}

// Mode returns the Pillow mode the images are read as: "L", "LA", "RGB" or "RGBA" for 1 to 4 channels.
func (t Transform) Mode() string {
	return [...]string{"L", "LA", "RGB", "RGBA"}[t.NumChannels()-1]
}

// Channel returns the mean and standard deviation that normalize channel c of images of channels
// channels. Three channels are RGB, with the normalization's own values. One channel, grayscale, takes
// the average of the three means and of the three deviations (ImageNet's: 0.449 and 0.226), the
// statistics of a gray image whose R, G and B are its luminance, as the pretrained stem, summed over RGB
// (timm's adapt_input_conv), sees it. Two or four channels take the RGB values in turn, channel c
// channel c%3's, as adapt_input_conv repeats the RGB kernels over them.
func (n Normalization) Channel(c, channels int) (mean, std float32) {
	if channels == 1 {
		return (n.Mean[0] + n.Mean[1] + n.Mean[2]) / 3, (n.Std[0] + n.Std[1] + n.Std[2]) / 3
	}
	return n.Mean[c%3], n.Std[c%3]
}

// Apply writes the transformed image into dst (Size*Size*3 float32, HWC order).
func (t Transform) Apply(img *rgb.Image, dst []float32) {
	normalize(t.Normalization.table(), t.Resized(img).Pix, dst)
}

// Resized returns the Size x Size RGB image that Apply normalizes: img resized (squashed, or resized and
// center-cropped, padded with black where it is smaller), the PIL image that torchvision's transforms after
// the resize see.
func (t Transform) Resized(img *rgb.Image) *rgb.Image {
	if t.Resize <= 0 {
		return rgb.ResizeFilter(img, t.Size, t.Size, t.Interpolation)
	}
	width, height := resizedSize(img.Width, img.Height, t.Resize)
	left, padLeft, cropWidth := centerCrop(width, t.Size)
	top, padTop, cropHeight := centerCrop(height, t.Size)
	resized := rgb.ResizeCrop(img, width, height, t.Interpolation, image.Rect(left, top, left+cropWidth, top+cropHeight))
	if cropWidth == t.Size && cropHeight == t.Size {
		return resized
	}
	// CenterCrop pads the PIL image with black pixels.
	out := rgb.New(t.Size, t.Size)
	rowLen := cropWidth * 3
	for y := range cropHeight {
		start := ((padTop+y)*t.Size + padLeft) * 3
		copy(out.Pix[start:start+rowLen], resized.Pix[y*rowLen:(y+1)*rowLen])
	}
	return out
}

// applyResized writes the normalized values of img, already Size x Size (Resized), into dst.
func (t Transform) applyResized(img *rgb.Image, dst []float32) {
	normalize(t.Normalization.table(), img.Pix, dst)
}

// ApplyBands writes the transformed bands into dst (Size*Size*C float32, HWC order), as Apply does an RGB
// image: the same resizing and center crop, each band on its own (rgb.ResizeBandsCrop), then each channel
// normalized with Normalization.Channel. The bands must be NumChannels many.
func (t Transform) ApplyBands(b *rgb.Bands, dst []float32) {
	c := b.C
	tables := make([][256]float32, c)
	for k := range c {
		mean, std := t.Normalization.Channel(k, c)
		for v := range 256 {
			tables[k][v] = (float32(v)/255 - mean) / std
		}
	}
	width, height, size := t.Size, t.Size, t.Size
	left, padLeft, cropWidth, top, padTop, cropHeight := 0, 0, size, 0, 0, size
	if t.Resize > 0 {
		width, height = resizedSize(b.Width, b.Height, t.Resize)
		left, padLeft, cropWidth = centerCrop(width, size)
		top, padTop, cropHeight = centerCrop(height, size)
		if cropWidth < size || cropHeight < size {
			for i := range size * size * c {
				dst[i] = tables[i%c][0] // CenterCrop's black padding, normalized.
			}
		}
	}
	resized := rgb.ResizeBandsCrop(b, width, height, t.Interpolation, image.Rect(left, top, left+cropWidth, top+cropHeight))
	for y := range cropHeight {
		row := resized.Pix[y*cropWidth*c : (y+1)*cropWidth*c]
		out := dst[((padTop+y)*size+padLeft)*c:]
		for i, v := range row {
			out[i] = tables[i%c][v]
		}
	}
}

// normalize writes the normalized values of the 8-bit RGB pixels pix into dst.
func normalize(table *[3][256]float32, pix []uint8, dst []float32) {
	for i := 0; i+2 < len(pix); i += 3 {
		px, out := pix[i:i+3], dst[i:i+3]
		out[0], out[1], out[2] = table[0][px[0]], table[1][px[1]], table[2][px[2]]
	}
}

// resizedSize is torchvision's _compute_resized_output_size for Resize(size) (an int, no max_size): the
// shorter side becomes size, the longer int(size * long / short): the product is an exact integer, the
// division rounds as Python's does, and the conversion truncates as Python's int() does.
func resizedSize(width, height, size int) (int, int) {
	short, long := width, height
	if width > height {
		short, long = height, width
	}
	newLong := int(float64(size*long) / float64(short))
	if width <= height {
		return size, newLong
	}
	return newLong, size
}

// centerCrop is torchvision's center_crop along one side of length n, cropped to c: where n < c, the
// side is padded with (c-n)/2 pixels before (the rest after) and kept whole; otherwise the crop starts at
// int(round((n - c) / 2.0)), Python's round, which rounds halves to even. It returns the first pixel of
// the side kept, the padding before it, and the number kept.
func centerCrop(n, c int) (start, pad, kept int) {
	if n < c {
		return 0, (c - n) / 2, n
	}
	return int(math.RoundToEven(float64(n-c) / 2)), 0, c
}

// table returns each channel's normalized value of every 8-bit level, computed with the same float32
// operations as ToTensor (v/255), then Normalize ((x-mean)/std).
func (n Normalization) table() *[3][256]float32 {
	var t [3][256]float32
	for c := range 3 {
		for v := range 256 {
			t[c][v] = (float32(v)/255 - n.Mean[c]) / n.Std[c]
		}
	}
	return &t
}

// Load decodes and transforms the image file at path into a new Size*Size*NumChannels slice.
func (t Transform) Load(path string) ([]float32, error) {
	dst := make([]float32, t.Size*t.Size*t.NumChannels())
	return dst, t.LoadInto(path, dst)
}

// LoadInto decodes and transforms the image file at path into dst (Size*Size*NumChannels float32), as
// Decode does its content.
func (t Transform) LoadInto(path string, dst []float32) error {
	return rgb.DecodeFileWith(path, func(content []byte) error { return t.Decode(content, dst) })
}

// Decode decodes an encoded image (up to MaxPixels) and writes its transform into dst
// (Size*Size*NumChannels float32): RGB images (rgb.Decode) with Apply, other channel counts read as
// rgb.DecodeBands reads them (Pillow's "L", "LA", "RGBA") with ApplyBands. LoadInto reads files through
// it, so predict, eval and serve convert an image alike.
func (t Transform) Decode(content []byte, dst []float32) error {
	_, err := t.decode(content, dst, false)
	return err
}

// DecodeShown is Decode, and returns the decoded image, before resizing, as the model reads it, in RGB to
// be shown: the image itself for three channels, otherwise its bands' (rgb.Bands.RGB: gray for one or two
// channels; alpha dropped).
func (t Transform) DecodeShown(content []byte, dst []float32) (*rgb.Image, error) {
	return t.decode(content, dst, true)
}

// decode is Decode, returning the image shown when shown is set (nil otherwise).
func (t Transform) decode(content []byte, dst []float32, shown bool) (*rgb.Image, error) {
	if c := t.NumChannels(); c != 3 {
		b, err := rgb.DecodeBands(content, t.MaxPixels, c)
		if err != nil {
			return nil, err
		}
		t.ApplyBands(b, dst)
		if !shown {
			return nil, nil
		}
		return b.RGB(), nil
	}
	img, err := rgb.Decode(content, t.MaxPixels)
	if err != nil {
		return nil, err
	}
	t.Apply(img, dst)
	return img, nil
}
