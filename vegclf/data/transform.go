package data

import (
	"encoding/json"
	"fmt"
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

// Transform turns a decoded image into the model's input: resize to Size x Size with Pillow's bilinear
// filter, scale to [0,1], normalize. It is the tutorial's
// Compose([Resize((size,size)), ToTensor(), Normalize(mean, std)]), with channels last.
type Transform struct {
	Size          int
	Normalization Normalization
	MaxPixels     int // Largest image accepted by the decoder; 0 means rgb.DefaultMaxPixels.
}

// Apply writes the transformed image into dst (Size*Size*3 float32, HWC order).
func (t Transform) Apply(img *rgb.Image, dst []float32) {
	resized := rgb.Resize(img, t.Size, t.Size)
	table := t.Normalization.table()
	for i := 0; i+2 < len(resized.Pix); i += 3 {
		px, out := resized.Pix[i:i+3], dst[i:i+3]
		out[0], out[1], out[2] = table[0][px[0]], table[1][px[1]], table[2][px[2]]
	}
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

// Load decodes and transforms the image file at path into a new Size*Size*3 slice.
func (t Transform) Load(path string) ([]float32, error) {
	img, err := rgb.DecodeFile(path, t.MaxPixels)
	if err != nil {
		return nil, err
	}
	dst := make([]float32, t.Size*t.Size*3)
	t.Apply(img, dst)
	return dst, nil
}
