package data

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// carveStream is XORed into the seed for carve's choices, so that they are not limitPerClass's ("test"
// in hex speak).
const carveStream = 0x7e57

// DatasetOptions say which images of a dataset folder LoadDataset takes.
type DatasetOptions struct {
	MaxPerClass  int     // Keep at most this many images of each class in each split, a seeded sample (0: all).
	TestFraction float64 // The part of each class of train carved as the test split when the data has none.
	Seed         uint64  // Seeds the sample and the carving.
	Strict       bool    // Unreadable image files are an error (by default they are left out, and listed in Skipped).
	// Labels, when set, is a CSV file listing the images and their labels (ReadLabels) instead of class
	// folders.
	Labels string
	// MultiLabel reads Labels's label column as several labels per image (ReadMultiLabels).
	MultiLabel bool
}

// Dataset is the splits of a dataset folder a run uses: it knows its classes and its held-out split.
type Dataset struct {
	Classes    []string
	Train      *Split
	Test       *Split
	Validation *Split       // Nil when the data has none.
	TestCarved bool         // The test split was carved from train (the data has no test/ folder).
	Skipped    []Unreadable // Files left out because they are not readable images.
}

// HeldOut returns the split to look at a trained model's results on: validation, else test.
func (d *Dataset) HeldOut() *Split {
	if d.Validation != nil {
		return d.Validation
	}
	return d.Test
}

// LoadDataset opens the dataset folder root (or, with o.Labels, the CSV file that lists its images), limits
// each class to o.MaxPerClass (a seeded sample), checks every file's header, and carves a deterministic test
// split from train (o.TestFraction of each class) when the data has none.
func LoadDataset(root string, o DatasetOptions) (*Dataset, error) {
	var src interface {
		Split(name string) (*Split, error)
	}
	var classes []string
	if o.MultiLabel && o.Labels == "" {
		return nil, fmt.Errorf("dataset %s: multi-label classification reads its labels from a CSV file (the labels setting): class folders hold one label per image", root)
	}
	if o.Labels != "" {
		read := ReadLabels
		if o.MultiLabel {
			read = ReadMultiLabels
		}
		l, err := read(o.Labels)
		if err != nil {
			return nil, err
		}
		src, classes, root = l, l.Classes, o.Labels
	} else {
		f, err := Open(root)
		if err != nil {
			return nil, err
		}
		src, classes = f, f.Classes
	}
	ds := &Dataset{Classes: classes}
	var err error
	get := func(name string) (*Split, error) {
		s, err := src.Split(name)
		if errors.Is(err, ErrNoSplit) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		s = limitPerClass(s, len(classes), o.MaxPerClass, o.Seed)
		bad := CheckSamples(s.Samples, 0, 0)
		if len(bad) > 0 && o.Strict {
			return nil, fmt.Errorf("dataset %s: %d unreadable image files in %s (outside strict mode they are skipped with a warning):\n%s",
				root, len(bad), s.Dir, DescribeUnreadable(bad, 10))
		}
		ds.Skipped = append(ds.Skipped, bad...)
		return s.Without(bad), nil
	}
	if ds.Train, err = get(Train); err != nil {
		return nil, err
	}
	if len(classes) < 2 {
		where := root
		if ds.Train != nil && o.Labels == "" {
			where = ds.Train.Dir
		}
		return nil, fmt.Errorf("dataset %s: classification needs at least two classes; %s has %d (%s)",
			root, where, len(classes), strings.Join(classes, ", "))
	}
	if ds.Test, err = get(Test); err != nil {
		return nil, err
	}
	if ds.Validation, err = get(Validation); err != nil {
		return nil, err
	}
	if ds.Test == nil {
		ds.Train, ds.Test = carve(ds.Train, len(classes), o.TestFraction, o.Seed)
		ds.TestCarved = true
	}
	if len(ds.Train.Samples) == 0 {
		return nil, fmt.Errorf("dataset %s: the train split has no images", root)
	}
	var empty []string
	for label, n := range ds.Train.Counts(len(ds.Classes)) {
		if n == 0 {
			empty = append(empty, fmt.Sprintf("%q", ds.Classes[label]))
		}
	}
	if len(empty) > 0 {
		return nil, fmt.Errorf("dataset %s: no readable training images for classes %s (in %s): remove the folders or add images",
			root, strings.Join(empty, ", "), ds.Train.Dir)
	}
	if len(ds.Test.Samples) == 0 {
		return nil, fmt.Errorf("dataset %s: the test split has no images", root)
	}
	return ds, nil
}

// byClass groups a split's samples per class, keeping their order.
func byClass(s *Split, numClasses int) [][]Sample {
	groups := make([][]Sample, numClasses)
	for _, sample := range s.Samples {
		groups[sample.Label] = append(groups[sample.Label], sample)
	}
	return groups
}

// limitPerClass keeps at most n samples of each class (n <= 0: all), chosen by a seeded shuffle and
// kept in their original order.
func limitPerClass(s *Split, numClasses, n int, seed uint64) *Split {
	if n <= 0 {
		return s
	}
	out := &Split{Name: s.Name, Dir: s.Dir}
	for label, group := range byClass(s, numClasses) {
		if len(group) > n {
			rng := rand.New(rand.NewPCG(seed, uint64(label)))
			idx := rng.Perm(len(group))[:n]
			slices.Sort(idx)
			picked := make([]Sample, n)
			for i, j := range idx {
				picked[i] = group[j]
			}
			group = picked
		}
		out.Samples = append(out.Samples, group...)
	}
	return out
}

// carve splits train into train and test: of each class, round(fraction*n) samples (at least one when
// the class has two or more) chosen by a seeded shuffle go to test.
func carve(train *Split, numClasses int, fraction float64, seed uint64) (*Split, *Split) {
	newTrain := &Split{Name: Train, Dir: train.Dir}
	test := &Split{Name: Test, Dir: train.Dir}
	for label, group := range byClass(train, numClasses) {
		nTest := int(math.Round(fraction * float64(len(group))))
		if nTest == 0 && len(group) >= 2 {
			nTest = 1
		}
		rng := rand.New(rand.NewPCG(seed^carveStream, uint64(label)))
		isTest := make([]bool, len(group))
		for _, i := range rng.Perm(len(group))[:nTest] {
			isTest[i] = true
		}
		for i, sample := range group {
			if isTest[i] {
				test.Samples = append(test.Samples, sample)
			} else {
				newTrain.Samples = append(newTrain.Samples, sample)
			}
		}
	}
	return newTrain, test
}

// DescribeUnreadable lists up to n unreadable files, one per line.
func DescribeUnreadable(bad []Unreadable, n int) string {
	var lines []string
	for _, b := range bad[:min(n, len(bad))] {
		lines = append(lines, fmt.Sprintf("  %v", b.Err))
	}
	if len(bad) > n {
		lines = append(lines, fmt.Sprintf("  ... and %d more", len(bad)-n))
	}
	return strings.Join(lines, "\n")
}
