package data

import (
	"cmp"
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

// labelSetStream is the stream of the seeded choices of limitPerLabel and carveLabelSets, which draw for
// all labels at once (limitPerClass and carve draw a stream per class, numbered by its index).
const labelSetStream = 1 << 40

// DatasetOptions say which images of a dataset folder LoadDataset takes.
type DatasetOptions struct {
	// MaxPerClass keeps at most this many images of each class in each split, a seeded sample (0: all).
	// Multi-label, an image counts toward each of its labels, and no label gets more (limitPerLabel).
	MaxPerClass int
	// TestFraction is the part of each class of train carved as the test split when the data has none;
	// multi-label, of each label, by iterative stratification (carveLabelSets).
	TestFraction float64
	Seed         uint64 // Seeds the sample and the carving.
	Strict       bool   // Unreadable image files are an error (by default they are left out, and listed in Skipped).
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
// split from train (o.TestFraction of each class) when the data has none. Multi-label data is limited and
// carved by each image's every label (limitPerLabel, carveLabelSets).
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

// hasLabelSets reports whether s's samples are multi-label ones (Sample.Labels, ReadMultiLabels).
func hasLabelSets(s *Split) bool {
	return slices.ContainsFunc(s.Samples, func(x Sample) bool { return x.Labels != nil })
}

// limitPerClass keeps at most n samples of each class (n <= 0: all), chosen by a seeded shuffle and
// kept in their original order; multi-label samples as limitPerLabel does.
func limitPerClass(s *Split, numClasses, n int, seed uint64) *Split {
	if n <= 0 {
		return s
	}
	if hasLabelSets(s) {
		return limitPerLabel(s, numClasses, n, seed)
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

// limitPerLabel is limitPerClass for multi-label samples: an image counts toward each of its labels, and is
// kept only while each of them has fewer than n images kept, so that no label has more than n. Images are
// taken rarest first (by the fewest images any of their labels has in the split), in a seeded shuffle
// among equals, so that a frequent label that comes with a rare one does not fill up before the rare
// one's images are taken: a label with n images or fewer keeps them all unless an image's other label is
// full. They stay in their original order.
func limitPerLabel(s *Split, numClasses, n int, seed uint64) *Split {
	counts := s.Counts(numClasses)
	rarity := make([]int, len(s.Samples))
	for i, x := range s.Samples {
		rarity[i] = math.MaxInt
		for _, c := range x.Classes() {
			rarity[i] = min(rarity[i], counts[c])
		}
	}
	order := rand.New(rand.NewPCG(seed, labelSetStream)).Perm(len(s.Samples))
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rarity[a], rarity[b]) })
	kept := make([]int, numClasses)
	keep := make([]bool, len(s.Samples))
	for _, i := range order {
		classes := s.Samples[i].Classes()
		if slices.ContainsFunc(classes, func(c int) bool { return kept[c] >= n }) {
			continue
		}
		keep[i] = true
		for _, c := range classes {
			kept[c]++
		}
	}
	out := &Split{Name: s.Name, Dir: s.Dir}
	for i, x := range s.Samples {
		if keep[i] {
			out.Samples = append(out.Samples, x)
		}
	}
	return out
}

// testShare is the number of a class's n samples carve puts in test: round(fraction*n), at least one
// when the class has two or more.
func testShare(fraction float64, n int) int {
	nTest := int(math.Round(fraction * float64(n)))
	if nTest == 0 && n >= 2 {
		nTest = 1
	}
	return nTest
}

// carve splits train into train and test: of each class, testShare samples chosen by a seeded shuffle go
// to test; multi-label samples as carveLabelSets does.
func carve(train *Split, numClasses int, fraction float64, seed uint64) (*Split, *Split) {
	if hasLabelSets(train) {
		return carveLabelSets(train, numClasses, fraction, seed)
	}
	newTrain := &Split{Name: Train, Dir: train.Dir}
	test := &Split{Name: Test, Dir: train.Dir}
	for label, group := range byClass(train, numClasses) {
		nTest := testShare(fraction, len(group))
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

// carveLabelSets is carve for multi-label samples, by iterative stratification (Sechidis, Tsoumakas and
// Vlahavas, 2011; scikit-multilearn's IterativeStratification): each label wants testShare of its images
// in test and the rest in train, the test split round(fraction*n) of all n images. The label with the
// fewest images left to place goes first (the lower index among equals); each of its images, in a seeded
// shuffle, goes to the split that wants that label most (among equals, the one that wants the most
// images, then a seeded coin) and counts toward each of its labels there. So a label with two images or
// more has some in both splits unless its images' other labels forbid it, and each label's share of test
// is near fraction. The samples stay in their original order.
func carveLabelSets(train *Split, numClasses int, fraction float64, seed uint64) (*Split, *Split) {
	samples := train.Samples
	left := train.Counts(numClasses) // Images of each label not yet placed.
	var want [2][]int                // Of each label, the images each split wants: train (0) and test (1).
	want[0], want[1] = make([]int, numClasses), make([]int, numClasses)
	for c, n := range left {
		want[1][c] = testShare(fraction, n)
		want[0][c] = n - want[1][c]
	}
	nTest := int(math.Round(fraction * float64(len(samples))))
	total := [2]int{len(samples) - nTest, nTest}
	rng := rand.New(rand.NewPCG(seed^carveStream, labelSetStream))
	placed := make([]int, len(samples))
	for i := range placed {
		placed[i] = -1
	}
	for {
		label := -1
		for c, n := range left {
			if n > 0 && (label < 0 || n < left[label]) {
				label = c
			}
		}
		if label < 0 {
			break
		}
		var images []int
		for i, x := range samples {
			if placed[i] < 0 && slices.Contains(x.Classes(), label) {
				images = append(images, i)
			}
		}
		rng.Shuffle(len(images), func(a, b int) { images[a], images[b] = images[b], images[a] })
		for _, i := range images {
			split := cmp.Compare(want[1][label], want[0][label])
			if split == 0 {
				split = cmp.Compare(total[1], total[0])
			}
			if split == 0 {
				split = 2*rng.IntN(2) - 1
			}
			to := (split + 1) / 2 // 1 (test) when test wants it more, else 0 (train).
			placed[i] = to
			total[to]--
			for _, c := range samples[i].Classes() {
				want[to][c]--
				left[c]--
			}
		}
	}
	newTrain := &Split{Name: Train, Dir: train.Dir}
	test := &Split{Name: Test, Dir: train.Dir}
	for i, x := range samples {
		if placed[i] == 1 {
			test.Samples = append(test.Samples, x)
		} else {
			newTrain.Samples = append(newTrain.Samples, x)
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
