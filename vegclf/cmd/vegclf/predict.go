package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/imagenet"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/predict"
	"github.com/vegclf/vegclf/vegclf/rgb"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/weights"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

func runPredict(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("predict", "(--weights FILE|NAME | --run RUNDIR) [flags] IMAGE|FOLDER|PATTERN...", stderr)
	weightsFlag := fs.String("weights", "", "ImageNet weights: a .pth/.safetensors file or a registry name (see 'vegclf weights list')")
	arch := fs.String("arch", "resnet50", "architecture of the weights: "+strings.Join(zoo.Names(), ", "))
	normalize := fs.String("normalize", "imagenet", "input normalization: imagenet or half (0.5/0.5)")
	size := fs.Int("image-size", 0, "the images' size (square) the model sees: with registry weights, their evaluation's crop (their shorter side resized in proportion first), by default theirs; with a file, images resized to it, by default 224")
	topk := fs.Int("topk", 5, "number of classes to print per image")
	asJSON := fs.Bool("json", false, "print one JSON object per image")
	tta := fs.Bool("tta", false, "test-time augmentation: average each image's probabilities with its mirror image's")
	runDir := fs.String("run", "", "a training run folder (its best checkpoint) or checkpoint file, instead of --weights")
	backendSpec := backendFlag(fs)
	paths, err := parse(fs, args)
	if err != nil {
		return err
	}
	if (*weightsFlag == "") == (*runDir == "") {
		return usagef("give either --weights or --run")
	}
	if len(paths) == 0 {
		return usagef("no images given")
	}
	if *topk < 1 {
		return usagef("--topk %d: want a whole number of classes, at least 1", *topk)
	}
	images, err := data.ExpandInputs(paths)
	if err != nil {
		return err
	}
	if *runDir != "" {
		return predictWithRun(*runDir, images, *topk, *asJSON, *backendSpec, ttaOption(*tta), stdout, stderr)
	}
	norm, err := data.NormalizationByName(*normalize)
	if err != nil {
		return usagef("%v", err)
	}
	if *size != 0 && *size < 16 {
		return usagef("--image-size %d is too small (at least 16)", *size)
	}
	cache, err := weights.CacheDir()
	if err != nil {
		return err
	}
	if _, err := zoo.Lookup(*arch); err != nil {
		return usagef("--arch: %v", err)
	}
	path, known, err := zoo.ResolveWeights(*weightsFlag, *arch, cache)
	if err != nil {
		return err
	}
	archName := *arch
	if known != nil && !flagWasSet(fs, "arch") {
		archName = known.Arch
	}
	m, err := zoo.New(archName, nn.ImageNetHead())
	if err != nil {
		return err
	}
	store := model.NewStore()
	if _, err := weights.LoadFile(store, m, path, weights.KeepHead); err != nil {
		return err
	}
	b, choice, err := newInferenceBackend(*backendSpec)
	if err != nil {
		return err
	}
	defer b.Finalize()
	if !*asJSON {
		fmt.Fprintf(stderr, "backend: %s\n", choice)
	}
	transform, err := evalTransform(known, *size, norm)
	if err != nil {
		return err
	}
	if !*asJSON {
		fmt.Fprintf(stderr, "preprocessing: %s\n", describeTransform(transform))
	}
	c, err := predict.New(b, m, store, imagenet.Labels(), transform, ttaOption(*tta)...)
	if err != nil {
		return err
	}
	return printPredictions(c, images, *topk, *asJSON, stdout, stderr)
}

// printPredictions is predict's printPredictionsAs.
func printPredictions(c *predict.Classifier, images []data.Input, topk int, asJSON bool, stdout, stderr io.Writer) error {
	return printPredictionsAs("predict", c, images, topk, asJSON, stdout, stderr)
}

