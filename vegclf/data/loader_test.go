package data

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vegclf/vegclf/vegclf/augment"
)

func TestLoaderBatchesShuffleAndPartialBatch(t *testing.T) {
	root := t.TempDir()
	var samples []Sample
	for i := 0; i < 10; i++ {
		p := filepath.Join(root, string(rune('a'+i))+".png")
		writePNG(t, p, color.NRGBA{uint8(i * 20), 0, 0, 255})
		samples = append(samples, Sample{Path: p, Label: i % 3})
	}
	tf := Transform{Size: 4, Normalization: HalfNormalization}
	l := &Loader{Samples: samples, Transform: tf, BatchSize: 4, Shuffle: true, Seed: 42, Workers: 3}
	if l.NumBatches() != 3 {
		t.Fatalf("NumBatches = %d, want 3", l.NumBatches())
	}
	epochOrder := func(epoch int) []string {
		var paths []string
		var sizes []int
		for b, err := range l.Epoch(epoch) {
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, len(b.Labels))
			for i, p := range b.Paths {
				paths = append(paths, p)
				// Labels travel with their images; pixels are the image's red value normalized.
				idx := slices.IndexFunc(samples, func(s Sample) bool { return s.Path == p })
				if int(b.Labels[i]) != samples[idx].Label {
					t.Errorf("label of %s = %d, want %d", p, b.Labels[i], samples[idx].Label)
				}
				want := (float32(idx*20)/255 - 0.5) / 0.5
				if got := b.Pixels[i*48]; got != want {
					t.Errorf("pixel of %s = %v, want %v", p, got, want)
				}
			}
		}
		if !slices.Equal(sizes, []int{4, 4, 2}) {
			t.Errorf("batch sizes = %v, want [4 4 2] (last partial batch kept)", sizes)
		}
		return paths
	}
	e0, e0again, e1 := epochOrder(0), epochOrder(0), epochOrder(1)
	if !slices.Equal(e0, e0again) {
		t.Error("the same epoch and seed gave different orders")
	}
	if slices.Equal(e0, e1) {
		t.Error("epochs 0 and 1 have the same order")
	}
	sorted := slices.Clone(e0)
	slices.Sort(sorted)
	var all []string
	for _, s := range samples {
		all = append(all, s.Path)
	}
	if !slices.Equal(sorted, all) {
		t.Error("an epoch does not visit every sample exactly once")
	}
	l.Shuffle = false
	if got := epochOrder(3); !slices.Equal(got, all) {
		t.Error("without shuffle the order is not the samples' order")
	}
}

func TestLoaderCache(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "a.png")
	writePNG(t, p, color.NRGBA{10, 20, 30, 255})
	cache := NewImageCache(1 << 20)
	l := &Loader{Samples: []Sample{{Path: p, Label: 0}}, Transform: Transform{Size: 8, Normalization: HalfNormalization}, BatchSize: 1, Cache: cache}
	first, err := l.Batch([]int{0})
	if err != nil {
		t.Fatal(err)
	}
	if cache.Len() != 1 || cache.Bytes() != 8*8*3*4 {
		t.Fatalf("cache holds %d images, %d bytes", cache.Len(), cache.Bytes())
	}
	// Overwrite the file: a cached loader keeps serving the transformed image it already has.
	writePNG(t, p, color.NRGBA{200, 200, 200, 255})
	second, err := l.Batch([]int{0})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(first.Pixels, second.Pixels) {
		t.Error("cached image differs from the first load")
	}
}

// writeGradientPNG writes a w x h PNG whose colour changes along both axes, so crops, flips and rotations
// change it (a flat colour would hide them).
func writeGradientPNG(t *testing.T, path string, w, h int, shift uint8) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x*255/(w-1)) + shift, uint8(y * 255 / (h - 1)), uint8(x * y % 256), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoaderAugmentationIsSeeded augments gradient images: the same seed and epoch give the same images,
// another epoch others; a flip-only policy gives each image either as it is or mirrored, and both happen.
func TestLoaderAugmentationIsSeeded(t *testing.T) {
	root := t.TempDir()
	var samples []Sample
	for i := range 3 {
		p := filepath.Join(root, string(rune('a'+i))+".png")
		writeGradientPNG(t, p, 32, 24, uint8(20*i))
		samples = append(samples, Sample{Path: p})
	}
	tf := Transform{Size: 8, Normalization: HalfNormalization}
	l := &Loader{Samples: samples, Transform: tf, BatchSize: 3, Seed: 5, Augment: &augment.Policy{ResizedCrop: true, HFlip: true, Rotation: 20, Brightness: 0.5}}
	epoch := func(e int) []float32 {
		t.Helper()
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
	want, err := tf.Load(samples[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(plain[:len(want)], want) {
		t.Error("without augmentation the loader's image differs from the transform's")
	}
	mirror := func(img []float32) []float32 {
		out := make([]float32, len(img))
		for y := range 8 {
			for x := range 8 {
				copy(out[(y*8+x)*3:][:3], img[(y*8+7-x)*3:][:3])
			}
		}
		return out
	}
	size := 8 * 8 * 3
	flipped, kept := 0, 0
	for e := 1; e <= 6; e++ {
		l.Augment = &augment.Policy{HFlip: true}
		got := epoch(e)
		l.Augment = nil
		orig := epoch(e)
		for i := range 3 {
			g, o := got[i*size:][:size], orig[i*size:][:size]
			switch {
			case slices.Equal(g, o):
				kept++
			case slices.Equal(g, mirror(o)):
				flipped++
			default:
				t.Fatalf("epoch %d image %d is neither the image nor its mirror image", e, i)
			}
		}
	}
	if flipped == 0 || kept == 0 {
		t.Errorf("of 18 draws, %d flipped and %d kept: want some of each", flipped, kept)
	}
}
