package augment

import (
	"math"
	"math/rand/v2"
)

// Erasing is torchvision 0.14's RandomErasing(p=P) with its defaults: with probability P, a rectangle of
// 2% to 33% of the image's area, of aspect ratio (height/width) 0.3 to 3.3 drawn log-uniformly, is set to
// 0 in every channel of the normalized image (torchvision applies it after Normalize). Up to 10 draws
// look for a rectangle that fits, as torchvision's do; with none the image is kept.
type Erasing struct {
	P float64 // Probability of erasing an image (0: off).
}

// The defaults of torchvision's RandomErasing.
const (
	erasingMinScale = 0.02
	erasingMaxScale = 0.33
	erasingMinRatio = 0.3
	erasingMaxRatio = 3.3
)

// Rect is the rectangle Erasing draws: its top-left pixel and size.
type Rect struct{ X, Y, W, H int }

// Draw returns the rectangle to erase in a width x height image, or false when the image is kept (with
// probability 1-P, or when no draw fits).
func (e Erasing) Draw(width, height int, rng *rand.Rand) (Rect, bool) {
	if !(rng.Float64() < e.P) {
		return Rect{}, false
	}
	area := float64(width * height)
	logLo, logHi := math.Log(erasingMinRatio), math.Log(erasingMaxRatio)
	for range 10 {
		target := area * (erasingMinScale + rng.Float64()*(erasingMaxScale-erasingMinScale))
		ratio := math.Exp(logLo + rng.Float64()*(logHi-logLo))
		h := int(math.RoundToEven(math.Sqrt(target * ratio)))
		w := int(math.RoundToEven(math.Sqrt(target / ratio)))
		if !(h < height && w < width) {
			continue
		}
		y, x := rng.IntN(height-h+1), rng.IntN(width-w+1)
		return Rect{X: x, Y: y, W: w, H: h}, true
	}
	return Rect{}, false
}

// Apply erases, in place, a rectangle Draw draws from the width x height image pix of channels channels
// (channels last), and returns it (false: the image is kept).
func (e Erasing) Apply(pix []float32, width, height, channels int, rng *rand.Rand) (Rect, bool) {
	r, ok := e.Draw(width, height, rng)
	if !ok {
		return r, false
	}
	for y := r.Y; y < r.Y+r.H; y++ {
		row := pix[(y*width+r.X)*channels : (y*width+r.X+r.W)*channels]
		clear(row)
	}
	return r, true
}
