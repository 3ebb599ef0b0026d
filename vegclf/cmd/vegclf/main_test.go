package main

import (
	"os"
	"testing"
)

// TestMain lets tests run the command in a child process: the test binary itself, with
// VEGCLF_TEST_RUN_MAIN=1, behaves as vegclf.
func TestMain(m *testing.M) {
	if os.Getenv("VEGCLF_TEST_RUN_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
