package main

import (
	"fmt"
	"io"

	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/buildinfo"
	"github.com/vegclf/vegclf/vegclf/rgb"
)

// runVersion prints what a bug report or a paper needs to say what ran: vegclf's version, Go's and the build
// settings, GoMLX's modules, the JPEG decoder and the default backend.
func runVersion(args []string, stdout, stderr io.Writer) error {
	if err := parseFlagsOnly(newFlagSet("version", "", stderr), args); err != nil {
		return err
	}
	info := buildinfo.Read()
	fmt.Fprintf(stdout, "vegclf %s\n", info.Version)
	cgo := "off"
	if info.Settings["CGO_ENABLED"] == "1" {
		cgo = "on"
	}
	fmt.Fprintf(stdout, "Go: %s (cgo %s, GOEXPERIMENT=%s)\n", info.Go, cgo, info.Settings["GOEXPERIMENT"])
	for _, path := range buildinfo.Modules {
		if v, ok := info.Modules[path]; ok {
			fmt.Fprintf(stdout, "Module: %s %s\n", path, v)
		}
	}
	fmt.Fprintf(stdout, "JPEG decoder: %s\n", rgb.JPEGDecoder)
	if choice, err := backend.Select(backend.Detect("")); err != nil {
		fmt.Fprintf(stdout, "Default backend: none (%v)\n", err)
	} else {
		fmt.Fprintf(stdout, "Default backend: %s\n", choice)
	}
	if lib, err := backend.ONNXRuntime(); err != nil {
		fmt.Fprintf(stdout, "ONNX Runtime: not installed (./scripts/setup.sh --onnx installs %s at %s)\n", backend.ONNXRuntimeVersion, backend.DefaultONNXRuntime())
	} else {
		fmt.Fprintf(stdout, "ONNX Runtime: %s (--backend onnx, export --format onnx)\n", lib)
	}
	return nil
}
