package data

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/synthveg"
)

// TestLoadDatasetCarvesATestSplit loads generated data without a test split: a seeded part of each class of
// train becomes the test split, the same on every load, no image in both; a per-class limit keeps that many
// images of each class, a seeded sample, before carving.
func TestLoadDatasetCarvesATestSplit(t *testing.T) {
	root := filepath.Join(t.TempDir(), "data")
	if _, err := synthveg.Generate(root, synthveg.Options{Classes: 2, Train: 10, Size: 32, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	o := DatasetOptions{TestFraction: 0.3, Seed: 4}
	load := func(o DatasetOptions) *Dataset {
		t.Helper()
		ds, err := LoadDataset(root, o)
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	a := load(o)
	if !a.TestCarved || len(a.Test.Samples) != 6 || len(a.Train.Samples) != 14 || a.Validation != nil || a.HeldOut() != a.Test {
		t.Fatalf("carved: %d train, %d test, validation %v", len(a.Train.Samples), len(a.Test.Samples), a.Validation)
	}
	if got := a.Test.Counts(2); !slices.Equal(got, []int{3, 3}) {
		t.Errorf("test images per class %v, want 3 of each", got)
	}
	if b := load(o); !reflect.DeepEqual(a.Test.Samples, b.Test.Samples) {
		t.Error("carving is not deterministic")
	}
	for _, s := range a.Test.Samples {
		if slices.ContainsFunc(a.Train.Samples, func(x Sample) bool { return x.Path == s.Path }) {
			t.Errorf("%s is in both splits", s.Path)
		}
	}
	o.Seed = 5
	if c := load(o); reflect.DeepEqual(a.Test.Samples, c.Test.Samples) {
		t.Error("another seed carved the same test split")
	}
	o.MaxPerClass = 4
	d := load(o)
	if got := append(d.Train.Counts(2), d.Test.Counts(2)...); !slices.Equal(got, []int{3, 3, 1, 1}) {
		t.Errorf("max 4 images per class: train and test per class %v, want [3 3 1 1]", got)
	}
}

// TestLoadDatasetUnreadable puts a file that is not an image among the training images: it is left out
// and listed, or, strict, refused naming the file.
func TestLoadDatasetUnreadable(t *testing.T) {
	root := filepath.Join(t.TempDir(), "data")
	if _, err := synthveg.Generate(root, synthveg.Options{Classes: 2, Train: 4, Test: 2, Size: 32, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(root, "train", "Carrot", "notes.jpg")
	if err := os.WriteFile(bad, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err := LoadDataset(root, DatasetOptions{TestFraction: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Skipped) != 1 || ds.Skipped[0].Path != bad || len(ds.Train.Samples) != 8 {
		t.Errorf("skipped %v, %d train images; want notes.jpg skipped and 8 left", ds.Skipped, len(ds.Train.Samples))
	}
	_, err = LoadDataset(root, DatasetOptions{TestFraction: 0.2, Strict: true})
	if err == nil || !strings.Contains(err.Error(), "notes.jpg") || !strings.Contains(err.Error(), "1 unreadable image files") {
		t.Errorf("strict: error %v, want one naming notes.jpg", err)
	}
}

func TestHeldOut(t *testing.T) {
	test, validation := &Split{Name: Test}, &Split{Name: Validation}
	if got := (&Dataset{Test: test, Validation: validation}).HeldOut(); got != validation {
		t.Errorf("with a validation split: %v", got.Name)
	}
	if got := (&Dataset{Test: test}).HeldOut(); got != test {
		t.Errorf("without one: %v", got.Name)
	}
}

// TestLoadDatasetOneClass refuses a dataset of one class, which would train to a meaningless 100% with a
// loss of 0, naming the folder (or the labels file).
func TestLoadDatasetOneClass(t *testing.T) {
	root := filepath.Join(t.TempDir(), "data")
	if _, err := synthveg.Generate(root, synthveg.Options{Classes: 1, Train: 4, Size: 32, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := LoadDataset(root, DatasetOptions{TestFraction: 0.2})
	if err == nil || !strings.Contains(err.Error(), "needs at least two classes") || !strings.Contains(err.Error(), filepath.Join(root, "train")+" has 1 (Bean)") {
		t.Errorf("one class folder: error %v", err)
	}
	images, _ := filepath.Glob(filepath.Join(root, "train", "Bean", "*.jpg"))
	csv := filepath.Join(root, "labels.csv")
	if err := os.WriteFile(csv, []byte(images[0]+",bean\n"+images[1]+",bean\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadDataset("", DatasetOptions{TestFraction: 0.5, Labels: csv})
	if err == nil || !strings.Contains(err.Error(), "needs at least two classes") || !strings.Contains(err.Error(), csv+" has 1 (bean)") {
		t.Errorf("one label: error %v", err)
	}
}
