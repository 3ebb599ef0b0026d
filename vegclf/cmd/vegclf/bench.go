package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gomlx/compute"
	"github.com/vegclf/vegclf/vegclf/bench"
	"github.com/vegclf/vegclf/vegclf/synthveg"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", "--data DIR [flags]", stderr)
	o := bench.Options{Arch: "resnet50", ImageSize: 224, Batch: 16, FrozenEpochs: 5, FinetuneEpochs: 2}
	fs.StringVar(&o.Data, "data", "", "dataset folder (train/, test/, validation/); see 'vegclf synth'")
	fs.TextVar(&o.Arch, "arch", o.Arch, "`architecture`: "+strings.Join(zoo.Names(), ", "))
	fs.IntVar(&o.ImageSize, "image-size", o.ImageSize, "image size")
	fs.IntVar(&o.Batch, "batch", o.Batch, "batch size")
	fs.IntVar(&o.FrozenEpochs, "frozen-epochs", o.FrozenEpochs, "frozen epochs of the recipe")
	fs.IntVar(&o.FinetuneEpochs, "finetune-epochs", o.FinetuneEpochs, "fine-tuning epochs of the recipe")
	fs.DurationVar(&o.Duration, "duration", 20*time.Second, "time spent measuring each step")
	fs.BoolVar(&o.Recipe, "recipe", false, "also time the whole recipe on --data")
	fs.TextVar(&o.Precision, "precision", o.Precision, "the backbone's compute `dtype`: float32 or bfloat16")
	fs.BoolVar(&o.StepsOnly, "steps-only", false, "measure the model's steps only (no data loading)")
	loadingOnly := fs.Bool("loading-only", false, "measure data loading only (decode, resize, normalize the train split)")
	fs.TextVar(&o.MemoryLimit, "memory-limit", o.MemoryLimit, "the Go runtime's soft memory `limit`, set at the first fine-tune step as runs set it: auto, off, or a size such as 3GiB")
	fs.IntVar(&o.Devices, "devices", 0, "measure data parallel instead (XLA): the fine-tune step on one device and split across this many, compared")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile (go tool pprof) of the measured fine-tune steps to this `file`")
	jsonOut := fs.String("json", "", "write the figures to this JSON file")
	compare := fs.String("compare", "", "a JSON file of PyTorch's figures (internal/torchref/bench_torch.py) to compare with")
	table := fs.String("table", "", "print the GPU check's table of the figures in this `folder` (scripts/gpu-check.sh) instead of measuring; fails when a vegclf or PyTorch eager figure is missing")
	backendSpec := backendFlag(fs)
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *table != "" {
		if len(rest) > 0 {
			return usagef("--table DIR takes no other arguments")
		}
		return bench.WriteCheckTable(stdout, *table)
	}
	if o.Data == "" || len(rest) > 0 {
		return usagef("want --data DIR")
	}
	switch {
	case o.Batch < 1:
		return usagef("--batch %d: want at least 1", o.Batch)
	case o.ImageSize < 16:
		return usagef("--image-size %d: want at least 16", o.ImageSize)
	case o.FrozenEpochs < 0 || o.FinetuneEpochs < 0:
		return usagef("--frozen-epochs %d and --finetune-epochs %d: want 0 or more", o.FrozenEpochs, o.FinetuneEpochs)
	case o.Duration <= 0:
		return usagef("--duration %v: want a positive duration", o.Duration)
	case o.Devices < 0:
		return usagef("--devices %d: want 2 or more, or 0 for one device", o.Devices)
	}
	b, choice, err := newBackend(*backendSpec)
	if err != nil {
		return err
	}
	defer b.Finalize()
	fmt.Fprintf(stdout, "Backend: %s; %s at %dx%d, batch %d\n", choice, o.Arch, o.ImageSize, o.ImageSize, o.Batch)
	run := bench.Run
	switch {
	case o.Devices != 0:
		run = bench.DataParallel
	case *loadingOnly:
		run = func(compute.Backend, bench.Options) (bench.Result, error) { return bench.Loading(o) }
	}
	res, err := run(b, o)
	if err != nil {
		return err
	}
	if *jsonOut != "" {
		content, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*jsonOut, append(content, '\n'), 0o666); err != nil {
			return err
		}
	}
	torch := bench.Result{}
	if *compare != "" {
		content, err := os.ReadFile(*compare)
		if err != nil {
			return err
		}
		var raw map[string]any
		if err := json.Unmarshal(content, &raw); err != nil {
			return fmt.Errorf("reading %s: %w", *compare, err)
		}
		for k, v := range raw {
			if f, ok := v.(float64); ok {
				torch[k] = f
			}
		}
	}
	fmt.Fprintln(stdout)
	if o.Devices != 0 {
		bench.WriteParallel(stdout, res)
		verdict, err := bench.CheckParallel(res)
		fmt.Fprintf(stdout, "\ndata parallel: %s\n", verdict)
		return err
	}
	bench.WriteComparison(stdout, res, torch)
	return nil
}

// checkSynth refuses, as usage errors naming their flags, the counts and sizes synth cannot draw.
func checkSynth(o synthveg.Options) error {
	switch {
	case o.Classes < 1 || o.Classes > len(synthveg.Vegetables):
		return usagef("--classes %d: want 1 to %d", o.Classes, len(synthveg.Vegetables))
	case o.Train < 1:
		return usagef("--train %d: want at least 1 image per class", o.Train)
	case o.Test < 0 || o.Validation < 0:
		return usagef("--test %d and --validation %d: want 0 (none) or more images per class", o.Test, o.Validation)
	case o.Size < 8:
		return usagef("--size %d: want at least 8 pixels", o.Size)
	}
	return nil
}

func runSynth(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("synth", "--out DIR [flags]", stderr)
	o := synthveg.Options{Classes: 4, Train: 24, Test: 8, Validation: 8, Size: 256}
	out := fs.String("out", "", "dataset folder to write")
	fs.IntVar(&o.Classes, "classes", o.Classes, "classes (at most 6)")
	fs.IntVar(&o.Train, "train", o.Train, "train images per class")
	fs.IntVar(&o.Test, "test", o.Test, "test images per class (0: no test split)")
	fs.IntVar(&o.Validation, "validation", o.Validation, "validation images per class (0: none)")
	fs.IntVar(&o.Size, "size", o.Size, "image size in pixels")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *out == "" || len(rest) > 0 {
		return usagef("want --out DIR")
	}
	if err := checkSynth(o); err != nil {
		return err
	}
	n, err := synthveg.Generate(*out, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d images to %s\n", n, *out)
	return nil
}
