package train

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/vegclf/vegclf/vegclf/data"
)

// Dataset is the splits a run uses.
type Dataset struct {
	Classes    []string
	Train      *data.Split
	Test       *data.Split
	Validation *data.Split       // Nil when the data has none.
	TestCarved bool              // The test split was carved from train (the data has no test/ folder).
	Skipped    []data.Unreadable // Files left out because they are not readable images.
}

// HeldOut returns the split to look at a trained model's results on: validation, else test.
func (d *Dataset) HeldOut() *data.Split {
	if d.Validation != nil {
		return d.Validation
	}
	return d.Test
}

// LoadDataset opens the configuration's data folder, limits each class to MaxImagesPerClass (a seeded
// sample), and carves a deterministic test split from train (TestFraction of each class) when the data
// has none.
func LoadDataset(cfg Config) (*Dataset, error) {
	f, err := data.Open(cfg.Data)
	if err != nil {
		return nil, err
	}
	ds := &Dataset{Classes: f.Classes}
	get := func(name string) (*data.Split, error) {
		s, err := f.Split(name)
		if errors.Is(err, data.ErrNoSplit) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		s = limitPerClass(s, len(f.Classes), cfg.MaxImagesPerClass, cfg.Seed)
		bad := data.CheckSamples(s.Samples, 0, 0)
		if len(bad) > 0 && cfg.Strict {
			return nil, fmt.Errorf("dataset %s: %d unreadable image files in %s (outside strict mode they are skipped with a warning):\n%s",
				cfg.Data, len(bad), s.Dir, describeUnreadable(bad, 10))
		}
		ds.Skipped = append(ds.Skipped, bad...)
		return s.Without(bad), nil
	}
	if ds.Train, err = get(data.Train); err != nil {
		return nil, err
	}
	if ds.Test, err = get(data.Test); err != nil {
		return nil, err
	}
	if ds.Validation, err = get(data.Validation); err != nil {
		return nil, err
	}
	if ds.Test == nil {
		ds.Train, ds.Test = carve(ds.Train, len(f.Classes), cfg.TestFraction, cfg.Seed)
		ds.TestCarved = true
	}
	if len(ds.Train.Samples) == 0 {
		return nil, fmt.Errorf("dataset %s: the train split has no images", cfg.Data)
	}
	var empty []string
	for label, n := range ds.Train.Counts(len(ds.Classes)) {
		if n == 0 {
			empty = append(empty, fmt.Sprintf("%q", ds.Classes[label]))
		}
	}
	if len(empty) > 0 {
		return nil, fmt.Errorf("dataset %s: no readable training images for classes %s (in %s): remove the folders or add images",
			cfg.Data, strings.Join(empty, ", "), ds.Train.Dir)
	}
	if len(ds.Test.Samples) == 0 {
		return nil, fmt.Errorf("dataset %s: the test split has no images", cfg.Data)
	}
	return ds, nil
}

// byClass groups a split's samples per class, keeping their order.
func byClass(s *data.Split, numClasses int) [][]data.Sample {
	groups := make([][]data.Sample, numClasses)
	for _, sample := range s.Samples {
		groups[sample.Label] = append(groups[sample.Label], sample)
	}
	return groups
}

// limitPerClass keeps at most n samples of each class (n <= 0: all), chosen by a seeded shuffle and
// kept in their original order.
func limitPerClass(s *data.Split, numClasses, n int, seed uint64) *data.Split {
	if n <= 0 {
		return s
	}
	out := &data.Split{Name: s.Name, Dir: s.Dir}
	for label, group := range byClass(s, numClasses) {
		if len(group) > n {
			rng := rand.New(rand.NewPCG(seed, uint64(label)))
			idx := rng.Perm(len(group))[:n]
			slices.Sort(idx)
			picked := make([]data.Sample, n)
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
func carve(train *data.Split, numClasses int, fraction float64, seed uint64) (*data.Split, *data.Split) {
	newTrain := &data.Split{Name: data.Train, Dir: train.Dir}
	test := &data.Split{Name: data.Test, Dir: train.Dir}
	for label, group := range byClass(train, numClasses) {
		nTest := int(math.Round(fraction * float64(len(group))))
		if nTest == 0 && len(group) >= 2 {
			nTest = 1
		}
		rng := rand.New(rand.NewPCG(seed^0x7e57, uint64(label)))
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

// describeUnreadable lists up to n unreadable files, one per line.
func describeUnreadable(bad []data.Unreadable, n int) string {
	var lines []string
	for _, b := range bad[:min(n, len(bad))] {
		lines = append(lines, fmt.Sprintf("  %v", b.Err))
	}
	if len(bad) > n {
		lines = append(lines, fmt.Sprintf("  ... and %d more", len(bad)-n))
	}
	return strings.Join(lines, "\n")
}
