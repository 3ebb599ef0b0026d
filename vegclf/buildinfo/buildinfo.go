// Package buildinfo says what build of vegclf is running: its version or VCS revision, Go's version, and
// the versions of the modules that decide what it computes.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Modules are the dependencies whose versions decide what vegclf computes.
var Modules = []string{"github.com/gomlx/gomlx", "github.com/gomlx/compute", "github.com/gomlx/go-xla", "github.com/gomlx/compute-onnx"}

// Info is what the build information says.
type Info struct {
	Version  string            `json:"vegclf"`  // See Describe.
	Go       string            `json:"go"`      // "go1.27.3-X:simd linux/amd64".
	Settings map[string]string `json:"-"`       // The build settings (CGO_ENABLED, GOEXPERIMENT, vcs.*).
	Modules  map[string]string `json:"modules"` // Path to version, for Modules.
}

// Read returns the running build's information.
func Read() Info {
	info := Info{Version: "unknown (no build information)", Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		Settings: map[string]string{}, Modules: map[string]string{}}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	for _, s := range bi.Settings {
		info.Settings[s.Key] = s.Value
	}
	info.Version = Describe(bi.Main.Version, info.Settings)
	for _, dep := range bi.Deps {
		for _, path := range Modules {
			if dep.Path == path {
				info.Modules[path] = dep.Version
			}
		}
	}
	return info
}

// Describe names a build: the module's version when it has one (go install module@version), else the VCS
// revision the build settings record (go build in a checkout), with its time and "dirty" for uncommitted
// changes.
func Describe(main string, settings map[string]string) string {
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
