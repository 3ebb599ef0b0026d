package augment

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestParseAutoPolicy(t *testing.T) {
	for text, want := range map[string]AutoPolicy{
		"":                 {},
		"none":             {},
		"trivialaugment":   {Kind: TrivialAugment},
		"TrivialAugment":   {Kind: TrivialAugment},
		"randaugment":      {Kind: RandAugment, NumOps: 2, Magnitude: 9},
		"randaugment:3:15": {Kind: RandAugment, NumOps: 3, Magnitude: 15},
		"randaugment:1:0":  {Kind: RandAugment, NumOps: 1, Magnitude: 0},
		"randaugment:2:30": {Kind: RandAugment, NumOps: 2, Magnitude: 30},
	} {
		got, err := ParseAutoPolicy(text)
		if err != nil || got != want {
			t.Errorf("ParseAutoPolicy(%q) = %+v, %v; want %+v", text, got, err, want)
		}
		if again, err := ParseAutoPolicy(got.String()); err != nil || again != got {
			t.Errorf("%q does not read back: %+v, %v", got.String(), again, err)
		}
	}
	for _, bad := range []string{"autoaugment", "randaugment:0:9", "randaugment:2:31", "randaugment:2:-1", "randaugment:2", "randaugment:2:9x", "trivialaugment:1"} {
		if _, err := ParseAutoPolicy(bad); err == nil {
			t.Errorf("ParseAutoPolicy(%q) is accepted", bad)
		}
	}
}

// TestPolicyDraws draws 20000 times from each policy on a 64x48 image and checks that the draws are
// torchvision's: every one of the 14 operations drawn, each within 10% of 1/14 of the operations; the
// magnitudes exactly bin values of the operation (TrivialAugment: every bin drawn; RandAugment: always
// bin Magnitude), negated about half the time for the signed operations (45% to 55%) and never for the
// others; RandAugment's NumOps operations per image. The same seed gives the same draws and images.
func TestPolicyDraws(t *testing.T) {
	const draws, w, h = 20000, 64, 48
	for _, p := range []AutoPolicy{{Kind: TrivialAugment}, {Kind: RandAugment, NumOps: 2, Magnitude: 9}, {Kind: RandAugment, NumOps: 3, Magnitude: 30}} {
		rng := rand.New(rand.NewPCG(7, 8))
		count := map[Op]int{}
		negative := map[Op]int{}
		binsSeen := map[Op]map[int]bool{}
		total := 0
		for range draws {
			ds := p.Draw(w, h, rng)
			want := 1
			if p.Kind == RandAugment {
				want = p.NumOps
			}
			if len(ds) != want {
				t.Fatalf("%s drew %d operations, want %d", p, len(ds), want)
			}
			for _, d := range ds {
				total++
				count[d.Op]++
				bins, signed := p.Bins(d.Op, w, h)
				if d.Magnitude < 0 || (d.Magnitude == 0 && math.Signbit(d.Magnitude)) {
					if !signed {
						t.Fatalf("%s: %s's magnitude %v is negative", p, d.Op, d.Magnitude)
					}
					negative[d.Op]++
				}
				if bins == nil {
					if d.Magnitude != 0 {
						t.Fatalf("%s: %s has magnitude %v, want none", p, d.Op, d.Magnitude)
					}
					continue
				}
				i := slices.Index(bins, float32(math.Abs(d.Magnitude)))
				if i < 0 || float64(bins[i]) != math.Abs(d.Magnitude) {
					t.Fatalf("%s: %s's magnitude %v is not one of its bins %v", p, d.Op, d.Magnitude, bins)
				}
				if p.Kind == RandAugment && i != p.Magnitude && bins[i] != bins[p.Magnitude] {
					t.Fatalf("%s: %s's magnitude is bin %d, want %d", p, d.Op, i, p.Magnitude)
				}
				if binsSeen[d.Op] == nil {
					binsSeen[d.Op] = map[int]bool{}
				}
				binsSeen[d.Op][i] = true
			}
		}
		for _, op := range Ops() {
			share := float64(count[op]) / float64(total)
			if math.Abs(share*float64(numOps)-1) > 0.1 {
				t.Errorf("%s: %s drawn %d of %d times (%.4f, want 1/14 = %.4f)", p, op, count[op], total, share, 1/float64(numOps))
			}
			bins, signed := p.Bins(op, w, h)
			if signed {
				if f := float64(negative[op]) / float64(count[op]); f < 0.45 || f > 0.55 {
					t.Errorf("%s: %s negated %.3f of the time, want 1/2", p, op, f)
				}
			}
			if p.Kind == TrivialAugment && bins != nil {
				// Posterize's 31 bins hold 7 values, which slices.Index finds at their first bin.
				distinct := map[float32]bool{}
				for _, b := range bins {
					distinct[b] = true
				}
				if len(binsSeen[op]) != len(distinct) {
					t.Errorf("%s: %s drew %d of its %d magnitudes", p, op, len(binsSeen[op]), len(distinct))
				}
			}
		}
		t.Logf("%s: operations drawn %v times each (of %d)", p, count, total)
	}

	img := textureImage(40, 30, 3)
	for _, p := range []AutoPolicy{{Kind: TrivialAugment}, {Kind: RandAugment, NumOps: 2, Magnitude: 9}} {
		a := p.Apply(img, rand.New(rand.NewPCG(1, 2)))
		b := p.Apply(img, rand.New(rand.NewPCG(1, 2)))
		if !slices.Equal(a.Pix, b.Pix) {
			t.Errorf("%s: the same seed gave different images", p)
		}
		differ := 0
		for s := range uint64(20) {
			if c := p.Apply(img, rand.New(rand.NewPCG(s, 3))); !slices.Equal(c.Pix, a.Pix) {
				differ++
			}
		}
		if differ < 10 {
			t.Errorf("%s: only %d of 20 seeds gave another image", p, differ)
		}
	}
}

