package train

import (
	"context"
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
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/compute/dtypes"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/evaluate"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/runfolder"
)

// FeaturesFile is the run folder's cache of the frozen backbone's features.
const FeaturesFile = "features.safetensors"

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
// out of the splits (with a warning), as the uncached loaders would leave them out. The pass is saved in
// parts as it goes (every Config.CheckpointEvery, and when ctx is cancelled): a pass interrupted, killed
// too, goes on from its parts, which give the features one pass would.
func (r *Run) frozenFeatures(ctx context.Context) (train, test *features, err error) {
	key, err := r.featureKey()
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(r.Dir, FeaturesFile)
	own := r.FeatureCache == "" // The run folder's own file: its time is the run's.
	if !own {
		if err := os.MkdirAll(r.FeatureCache, 0o755); err != nil {
			return nil, nil, fmt.Errorf("creating the feature cache: %w", err)
		}
		path = filepath.Join(r.FeatureCache, key+".safetensors")
	}
	if train, test, seconds, err := r.readFeatures(path, key); err == nil {
		r.report("Backbone features of the %d train and %d test images read from the cache %s.\n", len(train.samples), len(test.samples), path)
		if own {
			r.featureSeconds = seconds
		}
		return train, test, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		r.report("Feature cache %s not used: %v\n", path, err)
	}
	parts, err := readParts(path, key)
	if err != nil {
		r.report("The feature pass starts over: its saved parts are not used (%v).\n", err)
		if err := removeParts(path); err != nil {
			return nil, nil, err
		}
		parts = nil
	}
	passImages := len(r.Dataset.Train.Samples) + len(r.Dataset.Test.Samples)
	onTrainingBackend := r.onnxFor(passImages) == nil
	backbone, done, err := r.featureExtractor(passImages)
	if err != nil {
		return nil, nil, err
	}
	defer done()
	steps := &pace{now: r.clock()}
	seconds := 0.0 // The pass's time, its earlier parts' included.
	for _, p := range parts {
		seconds += p.seconds
	}
	budget := &featureBudget{left: int64(r.Config.FeatureCacheMB) << 20}
	computeSplit := func(name string, split *data.Split) (f *features, err error) {
		f = newFeatures(r.Model.FeatureDim(), budget, len(split.Samples), strings.TrimSuffix(path, ".safetensors")+"."+name+".spill")
		store := f
		defer func() {
			if err != nil {
				store.close() // Its spill file goes.
			}
		}()
		next := 0 // The next batch.
		for _, p := range parts {
			if p.split == name {
				if err := p.copyTo(f); err != nil {
					return nil, err
				}
				next = p.to
			}
		}
		loader := &data.Loader{Samples: split.Samples, Transform: r.Config.Transform(), BatchSize: r.Config.Batch}
		if !r.Config.Strict {
			loader.Skip = r.skip
		}
		total := loader.NumBatches()
		if next > 0 {
			r.report("Feature pass of the %s images resumed from its saved parts at batch %d of %d (%d images kept).\n", name, next, total, len(f.samples))
		}
		// The part in progress: from batch partFrom and row partRow on, started partStart.
		partFrom, partRow, partStart := next, len(f.samples), time.Now()
		savePart := func() error {
			if next == partFrom {
				return nil
			}
			part := featurePart{split: name, from: partFrom, to: next, seconds: time.Since(partStart).Seconds()}
			parts = append(parts, part)
			if err := writePart(path, key, len(parts), part, f, partRow); err != nil {
				return err
			}
			seconds += part.seconds
			r.report("Feature pass saved: %s images up to batch %d of %d (%s).\n", name, next, total, filepath.Base(partPath(path, len(parts))))
			partFrom, partRow, partStart = next, len(f.samples), time.Now()
			return nil
		}
		for b, err := range loader.EpochFrom(0, next) {
			if err != nil {
				return nil, err
			}
			if ctx.Err() != nil {
				if err := savePart(); err != nil {
					return nil, err
				}
				return nil, ctx.Err()
			}
			out, err := backbone(b.Images)
			if err != nil {
				return nil, fmt.Errorf("computing features: %w", err)
			}
			samples := make([]data.Sample, len(b.Paths))
			for i, p := range b.Paths {
				samples[i] = data.Sample{Path: p, Label: int(b.Labels[i])}
				if b.LabelSets != nil {
					samples[i].Labels = b.LabelSets[i]
				}
			}
			err = f.add(tensors.MustCopyFlatData[float32](out), samples)
			out.FinalizeAll()
			b.Images.FinalizeAll()
			if err != nil {
				return nil, err
			}
			next = b.Index + 1
			steps.step(len(b.Labels))
			p := Progress{Phase: runfolder.Frozen, Stage: "features", Done: len(f.samples), Total: len(split.Samples)}
			if ips := steps.imagesPerSecond(); ips > 0 {
				if onTrainingBackend { // The estimates of fine-tuning's speed scale the training backend's forward pass.
					r.speeds.forward = 1 / ips
				}
				p.ImagesPerSecond = ips
				p.EpochLeft = time.Duration(float64(len(split.Samples)-len(f.samples)) / ips * float64(time.Second))
			}
			if r.OnProgress != nil {
				r.OnProgress(p)
			}
			if next < total && r.Config.CheckpointEvery.Due(next-partFrom, time.Since(partStart)) {
				if err := savePart(); err != nil {
					return nil, err
				}
			}
		}
		// A split done is saved whole before the next one starts, but for the last: the features file follows.
		if name == "train" {
			if err := savePart(); err != nil {
				return nil, err
			}
		} else {
			seconds += time.Since(partStart).Seconds()
		}
		return f, nil
	}
	if train, err = computeSplit("train", r.Dataset.Train); err != nil {
		return nil, nil, err
	}
	defer train.close()
	if test, err = computeSplit("test", r.Dataset.Test); err != nil {
		return nil, nil, err
	}
	defer test.close()
	if err := writeFeatures(path, key, train, test, seconds); err != nil {
		return nil, nil, err
	}
	if own {
		r.featureSeconds = seconds
	}
	if err := removeParts(path); err != nil {
		return nil, nil, err
	}
	// The features are read back from their file: those past the memory budget from it, per batch.
	train, test, _, err = r.readFeatures(path, key)
	return train, test, err
}

