package backend

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/compute"
)

// ONNXRuntimeEnv names the environment variable that gives ONNX Runtime's shared library.
const ONNXRuntimeEnv = "VEGCLF_ONNXRUNTIME"

// ONNXRuntimeVersion is the ONNX Runtime that scripts/setup.sh --onnx installs (from the npm package
// onnxruntime-node, which ships its CPU library for linux x64): the one place it is written, which
// setup.sh reads (TestONNXRuntimeVersionWrittenOnce).
const ONNXRuntimeVersion = "1.30.0"

// DefaultONNXRuntime is where scripts/setup.sh installs ONNX Runtime's library:
// $XDG_CACHE_HOME/vegclf/onnxruntime-VERSION/libonnxruntime.so.1 (~/.cache when XDG_CACHE_HOME is unset).
func DefaultONNXRuntime() string {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "vegclf", "onnxruntime-"+ONNXRuntimeVersion, "libonnxruntime.so.1")
}

// ONNXRuntime returns the path of ONNX Runtime's shared library: $VEGCLF_ONNXRUNTIME when set, else
// DefaultONNXRuntime. It is an error naming the path, and how to install the library, when the file is
// not there.
func ONNXRuntime() (string, error) {
	path := os.Getenv(ONNXRuntimeEnv)
	if path == "" {
		path = DefaultONNXRuntime()
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("ONNX Runtime's library is not at %s (set %s to its path, or run ./scripts/setup.sh --onnx to install ONNX Runtime %s there): %w",
			path, ONNXRuntimeEnv, ONNXRuntimeVersion, err)
	}
	return path, nil
}

// IsONNX reports whether b is ONNX Runtime: it runs inference graphs, not training ones (GoMLX's gradients
// of strided convolutions need input dilation, which ONNX's Conv does not have).
func IsONNX(b compute.Backend) bool { return b.Name() == "onnxruntime" || b.Name() == "onnx" }

// NewONNXRuntime starts ONNX Runtime from its installed library (ONNXRuntime), for the passes without
// gradients of a run that trains on another backend. It is an error naming what is missing when this build
// has no ONNX Runtime (it loads the library through cgo) or the library is not installed.
func NewONNXRuntime() (compute.Backend, error) {
	if !xlaBuilt {
		return nil, fmt.Errorf("ONNX Runtime: this vegclf was built without cgo, which loads its library")
	}
	lib, err := ONNXRuntime()
	if err != nil {
		return nil, err
	}
	b, _, err := New("onnx:" + lib)
	return b, err
}

// IsGo reports whether b is the pure Go backend.
func IsGo(b compute.Backend) bool { return b.Name() == "Go Backend" }
