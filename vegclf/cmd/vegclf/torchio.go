package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/internal/atomicfile"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/onnxmodel"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/runimport"
	"github.com/vegclf/vegclf/vegclf/weights"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// runImport makes a run folder from a PyTorch checkpoint: the tutorial's VegetableResnet, a torchvision
// model of a registered architecture with its classifier (or its last Linear) replaced, or a DataParallel
// or Lightning wrapper of one.
func runImport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import", "--torch FILE --classes DIR|NAME,NAME,... --out RUNDIR [flags]", stderr)
	file := fs.String("torch", "", "a torch.save file: a state_dict, or a checkpoint holding one under model, state_dict or model_state_dict")
	classesFlag := fs.String("classes", "", "the model's classes: a dataset folder (with train/) or a folder of class folders, named as ImageFolder sorts them, or NAME,NAME,... in the model's output order")
	out := fs.String("out", "", "the run folder to write")
	cfg := recipe.Default()
	cfg.FrozenEpochs, cfg.FinetuneEpochs = 0, 0
	fs.TextVar(&cfg.Arch, "arch", cfg.Arch, "`architecture`: "+strings.Join(zoo.Names(), ", "))
	fs.TextVar(&cfg.Normalization, "normalize", cfg.Normalization, "the input `normalization` the model was trained with: half (the tutorial's 0.5/0.5) or imagenet")
	fs.IntVar(&cfg.ImageSize, "image-size", cfg.ImageSize, "the image size the model was trained with")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	if *file == "" || *classesFlag == "" || *out == "" {
		return usagef("want --torch FILE --classes DIR|NAME,... --out RUNDIR")
	}
	if cfg.ImageSize < 16 {
		return usagef("--image-size %d: want at least 16", cfg.ImageSize)
	}
	cfg.Weights = *file
	classes, dataDir, err := importClasses(*classesFlag)
	if err != nil {
		return err
	}
	cfg.Data = dataDir

	ckpt, err := weights.ReadTorchCheckpoint(*file)
	if err != nil {
		return err
	}
	arch, err := zoo.Lookup(string(cfg.Arch))
	if err != nil {
		return usagef("--arch: %v", err)
	}
	head, err := headOf(ckpt.Model, arch.Backbone.HeadName())
	if err != nil {
		return fmt.Errorf("importing %s: %w", *file, err)
	}
	if head.NumClasses != len(classes) {
		return fmt.Errorf("importing %s: the model has %d outputs, --classes names %d classes", *file, head.NumClasses, len(classes))
	}
	cfg.Hidden = 0
	if len(head.Hidden) > 0 {
		cfg.Hidden = head.Hidden[0]
	}
	m, err := zoo.New(string(cfg.Arch), head)
	if err != nil {
		return err
	}
	store := model.NewStore()
	if _, err := weights.Load(store, m, ckpt.Model, weights.KeepHead); err != nil {
		return err
	}
	if ckpt.Adam != nil {
		cfg.FinetuneLR = ckpt.Adam.LR
	}
	if err := runimport.Write(*out, cfg, classes, m, store, ckpt.Adam, *file); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Imported %s", *file)
	if ckpt.Prefix != "" {
		fmt.Fprintf(stdout, " (names prefixed %q)", ckpt.Prefix)
	}
	fmt.Fprintf(stdout, ": %s, %d classes, %dx%d images, %s normalization.\n", m, len(classes), cfg.ImageSize, cfg.ImageSize, cfg.Normalization)
	switch {
	case ckpt.Adam != nil:
		fmt.Fprintf(stdout, "Optimizer: Adam state imported (step %d, learning rate %g): more fine-tuning continues it.\n", ckpt.Adam.Step, ckpt.Adam.LR)
	case ckpt.AdamNote != "":
		fmt.Fprintf(stdout, "Optimizer: not imported: %s.\n", ckpt.AdamNote)
	}
	fmt.Fprintf(stdout, "Run folder: %s. Use it with predict --run, eval --run, or train more: train --out %s --resume --finetune-epochs N", *out, *out)
	if dataDir == "" {
		fmt.Fprint(stdout, " --data DIR")
	}
	fmt.Fprintln(stdout)
	return nil
}