// printPredictionsAs predicts the images and prints them as text or JSON lines, for the command named: the
// top classes, a multi-label model's every class above its threshold (topk aside).
// Unreadable images are each named on stderr, as the command's other errors are ("vegclf predict: ..."),
// and make the command fail after the others are printed, with their count. Images found in class folders
// (data.Input.Class) named as the model's classes are scored: the accuracy against the folder names
// follows the predictions (on stderr with JSON output).
func printPredictionsAs(command string, c *predict.Classifier, images []data.Input, topk int, asJSON bool, stdout, stderr io.Writer) error {
	paths := make([]string, len(images))
	for i, in := range images {
		paths[i] = in.Path
	}
	preds, err := c.Files(paths, max(topk, 1))
	if err != nil {
		return err
	}
	failed, scored, correct := 0, 0, 0
	enc := json.NewEncoder(stdout)
	for i, p := range preds {
		if p.Err != nil {
			failed++
			fmt.Fprintf(stderr, "vegclf %s: %v\n", command, p.Err)
			continue
		}
		if class := images[i].Class; class != "" && slices.Contains(c.Labels, class) && !c.MultiLabel {
			scored++
			if p.Top[0].Label == class {
				correct++
			}
		}
		if asJSON {
			if err := enc.Encode(p); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintln(stdout, p.Image)
		if c.MultiLabel && len(p.Top) == 0 {
			fmt.Fprintf(stdout, "  (%s)\n", predict.NoClassAbove)
		}
		for i, cl := range p.Top {
			fmt.Fprintf(stdout, "  %d. %-30s %6.2f%%\n", i+1, cl.Label, 100*cl.Prob)
		}
	}
	if scored > 0 {
		w := stdout
		if asJSON {
			w = stderr
		}
		fmt.Fprintf(w, "Accuracy against the folder names: %.2f%% (%d of %d images in folders named as the model's classes)\n",
			100*float64(correct)/float64(scored), correct, scored)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d images could not be read", failed, len(images))
	}
	return nil
}

// inputsOf returns the files as inputs of no class.
func inputsOf(paths []string) []data.Input {
	inputs := make([]data.Input, len(paths))
	for i, p := range paths {
		inputs[i] = data.Input{Path: p}
	}
	return inputs
}

// predictWithRun classifies images with a trained run's best checkpoint.
func predictWithRun(runDir string, images []data.Input, topk int, asJSON bool, backendSpec string, opts []predict.Option, stdout, stderr io.Writer) error {
	b, _, err := newInferenceBackend(backendSpec)
	if err != nil {
		return err
	}
	defer b.Finalize()
	c, _, err := runfolder.LoadClassifier(b, runDir, opts...)
	if err != nil {
		return err
	}
	return printPredictions(c, images, topk, asJSON, stdout, stderr)
}

// ttaOption returns the classifier options for the --tta flag.
func ttaOption(on bool) []predict.Option {
	if on {
		return []predict.Option{predict.WithTTA()}
	}
	return nil
}

// evalTransform returns the preprocessing of predictions with published weights k (nil for a file): their
// ImageNet evaluation's (torchvision's weights enum: the shorter side resized, the centre cropped, with
// their interpolation), at size when given (the resize in proportion); for a file, images resized to size
// (224 when 0), as the tutorial's transform does.
func evalTransform(k *weights.Known, size int, norm data.Normalization) (data.Transform, error) {
	if k == nil {
		return data.Transform{Size: cmp.Or(size, 224), Normalization: norm}, nil
	}
	filter, err := rgb.ParseFilter(k.Interpolation)
	if err != nil {
		return data.Transform{}, fmt.Errorf("weights %s: %w", k.Name, err)
	}
	t := data.Transform{Size: k.Crop, Resize: k.Resize, Interpolation: filter, Normalization: norm}
	if size != 0 {
		t.Size, t.Resize = size, size*k.Resize/k.Crop
	}
	return t, nil
}

// describeTransform says what a transform does to an image, in torchvision's terms.
func describeTransform(t data.Transform) string {
	if t.Resize == 0 {
		return fmt.Sprintf("resized to %dx%d (%s), %s normalization", t.Size, t.Size, t.Interpolation, t.Normalization.Name)
	}
	return fmt.Sprintf("shorter side resized to %d, centre %dx%d crop (%s), %s normalization", t.Resize, t.Size, t.Size, t.Interpolation, t.Normalization.Name)
}
