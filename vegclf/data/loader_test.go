package data

import (
	"image/color"
	"path/filepath"
	"slices"
	"testing"
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
	l := &Loader{Samples: []Sample{{p, 0}}, Transform: Transform{Size: 8, Normalization: HalfNormalization}, BatchSize: 1, Cache: cache}
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
