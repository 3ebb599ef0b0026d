package runfolder

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomlx/compute"
	"github.com/vegclf/vegclf/vegclf/buildinfo"
	"github.com/vegclf/vegclf/vegclf/data"
)

// Provenance is what, beside its config.json (settings and seed), makes a run reproducible: the data's
// content, the pretrained weights', and what computed it.
type Provenance struct {
	// Data maps each image file of the run (path relative to the data folder) to its content's SHA-256.
	Data map[string]string `json:"data"`
	// DataSHA256 is the SHA-256 of the sorted "path sha256" lines of Data: one value for the whole data.
	DataSHA256    string         `json:"data_sha256"`
	WeightsSHA256 string         `json:"weights_sha256,omitempty"` // Of the pretrained weights file; "" for none.
	Build         buildinfo.Info `json:"build"`
	Backend       string         `json:"backend"` // The backend's name and description.
}

// NewProvenance records the run's data files (and its labels file, "" for none), weights file ("" for
// none) and build, and the backend.
func NewProvenance(ds *data.Dataset, dataDir, labelsPath, weightsPath string, b compute.Backend) (*Provenance, error) {
	p := &Provenance{Data: map[string]string{}, Build: buildinfo.Read(), Backend: b.Name() + ": " + b.Description()}
	if labelsPath != "" {
		dataDir = filepath.Dir(labelsPath)
		var err error
		if p.Data[filepath.Base(labelsPath)], err = fileSHA256(labelsPath); err != nil {
			return nil, err
		}
	}
	for _, split := range []*data.Split{ds.Train, ds.Test, ds.Validation} {
		if split == nil {
			continue
		}
		for _, s := range split.Samples {
			rel, err := filepath.Rel(dataDir, s.Path)
			if err != nil {
				rel = s.Path
			}
			if _, done := p.Data[rel]; done {
				continue // A test split carved from train lists train's files.
			}
			if p.Data[rel], err = fileSHA256(s.Path); err != nil {
				return nil, err
			}
		}
	}
	lines := sha256.New()
	for _, rel := range slices.Sorted(maps.Keys(p.Data)) {
		fmt.Fprintf(lines, "%s %s\n", rel, p.Data[rel])
	}
	p.DataSHA256 = hex.EncodeToString(lines.Sum(nil))
	if weightsPath != "" {
		var err error
		if p.WeightsSHA256, err = fileSHA256(weightsPath); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// fileSHA256 returns the hex SHA-256 of a file's content.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("fingerprinting: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("fingerprinting %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Differences says, one line each, what differs between two runs' provenance: data files changed, added or
// removed (the first few named), the weights, vegclf's, Go's or a module's version, the backend.
func (p *Provenance) Differences(q *Provenance) []string {
	var out []string
	if p.DataSHA256 != q.DataSHA256 {
		var changed, added, removed []string
		for rel, h := range p.Data {
			switch qh, ok := q.Data[rel]; {
			case !ok:
				removed = append(removed, rel)
			case qh != h:
				changed = append(changed, rel)
			}
		}
		for rel := range q.Data {
			if _, ok := p.Data[rel]; !ok {
				added = append(added, rel)
			}
		}
		line := "the data differs (its fingerprint " + short(p.DataSHA256) + " is now " + short(q.DataSHA256) + ")"
		for _, part := range []struct {
			what  string
			files []string
		}{{"changed", changed}, {"added", added}, {"removed", removed}} {
			if len(part.files) > 0 {
				slices.Sort(part.files)
				line += fmt.Sprintf("; %d %s: %s", len(part.files), part.what, strings.Join(part.files[:min(3, len(part.files))], ", "))
			}
		}
		out = append(out, line)
	}
	if p.WeightsSHA256 != q.WeightsSHA256 {
		out = append(out, fmt.Sprintf("the pretrained weights differ (SHA-256 %s, now %s)", short(p.WeightsSHA256), short(q.WeightsSHA256)))
	}
	if p.Build.Version != q.Build.Version {
		out = append(out, fmt.Sprintf("vegclf differs (%s, now %s)", p.Build.Version, q.Build.Version))
	}
	if p.Build.Go != q.Build.Go {
		out = append(out, fmt.Sprintf("Go differs (%s, now %s)", p.Build.Go, q.Build.Go))
	}
	for _, m := range buildinfo.Modules {
		if p.Build.Modules[m] != q.Build.Modules[m] {
			out = append(out, fmt.Sprintf("%s differs (%s, now %s)", m, p.Build.Modules[m], q.Build.Modules[m]))
		}
	}
	if p.Backend != q.Backend {
		out = append(out, fmt.Sprintf("the backend differs (%s, now %s)", p.Backend, q.Backend))
	}
	return out
}

func short(h string) string {
	if h == "" {
		return "none"
	}
	return h[:min(12, len(h))]
}
