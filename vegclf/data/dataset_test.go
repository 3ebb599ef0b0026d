package data

import (
	"fmt"
	"math"
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

// labelSetSplit returns a train split of multi-label samples: of each group, that many images with those
// labels (path "i.jpg", i in order).
func labelSetSplit(groups []struct {
	n      int
	labels []int
}) *Split {
	s := &Split{Name: Train, Dir: "d"}
	for _, g := range groups {
		for range g.n {
			s.Samples = append(s.Samples, Sample{Path: fmt.Sprintf("%d.jpg", len(s.Samples)), Label: g.labels[0], Labels: g.labels})
		}
	}
	return s
}

// isSubsequence reports whether sub's samples appear in all in the same order.
func isSubsequence(sub, all []Sample) bool {
	i := 0
	for _, x := range all {
		if i < len(sub) && reflect.DeepEqual(sub[i], x) {
			i++
		}
	}
	return i == len(sub)
}

// TestCarveLabelSets carves a test split from multi-label samples (no files: the splits as LoadDataset
// holds them) for ten seeds: every label with two images or more is in both splits, each label's test share
// is within one image of round(fraction*n), the splits part the samples in their order, and a seed carves
// the same split each time. Labels 2 and 3 only come with others (2 with 0, the most frequent), which a
// carve by each image's first label leaves out of test for some seed.
func TestCarveLabelSets(t *testing.T) {
	train := labelSetSplit([]struct {
		n      int
		labels []int
	}{{20, []int{0}}, {2, []int{0, 2}}, {8, []int{1}}, {3, []int{1, 3}}, {1, []int{3}}})
	counts := train.Counts(4)
	for seed := range uint64(10) {
		newTrain, test := carve(train, 4, 0.25, seed)
		if len(newTrain.Samples)+len(test.Samples) != len(train.Samples) || !isSubsequence(newTrain.Samples, train.Samples) ||
			!isSubsequence(test.Samples, train.Samples) {
			t.Fatalf("seed %d: %d train and %d test images do not part the %d in order", seed, len(newTrain.Samples), len(test.Samples), len(train.Samples))
		}
		inTrain, inTest := newTrain.Counts(4), test.Counts(4)
		for c, n := range counts {
			want := int(math.Round(0.25 * float64(n)))
			if n >= 2 && (inTrain[c] == 0 || inTest[c] == 0) || inTest[c] < want-1 || inTest[c] > max(want, 1)+1 {
				t.Errorf("seed %d: label %d (%d images): %d in train, %d in test, want about %d in test and some in each",
					seed, c, n, inTrain[c], inTest[c], want)
			}
		}
		if _, again := carve(train, 4, 0.25, seed); !reflect.DeepEqual(again.Samples, test.Samples) {
			t.Errorf("seed %d: carving is not deterministic", seed)
		}
	}
	if _, a := carve(train, 4, 0.25, 1); func() bool { _, b := carve(train, 4, 0.25, 2); return reflect.DeepEqual(a.Samples, b.Samples) }() {
		t.Error("another seed carved the same test split")
	}
}

// TestLimitPerLabel limits multi-label samples to 3 per label for five seeds: an image counts toward each
// of its labels, no label has more than 3, and the rare labels that only come with frequent ones keep all
// they can (label 2's two images, though label 0 has ten; 3 of label 3's four, with label 1), which a limit
// by each image's first label does not.
func TestLimitPerLabel(t *testing.T) {
	s := labelSetSplit([]struct {
		n      int
		labels []int
	}{{8, []int{0}}, {2, []int{0, 2}}, {4, []int{1, 3}}, {3, []int{1}}})
	for seed := range uint64(5) {
		got := limitPerClass(s, 4, 3, seed)
		if counts := got.Counts(4); !slices.Equal(counts, []int{3, 3, 2, 3}) || !isSubsequence(got.Samples, s.Samples) {
			t.Errorf("seed %d: images per label %v, want [3 3 2 3], in their order", seed, counts)
		}
		if again := limitPerClass(s, 4, 3, seed); !reflect.DeepEqual(again.Samples, got.Samples) {
			t.Errorf("seed %d: the limit is not deterministic", seed)
		}
	}
}
