// Command vegclf trains and runs ResNet image classifiers: the PyTorch transfer-learning tutorial's
// recipe (frozen backbone, then fine-tuning) in Go.
//
// Usage:
//
//	vegclf predict --weights FILE|NAME [--arch resnet50] [--normalize imagenet|half] [--image-size N] [--topk K] [--json] IMAGE...
//	vegclf predict --run RUNDIR [--topk K] [--json] IMAGE...
//	vegclf train --data DIR --out RUNDIR [--arch resnet50] [--weights DEFAULT|NAME|FILE|none] [--image-size 224]
//	             [--batch 16] [--frozen-epochs 5] [--finetune-epochs 2] [--lr 1e-4] [--finetune-lr 1e-5]
//	             [--hidden 128] [--seed 0] [--resume] [--max-images-per-class N] [--test-fraction 0.2]
//	vegclf eval --run RUNDIR --split DIR
//	vegclf demo [--out runs/demo]
//	vegclf lr-find --data DIR [--phase finetune] [--svg FILE]
//	vegclf bench --data DIR [--recipe] [--json FILE] [--compare TORCH.json]
//	vegclf synth --out DIR [--classes 4] [--train 24] [--size 256]
//	vegclf data get kaggle:OWNER/DATASET [--out DIR]
//	vegclf weights list
//	vegclf weights download NAME...
//	vegclf backend [--backend go|xla:cpu|xla:cuda]
//	vegclf import --torch FILE --classes DIR|NAME,... --out RUNDIR [--arch resnet50] [--normalize half] [--image-size 224]
//	vegclf export --run RUNDIR --out FILE.pth|FILE.onnx [--layout tutorial|torchvision] [--format pth|onnx]
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
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/compute"
	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/step"
	"github.com/vegclf/vegclf/vegclf/train"
	"github.com/vegclf/vegclf/vegclf/weights"
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
	"export":    {"write a run's model for PyTorch (a state_dict, .pth, and its classes) or for any ONNX runtime (.onnx)", runExport},
	"sweep":     {"train a run per point of a grid (or random trials) of settings, sharing the frozen backbone's features", runSweep},
	"serve":     {"answer predictions of a trained run over HTTP: a JSON API and a page to try images", runServe},
	"reproduce": {"train a run again from its record and compare it epoch by epoch, naming what changed", runReproduce},
}

func main() {
	keepFreedMemory()
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
		fmt.Fprintf(stderr, "vegclf: unknown command %q%s\n", args[0], didYouMean(args[0], commandNames(), ""))
		usage(stderr)
		return 2
	}
	if err := cmd.run(args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "vegclf %s: %v\nRun 'vegclf %s --help' for its usage and flags.\n", args[0], err, args[0])
			return 2
		}
		if invalid, ok := errors.AsType[*recipe.InvalidSetting](err); ok {
			// A setting refused deeper down (a sweep's point, say): a usage mistake, named by its flags.
			fmt.Fprintf(stderr, "vegclf %s: %v (on the command line: %s)\nRun 'vegclf %s --help' for its usage and flags.\n",
				args[0], err, strings.Join(flagsOf(invalid), " and "), args[0])
			return 2
		}
		fmt.Fprintf(stderr, "vegclf %s: %v%s\n", args[0], err, flagHint(args[0], err))
		return 1
	}
	return 0
}

// flagHint names the flag that answers a library error, which speaks of settings, not flags.
func flagHint(command string, err error) string {
	switch {
	case errors.Is(err, step.ErrNeedsXLA):
		return " (on the command line: --backend xla:cuda)"
	case errors.Is(err, backend.ErrNoPlugin):
		return " (on the command line: --backend go, or --backend xla:/path/to/the/plugin.so)"
	case errors.Is(err, train.ErrONNXTraining):
		return " (on the command line: --backend go, or --backend xla:cpu or xla:cuda)"
	case errors.Is(err, weights.ErrNotCached) && slices.Contains([]string{"train", "lr-find", "sweep", "reproduce"}, command):
		return "; or train from random initialization with --weights none"
	}
	return ""
}

