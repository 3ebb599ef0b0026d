package train

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/gomlx/compute/dtypes"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/evaluate"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/weights"
)

// FeaturesFile is the run folder's cache of the frozen backbone's features.
const FeaturesFile = "features.safetensors"

// features are the backbone's pooled features of a split's images, row i for Samples[i].
type features struct {
	samples []data.Sample
	values  []float32 // len(samples) x dim.
	dim     int
}

// batch gathers the rows at idx into a [len(idx), dim] tensor with their labels, and multi-label samples'
// classes (nil for single-label ones).
func (f *features) batch(idx []int) (*tensors.Tensor, []int32, [][]int) {
	x := make([]float32, len(idx)*f.dim)
	labels := make([]int32, len(idx))
	var sets [][]int
	for i, j := range idx {
		copy(x[i*f.dim:(i+1)*f.dim], f.values[j*f.dim:(j+1)*f.dim])
		labels[i] = int32(f.samples[j].Label)
		if f.samples[j].Labels != nil {
			if sets == nil {
				sets = make([][]int, len(idx))
			}
			sets[i] = f.samples[j].Labels
		}
	}
	return tensors.FromFlatDataAndDimensions(x, len(idx), f.dim), labels, sets
}

// featureKey identifies what cached features depend on: the backbone's values, the input transform and
// the images.
func (r *Run) featureKey() (string, error) {
	h := sha256.New()
	for _, p := range r.Model.Params() {
		if r.Model.IsHead(p) {
			continue
		}
		v := r.Store.GetVariable(p.Path())
		value, err := v.Value()
		if err != nil {
			return "", err
		}
		h.Write([]byte(p.Name))
		switch p.Layout {
		case nn.Counter:
			continue // The counter does not change the function.
		default:
			tensors.MustConstFlatData[float32](value, func(flat []float32) {
				buf := make([]byte, 4*len(flat))
				for i, x := range flat {
					binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(x))
				}
				h.Write(buf)
			})
		}
	}
	tf, _ := json.Marshal(r.Config.Transform())
	h.Write(tf)
	if p := r.Model.ComputeDType(); p != dtypes.Float32 {
		fmt.Fprintf(h, "compute %s\x00", p) // Mixed precision gives other features.
	}
	for _, s := range [][]data.Sample{r.Dataset.Train.Samples, r.Dataset.Test.Samples} {
		for _, sample := range s {
			fmt.Fprintf(h, "%s\x00%d\x00", sample.Path, sample.Label)
			if sample.Labels != nil {
				fmt.Fprintf(h, "%v\x00", sample.Labels) // A multi-label sample's classes.
			}
		}
		h.Write([]byte{0xff})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// frozenFeatures returns the train and test features of the frozen backbone, from the run folder's
// cache when its key matches, computing and saving them otherwise. Images that fail to load are left
// out of the splits (with a warning), as the uncached loaders would leave them out.
func (r *Run) frozenFeatures() (train, test *features, err error) {
	key, err := r.featureKey()
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(r.Dir, FeaturesFile)
	if r.FeatureCache != "" {
		if err := os.MkdirAll(r.FeatureCache, 0o755); err != nil {
			return nil, nil, fmt.Errorf("creating the feature cache: %w", err)
		}
		path = filepath.Join(r.FeatureCache, key+".safetensors")
	}
	if train, test, err := readFeatures(path, key); err == nil {
		r.report("Backbone features of the %d train and %d test images read from the cache %s.\n", len(train.samples), len(test.samples), path)
		return train, test, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		r.report("Feature cache %s not used: %v\n", path, err)
	}
	backbone, err := newInference(r.Backend, r.Store, r.parallel, func(scope *model.Scope, images *Node) *Node {
		return r.Model.Features(scope.Store(), images, nn.Options{})
	})
	if err != nil {
		return nil, nil, err
	}
	compute := func(split *data.Split) (*features, error) {
		f := &features{dim: r.Model.FeatureDim()}
		loader := &data.Loader{Samples: split.Samples, Transform: r.Config.Transform(), BatchSize: r.Config.Batch}
		if !r.Config.Strict {
			loader.Skip = r.skip
		}
		for b, err := range loader.Epoch(0) {
			if err != nil {
				return nil, err
			}
			out, err := backbone.run(b.Images)
			if err != nil {
				return nil, fmt.Errorf("computing features: %w", err)
			}
			f.values = append(f.values, tensors.MustCopyFlatData[float32](out)...)
			for i, p := range b.Paths {
				sample := data.Sample{Path: p, Label: int(b.Labels[i])}
				if b.LabelSets != nil {
					sample.Labels = b.LabelSets[i]
				}
				f.samples = append(f.samples, sample)
			}
			if r.OnProgress != nil {
				r.OnProgress(Progress{Phase: runfolder.Frozen, Stage: "features", Done: len(f.samples), Total: len(split.Samples)})
			}
		}
		return f, nil
	}
	if train, err = compute(r.Dataset.Train); err != nil {
		return nil, nil, err
	}
	if test, err = compute(r.Dataset.Test); err != nil {
		return nil, nil, err
	}
	if err := writeFeatures(path, key, train, test); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

func writeFeatures(path, key string, train, test *features) error {
	sd := weights.NewStateDict(path)
	meta := map[string]string{"key": key}
	for name, f := range map[string]*features{"train": train, "test": test} {
		sd.Add(name, &weights.Tensor{Shape: []int{len(f.samples), f.dim}, Float32: f.values})
		samples, _ := json.Marshal(f.samples)
		meta[name+"_samples"] = string(samples)
	}
	sd.Metadata = meta
	return weights.WriteSafetensors(path, sd)
}

func readFeatures(path, key string) (train, test *features, err error) {
	if _, err := os.Stat(path); err != nil {
		return nil, nil, err
	}
	sd, err := weights.Read(path)
	if err != nil {
		return nil, nil, err
	}
	if sd.Metadata["key"] != key {
		return nil, nil, fmt.Errorf("computed for other weights, images or transform")
	}
	var out [2]*features
	for i, name := range []string{"train", "test"} {
		t, ok := sd.Tensors[name]
		f := &features{}
		if !ok || len(t.Shape) != 2 || json.Unmarshal([]byte(sd.Metadata[name+"_samples"]), &f.samples) != nil || len(f.samples) != t.Shape[0] {
			return nil, nil, fmt.Errorf("malformed %s features", name)
		}
		f.values, f.dim = t.Float32, t.Shape[1]
		out[i] = f
	}
	return out[0], out[1], nil
}

// headEvaluation evaluates the head on cached features as evaluate.Split does on images: loss averaged
// over batches of the configured size, accuracy over samples; a multi-label head's figures too.
func (r *Run) headEvaluation(exec *model.Exec, f *features) (testResult, error) {
	order := make([]int, len(f.samples))
	for i := range order {
		order[i] = i
	}
	var acc evaluate.Accumulator
	var multi evaluate.MultiLabelAccumulator
	for chunk := range slices.Chunk(order, r.Config.Batch) {
		x, labels, sets := f.batch(chunk)
		out, err := exec.Exec(x)
		if err != nil {
			return testResult{}, err
		}
		flat := tensors.MustCopyFlatData[float32](out[0])
		n := len(flat) / len(chunk)
		rows := make([][]float32, len(chunk))
		for i := range rows {
			rows[i] = flat[i*n : (i+1)*n]
		}
		if r.Config.MultiLabel {
			multi.Add(rows, sets)
		} else {
			acc.Add(rows, labels)
		}
	}
	if r.Config.MultiLabel {
		thresholds := r.fixedThresholds()
		if thresholds == nil {
			thresholds = multi.TuneThresholds()
		}
		m := multi.Result(r.Dataset.Classes, thresholds)
		return testResult{loss: m.Loss, accuracy: m.ExactMatch, multi: m}, nil
	}
	return testResult{loss: acc.Loss(), accuracy: acc.Accuracy()}, nil
}
