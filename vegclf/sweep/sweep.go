// Package sweep trains a run per point of a grid of settings, or per random trial over ranges, each an
// ordinary run folder under one folder, sharing one cache of the frozen backbone's features, and resuming
// an interrupted sweep without redoing the runs it finished.
package sweep

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/compute"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/train"
)

// Setting is one value of one setting: a config.json key ("finetune_lr") and its value as written.
type Setting struct{ Key, Value string }

// Point is one run's settings, over the sweep's base configuration.
type Point []Setting

// Name is the point's run folder name: "lr=0.001,hidden=64".
func (p Point) Name() string {
	parts := make([]string, len(p))
	for i, s := range p {
		parts[i] = s.Key + "=" + s.Value
	}
	return strings.NewReplacer("/", "_", " ", "").Replace(strings.Join(parts, ","))
}

// Apply returns base with the point's settings.
func (p Point) Apply(base recipe.Config) (recipe.Config, error) {
	m, err := base.Settings()
	if err != nil {
		return base, err
	}
	for _, s := range p {
		var v any
		if err := json.Unmarshal([]byte(s.Value), &v); err != nil {
			v = s.Value // A word: a string setting ("cosine", "resnet18").
		}
		m[s.Key] = v
	}
	asJSON, err := json.Marshal(m)
	if err != nil {
		return base, err
	}
	cfg := base
	if err := json.Unmarshal(asJSON, &cfg); err != nil {
		return base, fmt.Errorf("sweep point %s: %w", p.Name(), err)
	}
	return cfg, nil
}

// dimension is one setting of a search space: a list of values, or a numeric range lo:hi.
type dimension struct {
	key    string
	values []string
	lo, hi float64
	ranged bool
}

// parse reads a search space: "lr=1e-4,3e-4;hidden=64,128;finetune-epochs=0,2", a range as "lr=1e-5:1e-2".
// Keys are config.json's, or the train flags' that give a setting's value ("finetune-epochs", "normalize").
func parse(spec string) ([]dimension, error) {
	known := recipe.Keys()
	var dims []dimension
	for _, part := range strings.Split(spec, ";") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		key, values, ok := strings.Cut(part, "=")
		if k, isFlag := recipe.KeyOfFlag(strings.TrimSpace(key)); isFlag {
			key = k
		} else {
			key = strings.ReplaceAll(strings.TrimSpace(key), "-", "_")
		}
		if !ok || values == "" {
			return nil, fmt.Errorf("sweep %q: want KEY=V1,V2,... or KEY=LO:HI, got %q", spec, part)
		}
		if !slices.Contains(known, key) {
			return nil, fmt.Errorf("sweep %q: unknown setting %q", spec, key)
		}
		d := dimension{key: key}
		if lo, hi, isRange := strings.Cut(values, ":"); isRange {
			var err1, err2 error
			d.lo, err1 = strconv.ParseFloat(strings.TrimSpace(lo), 64)
			d.hi, err2 = strconv.ParseFloat(strings.TrimSpace(hi), 64)
			if err1 != nil || err2 != nil || d.hi < d.lo {
				return nil, fmt.Errorf("sweep %q: range %q is not LO:HI with LO <= HI", spec, values)
			}
			d.ranged = true
		} else {
			for _, v := range strings.Split(values, ",") {
				d.values = append(d.values, strings.TrimSpace(v))
			}
		}
		dims = append(dims, d)
	}
	if len(dims) == 0 {
		return nil, fmt.Errorf("sweep %q: no settings", spec)
	}
	return dims, nil
}

// Grid returns every combination of the space's values, the first setting varying slowest.
func Grid(spec string) ([]Point, error) {
	dims, err := parse(spec)
	if err != nil {
		return nil, err
	}
	points := []Point{nil}
	for _, d := range dims {
		if d.ranged {
			return nil, fmt.Errorf("sweep %q: %s is a range; a grid takes lists (or give a number of random trials)", spec, d.key)
		}
		var next []Point
		for _, p := range points {
			for _, v := range d.values {
				next = append(next, append(slices.Clone(p), Setting{d.key, v}))
			}
		}
		points = next
	}
	return points, nil
}

// randomStream is the stream of Random's draws for a seed ("seed" in hex speak).
const randomStream = 0x5eed

// Random returns n seeded random points of the space: a list's values uniformly, a range log-uniformly when
// it spans positive values a factor of 10 or more apart (learning rates), uniformly otherwise; whole numbers
// for whole-number settings.
func Random(spec string, n int, seed uint64) ([]Point, error) {
	dims, err := parse(spec)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, randomStream))
	points := make([]Point, n)
	for i := range points {
		for _, d := range dims {
			var v string
			switch {
			case !d.ranged:
				v = d.values[rng.IntN(len(d.values))]
			case recipe.WholeNumber(d.key):
				v = strconv.Itoa(int(math.Round(d.lo + rng.Float64()*(d.hi-d.lo))))
			case d.lo > 0 && d.hi >= 10*d.lo:
				v = strconv.FormatFloat(d.lo*math.Pow(d.hi/d.lo, rng.Float64()), 'g', 3, 64)
			default:
				v = strconv.FormatFloat(d.lo+rng.Float64()*(d.hi-d.lo), 'g', 3, 64)
			}
			points[i] = append(points[i], Setting{d.key, v})
		}
	}
	return points, nil
}

// Points returns spec's grid (Grid), or trials random points of it (Random) when trials > 0.
func Points(spec string, trials int, seed uint64) ([]Point, error) {
	if trials > 0 {
		return Random(spec, trials, seed)
	}
	return Grid(spec)
}

// FeaturesDir is the sweep folder's shared cache of frozen-backbone features.
const FeaturesDir = "features"

// Run trains every point over base in dir/NAME: a finished run (its summary written) is skipped, an
// interrupted one resumed. The runs share dir/features. report receives each run's report.
func Run(ctx context.Context, b compute.Backend, base recipe.Config, points []Point, dir string, report io.Writer) error {
	for i, p := range points {
		cfg, err := p.Apply(base)
		if err != nil {
			return err
		}
		runDir := filepath.Join(dir, p.Name())
		if _, err := os.Stat(filepath.Join(runDir, runfolder.SummaryFile)); err == nil {
			fmt.Fprintf(report, "== run %d/%d %s: finished before, skipped\n", i+1, len(points), p.Name())
			continue
		}
		fmt.Fprintf(report, "== run %d/%d %s\n", i+1, len(points), p.Name())
		r, err := train.Open(cfg, b, runDir) // A run cut short before is resumed.
		if err != nil {
			return fmt.Errorf("sweep run %s: %w", p.Name(), err)
		}
		r.Report, r.FeatureCache = report, filepath.Join(dir, FeaturesDir)
		if err := r.Train(ctx); err != nil {
			return fmt.Errorf("sweep run %s: %w", p.Name(), err)
		}
		if _, err := r.Finish(); err != nil {
			return fmt.Errorf("sweep run %s: %w", p.Name(), err)
		}
	}
	return nil
}
