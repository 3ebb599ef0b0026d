// Package data reads image-classification datasets laid out as torchvision's ImageFolder: one folder per
// split (train/, test/, validation/), each holding one folder per class.
package data

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Split names, as used by the tutorial's dataset.
const (
	Train      = "train"
	Test       = "test"
	Validation = "validation"
)

// splitAliases lists, for each split, the folder names accepted for it, in order of preference.
var splitAliases = map[string][]string{
	Train:      {"train", "training"},
	Test:       {"test", "testing"},
	Validation: {"validation", "val", "valid"},
}

// ErrNoSplit is returned (wrapped) by Folder.Split when the dataset has no folder for the split.
var ErrNoSplit = errors.New("split not found")

// imageExtensions are the file extensions torchvision's ImageFolder accepts, plus .gif, which
// Pillow (and this package) decodes too.
var imageExtensions = []string{".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif"}

// Sample is one image file and its class index.
type Sample struct {
	Path  string
	Label int
	// Labels are a multi-label sample's classes (ReadMultiLabels), sorted; Label is the first. Nil for
	// single-label data.
	Labels []int `json:",omitempty"`
}

// Classes returns the sample's classes: Labels, or Label alone.
func (s Sample) Classes() []int {
	if s.Labels != nil {
		return s.Labels
	}
	return []int{s.Label}
}

// Split is the list of samples of one split, in torchvision's order: by class, then by file name.
type Split struct {
	Name    string // Canonical split name: Train, Test or Validation.
	Dir     string // Folder the split was read from.
	Samples []Sample
}

// Counts returns the number of samples per class index: of multi-label samples, those with the class among
// their Labels.
func (s *Split) Counts(numClasses int) []int {
	counts := make([]int, numClasses)
	for _, sample := range s.Samples {
		for _, c := range sample.Classes() {
			counts[c]++
		}
	}
	return counts
}

// Folder is an image dataset rooted at a folder with one sub-folder per split.
// Classes are discovered from the train split, sorted by name, and shared by every split.
type Folder struct {
	Root    string
	Classes []string
	splits  map[string]*Split
}

// Open reads the dataset rooted at root. The train split is required; test and validation are optional
// (Folder.Split reports ErrNoSplit for them). A split whose class folders differ from train's is an error
// that names the difference.
func Open(root string) (*Folder, error) {
	info, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("opening dataset: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("opening dataset %s: not a folder", root)
	}
	f := &Folder{Root: root, splits: map[string]*Split{}}
	trainDir, ok := findSplitDir(root, Train)
	if !ok {
		return nil, fmt.Errorf("opening dataset %s: no train/ folder (expected %s/{train,test,validation}/<class>/<image>)", root, root)
	}
	f.Classes, err = ClassFolders(trainDir)
	if err != nil {
		return nil, err
	}
	if len(f.Classes) == 0 {
		return nil, fmt.Errorf("opening dataset: %s has no class folders", trainDir)
	}
	for _, name := range []string{Train, Test, Validation} {
		dir, ok := findSplitDir(root, name)
		if !ok {
			continue
		}
		classes, err := ClassFolders(dir)
		if err != nil {
			return nil, err
		}
		if err := sameClasses(f.Classes, classes); err != nil {
			return nil, fmt.Errorf("opening dataset: split %s (%s) differs from train: %w", name, dir, err)
		}
		split, err := readSplit(name, dir, f.Classes)
		if err != nil {
			return nil, err
		}
		f.splits[name] = split
	}
	return f, nil
}

