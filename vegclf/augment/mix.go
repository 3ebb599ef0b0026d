package augment

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Mix blends the images of a batch in pairs, as timm's Mixup does in its "batch" mode: image i is paired
// with image B-1-i (the batch reversed), one mixing weight is drawn per batch, and the labels become soft
// targets weighted as the pixels are. Mixup blends whole images; cutmix pastes a box of the partner
// image and weights the labels by the box's area.
type Mix struct {
	Mixup  float64 // Mixup's Beta(a, a) parameter (timm's mixup_alpha, 0.8 there); 0: off.
	Cutmix float64 // Cutmix's Beta(a, a) parameter (timm's cutmix_alpha, 1.0 there); 0: off.
	// SwitchProb is the probability of cutmix for a batch when both are on (timm's switch_prob);
	// 0 means 0.5.
	SwitchProb float64
}

// Mixed is one batch after Mix.
type Mixed struct {
	Pixels  []float32 // [B,H,W,C] images, blended.
	Targets []float32 // [B,N] soft targets: each row sums to 1.
	Lambda  float64   // Weight of each image's own label; the partner's is 1-Lambda.
	Cutmix  bool      // Whether the batch was cut-mixed (else mixed up).
	Box     [4]int    // Cutmix's pasted box: y0, y1, x0, x1 (half-open).
}

// Validate checks the parameters.
func (m *Mix) Validate() error {
	if m.Mixup < 0 || m.Cutmix < 0 || math.IsNaN(m.Mixup) || math.IsNaN(m.Cutmix) {
		return fmt.Errorf("mix: mixup %g and cutmix %g must be positive, or 0 for off", m.Mixup, m.Cutmix)
	}
	if m.SwitchProb < 0 || m.SwitchProb > 1 {
		return fmt.Errorf("mix: switch probability %g is not in [0, 1]", m.SwitchProb)
	}
	return nil
}

// Enabled reports whether the mix changes batches.
func (m *Mix) Enabled() bool { return m != nil && (m.Mixup > 0 || m.Cutmix > 0) }

// Apply mixes a batch of images (flat [B,H,W,C] pixels) with labels in [0, numClasses), drawing from
// rng. The input is not changed.
func (m *Mix) Apply(pixels []float32, labels []int32, height, width, numClasses int, rng *rand.Rand) (*Mixed, error) {
	batch := len(labels)
	if batch == 0 || height <= 0 || width <= 0 || len(pixels)%(batch*height*width) != 0 {
		return nil, fmt.Errorf("mix: %d pixels do not make %d images of %dx%d", len(pixels), batch, height, width)
	}
	channels := len(pixels) / (batch * height * width)
	for _, l := range labels {
		if l < 0 || int(l) >= numClasses {
			return nil, fmt.Errorf("mix: label %d out of range [0, %d)", l, numClasses)
		}
	}
	out := &Mixed{Pixels: append([]float32(nil), pixels...), Lambda: 1}
	useCutmix := m.Cutmix > 0
	if m.Mixup > 0 && m.Cutmix > 0 {
		p := m.SwitchProb
		if p == 0 {
			p = 0.5
		}
		useCutmix = rng.Float64() < p
	}
	imageSize := height * width * channels
	switch {
	case useCutmix:
		lam := Beta(rng, m.Cutmix, m.Cutmix)
		out.Cutmix = true
		out.Box = cutBox(height, width, lam, rng)
		y0, y1, x0, x1 := out.Box[0], out.Box[1], out.Box[2], out.Box[3]
		for i := 0; i < batch; i++ {
			dst, src := out.Pixels[i*imageSize:], pixels[(batch-1-i)*imageSize:]
			for y := y0; y < y1; y++ {
				row := (y*width + x0) * channels
				copy(dst[row:row+(x1-x0)*channels], src[row:row+(x1-x0)*channels])
			}
		}
		out.Lambda = 1 - float64((y1-y0)*(x1-x0))/float64(height*width)
	case m.Mixup > 0:
		lam := Beta(rng, m.Mixup, m.Mixup)
		out.Lambda = lam
		a, b := float32(lam), float32(1-lam)
		for i := 0; i < batch; i++ {
			dst, own, other := out.Pixels[i*imageSize:(i+1)*imageSize], pixels[i*imageSize:], pixels[(batch-1-i)*imageSize:]
			for j := range dst {
				dst[j] = a*own[j] + b*other[j]
			}
		}
	}
	out.Targets = make([]float32, batch*numClasses)
	for i, l := range labels {
		out.Targets[i*numClasses+int(l)] += float32(out.Lambda)
		out.Targets[i*numClasses+int(labels[batch-1-i])] += float32(1 - out.Lambda)
	}
	return out, nil
}

// cutBox is timm's rand_bbox: a box of relative side sqrt(1-lam) centred at a uniform point, clipped to
// the image.
func cutBox(height, width int, lam float64, rng *rand.Rand) [4]int {
	ratio := math.Sqrt(1 - lam)
	ch, cw := int(float64(height)*ratio), int(float64(width)*ratio)
	cy, cx := rng.IntN(height), rng.IntN(width)
	return [4]int{max(cy-ch/2, 0), min(cy+ch/2, height), max(cx-cw/2, 0), min(cx+cw/2, width)}
}

// Beta draws from the Beta(a, b) distribution (a, b > 0), as the ratio of two Gamma draws.
func Beta(rng *rand.Rand, a, b float64) float64 {
	x, y := gamma(rng, a), gamma(rng, b)
	if x+y == 0 {
		return 0.5
	}
	return x / (x + y)
}

// gamma draws from Gamma(shape, 1) by Marsaglia and Tsang's method, boosting shapes below 1.
func gamma(rng *rand.Rand, shape float64) float64 {
	if shape < 1 {
		return gamma(rng, shape+1) * math.Pow(rng.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}
