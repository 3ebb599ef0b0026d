package augment

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"

	"github.com/vegclf/vegclf/vegclf/rgb"
)

// MagnitudeBins is the number of magnitudes each policy operation has, torchvision's default
// num_magnitude_bins.
const MagnitudeBins = 31

// AutoPolicy is an automatic augmentation policy, torchvision 0.14's TrivialAugmentWide or RandAugment
// with 31 magnitude bins, nearest-neighbour resampling and black fill, done on the host on each training
// image after the crop, flip and resize, before normalization. The zero value is off. It is written and
// parsed as text: "trivialaugment" or "randaugment:N:M".
type AutoPolicy struct {
	Kind      PolicyKind
	NumOps    int // RandAugment: operations applied in turn (torchvision's num_ops).
	Magnitude int // RandAugment: the magnitude bin of every operation, 0 to 30 (torchvision's magnitude).
}

// PolicyKind names an AutoPolicy's method.
type PolicyKind string

// The policies.
const (
	NoPolicy       PolicyKind = ""
	TrivialAugment PolicyKind = "trivialaugment" // TrivialAugmentWide: one operation, magnitude bin drawn uniformly.
	RandAugment    PolicyKind = "randaugment"    // RandAugment: NumOps operations at bin Magnitude.
)

// Enabled returns whether the policy is on.
func (p AutoPolicy) Enabled() bool { return p.Kind != NoPolicy }

// String writes the policy as ParseAutoPolicy reads it ("" when off).
func (p AutoPolicy) String() string {
	if p.Kind == RandAugment {
		return fmt.Sprintf("%s:%d:%d", p.Kind, p.NumOps, p.Magnitude)
	}
	return string(p.Kind)
}

// MarshalText writes the policy (String).
func (p AutoPolicy) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads a policy as ParseAutoPolicy does.
func (p *AutoPolicy) UnmarshalText(text []byte) error {
	v, err := ParseAutoPolicy(string(text))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// ParseAutoPolicy reads "trivialaugment", "randaugment:N:M" (N operations of at least 1, magnitude bin M
// from 0 to 30), "randaugment" alone for torchvision's defaults (2 operations at 9), or "" or "none" for
// off.
func ParseAutoPolicy(s string) (AutoPolicy, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "" || s == "none":
		return AutoPolicy{}, nil
	case s == string(TrivialAugment):
		return AutoPolicy{Kind: TrivialAugment}, nil
	case s == string(RandAugment):
		return AutoPolicy{Kind: RandAugment, NumOps: 2, Magnitude: 9}, nil
	case strings.HasPrefix(s, string(RandAugment)+":"):
		var n, m int
		var rest string
		if k, _ := fmt.Sscanf(s[len(RandAugment)+1:], "%d:%d%s", &n, &m, &rest); k == 2 && n >= 1 && m >= 0 && m < MagnitudeBins {
			return AutoPolicy{Kind: RandAugment, NumOps: n, Magnitude: m}, nil
		}
	}
	return AutoPolicy{}, fmt.Errorf("augmentation policy %q: want trivialaugment, randaugment:N:M (N operations of at least 1, magnitude M from 0 to %d) or none", s, MagnitudeBins-1)
}

// Validate checks the policy's values, as ParseAutoPolicy accepts them.
func (p AutoPolicy) Validate() error {
	switch {
	case p.Kind == NoPolicy && p == AutoPolicy{}, p.Kind == TrivialAugment && p == AutoPolicy{Kind: TrivialAugment}:
		return nil
	case p.Kind == RandAugment && p.NumOps >= 1 && p.Magnitude >= 0 && p.Magnitude < MagnitudeBins:
		return nil
	}
	return fmt.Errorf("augmentation policy %+v: want trivialaugment, randaugment with 1 or more operations at a magnitude bin from 0 to %d, or none", p, MagnitudeBins-1)
}

// Drawn is one operation a policy drew, with its signed magnitude.
type Drawn struct {
	Op        Op
	Magnitude float64
}

