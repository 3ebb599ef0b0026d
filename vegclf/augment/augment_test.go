package augment

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/vegclf/vegclf/vegclf/rgb"
)

func gradientImage(w, h int) *rgb.Image {
	img := rgb.New(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y*w + x) * 3
			img.Pix[i], img.Pix[i+1], img.Pix[i+2] = uint8(x*255/w), uint8(y*255/h), uint8((x+y)%256)
		}
	}
	return img
}

func TestPolicyPieces(t *testing.T) {
	img := gradientImage(30, 20)
	if f := flip(img); slices.Equal(f.Pix, img.Pix) || !slices.Equal(flip(f).Pix, img.Pix) || f.Pix[0] != img.Pix[29*3] {
		t.Error("flip is not a mirror image")
	}
	if r := rotate(img, 0); !slices.Equal(r.Pix, img.Pix) {
		t.Error("a rotation by 0 changed the image")
	}
	if j := jitter(img, 1, 1, 1); !slices.Equal(j.Pix, img.Pix) {
		t.Error("jitter with factors 1 changed the image")
	}
	if j := jitter(img, 0.5, 1, 1); j.Pix[3*10] >= img.Pix[3*10] && img.Pix[3*10] > 0 {
		t.Error("halving brightness did not darken")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		c := randomCrop(img, 0.08, rng)
		if c.Width < 1 || c.Height < 1 || c.Width > 30 || c.Height > 20 || len(c.Pix) != c.Width*c.Height*3 {
			t.Fatalf("crop %dx%d of a 30x20 image", c.Width, c.Height)
		}
	}
	// The original is never modified.
	before := slices.Clone(img.Pix)
	Default().Apply(img, rng)
	if !slices.Equal(before, img.Pix) {
		t.Error("Apply modified its input")
	}
}
