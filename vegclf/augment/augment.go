// Package augment randomizes training images: crops, flips, rotations and colour jitter on decoded images
// (Policy), and mixup and cutmix on batches (Mix).
package augment

import (
	"math"
	"math/rand/v2"

	"github.com/vegclf/vegclf/vegclf/rgb"
)

// Policy randomizes training images, as torchvision's RandomResizedCrop, RandomHorizontalFlip,
// RandomRotation and ColorJitter do. Each image's randomness comes from the loader's seed, the epoch and
// the image's index, so a run is reproducible and a resumed run sees the same images.
type Policy struct {
	ResizedCrop bool    // Crop a random area (MinScale to 100% of the image, aspect 3/4 to 4/3) before resizing.
	MinScale    float64 // Smallest crop area fraction; 0 means torchvision's 0.08.
	HFlip       bool    // Mirror half of the images.
	Rotation    float64 // Rotate by up to this many degrees either way (0: off).
	Brightness  float64 // Scale brightness by a factor in [1-b, 1+b] (0: off).
	Contrast    float64 // Scale contrast around the mean gray by a factor in [1-c, 1+c] (0: off).
	Saturation  float64 // Scale saturation by a factor in [1-s, 1+s] (0: off).
}

// Default is a common fine-tuning recipe: crop, flip, a small rotation, mild colour jitter.
func Default() *Policy {
	return &Policy{ResizedCrop: true, MinScale: 0.35, HFlip: true, Rotation: 10, Brightness: 0.2, Contrast: 0.2, Saturation: 0.2}
}

// Apply returns a randomized copy of img.
func (a *Policy) Apply(img *rgb.Image, rng *rand.Rand) *rgb.Image {
	out := img
	if a.ResizedCrop {
		out = randomCrop(out, a.MinScale, rng)
	}
	if a.HFlip && rng.IntN(2) == 1 {
		out = flip(out)
	}
	if a.Rotation > 0 {
		out = rotate(out, (rng.Float64()*2-1)*a.Rotation*math.Pi/180)
	}
	if a.Brightness > 0 || a.Contrast > 0 || a.Saturation > 0 {
		out = jitter(out, factor(a.Brightness, rng), factor(a.Contrast, rng), factor(a.Saturation, rng))
	}
	if out == img {
		out = &rgb.Image{Width: img.Width, Height: img.Height, Pix: append([]uint8(nil), img.Pix...)}
	}
	return out
}

func factor(amount float64, rng *rand.Rand) float64 {
	if amount <= 0 {
		return 1
	}
	return 1 + (rng.Float64()*2-1)*amount
}

// randomCrop is torchvision's RandomResizedCrop area choice: up to 10 tries of a random area and aspect
// ratio that fits, else the central crop.
func randomCrop(img *rgb.Image, minScale float64, rng *rand.Rand) *rgb.Image {
	if minScale <= 0 {
		minScale = 0.08
	}
	area := float64(img.Width * img.Height)
	for range 10 {
		target := area * (minScale + rng.Float64()*(1-minScale))
		ratio := math.Exp(math.Log(3.0/4) + rng.Float64()*(math.Log(4.0/3)-math.Log(3.0/4)))
		w := int(math.Round(math.Sqrt(target * ratio)))
		h := int(math.Round(math.Sqrt(target / ratio)))
		if w > 0 && h > 0 && w <= img.Width && h <= img.Height {
			x0, y0 := rng.IntN(img.Width-w+1), rng.IntN(img.Height-h+1)
			return crop(img, x0, y0, w, h)
		}
	}
	side := min(img.Width, img.Height)
	return crop(img, (img.Width-side)/2, (img.Height-side)/2, side, side)
}

func crop(img *rgb.Image, x0, y0, w, h int) *rgb.Image {
	out := &rgb.Image{Width: w, Height: h, Pix: make([]uint8, w*h*3)}
	for y := 0; y < h; y++ {
		copy(out.Pix[y*w*3:(y+1)*w*3], img.Pix[((y0+y)*img.Width+x0)*3:((y0+y)*img.Width+x0+w)*3])
	}
	return out
}

func flip(img *rgb.Image) *rgb.Image {
	out := &rgb.Image{Width: img.Width, Height: img.Height, Pix: make([]uint8, len(img.Pix))}
	for y := 0; y < img.Height; y++ {
		for x := 0; x < img.Width; x++ {
			copy(out.Pix[(y*img.Width+x)*3:], img.Pix[(y*img.Width+img.Width-1-x)*3:(y*img.Width+img.Width-x)*3])
		}
	}
	return out
}

// rotate turns the image by angle radians around its center (nearest neighbour), filling with black as
// torchvision does.
func rotate(img *rgb.Image, angle float64) *rgb.Image {
	out := &rgb.Image{Width: img.Width, Height: img.Height, Pix: make([]uint8, len(img.Pix))}
	cx, cy := float64(img.Width)/2, float64(img.Height)/2
	cos, sin := math.Cos(angle), math.Sin(angle)
	for y := 0; y < img.Height; y++ {
		for x := 0; x < img.Width; x++ {
			dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
			sx := int(math.Floor(cos*dx + sin*dy + cx))
			sy := int(math.Floor(-sin*dx + cos*dy + cy))
			if sx >= 0 && sx < img.Width && sy >= 0 && sy < img.Height {
				copy(out.Pix[(y*img.Width+x)*3:], img.Pix[(sy*img.Width+sx)*3:(sy*img.Width+sx)*3+3])
			}
		}
	}
	return out
}

// jitter scales brightness, contrast (around the mean gray) and saturation (around each pixel's gray).
func jitter(img *rgb.Image, brightness, contrast, saturation float64) *rgb.Image {
	out := &rgb.Image{Width: img.Width, Height: img.Height, Pix: make([]uint8, len(img.Pix))}
	gray := func(p []uint8) float64 { return 0.299*float64(p[0]) + 0.587*float64(p[1]) + 0.114*float64(p[2]) }
	var mean float64
	for i := 0; i < len(img.Pix); i += 3 {
		mean += gray(img.Pix[i : i+3])
	}
	mean = mean / float64(len(img.Pix)/3) * brightness
	for i := 0; i < len(img.Pix); i += 3 {
		var c [3]float64
		for k := range c {
			c[k] = float64(img.Pix[i+k]) * brightness
		}
		g := 0.299*c[0] + 0.587*c[1] + 0.114*c[2]
		for k := range c {
			v := g + (c[k]-g)*saturation
			v = mean + (v-mean)*contrast
			out.Pix[i+k] = uint8(math.Max(0, math.Min(255, math.Round(v))))
		}
	}
	return out
}
