package kaggle

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vegclf/vegclf/vegclf/data"
)

// DataFolder is an ImageFolder dataset found in a folder: what vegclf's --data takes.
type DataFolder struct {
	Dir     string
	Classes []string
	// Images counts the images of each split present: data.Train, data.Test, data.Validation.
	Images map[string]int
}

// FindData returns the ImageFolder datasets under dir, the shallowest first: the folders that
// data.Open reads (a train/ folder of class folders, optionally test/ and validation/ or val/ with the
// same classes). The folders of a dataset found are not searched further, nor hidden folders.
func FindData(dir string) ([]DataFolder, error) {
	var found []DataFolder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if path != dir && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		f, err := data.Open(path)
		if err != nil {
			return nil // Not a dataset: look inside.
		}
		df := DataFolder{Dir: path, Classes: f.Classes, Images: map[string]int{}}
		for _, name := range []string{data.Train, data.Test, data.Validation} {
			if s, err := f.Split(name); err == nil {
				df.Images[name] = len(s.Samples)
			}
		}
		found = append(found, df)
		return filepath.SkipDir
	})
	if err != nil {
		return nil, fmt.Errorf("finding the datasets in %s: %w", dir, err)
	}
	slices.SortStableFunc(found, func(a, b DataFolder) int {
		return strings.Count(a.Dir, string(filepath.Separator)) - strings.Count(b.Dir, string(filepath.Separator))
	})
	return found, nil
}

// Summary describes the dataset in a line: "15 classes; 15000 train, 3000 test, 3000 validation images".
func (d DataFolder) Summary() string {
	var splits []string
	for _, name := range []string{data.Train, data.Test, data.Validation} {
		if n, ok := d.Images[name]; ok {
			splits = append(splits, fmt.Sprintf("%d %s", n, name))
		}
	}
	return fmt.Sprintf("%d classes; %s images", len(d.Classes), strings.Join(splits, ", "))
}
