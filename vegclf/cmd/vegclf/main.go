// Command vegclf trains and runs ResNet image classifiers: the PyTorch transfer-learning tutorial's
// recipe (frozen backbone, then fine-tuning) in Go.
//
// Usage:
//
//	vegclf predict --weights FILE|NAME [--arch resnet50] [--normalize imagenet|half] [--image-size N] [--topk K] [--json] IMAGE...
//	vegclf predict --run RUNDIR [--topk K] [--json] IMAGE...
//	vegclf train --data DIR --out RUNDIR [--arch resnet50] [--weights torchvision-v2|FILE|none] [--image-size 224]
//	             [--batch 16] [--frozen-epochs 5] [--finetune-epochs 2] [--lr 1e-4] [--finetune-lr 1e-5]
//	             [--hidden 128] [--seed 0] [--resume] [--max-images-per-class N] [--test-fraction 0.2]
//	vegclf eval --run RUNDIR --split DIR
//	vegclf demo [--out runs/demo]
//	vegclf lr-find --data DIR [--phase finetune] [--svg FILE]
//	vegclf bench --data DIR [--recipe] [--json FILE] [--compare torch.json]
//	vegclf synth --out DIR [--classes 4] [--train 24] [--size 256]
//	vegclf data get kaggle:OWNER/DATASET [--out DIR]
//	vegclf weights list
//	vegclf weights download NAME...
//	vegclf backend [--backend go|xla:cpu|xla:cuda]
//	vegclf import --torch FILE --classes DIR|NAME,... --out RUNDIR [--arch resnet50] [--normalize half] [--image-size 224]
//	vegclf export --run RUNDIR --out FILE.pth [--layout tutorial|torchvision]
//	vegclf sweep --data DIR --out DIR --grid 'lr=1e-4,1e-3;hidden=64,128' [--trials N] [train flags]
//	vegclf reproduce RUNDIR --out NEWDIR
//	vegclf serve --run RUNDIR [--addr 127.0.0.1:8080] [--max-batch N] [--queue N] [--timeout 30s]
//	vegclf version (or --version)
//
// Exit status: 0 on success, 1 when the command fails, 2 for a usage mistake (unknown command or flag,
// a missing or invalid argument).
//
// Run "vegclf COMMAND -h" for a command's flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/train"
)

// command is one subcommand: run parses args and writes results to stdout, messages to stderr.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"predict":   {"classify images with pretrained ImageNet weights or a trained run", runPredict},
	"weights":   {"list or download the published pretrained weights", runWeights},
	"train":     {"train a classifier: frozen-backbone phase, fine-tuning, validation", runTrain},
	"eval":      {"evaluate a trained run on a split: loss, accuracy, per-class accuracy, confusion matrix", runEval},
	"demo":      {"generate a small vegetable dataset and run the whole recipe on it", runDemo},
	"bench":     {"measure speed and memory, and compare with PyTorch's figures", runBench},
	"lr-find":   {"sweep the learning rate and suggest one (fastai's LR finder)", runLRFind},
	"synth":     {"write a synthetic vegetable dataset (for demos, tests and benchmarks)", runSynth},
	"data":      {"download a Kaggle dataset, unpack it and print its --data: data get kaggle:OWNER/DATASET", runData},
	"backend":   {"say which compute backend runs and why, and check that it computes", runBackend},
	"version":   {"print the versions of vegclf, Go and GoMLX, the JPEG decoder and the default backend", runVersion},
	"import":    {"make a run folder from a PyTorch checkpoint (the tutorial's VegetableResnet, or a torchvision ResNet)", runImport},
	"export":    {"write a run's model as a PyTorch state_dict (.pth) and its classes", runExport},
	"sweep":     {"train a run per point of a grid (or random trials) of settings, sharing the frozen backbone's features", runSweep},
	"serve":     {"answer predictions of a trained run over HTTP: a JSON API and a page to try images", runServe},
	"reproduce": {"train a run again from its record and compare it epoch by epoch, naming what changed", runReproduce},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes a command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args = append([]string{"version"}, args[1:]...)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "vegclf: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	if err := cmd.run(args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "vegclf %s: %v\n", args[0], err)
			return 2
		}
		fmt.Fprintf(stderr, "vegclf %s: %v%s\n", args[0], err, flagHint(err))
		return 1
	}
	return 0
}

// flagHint names the flag that answers a library error, which speaks of settings, not flags.
func flagHint(err error) string {
	switch {
	case errors.Is(err, train.ErrNeedsXLA):
		return " (on the command line: --backend xla:cuda)"
	case errors.Is(err, backend.ErrNoPlugin):
		return " (on the command line: --backend go, or --backend xla:/path/to/the/plugin.so)"
	}
	return ""
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: vegclf COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'vegclf COMMAND -h' for the flags of a command.")
}

// usageError is a command-line mistake (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// parse parses flags that may come before, between or after positional arguments, and returns the
// positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if rest[0] == "--" {
			return append(positional, rest[1:]...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// parseFlagsOnly parses a command that takes flags and no positional arguments.
func parseFlagsOnly(fs *flag.FlagSet, args []string) error {
	rest, err := parse(fs, args)
	if err == nil && len(rest) > 0 {
		err = usagef("unexpected arguments %q", rest)
	}
	return err
}

// newFlagSet returns a flag set that reports errors (not exits) and prints its usage to stderr.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: vegclf %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// backendFlag registers the --backend flag every command that computes has.
func backendFlag(fs *flag.FlagSet) *string {
	return fs.String("backend", "", "compute backend: go, xla:cpu, xla:cuda, xla:/path/to/plugin.so, onnx or onnx:/path/libonnxruntime.so.1 (inference only) (default: $GOMLX_BACKEND or automatic)")
}

// flagWasSet reports whether the named flag was given on the command line.
func flagWasSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}
