package data

import (
	"image/color"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
)

func gradientImage(w, h int) *RGB {
	img := &RGB{Width: w, Height: h, Pix: make([]uint8, w*h*3)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y*w + x) * 3
			img.Pix[i], img.Pix[i+1], img.Pix[i+2] = uint8(x*255/w), uint8(y*255/h), uint8((x+y)%256)
		}
	}
	return img
}

func TestAugmentationPieces(t *testing.T) {
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
	DefaultAugmentation().Apply(img, rng)
	if !slices.Equal(before, img.Pix) {
		t.Error("Apply modified its input")
	}
}

func TestLoaderAugmentationIsSeeded(t *testing.T) {
	root := t.TempDir()
	var samples []Sample
	for i := 0; i < 3; i++ {
		p := filepath.Join(root, string(rune('a'+i))+".png")
		writePNG(t, p, color.NRGBA{uint8(60 * i), 100, 200, 255})
		samples = append(samples, Sample{Path: p})
	}
	// A gradient image, so crops and flips show.
	tf := Transform{Size: 8, Normalization: HalfNormalization}
	l := &Loader{Samples: samples, Transform: tf, BatchSize: 3, Seed: 5, Augment: &Augmentation{ResizedCrop: true, HFlip: true, Rotation: 20, Brightness: 0.5}}
	epoch := func(e int) []float32 {
		for b, err := range l.Epoch(e) {
			if err != nil {
				t.Fatal(err)
			}
			return b.Pixels
		}
		return nil
	}
	if !slices.Equal(epoch(1), epoch(1)) {
		t.Error("the same seed and epoch gave different augmented images")
	}
	if slices.Equal(epoch(1), epoch(2)) {
		t.Error("two epochs gave the same augmented images")
	}
	l.Augment = nil
	plain := epoch(1)
	want, _ := tf.Load(samples[0].Path)
	if !slices.Equal(plain[:len(want)], want) {
		t.Error("without augmentation the loader's image differs from the transform's")
	}
}
