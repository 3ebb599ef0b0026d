package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/vegclf/vegclf/vegclf/weights"
)

// featurePart is one part of an unfinished feature pass: the features of the batches from to to (by
// place in the split's order) of one split, and the time they took.
type featurePart struct {
	split    string // "train" or "test".
	from, to int    // Batches.
	f        *features
	seconds  float64
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
		if sd, err := weights.Read(name); err == nil {
			n, _ := strconv.Atoi(sd.Metadata["images"])
			parts, images = parts+1, images+n
		}
	}
	return parts, images
}

// writePart writes part n of the features file at path, for key.
func writePart(path, key string, n int, p featurePart) error {
	sd := weights.NewStateDict(path)
	sd.Add("features", &weights.Tensor{Shape: []int{len(p.f.samples), p.f.dim}, Float32: p.f.values})
	samples, _ := json.Marshal(p.f.samples)
	sd.Metadata = map[string]string{"key": key, "split": p.split, "from": strconv.Itoa(p.from), "to": strconv.Itoa(p.to),
		"samples": string(samples), "images": strconv.Itoa(len(p.f.samples)), "seconds": strconv.FormatFloat(p.seconds, 'g', -1, 64)}
	if err := weights.WriteSafetensors(partPath(path, n), sd); err != nil {
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
		sd, err := weights.Read(name)
		if err != nil {
			return nil, err
		}
		m := sd.Metadata
		if m["key"] != key {
			return nil, fmt.Errorf("%s: computed for other weights, images or transform", name)
		}
		p := featurePart{split: m["split"], f: &features{}}
		p.from, _ = strconv.Atoi(m["from"])
		p.to, _ = strconv.Atoi(m["to"])
		p.seconds, _ = strconv.ParseFloat(m["seconds"], 64)
		t, ok := sd.Tensors["features"]
		if !ok || len(t.Shape) != 2 || json.Unmarshal([]byte(m["samples"]), &p.f.samples) != nil || len(p.f.samples) != t.Shape[0] {
			return nil, fmt.Errorf("%s: malformed", name)
		}
		p.f.values, p.f.dim = t.Float32, t.Shape[1]
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