// Split returns the named split (Train, Test or Validation). A missing split is an error wrapping ErrNoSplit.
func (f *Folder) Split(name string) (*Split, error) {
	if s, ok := f.splits[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("dataset %s: %w: no %s/ folder (accepted names: %s)", f.Root, ErrNoSplit, name,
		strings.Join(splitAliases[name], ", "))
}

// HasSplit reports whether the dataset has the named split.
func (f *Folder) HasSplit(name string) bool {
	_, ok := f.splits[name]
	return ok
}

// findSplitDir returns the folder of the given split under root, trying each accepted alias.
func findSplitDir(root, split string) (string, bool) {
	for _, alias := range splitAliases[split] {
		dir := filepath.Join(root, alias)
		if info, err := os.Stat(dir); err == nil && info.IsDir() {
			return dir, true
		}
	}
	return "", false
}

// ClassFolders lists the class folder names of a split folder, sorted as Python's sorted() does
// (by bytes), skipping hidden entries and plain files.
func ClassFolders(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading classes: %w", err)
	}
	var classes []string
	for _, e := range entries {
		if isHidden(e.Name()) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		info, err := os.Stat(path) // Follows symlinks, as torchvision does.
		if err != nil || !info.IsDir() {
			continue
		}
		classes = append(classes, e.Name())
	}
	slices.Sort(classes)
	return classes, nil
}

// sameClasses returns an error naming the classes that are in only one of the two lists.
func sameClasses(want, got []string) error {
	var missing, extra []string
	for _, c := range want {
		if !slices.Contains(got, c) {
			missing = append(missing, c)
		}
	}
	for _, c := range got {
		if !slices.Contains(want, c) {
			extra = append(extra, c)
		}
	}
	switch {
	case len(missing) > 0 && len(extra) > 0:
		return fmt.Errorf("classes missing: %s; classes not in train: %s", quoteAll(missing), quoteAll(extra))
	case len(missing) > 0:
		return fmt.Errorf("classes missing: %s", quoteAll(missing))
	case len(extra) > 0:
		return fmt.Errorf("classes not in train: %s", quoteAll(extra))
	}
	return nil
}

func quoteAll(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(quoted, ", ")
}

// readSplit lists the image files of every class folder, walking sub-folders and following symlinks
// as torchvision's ImageFolder does, each class's files sorted by path.
func readSplit(name, dir string, classes []string) (*Split, error) {
	split := &Split{Name: name, Dir: dir}
	for label, class := range classes {
		var paths []string
		err := walkFollowingLinks(filepath.Join(dir, class), func(path string) {
			if IsImageFile(path) {
				paths = append(paths, path)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("reading split %s: %w", name, err)
		}
		slices.Sort(paths)
		for _, p := range paths {
			split.Samples = append(split.Samples, Sample{Path: p, Label: label})
		}
	}
	return split, nil
}

// walkFollowingLinks calls fn for every regular file under dir, following symbolic links to folders
// (guarding against cycles) and skipping hidden files and folders.
func walkFollowingLinks(dir string, fn func(path string)) error {
	seen := map[string]bool{}
	var walk func(dir string) error
	walk = func(dir string) error {
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return fmt.Errorf("reading %s: %w", dir, err)
		}
		if seen[real] {
			return nil
		}
		seen[real] = true
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("reading %s: %w", dir, err)
		}
		for _, e := range entries {
			if isHidden(e.Name()) {
				continue
			}
			path := filepath.Join(dir, e.Name())
			info, err := os.Stat(path)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue // A dangling symlink.
				}
				return fmt.Errorf("reading %s: %w", path, err)
			}
			if info.IsDir() {
				if err := walk(path); err != nil {
					return err
				}
			} else if info.Mode().IsRegular() {
				fn(path)
			}
		}
		return nil
	}
	return walk(dir)
}

// isHidden reports whether a file name is hidden (".DS_Store", "._x.jpg", ".git").
func isHidden(name string) bool {
	return strings.HasPrefix(name, ".")
}

// IsImageFile reports whether path has one of the image extensions this package reads (case-insensitive).
func IsImageFile(path string) bool {
	return slices.Contains(imageExtensions, strings.ToLower(filepath.Ext(path)))
}

// OpenSplit reads a single split folder (one sub-folder per class) whose classes must be exactly
// classes, for example a model's: a folder with other classes is an error that names the difference.
func OpenSplit(name, dir string, classes []string) (*Split, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("opening split: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("opening split %s: not a folder", dir)
	}
	found, err := ClassFolders(dir)
	if err != nil {
		return nil, err
	}
	if err := sameClasses(classes, found); err != nil {
		return nil, fmt.Errorf("opening split %s: its class folders differ from the model's: %w", dir, err)
	}
	return readSplit(name, dir, classes)
}