// flagsOf returns the flags of the settings an invalid setting involves.
func flagsOf(invalid *recipe.InvalidSetting) []string {
	var flags []string
	for _, key := range invalid.Keys() {
		flags = append(flags, "--"+recipe.FlagName(key))
	}
	return flags
}

// checkSettings validates cfg, the settings fs's flags set (over configFile's, when not ""): an invalid
// value is a usage error naming its flag and value, "--batch 0: want at least 1", before any work.
func checkSettings(fs *flag.FlagSet, cfg recipe.Config, configFile string) error {
	err := cfg.Validate()
	invalid, ok := errors.AsType[*recipe.InvalidSetting](err)
	if !ok {
		return err
	}
	var parts []string
	for _, key := range invalid.Keys() {
		name := recipe.FlagName(key)
		part := "--" + name
		if f := fs.Lookup(name); f != nil {
			part += " " + f.Value.String()
		}
		if !flagWasSet(fs, name) && configFile != "" {
			part += " (from " + configFile + ")"
		}
		parts = append(parts, part)
	}
	return usagef("%s: want %s", strings.Join(parts, " and "), invalid.Want)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: vegclf COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	for _, n := range commandNames() {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'vegclf COMMAND -h' for the flags of a command.")
}

// usageError is a command-line mistake (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// parse parses flags that may come before, between or after positional arguments, and returns the
// positional ones. A mistake is one usage error, said once (the flag package's own message and usage are
// kept off stderr): an unknown flag with the flag it was likely meant to be; -h and --help print the usage.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	usage, output := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	defer func() { fs.Usage = usage; fs.SetOutput(output) }()
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(output)
				usage()
				return nil, err
			}
			return nil, usageError{describeParseError(fs, err)}
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

// describeParseError rewords the flag package's errors with flags written as this command's help writes
// them (--name), and names the flag an unknown one was likely meant to be.
func describeParseError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		return fmt.Sprintf("unknown flag --%s%s", name, didYouMean(name, names, "--"))
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return fmt.Sprintf("--%s needs a value", strings.TrimLeft(name, "-"))
	}
	for _, prefix := range []string{" for flag -", " for -"} {
		if before, after, ok := strings.Cut(msg, prefix); ok {
			return before + " for --" + after
		}
	}
	return msg
}

// didYouMean returns " (did you mean PREFIXname?)" when one of names is close to name (a typo or two, or
// the start of just one of them), and "" otherwise.
func didYouMean(name string, names []string, prefix string) string {
	limit := 2
	if len(name) < 5 {
		limit = 1
	}
	var closest []string
	best := limit + 1
	for _, n := range names {
		switch d := recipe.EditDistance(name, n); {
		case d > limit:
		case d < best:
			closest, best = []string{n}, d
		case d == best:
			closest = append(closest, n)
		}
	}
	if len(closest) != 1 && len(name) >= 3 {
		closest = nil
		for _, n := range names {
			if strings.HasPrefix(n, name) {
				closest = append(closest, n)
			}
		}
	}
	if len(closest) != 1 {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s%s?)", prefix, closest[0])
}

// commandNames returns the commands' names, sorted.
func commandNames() []string {
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
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

// newBackend configures the process for the backend spec selects (backend.ConfigureProcess: a command is
// where vegclf configures its process) and creates it (backend.New). What the configuration did is added
// to the choice's reason.
func newBackend(spec string) (compute.Backend, backend.Choice, error) {
	return configuredBackend(spec, backend.New)
}

// newInferenceBackend is newBackend for the commands that only run inference (backend.NewForInference).
func newInferenceBackend(spec string) (compute.Backend, backend.Choice, error) {
	return configuredBackend(spec, backend.NewForInference)
}

func configuredBackend(spec string, create func(string) (compute.Backend, backend.Choice, error)) (compute.Backend, backend.Choice, error) {
	did, err := backend.ConfigureProcess(spec)
	if err != nil {
		return nil, backend.Choice{}, err
	}
	b, choice, err := create(spec)
	if err == nil && did != "" {
		choice.Reason += "; " + did
	}
	return b, choice, err
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
