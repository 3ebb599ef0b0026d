package data

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vegclf/vegclf/vegclf/augment"
	"github.com/vegclf/vegclf/vegclf/rgb"
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

// TestLoaderPolicyAndErasing checks the automatic augmentation policy and random erasing in the loader:
// each image is the policy applied, with the draws of the seed's policy stream for its epoch and index,
// to the image resized as the transform resizes it, then normalized (torchvision's order: the policy on
// the resized PIL image); the same epoch gives the same images, another epoch others. Random erasing
// zeroes a rectangle of the normalized values, in grayscale images too, where the policy is refused.
func TestLoaderPolicyAndErasing(t *testing.T) {
	root := t.TempDir()
	var samples []Sample
	for i := range 4 {
		p := filepath.Join(root, string(rune('a'+i))+".png")
		writeGradientPNG(t, p, 40, 30, uint8(30*i))
		samples = append(samples, Sample{Path: p})
	}
	// Resize 20 and crop 16 of 40x30 images; Resized plus normalization is Apply, padding included.
	for _, tf := range []Transform{{Size: 16, Resize: 20, Normalization: ImageNetNormalization}, {Size: 24, Resize: 12, Normalization: HalfNormalization}} {
		want, err := tf.Load(samples[0].Path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := rgb.DecodeFile(samples[0].Path, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, len(want))
		tf.applyResized(tf.Resized(img), got)
		if !slices.Equal(got, want) {
			t.Errorf("Resized then normalized differs from Apply with %+v", tf)
		}
	}

	tf := Transform{Size: 16, Normalization: HalfNormalization}
	policy := augment.AutoPolicy{Kind: augment.TrivialAugment}
	l := &Loader{Samples: samples, Transform: tf, BatchSize: 4, Seed: 9, Policy: policy, Cache: NewImageCache(1 << 20)}
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
	first := epoch(3)
	if !slices.Equal(first, epoch(3)) {
		t.Error("the same seed and epoch gave different images")
	}
	if slices.Equal(first, epoch(4)) {
		t.Error("two epochs gave the same images")
	}
	if l.Cache.Len() != 0 {
		t.Error("augmented images went to the cache")
	}
	size := 16 * 16 * 3
	changed := 0
	for i, s := range samples {
		img, err := rgb.DecodeFile(s.Path, 0)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(l.Seed^policyStream, uint64(3)<<32|uint64(i)))
		want := make([]float32, size)
		tf.applyResized(policy.Apply(tf.Resized(img), rng), want)
		if !slices.Equal(first[i*size:(i+1)*size], want) {
			t.Errorf("image %d is not the policy's draw on the resized image", i)
		}
		plain, err := tf.Load(s.Path)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(plain, want) {
			changed++
		}
	}
	if changed == 0 {
		t.Error("the policy changed none of the images")
	}

	gray := Transform{Size: 16, Normalization: HalfNormalization, Channels: 1}
	l = &Loader{Samples: samples, Transform: gray, BatchSize: 4, Seed: 9, Erasing: augment.Erasing{P: 1}}
	erased := epoch(1)
	l.Erasing = augment.Erasing{}
	plain := epoch(1)
	for i := range samples {
		zeroed := 0
		for k := i * 256; k < (i+1)*256; k++ {
			if erased[k] != plain[k] {
				if erased[k] != 0 {
					t.Fatalf("image %d value %d: %v, neither %v nor erased", i, k, erased[k], plain[k])
				}
				zeroed++
			}
		}
		if zeroed < 256/50 {
			t.Errorf("image %d: %d of 256 values erased, want at least 2%%", i, zeroed)
		}
	}
	l.Policy = policy
	for _, err := range l.Epoch(1) {
		if err == nil {
			t.Error("a policy on grayscale images is accepted")
		}
	}
}

// TestLoaderEpochFrom checks that an epoch started at batch k yields what the whole epoch yields from its
// batch k on, augmented images and indices included, so a run resumed inside an epoch sees the same batches.
func TestLoaderEpochFrom(t *testing.T) {
	root := t.TempDir()
	var samples []Sample
	for i := range 7 {
		p := filepath.Join(root, string(rune('a'+i))+".png")
		writeGradientPNG(t, p, 32, 24, uint8(20*i))
		samples = append(samples, Sample{Path: p, Label: i % 2})
	}
	l := &Loader{Samples: samples, Transform: Transform{Size: 8, Normalization: HalfNormalization}, BatchSize: 2, Shuffle: true, Seed: 3,
		Augment: &augment.Policy{ResizedCrop: true, HFlip: true, Rotation: 20}}
	var all []*Batch
	for b, err := range l.Epoch(4) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b)
	}
	if len(all) != 4 {
		t.Fatalf("%d batches, want 4", len(all))
	}
	for _, first := range []int{0, 1, 3, 4} {
		var got []*Batch
		for b, err := range l.EpochFrom(4, first) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, b)
		}
		if len(got) != len(all)-first {
			t.Fatalf("from batch %d: %d batches, want %d", first, len(got), len(all)-first)
		}
		for i, b := range got {
			want := all[first+i]
			if b.Index != first+i || want.Index != first+i || !slices.Equal(b.Pixels, want.Pixels) || !slices.Equal(b.Labels, want.Labels) {
				t.Errorf("from batch %d: batch %d (index %d) differs from the whole epoch's", first, first+i, b.Index)
			}
		}
	}
}
