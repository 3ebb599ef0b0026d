// Package bench measures vegclf's pieces on a dataset (inference, the frozen phase with and without
// cached features, fine-tuning, data loading, peak memory, the whole recipe) and compares them with the
// PyTorch tutorial's figures measured on the same machine and images.
package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	benchmarks "github.com/janpfeifer/go-benchmarks"
	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/memlimit"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/schedule"
	"github.com/vegclf/vegclf/vegclf/step"
	"github.com/vegclf/vegclf/vegclf/train"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// Options say what to measure.
type Options struct {
	Data           string   // Dataset folder (train/, test/, validation/).
	Arch           zoo.Name // A registered architecture.
	ImageSize      int
	Batch          int
	FrozenEpochs   int
	FinetuneEpochs int
	Duration       time.Duration   // How long go-benchmarks runs each measured step.
	Recipe         bool            // Also time the whole recipe on Data.
	Precision      nn.Precision    // The backbone's compute dtype: float32 (the zero value) or bfloat16.
	StepsOnly      bool            // Measure the model's steps only: no data loading (nor recipe).
	MemoryLimit    memlimit.Policy // The soft memory limit, set at the first fine-tune step as runs do.
	Devices        int             // Data parallel (DataParallel): the devices a fine-tune step is split across.
	CPUProfile     string          // Where to write a CPU profile (pprof) of the measured fine-tune steps; empty: none.
}

// Result holds the figures, named as the PyTorch script names them.
type Result map[string]float64

// The figures' names and what they mean.
var Figures = []struct{ Key, About string }{
	{"inference_images_per_second", "inference images/s"},
	{"frozen_step_images_per_second", "frozen-phase step images/s, uncached"},
	{"frozen_cached_images_per_second", "frozen phase images/s, cached features (epochs over train)"},
	{"finetune_step_images_per_second", "fine-tune step images/s"},
	{"data_loading_images_per_second", "data loading images/s (decode, resize, normalize)"},
	{"peak_rss_mb", "peak memory MB (fine-tune steps)"},
	{"recipe_seconds", "whole recipe seconds (frozen + fine-tune epochs + validation)"},
}