// importClasses reads --classes: a dataset folder (its train/ split's classes, and the folder as the run's
// data), a folder of class folders, or names separated by commas.
func importClasses(spec string) (classes []string, dataDir string, err error) {
	info, statErr := os.Stat(spec)
	switch {
	case statErr == nil && info.IsDir():
		if f, err := data.Open(spec); err == nil {
			return f.Classes, spec, nil
		}
		classes, err := data.ClassFolders(spec)
		if err != nil {
			return nil, "", err
		}
		if len(classes) == 0 {
			return nil, "", fmt.Errorf("--classes %s: no class folders in it", spec)
		}
		return classes, "", nil
	case strings.ContainsAny(spec, `/\`):
		return nil, "", fmt.Errorf("--classes %s: %w", spec, statErr)
	}
	for _, c := range strings.Split(spec, ",") {
		if c = strings.TrimSpace(c); c == "" {
			return nil, "", usagef("--classes %q has an empty name", spec)
		}
		classes = append(classes, c)
	}
	return classes, "", nil
}

// headOf reads the classifier head from a state_dict's tensors under name, the module the head replaces
// (a ResNet's "fc", a MobileNetV3's "classifier.3"): torchvision's single Linear (name.weight), or a
// Sequential of Linears and ReLUs (name.0, name.2, ...) as the tutorial's.
func headOf(sd *weights.StateDict, name string) (nn.Head, error) {
	if w, ok := sd.Tensors[name+".weight"]; ok && len(w.Shape) == 2 {
		return nn.Head{NumClasses: w.Shape[0]}, nil
	}
	var head nn.Head
	for i := 0; ; i += 2 {
		w, ok := sd.Tensors[fmt.Sprintf("%s.%d.weight", name, i)]
		if !ok {
			break
		}
		if len(w.Shape) != 2 {
			return head, fmt.Errorf("%s.%d.weight has shape %v, not a Linear's", name, i, w.Shape)
		}
		if head.NumClasses > 0 {
			head.Hidden = append(head.Hidden, head.NumClasses)
		}
		head.NumClasses = w.Shape[0]
	}
	if head.NumClasses == 0 {
		return head, fmt.Errorf("no classifier found: neither %s.weight nor %s.0.weight (is it a state_dict of this architecture? see --arch)", name, name)
	}
	return head, nil
}

// exportLayouts are the module layouts export writes.
var exportLayouts = map[string]string{
	"tutorial":    "resnet.", // The tutorial's VegetableResnet: the ResNet under self.resnet.
	"torchvision": "",        // torchvision's model with its classifier (fc, classifier.3, ...) replaced by the head.
}

// runExport writes a run's best model as a torch.save state_dict that torch.load reads and
// load_state_dict(strict=True) accepts, and the class names beside it.
func runExport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("export", "--run RUNDIR --out FILE.pth|FILE.onnx [--layout tutorial|torchvision] [--format pth|onnx]", stderr)
	runDir := fs.String("run", "", "a run folder (its best checkpoint) or a checkpoint file")
	out := fs.String("out", "", "the .pth file to write (classes.json is written beside it), or the .onnx file")
	layout := fs.String("layout", "", "pth: tutorial (the PyTorch tutorial's VegetableResnet, names under resnet.; the default for ResNets) or torchvision (the torchvision model with its classifier replaced; the default for other architectures)")
	format := fs.String("format", "", "pth (PyTorch state_dict) or onnx (input pixel_values [batch, C, H, W] normalized, C 3 or the run's --in-channels, output logits; classes in its metadata); by default from --out's extension (.onnx, else pth)")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	switch f, err := exportFormat(*format, *out); {
	case err != nil:
		return err
	case f == "onnx" && flagWasSet(fs, "layout"):
		return usagef("--layout is for the pth format; an ONNX file has one layout")
	case f == "onnx":
		return exportONNX(*runDir, *out, stdout)
	}
	if _, ok := exportLayouts[*layout]; !ok && *layout != "" {
		return usagef("--layout %q: want tutorial or torchvision", *layout)
	}
	if *runDir == "" || *out == "" {
		return usagef("want --run RUNDIR --out FILE.pth")
	}
	path := runfolder.CheckpointPath(*runDir)
	m, store, meta, err := runfolder.LoadModel(path)
	if err != nil {
		return err
	}
	resNet := m.Backbone.HeadName() == "fc" // The tutorial's VegetableResnet wraps a ResNet.
	switch {
	case *layout == "" && resNet:
		*layout = "tutorial"
	case *layout == "":
		*layout = "torchvision"
	case *layout == "tutorial" && !resNet:
		return usagef("--layout tutorial: the tutorial's VegetableResnet holds a ResNet, this model is %s: use --layout torchvision", m)
	}
	prefix := exportLayouts[*layout]
	if *layout == "tutorial" && len(m.Head.Hidden) == 0 {
		return fmt.Errorf("exporting %s: the tutorial's layout needs a head with a hidden layer (fc.0, fc.2), this one is %s: use --layout torchvision", path, m.Head)
	}
	sd, err := weights.FromStore(store, m)
	if err != nil {
		return err
	}
	named := weights.NewStateDict(*out)
	for _, name := range sd.Names {
		named.Add(prefix+name, sd.Tensors[name])
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return fmt.Errorf("exporting: %w", err)
	}
	classesPath := filepath.Join(filepath.Dir(*out), "classes.json")
	classes, _ := json.MarshalIndent(meta.Classes, "", "  ")
	classes = append(classes, '\n')
	if old, err := os.ReadFile(classesPath); err == nil && !bytes.Equal(old, classes) {
		return fmt.Errorf("%s exists with other classes: export into another folder", classesPath)
	}
	if err := weights.WritePTH(*out, named); err != nil {
		return err
	}
	if err := atomicfile.Write(classesPath, classes); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote %s (%s layout, %d tensors: %s) and %s (%d classes).\n", *out, *layout, len(named.Names), m, classesPath, len(meta.Classes))
	return nil
}

// exportONNX writes the run's best checkpoint (or the checkpoint file runDir) as an ONNX model at out.
func exportONNX(runDir, out string, stdout io.Writer) error {
	if runDir == "" || out == "" {
		return usagef("want --run RUNDIR --format onnx --out FILE.onnx")
	}
	path := runfolder.CheckpointPath(runDir)
	m, store, meta, err := runfolder.LoadModel(path)
	if err != nil {
		return err
	}
	md := onnxmodel.Metadata{Classes: meta.Classes, ImageSize: meta.ImageSize, Normalization: meta.Normalization, Source: path,
		Channels: meta.InChannels, MultiLabel: meta.MultiLabel, Thresholds: meta.Thresholds}
	if err := onnxmodel.Export(m, store, md, out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote %s (ONNX: %s; input pixel_values [batch, %d, %d, %d], %s normalization; output logits [batch, %d]).\n",
		out, m, m.Channels(), meta.ImageSize, meta.ImageSize, meta.Normalization.Name, len(meta.Classes))
	return nil
}
