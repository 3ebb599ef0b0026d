package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/data"
)

// versionInfo is what a bug report or a paper needs to say what ran.
type versionInfo struct {
	Version    string // The module's version, or its VCS revision ("dirty" with uncommitted changes).
	Go         string
	Build      string // cgo and GOEXPERIMENT.
	Modules    []string
	JPEG       string
	Backend    string // The backend chosen by default here, and why.
	BackendErr error
}

// versionModules are the dependencies whose versions decide what vegclf computes.
var versionModules = []string{"github.com/gomlx/gomlx", "github.com/gomlx/compute", "github.com/gomlx/go-xla"}

// readVersion reads the build's information.
func readVersion() versionInfo {
	v := versionInfo{Version: "unknown (no build information)", Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH, JPEG: data.JPEGDecoder}
	if info, ok := debug.ReadBuildInfo(); ok {
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		v.Version = describeVersion(info.Main.Version, settings)
		v.Build = fmt.Sprintf("cgo %s, GOEXPERIMENT=%s", onOff(settings["CGO_ENABLED"] == "1"), settings["GOEXPERIMENT"])
		for _, path := range versionModules {
			for _, dep := range info.Deps {
				if dep.Path == path {
					v.Modules = append(v.Modules, path+" "+dep.Version)
				}
			}
		}
	}
	choice, err := backend.Select(backend.Detect(""))
	v.Backend, v.BackendErr = choice.String(), err
	return v
}

// describeVersion names the build: the module's version when it has one (go install module@version),
// else the VCS revision the build info records (go build in a checkout), with its time and "dirty" for
// uncommitted changes.
func describeVersion(main string, settings map[string]string) string {
	if main != "" && main != "(devel)" {
		return main
	}
	rev := settings["vcs.revision"]
	if rev == "" {
		return "(devel), built outside version control"
	}
	v := "revision " + rev
	if t := settings["vcs.time"]; t != "" {
		v += " (" + t + ")"
	}
	if settings["vcs.modified"] == "true" {
		v += ", dirty"
	}
	return v
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// runVersion prints vegclf's version, Go's, GoMLX's, the JPEG decoder and the default backend.
func runVersion(args []string, stdout, stderr io.Writer) error {
	if err := parseFlagsOnly(newFlagSet("version", "", stderr), args); err != nil {
		return err
	}
	v := readVersion()
	fmt.Fprintf(stdout, "vegclf %s\n", v.Version)
	fmt.Fprintf(stdout, "Go: %s (%s)\n", v.Go, v.Build)
	for _, m := range v.Modules {
		fmt.Fprintf(stdout, "Module: %s\n", m)
	}
	fmt.Fprintf(stdout, "JPEG decoder: %s\n", v.JPEG)
	if v.BackendErr != nil {
		fmt.Fprintf(stdout, "Default backend: none (%v)\n", v.BackendErr)
	} else {
		fmt.Fprintf(stdout, "Default backend: %s\n", v.Backend)
	}
	return nil
}