// TestErasing draws 20000 times with p 0.25 on a 64x48 image: the share erased is within 0.235 to 0.265
// (p = 0.25, about 5 standard deviations); each rectangle lies inside the image, its area within 2% and 33%
// of the image's and its aspect ratio (height/width) within 0.3 and 3.3, up to the rounding of its sides
// to whole pixels; and the erased values are 0 in every channel, the others kept.
func TestErasing(t *testing.T) {
	const n, w, h = 20000, 64, 48
	e := Erasing{P: 0.25}
	rng := rand.New(rand.NewPCG(11, 12))
	erased := 0
	minArea, maxArea, minRatio, maxRatio := 1.0, 0.0, 100.0, 0.0
	for range n {
		r, ok := e.Draw(w, h, rng)
		if !ok {
			continue
		}
		erased++
		if r.X < 0 || r.Y < 0 || r.W < 1 || r.H < 1 || r.X+r.W > w || r.Y+r.H > h {
			t.Fatalf("rectangle %+v outside the %dx%d image", r, w, h)
		}
		// The sides are rounded: the drawn area and ratio lie between those of sides 1/2 pixel shorter
		// and longer.
		lo := (float64(r.W) - 0.5) * (float64(r.H) - 0.5) / (w * h)
		hi := (float64(r.W) + 0.5) * (float64(r.H) + 0.5) / (w * h)
		if hi < erasingMinScale || lo > erasingMaxScale {
			t.Fatalf("rectangle %+v covers %.3f..%.3f of the image, outside [0.02, 0.33]", r, lo, hi)
		}
		if (float64(r.H)+0.5)/(float64(r.W)-0.5) < erasingMinRatio || (float64(r.H)-0.5)/(float64(r.W)+0.5) > erasingMaxRatio {
			t.Fatalf("rectangle %+v has aspect ratio %.3f, outside [0.3, 3.3]", r, float64(r.H)/float64(r.W))
		}
		area := float64(r.W*r.H) / (w * h)
		minArea, maxArea = min(minArea, area), max(maxArea, area)
		ratio := float64(r.H) / float64(r.W)
		minRatio, maxRatio = min(minRatio, ratio), max(maxRatio, ratio)
	}
	if f := float64(erased) / n; f < 0.235 || f > 0.265 {
		t.Errorf("erased %.4f of the images, want p = 0.25", f)
	}
	// The bounds are reached, not just respected: areas from near 2% to near 33%, ratios from near 0.3 to
	// near 3.3.
	if minArea > 0.03 || maxArea < 0.3 || minRatio > 0.4 || maxRatio < 2.8 {
		t.Errorf("areas %.3f..%.3f and ratios %.2f..%.2f do not span the defaults' ranges", minArea, maxArea, minRatio, maxRatio)
	}
	t.Logf("erased %d of %d; areas %.3f..%.3f, ratios %.2f..%.2f", erased, n, minArea, maxArea, minRatio, maxRatio)

	if _, ok := (Erasing{P: 0}).Draw(w, h, rng); ok {
		t.Error("p 0 erased")
	}
	const c = 4
	pix := make([]float32, w*h*c)
	for i := range pix {
		pix[i] = float32(i%7) - 2.5
	}
	before := slices.Clone(pix)
	r, ok := Erasing{P: 1}.Apply(pix, w, h, c, rand.New(rand.NewPCG(1, 1)))
	if !ok {
		t.Fatal("p 1 kept the image")
	}
	for y := range h {
		for x := range w {
			inside := x >= r.X && x < r.X+r.W && y >= r.Y && y < r.Y+r.H
			for k := range c {
				i := (y*w+x)*c + k
				if inside && pix[i] != 0 || !inside && pix[i] != before[i] {
					t.Fatalf("pixel (%d,%d) channel %d: %v (was %v), rectangle %+v", x, y, k, pix[i], before[i], r)
				}
			}
		}
	}
}
