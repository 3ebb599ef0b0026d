package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/evaluate"
	"github.com/vegclf/vegclf/vegclf/runfolder"
)

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", "--run RUNDIR (--split DIR | --labels FILE | FOLDER|PATTERN...) [flags]", stderr)
	runDir := fs.String("run", "", "run folder (its best checkpoint is used) or a checkpoint file")
	splitDir := fs.String("split", "", "folder with one sub-folder per class of the model, e.g. DATA/validation")
	labelsFile := fs.String("labels", "", "a CSV `file` of path,label[,split] rows (as train's --labels; a multi-label model's labels separated by ';'): its validation rows are evaluated, else its test rows")
	batch := fs.Int("batch", 16, "batch size")
	tta := fs.Bool("tta", false, "test-time augmentation: average each image's probabilities with its mirror image's")
	backendSpec := backendFlag(fs)
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	given := 0
	for _, on := range []bool{*splitDir != "", *labelsFile != "", len(rest) > 0} {
		if on {
			given++
		}
	}
	if *runDir == "" || given != 1 {
		return usagef("want --run RUNDIR and one of --split DIR, --labels FILE, or folders and patterns of images in class folders")
	}
	if *batch < 1 {
		return usagef("--batch %d: want at least 1", *batch)
	}
	b, _, err := newInferenceBackend(*backendSpec)
	if err != nil {
		return err
	}
	defer b.Finalize()
	c, _, err := runfolder.LoadClassifier(b, *runDir, ttaOption(*tta)...)
	if err != nil {
		return err
	}
	var split *data.Split
	what := *splitDir
	switch {
	case *splitDir != "":
		split, err = data.OpenSplit(filepath.Base(*splitDir), *splitDir, c.Labels)
	case *labelsFile != "":
		split, err = labelsSplit(*labelsFile, c.Labels, c.MultiLabel)
		what = *labelsFile
	default:
		split, err = labelledSplit(rest, c.Labels)
		what = strings.Join(rest, " ")
	}
	if err != nil {
		return err
	}
	res, err := evaluate.Split(c, split, *batch, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Evaluation of %s on %s\n", *runDir, what)
	res.WriteReport(stdout)
	// As predict: the readable images are evaluated, each unreadable one is named, and the command fails.
	for _, u := range res.Unreadable {
		fmt.Fprintf(stderr, "vegclf eval: %v\n", u.Err)
	}
	if n := len(res.Unreadable); n > 0 {
		return fmt.Errorf("%d of %d images could not be read", n, len(split.Samples))
	}
	return nil
}

// labelsSplit returns the held-out rows (validation, else test) of a labels CSV file, their classes
// those of the model's (labels) of the same names.
func labelsSplit(path string, labels []string, multi bool) (*data.Split, error) {
	read := data.ReadLabels
	if multi {
		read = data.ReadMultiLabels
	}
	l, err := read(path)
	if err != nil {
		return nil, err
	}
	split, err := l.Split(data.Validation)
	if errors.Is(err, data.ErrNoSplit) {
		split, err = l.Split(data.Test)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: eval --labels evaluates the validation or test rows", err)
	}
	out := &data.Split{Name: split.Name, Dir: split.Dir}
	for _, s := range split.Samples {
		sample := data.Sample{Path: s.Path}
		for _, class := range s.Classes() {
			index := slices.Index(labels, l.Classes[class])
			if index < 0 {
				return nil, fmt.Errorf("labels %s: %s's label %q is not one of the model's classes (%s)", path, s.Path, l.Classes[class], strings.Join(labels, ", "))
			}
			sample.Labels = append(sample.Labels, index)
		}
		slices.Sort(sample.Labels)
		sample.Label = sample.Labels[0]
		if !multi {
			sample.Labels = nil
		}
		out.Samples = append(out.Samples, sample)
	}
	return out, nil
}

// labelledSplit lists the images of folder and pattern arguments (data.ExpandInputs), each labelled by
// the class folder it is in, which must be one of the model's classes.
func labelledSplit(args []string, labels []string) (*data.Split, error) {
	inputs, err := data.ExpandInputs(args)
	if err != nil {
		return nil, err
	}
	split := &data.Split{Name: "given images"}
	for _, in := range inputs {
		label := slices.Index(labels, in.Class)
		if label < 0 {
			return nil, usagef("%s is not in a folder named as one of the model's classes (%s): give folders of class folders, as --split takes",
				in.Path, strings.Join(labels, ", "))
		}
		split.Samples = append(split.Samples, data.Sample{Path: in.Path, Label: label})
	}
	return split, nil
}
