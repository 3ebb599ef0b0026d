package main

import (
	"context"
	"fmt"
	"io"

	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/train"
)

// runReproduce trains a run again from its config.json into a new folder and compares the two epoch by
// epoch: on the same backend and machine the figures must be identical, and where they are not, what
// differs in the runs' provenance (data, weights, versions, backend) is named.
func runReproduce(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("reproduce", "RUNDIR --out NEWDIR", stderr)
	out := fs.String("out", "", "the folder of the new run")
	backendSpec := backendFlag(fs)
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 || *out == "" {
		return usagef("want RUNDIR --out NEWDIR")
	}
	orig := rest[0]
	cfg, err := runfolder.ReadConfig(orig)
	if err != nil {
		return err
	}
	before, err := runfolder.ReadProvenance(orig)
	if err != nil {
		return fmt.Errorf("%w (runs made before vegclf recorded it cannot be compared)", err)
	}
	want, err := runfolder.ReadMetrics(orig)
	if err != nil {
		return err
	}
	b, choice, err := newBackend(*backendSpec)
	if err != nil {
		return err
	}
	defer b.Finalize()
	fmt.Fprintf(stdout, "Backend: %s\nReproducing %s in %s\n", choice, orig, *out)
	r, err := train.Create(cfg, b, *out)
	if err != nil {
		return err
	}
	r.Report = stdout
	if err := r.Train(context.Background()); err != nil {
		return err
	}
	got, err := runfolder.ReadMetrics(*out)
	if err != nil {
		return err
	}
	after, err := runfolder.ReadProvenance(*out)
	if err != nil {
		return err
	}
	differ := len(got) != len(want)
	for i := range min(len(got), len(want)) {
		a, b := want[i], got[i]
		if a.Phase != b.Phase || a.Epoch != b.Epoch || a.TrainLoss != b.TrainLoss || a.TrainAccuracy != b.TrainAccuracy ||
			a.TestLoss != b.TestLoss || a.TestAccuracy != b.TestAccuracy {
			fmt.Fprintf(stdout, "%s epoch %d differs:\n  was %s\n  now %s\n", a.Phase, a.Epoch, a, b)
			differ = true
		}
	}
	reasons := before.Differences(after)
	if !differ {
		fmt.Fprintf(stdout, "Reproduced: all %d epochs have identical losses and accuracies.\n", len(got))
		for _, r := range reasons {
			fmt.Fprintf(stdout, "Note: %s.\n", r)
		}
		return nil
	}
	if len(got) != len(want) {
		fmt.Fprintf(stdout, "The run had %d epochs, the reproduction %d.\n", len(want), len(got))
	}
	if len(reasons) == 0 {
		return fmt.Errorf("not reproduced, though the data, weights, versions and backend are the same (another machine kind?)")
	}
	for _, r := range reasons {
		fmt.Fprintf(stdout, "Reason: %s.\n", r)
	}
	return fmt.Errorf("not reproduced: %s", reasons[0])
}
