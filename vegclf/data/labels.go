package data

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Labels is a dataset described by a CSV file over a folder of images, Kaggle's and fastai's
// from_csv layout: one row per image, "path,label" or "path,label,split", with an optional header row of
// those names. Paths are relative to the CSV file's folder (or absolute); split is train, test or
// validation (or an alias a split folder may have: training, testing, val, valid); without a split column
// every row is train.
type Labels struct {
	Path    string   // The CSV file.
	Classes []string // The training rows' labels, sorted as ImageFolder sorts class folders.
	splits  map[string]*Split
}

// labelsColumns are the header row's names.
var labelsColumns = []string{"path", "label", "split"}

// LabelSeparator separates the labels of a multi-label row ("tomato;cucumber").
const LabelSeparator = ";"

// ReadLabels reads and checks the CSV file at path: every row's file exists, no path is listed twice, no
// label is empty, and every label of the test and validation rows is a training row's too. Each problem
// is an error naming the line. A label holding LabelSeparator is an error too: several labels per image
// are ReadMultiLabels's.
func ReadLabels(path string) (*Labels, error) { return readLabels(path, false) }

// ReadMultiLabels reads and checks the CSV file at path as ReadLabels does, for multi-label classification:
// each row's label column holds one or more labels separated by LabelSeparator ("box;disc"), and Classes
// are every training row's labels. Each sample's Labels are its classes (sorted, without repeats), its
// Label the first of them.
func ReadMultiLabels(path string) (*Labels, error) { return readLabels(path, true) }

func readLabels(path string, multi bool) (*Labels, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading labels: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	base := filepath.Dir(path)
	type row struct {
		line    int
		file    string
		labels  []string
		split   string
		classes []int
	}
	var rows []row
	seen := map[string]int{}
	columns := 0
	for {
		record, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading labels %s: %w", path, err) // A csv.ParseError names the line.
		}
		line, _ := r.FieldPos(0)
		where := fmt.Sprintf("%s:%d", path, line)
		if len(rows) == 0 && columns == 0 && strings.EqualFold(strings.TrimSpace(record[0]), "path") {
			if len(record) < 2 || len(record) > 3 || !slices.EqualFunc(record, labelsColumns[:len(record)], func(a, b string) bool { return strings.EqualFold(strings.TrimSpace(a), b) }) {
				return nil, fmt.Errorf("%s: the header row is %q: want path,label or path,label,split", where, strings.Join(record, ","))
			}
			columns = len(record)
			continue
		}
		if len(record) == 1 && strings.TrimSpace(record[0]) == "" {
			continue // A blank line.
		}
		if columns == 0 {
			columns = len(record)
		}
		if len(record) != columns || columns < 2 || columns > 3 {
			return nil, fmt.Errorf("%s: %d columns: want path,label or path,label,split on every line (the first has %d)", where, len(record), columns)
		}
		rw := row{line: line, file: strings.TrimSpace(record[0]), split: Train}
		label := strings.TrimSpace(record[1])
		switch {
		case rw.file == "":
			return nil, fmt.Errorf("%s: an empty path", where)
		case label == "":
			return nil, fmt.Errorf("%s: %s has an empty label", where, rw.file)
		case !multi && strings.Contains(label, LabelSeparator):
			return nil, fmt.Errorf("%s: label %q holds %q, which separates the labels of an image with several: train with multi-label classification (the multi_label setting) for that, or rename the class",
				where, label, LabelSeparator)
		}
		if rw.labels = []string{label}; multi {
			rw.labels = nil
			for _, part := range strings.Split(label, LabelSeparator) {
				part = strings.TrimSpace(part)
				if part == "" {
					return nil, fmt.Errorf("%s: %s has an empty label in %q", where, rw.file, label)
				}
				if !slices.Contains(rw.labels, part) {
					rw.labels = append(rw.labels, part)
				}
			}
		}
		if columns == 3 {
			if rw.split = splitNamed(strings.TrimSpace(record[2])); rw.split == "" {
				return nil, fmt.Errorf("%s: split %q: want train, test or validation", where, record[2])
			}
		}
		if !filepath.IsAbs(rw.file) {
			rw.file = filepath.Join(base, filepath.FromSlash(rw.file))
		}
		rw.file = filepath.Clean(rw.file)
		if first, ok := seen[rw.file]; ok {
			return nil, fmt.Errorf("%s: %s is listed again (first on line %d)", where, record[0], first)
		}
		seen[rw.file] = line
		if info, err := os.Stat(rw.file); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		} else if info.IsDir() {
			return nil, fmt.Errorf("%s: %s is a folder, not an image file", where, rw.file)
		}
		rows = append(rows, rw)
	}
	l := &Labels{Path: path, splits: map[string]*Split{}}
	for _, rw := range rows {
		for _, label := range rw.labels {
			if rw.split == Train && !slices.Contains(l.Classes, label) {
				l.Classes = append(l.Classes, label)
			}
		}
	}
	if len(l.Classes) == 0 {
		return nil, fmt.Errorf("reading labels %s: no training rows", path)
	}
	slices.Sort(l.Classes)
	for i := range rows {
		rw := &rows[i]
		for _, label := range rw.labels {
			class, ok := slices.BinarySearch(l.Classes, label)
			if !ok {
				return nil, fmt.Errorf("%s:%d: label %q of the %s split has no training rows", path, rw.line, label, rw.split)
			}
			rw.classes = append(rw.classes, class)
		}
		slices.Sort(rw.classes)
	}
	// ImageFolder's order: by (first) class, then by path.
	slices.SortStableFunc(rows, func(a, b row) int {
		if a.classes[0] != b.classes[0] {
			return a.classes[0] - b.classes[0]
		}
		return strings.Compare(a.file, b.file)
	})
	for _, rw := range rows {
		s := l.splits[rw.split]
		if s == nil {
			s = &Split{Name: rw.split, Dir: base}
			l.splits[rw.split] = s
		}
		sample := Sample{Path: rw.file, Label: rw.classes[0]}
		if multi {
			sample.Labels = rw.classes
		}
		s.Samples = append(s.Samples, sample)
	}
	return l, nil
}

// splitNamed returns the canonical name (Train, Test, Validation) of a split column's value, "" for none.
func splitNamed(value string) string {
	for name, aliases := range splitAliases {
		if slices.Contains(aliases, strings.ToLower(value)) {
			return name
		}
	}
	return ""
}

// Split returns the rows of the split name (Train, Test or Validation), an error wrapping ErrNoSplit
// when there are none.
func (l *Labels) Split(name string) (*Split, error) {
	s, ok := l.splits[name]
	if !ok {
		return nil, fmt.Errorf("labels %s: no %s rows: %w", l.Path, name, ErrNoSplit)
	}
	return s, nil
}