// writeFeatures writes the features file at path: the train and test features for key, and the seconds
// the pass took.
func writeFeatures(path, key string, train, test *features, seconds float64) error {
	meta := map[string]string{"key": key, "seconds": strconv.FormatFloat(seconds, 'g', -1, 64)}
	for name, f := range map[string]*features{"train": train, "test": test} {
		samples, _ := json.Marshal(f.samples)
		meta[name+"_samples"] = string(samples)
	}
	return writeRows(path, meta, []rowRange{{"test", test, 0, len(test.samples)}, {"train", train, 0, len(train.samples)}})
}

// readFeatures opens the features file at path, if computed for key: the train and test features, their
// first rows in memory up to Config.FeatureCacheMB (train's first), the others read from the file per
// batch; and the seconds the pass took. The run closes their files when it ends.
func (r *Run) readFeatures(path, key string) (train, test *features, seconds float64, err error) {
	if _, err := os.Stat(path); err != nil {
		return nil, nil, 0, err
	}
	rf, err := openRows(path)
	if err != nil {
		return nil, nil, 0, err
	}
	if rf.Metadata["key"] != key {
		return nil, nil, 0, fmt.Errorf("computed for other weights, images or transform")
	}
	seconds, _ = strconv.ParseFloat(rf.Metadata["seconds"], 64)
	budget := &featureBudget{left: int64(r.Config.FeatureCacheMB) << 20}
	var out [2]*features
	for i, name := range []string{"train", "test"} {
		var samples []data.Sample
		if err := json.Unmarshal([]byte(rf.Metadata[name+"_samples"]), &samples); err != nil {
			return nil, nil, 0, fmt.Errorf("malformed %s features in %s", name, path)
		}
		if out[i], err = rf.features(name, samples, budget); err != nil {
			if i > 0 {
				out[0].close()
			}
			return nil, nil, 0, err
		}
		r.openFeatures = append(r.openFeatures, out[i])
	}
	return out[0], out[1], seconds, nil
}

// headEvaluation evaluates the head on cached features as evaluate.Split does on images: loss averaged
// over batches of the configured size, accuracy over samples; a multi-label head's figures too.
func (r *Run) headEvaluation(exec *model.Exec, f *features) (testResult, error) {
	order := make([]int, len(f.samples))
	for i := range order {
		order[i] = i
	}
	var acc evaluate.Accumulator
	multi := evaluate.MultiLabelAccumulator{PosWeight: r.posWeight()}
	for chunk := range slices.Chunk(order, r.Config.Batch) {
		x, labels, sets, err := f.batch(chunk)
		if err != nil {
			return testResult{}, err
		}
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
