package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/vegclf/vegclf/vegclf/kaggle"
)

// runData gets a dataset: vegclf data get kaggle:OWNER/DATASET [--out DIR].
func runData(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("data", "get kaggle:OWNER/DATASET [--out DIR] [--api URL]", stderr)
	out := fs.String("out", "", "folder to unpack the dataset into (default data/DATASET)")
	api := fs.String("api", "", "Kaggle API base address (default $"+kaggle.APIEnv+", else "+kaggle.DefaultAPI+")")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		return usagef("want a subcommand: get kaggle:OWNER/DATASET")
	}
	if rest[0] != "get" {
		return usagef("unknown data subcommand %q (want get kaggle:OWNER/DATASET)", rest[0])
	}
	if len(rest) != 2 {
		return usagef("get takes one dataset, kaggle:OWNER/DATASET (got %d arguments)", len(rest)-1)
	}
	spec := rest[1]
	ds, err := kaggle.ParseSpec(spec)
	if err != nil {
		return usageError{err.Error()}
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join("data", ds.Name)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := kaggle.Get(ctx, spec, dir, kaggle.Options{API: *api, Progress: stderr})
	if err != nil {
		return err
	}
	if res.DataDir == "" {
		fmt.Fprintf(stdout, "%s is in %s, with no ImageFolder dataset (a train/ folder of class folders) in it: for images listed in a CSV file, train with --labels FILE.csv\n", ds, dir)
		return nil
	}
	fmt.Fprintf(stdout, "%s: %s (%s)\n", ds, res.DataDir, res.Found[0].Summary())
	fmt.Fprintf(stdout, "--data %s\n", shellQuote(res.DataDir))
	fmt.Fprintf(stdout, "for example: vegclf train --data %s --out runs/%s\n", shellQuote(res.DataDir), ds.Name)
	if abs, err := filepath.Abs(res.DataDir); err == nil {
		fmt.Fprintf(stdout, "in the notebooks: VEGCLF_DATA=%s\n", shellQuote(abs))
	}
	for _, f := range res.Found[1:] {
		fmt.Fprintf(stdout, "another dataset in it: %s (%s)\n", f.Dir, f.Summary())
	}
	return nil
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:=+-]+$`)

// shellQuote quotes s for a POSIX shell where it needs it.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
