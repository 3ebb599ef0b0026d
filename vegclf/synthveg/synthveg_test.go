package synthveg

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/rgb"
)

func TestGenerateIsAnImageFolder(t *testing.T) {
	root := t.TempDir()
	n, err := Generate(root, Options{Classes: 3, Train: 4, Test: 2, Validation: 1, Size: 40, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3*(4+2+1) {
		t.Errorf("wrote %d images", n)
	}
	f, err := data.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Classes, []string{"Bean", "Carrot", "Eggplant"}) {
		t.Errorf("classes %v", f.Classes)
	}
	for name, want := range map[string]int{data.Train: 4, data.Test: 2, data.Validation: 1} {
		s, err := f.Split(name)
		if err != nil {
			t.Fatal(err)
		}
		if c := s.Counts(3); !slices.Equal(c, []int{want, want, want}) {
			t.Errorf("%s counts %v", name, c)
		}
		img, err := rgb.DecodeFile(s.Samples[0].Path, 0)
		if err != nil || img.Width != 40 || img.Height != 40 {
			t.Errorf("%s: %v %v", filepath.Base(s.Samples[0].Path), img, err)
		}
	}
	// The same seed draws the same images.
	again := t.TempDir()
	Generate(again, Options{Classes: 3, Train: 4, Test: 2, Validation: 1, Size: 40, Seed: 1})
	a, errA := rgb.DecodeFile(filepath.Join(root, "train", "Carrot", "0003.jpg"), 0)
	b, errB := rgb.DecodeFile(filepath.Join(again, "train", "Carrot", "0003.jpg"), 0)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if !slices.Equal(a.Pix, b.Pix) {
		t.Error("the same seed drew different images")
	}
	if _, err := Generate(root, Options{Classes: 99, Size: 40}); err == nil {
		t.Error("too many classes should be an error")
	}
}
