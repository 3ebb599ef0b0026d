package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/evaluate"
	"github.com/vegclf/vegclf/vegclf/train"
)

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", "--run RUNDIR --split DIR [flags]", stderr)
	runDir := fs.String("run", "", "run folder (its best checkpoint is used) or a checkpoint file")
	splitDir := fs.String("split", "", "folder with one sub-folder per class, e.g. DATA/validation")
	batch := fs.Int("batch", 16, "batch size")
	tta := fs.Bool("tta", false, "test-time augmentation: average each image's probabilities with its mirror image's")
	backendSpec := backendFlag(fs)
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *runDir == "" || *splitDir == "" || len(rest) > 0 {
		return usagef("want --run RUNDIR --split DIR")
	}
	b, _, err := backend.New(*backendSpec)
	if err != nil {
		return err
	}
	defer b.Finalize()
	c, _, err := train.LoadClassifier(b, *runDir, ttaOption(*tta)...)
	if err != nil {
		return err
	}
	split, err := data.OpenSplit(filepath.Base(*splitDir), *splitDir, c.Labels)
	if err != nil {
		return err
	}
	res, err := evaluate.Split(c, split, *batch, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Evaluation of %s on %s\n", *runDir, *splitDir)
	res.WriteReport(stdout)
	return nil
}
