package main

import (
	"fmt"
	"io"
	"time"

	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/rgb"
)

// runBackend says which compute backend the other commands would use and why, starts it, and checks
// that it computes (backend.Check): the first thing to run on a new machine or GPU. It also names the
// JPEG decoder of this build.
func runBackend(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("backend", "[--backend go|xla:cpu|xla:cuda|xla:/path/plugin.so]", stderr)
	backendSpec := backendFlag(fs)
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	t0 := time.Now()
	b, choice, err := newBackend(*backendSpec)
	if err != nil {
		return err
	}
	defer b.Finalize()
	fmt.Fprintf(stdout, "Backend: %s\nWhy: %s\nDescription: %s\nDevices: %d\n", choice.Config, choice.Reason, b.Description(), b.NumDevices())
	if err := backend.Check(b); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Check: a matrix product and a convolution computed right (%.1fs from start)\n", time.Since(t0).Seconds())
	fmt.Fprintf(stdout, "JPEG decoder: %s\n", rgb.JPEGDecoder)
	return nil
}