// Draw returns the operations the policy applies to a width x height image, drawn from rng as
// torchvision's do: an operation uniformly of the 14; TrivialAugment's magnitude a bin drawn uniformly,
// RandAugment's bin Magnitude; negated with probability 1/2 for the signed operations.
func (p AutoPolicy) Draw(width, height int, rng *rand.Rand) []Drawn {
	n := 0
	switch p.Kind {
	case TrivialAugment:
		n = 1
	case RandAugment:
		n = p.NumOps
	}
	drawn := make([]Drawn, n)
	for i := range drawn {
		op := Op(rng.IntN(int(numOps)))
		bins, signed := p.Bins(op, width, height)
		var m float64
		if bins != nil {
			if p.Kind == TrivialAugment {
				m = float64(bins[rng.IntN(len(bins))])
			} else {
				m = float64(bins[p.Magnitude])
			}
		}
		if signed && rng.IntN(2) == 1 {
			m = -m
		}
		drawn[i] = Drawn{Op: op, Magnitude: m}
	}
	return drawn
}

// Apply returns a new image: img with the operations the policy draws from rng (Draw).
func (p AutoPolicy) Apply(img *rgb.Image, rng *rand.Rand) *rgb.Image {
	out := img
	for _, d := range p.Draw(img.Width, img.Height, rng) {
		out = d.Op.Apply(out, d.Magnitude)
	}
	if out == img {
		out = Identity.Apply(img, 0)
	}
	return out
}

// Bins returns the magnitudes the policy's operation takes on a width x height image, torchvision's
// float32 values of its augmentation space (nil for the operations without one: Identity, AutoContrast
// and Equalize), and whether the operation's magnitude is signed.
func (p AutoPolicy) Bins(op Op, width, height int) ([]float32, bool) {
	wide := p.Kind == TrivialAugment
	pick := func(trivial, rand float32) float32 {
		if wide {
			return trivial
		}
		return rand
	}
	switch op {
	case ShearX, ShearY:
		return linspace(0, pick(0.99, 0.3), MagnitudeBins), true
	case TranslateX:
		return linspace(0, pick(32, float32(150.0/331.0*float64(width))), MagnitudeBins), true
	case TranslateY:
		return linspace(0, pick(32, float32(150.0/331.0*float64(height))), MagnitudeBins), true
	case Rotate:
		return linspace(0, pick(135, 30), MagnitudeBins), true
	case Brightness, Color, Contrast, Sharpness:
		return linspace(0, pick(0.99, 0.9), MagnitudeBins), true
	case Posterize:
		// 8 - round(i / ((bins-1)/levels)), levels 6 (TrivialAugmentWide: 8 down to 2 bits) or 4 (4 bits).
		levels := float32(pick(6, 4))
		bins := make([]float32, MagnitudeBins)
		for i := range bins {
			bins[i] = 8 - float32(math.RoundToEven(float64(float32(i)/(float32(MagnitudeBins-1)/levels))))
		}
		return bins, false
	case Solarize:
		return linspace(255, 0, MagnitudeBins), false
	}
	return nil, false
}

// linspace is torch.linspace(start, end, steps) in float32 as torch 1.13's CPU kernel computes it with
// AVX2, x86-64's usual capability: step = (end-start)/(steps-1); the points before the last multiple of
// 16 in vectors of 8, each vector from its first point, base = start + step*i (or end - step*(steps-1-i)
// past the half) with a fused multiply-add, its k-th point base + k*step (the product rounded, then
// added); the points after it one by one, start + step*i or end - step*(steps-1-i), past the half, each
// a fused multiply-add. (Equal to torch's on the policies' ranges and RandAugment's translations for
// sizes 16 to 399; other capabilities may round a point a float32 unit in the last place apart.)
func linspace(start, end float32, steps int) []float32 {
	out := make([]float32, steps)
	step := (end - start) / float32(steps-1)
	half := steps / 2
	point := func(i int) float32 {
		if i < half {
			return fma32(step, float32(i), start)
		}
		return fma32(-step, float32(steps-i-1), end)
	}
	vectors := steps / 16 * 16
	for i := range out {
		if i < vectors {
			k := i % 8
			out[i] = point(i-k) + float32(float32(k)*step)
		} else {
			out[i] = point(i)
		}
	}
	return out
}

// fma32 is a*b+c in float32 with a single rounding, C's fmaf.
func fma32(a, b, c float32) float32 {
	z := new(big.Float).SetPrec(128)
	z.Mul(big.NewFloat(float64(a)), big.NewFloat(float64(b)))
	z.Add(z, big.NewFloat(float64(c)))
	f, _ := z.Float32()
	return f
}
