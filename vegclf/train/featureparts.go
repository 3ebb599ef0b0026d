package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/vegclf/vegclf/vegclf/data"
)

// featurePart is one part of an unfinished feature pass: the features of the batches from to to (by
// place in the split's order) of one split, and the time they took. A part read back keeps them in its
// file.
type featurePart struct {
	split    string // "train" or "test".
	from, to int    // Batches.
	seconds  float64
	file     *rowFile // The part's file, once written or read.
	samples  []data.Sample
}

// copyTo appends the part's features to f, reading them from its file one row at a time.
func (p featurePart) copyTo(f *features) error {
	src, err := p.file.features("features", p.samples, &featureBudget{})
	if err != nil {
		return err
	}
	defer src.close()
	row, buf := make([]float32, src.dim), make([]byte, 4*src.dim)
	for i, s := range p.samples {
		if err := src.row(i, row, buf); err != nil {
			return err
		}
		if err := f.add(row, []data.Sample{s}); err != nil {
			return err
		}
	}
	return nil
}

// partPattern is the glob of the parts of the features file at path (features.safetensors: its parts
// are features.part001.safetensors, ...).
func partPattern(path string) string {
	return strings.TrimSuffix(path, ".safetensors") + ".part*.safetensors"
}

// partPath returns the name of the n-th part of the features file at path.
func partPath(path string, n int) string {
	return fmt.Sprintf("%s.part%03d.safetensors", strings.TrimSuffix(path, ".safetensors"), n)
}

// FeatureParts returns the parts of an unfinished feature pass kept in the run folder dir, and the images
// they hold.
func FeatureParts(dir string) (parts, images int) {
	names, _ := filepath.Glob(partPattern(filepath.Join(dir, FeaturesFile)))
	for _, name := range names {
		if rf, err := openRows(name); err == nil {
			n, _ := strconv.Atoi(rf.Metadata["images"])
			parts, images = parts+1, images+n
		}
	}
	return parts, images
}

// writePart writes part n of the features file at path, for key: the rows of f from row on.
func writePart(path, key string, n int, p featurePart, f *features, row int) error {
	samples, _ := json.Marshal(f.samples[row:])
	meta := map[string]string{"key": key, "split": p.split, "from": strconv.Itoa(p.from), "to": strconv.Itoa(p.to),
		"samples": string(samples), "images": strconv.Itoa(len(f.samples) - row), "seconds": strconv.FormatFloat(p.seconds, 'g', -1, 64)}
	if err := writeRows(partPath(path, n), meta, []rowRange{{"features", f, row, len(f.samples)}}); err != nil {
		return fmt.Errorf("saving a part of the feature pass: %w", err)
	}
	return nil
}

// readParts reads the parts of the features file at path computed for key, in order: each split's must
// follow one another from its first batch. It returns nil, and the reason, when
// the parts there are not such (computed for other weights or images, or some missing): the pass starts
// over.
func readParts(path, key string) ([]featurePart, error) {
	names, err := filepath.Glob(partPattern(path))
	if err != nil || len(names) == 0 {
		return nil, err
	}
	slices.Sort(names)
	var parts []featurePart
	next := map[string]int{}
	for i, name := range names {
		if name != partPath(path, i+1) {
			return nil, fmt.Errorf("%s: a part is missing before it", name)
		}
		rf, err := openRows(name)
		if err != nil {
			return nil, err
		}
		m := rf.Metadata
		if m["key"] != key {
			return nil, fmt.Errorf("%s: computed for other weights, images or transform", name)
		}
		p := featurePart{split: m["split"], file: rf}
		p.from, _ = strconv.Atoi(m["from"])
		p.to, _ = strconv.Atoi(m["to"])
		p.seconds, _ = strconv.ParseFloat(m["seconds"], 64)
		e, ok := rf.Entries["features"]
		if !ok || len(e.Shape) != 2 || json.Unmarshal([]byte(m["samples"]), &p.samples) != nil || len(p.samples) != e.Shape[0] {
			return nil, fmt.Errorf("%s: malformed", name)
		}
		if p.split != "train" && p.split != "test" || p.from != next[p.split] || p.to <= p.from {
			return nil, fmt.Errorf("%s: not the part that follows", name)
		}
		next[p.split] = p.to
		parts = append(parts, p)
	}
	return parts, nil
}

// removeParts deletes the parts of the features file at path.
func removeParts(path string) error {
	names, _ := filepath.Glob(partPattern(path))
	for _, name := range names {
		if err := os.Remove(name); err != nil {
			return fmt.Errorf("removing a part of the feature pass: %w", err)
		}
	}
	return nil
}
