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

// flatImages writes n generated JPEGs into dir/images as a.jpg, b.jpg, ... and returns their names.
func flatImages(t *testing.T, dir string, n int) []string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	if _, err := synthveg.Generate(src, synthveg.Options{Classes: 1, Train: n, Size: 24, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(src, "train", "*", "*.jpg"))
	if err := os.MkdirAll(filepath.Join(dir, "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	var names []string
	for i, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := string(rune('a'+i)) + ".jpg"
		if err := os.WriteFile(filepath.Join(dir, "images", name), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

// TestReadLabels reads CSV files over a flat folder: classes sorted as ImageFolder sorts them, samples in
// its order (by class, then path), paths resolved against the CSV's folder, splits from the column (or all
// train without one), an optional header.
func TestReadLabels(t *testing.T) {
	dir := t.TempDir()
	flatImages(t, dir, 6)
	write := func(text string) string {
		path := filepath.Join(dir, "labels.csv")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	img := func(name string) string { return filepath.Join(dir, "images", name) }
	l, err := ReadLabels(write("path,label,split\nimages/f.jpg,carrot,train\nimages/a.jpg,bean,train\nimages/c.jpg,carrot,val\n" +
		"images/b.jpg,carrot,training\n\nimages/d.jpg,bean,test\n" + img("e.jpg") + ",bean,validation\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l.Classes, []string{"bean", "carrot"}) {
		t.Fatalf("classes %v", l.Classes)
	}
	want := map[string][]Sample{
		Train:      {{Path: img("a.jpg"), Label: 0}, {Path: img("b.jpg"), Label: 1}, {Path: img("f.jpg"), Label: 1}},
		Test:       {{Path: img("d.jpg"), Label: 0}},
		Validation: {{Path: img("e.jpg"), Label: 0}, {Path: img("c.jpg"), Label: 1}},
	}
	for name, samples := range want {
		s, err := l.Split(name)
		if err != nil || !reflect.DeepEqual(s.Samples, samples) || s.Dir != dir {
			t.Errorf("%s: %v in %s (%v), want %v", name, s, s.Dir, err, samples)
		}
	}
	l, err = ReadLabels(write("images/a.jpg,bean\nimages/b.jpg,carrot\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := l.Split(Train); err != nil || len(s.Samples) != 2 {
		t.Errorf("without a split column: train %v, %v", s, err)
	}
	if _, err := l.Split(Test); err == nil {
		t.Error("without a split column: test rows")
	}
	// Through LoadDataset, a test split is carved from train when there are no test rows.
	ds, err := LoadDataset("", DatasetOptions{Labels: write("path,label\n" +
		"images/a.jpg,bean\nimages/b.jpg,bean\nimages/c.jpg,bean\nimages/d.jpg,carrot\nimages/e.jpg,carrot\nimages/f.jpg,carrot\n"), TestFraction: 0.34, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !ds.TestCarved || len(ds.Test.Samples) != 2 || len(ds.Train.Samples) != 4 || ds.Validation != nil {
		t.Errorf("carved from a CSV: %d train, %d test, validation %v", len(ds.Train.Samples), len(ds.Test.Samples), ds.Validation)
	}
}

// TestReadLabelsErrors checks that each problem of a labels file is an error naming the file and the line.
func TestReadLabelsErrors(t *testing.T) {
	dir := t.TempDir()
	flatImages(t, dir, 3)
	if err := os.Mkdir(filepath.Join(dir, "images", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"missing file", "images/a.jpg,bean\nimages/zz.jpg,bean\n", []string{"labels.csv:2:", "zz.jpg", "no such file"}},
		{"empty label", "images/a.jpg,bean\nimages/b.jpg, \n", []string{"labels.csv:2:", "b.jpg has an empty label"}},
		{"empty path", "images/a.jpg,bean\n,bean\n", []string{"labels.csv:2:", "an empty path"}},
		{"duplicate path", "images/a.jpg,bean\nimages/b.jpg,bean\n./images/a.jpg,carrot\n", []string{"labels.csv:3:", "listed again (first on line 1)"}},
		{"unseen label", "images/a.jpg,bean,train\nimages/b.jpg,carrot,test\n", []string{"labels.csv:2:", `label "carrot" of the test split has no training rows`}},
		{"bad split", "images/a.jpg,bean,train\nimages/b.jpg,bean,holdout\n", []string{"labels.csv:2:", `split "holdout"`}},
		{"ragged rows", "images/a.jpg,bean,train\nimages/b.jpg,bean\n", []string{"labels.csv:2:", "2 columns"}},
		{"one column", "images/a.jpg\n", []string{"labels.csv:1:", "1 columns"}},
		{"bad header", "path,class\nimages/a.jpg,bean\n", []string{"labels.csv:1:", "header row"}},
		{"a folder", "images/a.jpg,bean\nimages/sub,bean\n", []string{"labels.csv:2:", "is a folder"}},
		{"no training rows", "path,label,split\nimages/a.jpg,bean,test\n", []string{"labels.csv", "no training rows"}},
		{"bad quoting", "images/a.jpg,bean\n\"images/b.jpg,bean\n", []string{"labels.csv", "line 2"}},
		{"several labels", "images/a.jpg,bean\nimages/b.jpg,box;disc\n", []string{"labels.csv:2:", `label "box;disc"`, "the multi_label setting"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "labels.csv")
			if err := os.WriteFile(path, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadLabels(path)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := ReadLabels(filepath.Join(dir, "none.csv")); err == nil || !strings.Contains(err.Error(), "none.csv") {
		t.Errorf("a missing labels file: %v", err)
	}
}

// TestReadMultiLabels reads a multi-label CSV file: each row's classes (sorted, without repeats), Label the
// first of them, classes from every training row's labels, counts per class over the label sets, and
// problems named by file and line.
func TestReadMultiLabels(t *testing.T) {
	dir := t.TempDir()
	flatImages(t, dir, 5)
	path := filepath.Join(dir, "labels.csv")
	write := func(text string) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img := func(name string) string { return filepath.Join(dir, "images", name) }
	write("path,label,split\nimages/a.jpg,disc;box,train\nimages/b.jpg,box,train\nimages/c.jpg, ring ; disc;ring,train\nimages/d.jpg,box;ring,test\n")
	l, err := ReadMultiLabels(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l.Classes, []string{"box", "disc", "ring"}) {
		t.Fatalf("classes %v", l.Classes)
	}
	train, _ := l.Split(Train)
	want := []Sample{{Path: img("a.jpg"), Label: 0, Labels: []int{0, 1}}, {Path: img("b.jpg"), Label: 0, Labels: []int{0}},
		{Path: img("c.jpg"), Label: 1, Labels: []int{1, 2}}}
	if !reflect.DeepEqual(train.Samples, want) {
		t.Errorf("train %+v, want %+v", train.Samples, want)
	}
	if counts := train.Counts(3); !slices.Equal(counts, []int{2, 2, 1}) {
		t.Errorf("counts %v, want each class's images [2 2 1]", counts)
	}
	test, _ := l.Split(Test)
	if len(test.Samples) != 1 || !slices.Equal(test.Samples[0].Labels, []int{0, 2}) {
		t.Errorf("test %+v", test.Samples)
	}
	// Through LoadDataset, with the setting; without it the separator is refused.
	ds, err := LoadDataset("", DatasetOptions{Labels: path, MultiLabel: true})
	if err != nil || len(ds.Classes) != 3 || ds.Test.Samples[0].Labels == nil {
		t.Errorf("LoadDataset multi-label: %v, %v", ds, err)
	}
	if _, err := LoadDataset("", DatasetOptions{Labels: path}); err == nil || !strings.Contains(err.Error(), "labels.csv:2:") || !strings.Contains(err.Error(), "the multi_label setting") {
		t.Errorf("a separator without multi-label: %v", err)
	}
	if _, err := LoadDataset(dir, DatasetOptions{MultiLabel: true}); err == nil || !strings.Contains(err.Error(), "the labels setting") {
		t.Errorf("multi-label class folders: %v", err)
	}
	for _, tc := range []struct{ text, want string }{
		{"images/a.jpg,box;;disc\n", "labels.csv:1:"},
		{"images/a.jpg,box,train\nimages/b.jpg,box;zip,test\n", `label "zip"`},
	} {
		write(tc.text)
		if _, err := ReadMultiLabels(path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error naming %s", tc.text, err, tc.want)
		}
	}
}