// Run measures vegclf on backend b. go-benchmarks prints its statistics of each step to stdout.
func Run(b compute.Backend, o Options) (Result, error) {
	m, f, err := newModel(o)
	if err != nil {
		return nil, err
	}
	store := model.NewStore()
	if err := m.Init(store, 0, nil); err != nil {
		return nil, err
	}
	pix, images, labels := randomBatch(o, len(f.Classes))
	res := Result{}
	var runErr error
	// seconds is measure with this run's duration, keeping the first error in runErr.
	seconds := func(name string, fn func() error) float64 { return measure(name, o.Duration, fn, &runErr) }

	infer, err := model.NewExec(b, store, func(scope *model.Scope, x *Node) *Node {
		if backend.IsONNX(b) {
			// As predict runs on ONNX Runtime: the exported graph.
			return m.FoldedLogits(scope.Store(), TransposeAllAxes(x, 0, 3, 1, 2))
		}
		return m.Logits(scope.Store(), x, nn.Options{})
	})
	if err != nil {
		return nil, err
	}
	res["inference_images_per_second"] = float64(o.Batch) / seconds("inference", func() error { _, err := infer.Exec(images); return err })
	if backend.IsONNX(b) {
		return res, runErr // ONNX Runtime runs inference only.
	}

	frozen, err := step.New(b, store, m, step.Config{Phase: runfolder.Frozen, Input: step.FromImages, BatchNormTrain: true, Schedule: schedule.Constant{LR: 1e-4}})
	if err != nil {
		return nil, err
	}
	res["frozen_step_images_per_second"] = float64(o.Batch) / seconds("frozen step", func() error { _, _, err := frozen.Step(images, labels); return err })

	features := tensors.FromFlatDataAndDimensions(pix[:o.Batch*m.FeatureDim()], o.Batch, m.FeatureDim())
	head, err := step.New(b, store, m, step.Config{Phase: runfolder.Frozen, Input: step.FromFeatures, Schedule: schedule.Constant{LR: 1e-4}})
	if err != nil {
		return nil, err
	}
	headSeconds := seconds("head step on features", func() error { _, _, err := head.Step(features, labels); return err })
	// The cached frozen phase: one inference pass to extract features, then head steps every epoch.
	perImage := 1/res["inference_images_per_second"] + float64(o.FrozenEpochs)*headSeconds/float64(o.Batch)
	res["frozen_cached_images_per_second"] = float64(o.FrozenEpochs) / perImage

	finetune, err := step.New(b, store, m, step.Config{Phase: runfolder.Finetune, Input: step.FromImages, BatchNormTrain: true, Schedule: schedule.Constant{LR: 1e-5}})
	if err != nil {
		return nil, err
	}
	finetuneStep := func() error { _, _, err := finetune.Step(images, labels); return err }
	// The peak is the fine-tuning steps' own (the script measures PyTorch's the same way), with the soft
	// memory limit set as a run sets it, at its first fine-tuning step.
	resetPeakRSS()
	memory := o.MemoryLimit
	if backend.IsXLA(b) {
		memory.Off = true // As runs do: XLA's tensors are not in Go's heap.
	}
	if _, err := memory.Apply(finetuneStep, 0); err != nil { // No image cache here.
		return nil, err
	}
	stopProfile := func() error { return nil }
	if o.CPUProfile != "" {
		if stopProfile, err = startCPUProfile(o.CPUProfile); err != nil {
			return nil, err
		}
	}
	res["finetune_step_images_per_second"] = float64(o.Batch) / seconds("fine-tune step", finetuneStep)
	if err := stopProfile(); err != nil {
		return nil, err
	}
	res["peak_rss_mb"] = peakRSSMB()
	if runErr != nil {
		return nil, runErr
	}

	if o.StepsOnly {
		return res, nil
	}
	if res["data_loading_images_per_second"], err = loadingSpeed(f, o); err != nil {
		return nil, err
	}

	if o.Recipe {
		cfg := recipe.Default()
		cfg.Data, cfg.Arch, cfg.Weights, cfg.ImageSize, cfg.Batch = o.Data, o.Arch, "none", o.ImageSize, o.Batch
		cfg.FrozenEpochs, cfg.FinetuneEpochs, cfg.Precision = o.FrozenEpochs, o.FinetuneEpochs, o.Precision
		dir, err := os.MkdirTemp("", "vegclf-bench-run")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		t0 := time.Now()
		r, err := train.Create(cfg, b, filepath.Join(dir, "run"))
		if err != nil {
			return nil, err
		}
		if err := r.Train(context.Background()); err != nil {
			return nil, err
		}
		if _, err := r.EvaluateBest(); err != nil {
			return nil, err
		}
		res["recipe_seconds"] = time.Since(t0).Seconds()
	}
	return res, nil
}

// newModel returns the model o measures (the tutorial's head for o.Data's classes, o.Precision) and
// the dataset folder.
// Loading measures data loading alone: the images per second of one pass of the batch loader over the
// train split of o.Data (decode, resize to o.ImageSize, normalize), the figure
// data_loading_images_per_second.
func Loading(o Options) (Result, error) {
	f, err := data.Open(o.Data)
	if err != nil {
		return nil, err
	}
	speed, err := loadingSpeed(f, o)
	return Result{"data_loading_images_per_second": speed}, err
}

