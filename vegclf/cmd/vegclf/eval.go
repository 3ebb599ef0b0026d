package main

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/evaluate"
	"github.com/vegclf/vegclf/vegclf/runfolder"
)

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", "--run RUNDIR (--split DIR | FOLDER|PATTERN...) [flags]", stderr)
	runDir := fs.String("run", "", "run folder (its best checkpoint is used) or a checkpoint file")
	splitDir := fs.String("split", "", "folder with one sub-folder per class of the model, e.g. DATA/validation")
	batch := fs.Int("batch", 16, "batch size")
	tta := fs.Bool("tta", false, "test-time augmentation: average each image's probabilities with its mirror image's")
	backendSpec := backendFlag(fs)
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *runDir == "" || (*splitDir == "") == (len(rest) == 0) {
		return usagef("want --run RUNDIR and either --split DIR or folders and patterns of images in class folders")
	}
	if *batch < 1 {
		return usagef("--batch %d: want at least 1", *batch)
	}
	b, _, err := backend.NewForInference(*backendSpec)
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
	if *splitDir != "" {
		split, err = data.OpenSplit(filepath.Base(*splitDir), *splitDir, c.Labels)
	} else {
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