// loadingSpeed is the images per second of one pass of the batch loader over f's train split.
func loadingSpeed(f *data.Folder, o Options) (float64, error) {
	trainSplit, err := f.Split(data.Train)
	if err != nil {
		return 0, err
	}
	loader := &data.Loader{Samples: trainSplit.Samples, Transform: data.Transform{Size: o.ImageSize, Normalization: data.HalfNormalization}, BatchSize: o.Batch}
	t0 := time.Now()
	n := 0
	for batch, err := range loader.Epoch(0) {
		if err != nil {
			return 0, err
		}
		n += len(batch.Labels)
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}

func newModel(o Options) (*nn.Model, *data.Folder, error) {
	f, err := data.Open(o.Data)
	if err != nil {
		return nil, nil, err
	}
	m, err := zoo.New(string(o.Arch), nn.TutorialHead(len(f.Classes)))
	if err != nil {
		return nil, nil, err
	}
	m.Precision = o.Precision.DType()
	return m, f, nil
}

// randomBatch returns a batch of o.Batch random images (o.ImageSize square, with their pixels) and labels
// of numClasses, the same on every call.
func randomBatch(o Options, numClasses int) ([]float32, *tensors.Tensor, []int32) {
	rng := rand.New(rand.NewPCG(1, 1))
	pix := make([]float32, o.Batch*o.ImageSize*o.ImageSize*3)
	for i := range pix {
		pix[i] = float32(rng.NormFloat64())
	}
	labels := make([]int32, o.Batch)
	for i := range labels {
		labels[i] = int32(rng.IntN(numClasses))
	}
	return pix, tensors.FromFlatDataAndDimensions(pix, o.Batch, o.ImageSize, o.ImageSize, 3), labels
}

// measure runs fn under go-benchmarks for about duration and returns the median seconds of its calls;
// the first error fn returns is kept in *firstErr.
func measure(name string, duration time.Duration, fn func() error, firstErr *error) float64 {
	var times []float64
	benchmarks.New(benchmarks.NamedFunction{Name: name, Func: func() {
		t0 := time.Now()
		if err := fn(); err != nil && *firstErr == nil {
			*firstErr = fmt.Errorf("%s: %w", name, err)
		}
		times = append(times, time.Since(t0).Seconds())
	}}).WithWarmUps(1).WithDuration(duration).Done()
	slices.Sort(times)
	return times[len(times)/2]
}

// startCPUProfile starts writing a CPU profile to path and returns the function that ends it.
func startCPUProfile(path string) (stop func() error, err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating the CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting the CPU profile %s: %w", path, err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("writing the CPU profile %s: %w", path, err)
		}
		return nil
	}, nil
}

// resetPeakRSS restarts the kernel's count of the process's peak resident memory (Linux's clear_refs);
// where it cannot, the peak stays the process's.
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSSMB returns the process's peak resident memory (memlimit.PeakRSS) in MB, or 0 where /proc is
// missing.
func peakRSSMB() float64 {
	return float64(memlimit.PeakRSS()) / (1 << 20)
}

// WriteComparison prints a table of vegclf's figures, PyTorch's, and their ratio. For throughputs a
// ratio above 1 means vegclf is faster; for memory and time, below 1 means vegclf uses less.
func WriteComparison(w io.Writer, ours, torch Result) {
	fmt.Fprintf(w, "| %-60s | %10s | %10s | %14s |\n", "measure", "vegclf", "PyTorch", "vegclf/PyTorch")
	fmt.Fprintf(w, "|%s|%s|%s|%s|\n", strings.Repeat("-", 62), strings.Repeat("-", 12), strings.Repeat("-", 12), strings.Repeat("-", 16))
	for _, fig := range Figures {
		a, okA := ours[fig.Key]
		t, okT := torch[fig.Key]
		if fig.Key == "frozen_cached_images_per_second" && !okT {
			t, okT = torch["frozen_step_images_per_second"] // PyTorch's tutorial has no cache: its frozen epochs run the backbone.
		}
		if !okA {
			continue
		}
		ratio := "-"
		ts := "-"
		if okT && t > 0 {
			ratio = fmt.Sprintf("%.2f", a/t)
			ts = fmt.Sprintf("%.2f", t)
		}
		fmt.Fprintf(w, "| %-60s | %10.2f | %10s | %14s |\n", fig.About, a, ts, ratio)
	}
}
