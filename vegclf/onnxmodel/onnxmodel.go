// Package onnxmodel writes a trained classifier as an ONNX model that any ONNX runtime runs: input
// "pixel_values" float32 [batch, 3, H, W] normalized as the model was trained (the convention of torch.onnx
// exports of torchvision models and of Hugging Face image classifiers), output "logits" [batch, classes],
// a dynamic batch axis, native Conv nodes with the batch norms folded into them, and the classes, image
// size and normalization in the model's metadata_props. It compiles the graph with ONNX Runtime (through
// github.com/gomlx/compute-onnx), whose shared library it finds with Library.
package onnxmodel

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/vegclf/vegclf/vegclf/data"
)

// Metadata is what an exported model says about itself in its metadata_props, each value a string: the
// class names in order (a JSON list), the image size, and the normalization's name, mean and std.
type Metadata struct {
	Classes       []string
	ImageSize     int
	Normalization data.Normalization
	Source        string // Where the model came from (a run folder); optional.
}

// props returns the metadata as metadata_props entries, in a fixed order.
func (m Metadata) props() [][2]string {
	classes, _ := json.Marshal(m.Classes)
	mean, _ := json.Marshal(m.Normalization.Mean)
	std, _ := json.Marshal(m.Normalization.Std)
	props := [][2]string{
		{"classes", string(classes)},
		{"image_size", strconv.Itoa(m.ImageSize)},
		{"normalization", m.Normalization.Name},
		{"normalization_mean", string(mean)},
		{"normalization_std", string(std)},
		{"input_layout", "NCHW, RGB in [0, 1] then (x - mean) / std"},
		{"producer", "vegclf"},
	}
	if m.Source != "" {
		props = append(props, [2]string{"source", m.Source})
	}
	return props
}

// LibraryEnv names the environment variable that gives ONNX Runtime's shared library.
const LibraryEnv = "VEGCLF_ONNXRUNTIME"

// RuntimeVersion is the ONNX Runtime that scripts/setup.sh installs (from the npm package
// onnxruntime-node, which ships its CPU library for linux x64).
const RuntimeVersion = "1.30.0"

// DefaultLibraryPath is where scripts/setup.sh installs ONNX Runtime's library:
// $XDG_CACHE_HOME/vegclf/onnxruntime-VERSION/libonnxruntime.so.1 (~/.cache when XDG_CACHE_HOME is unset).
func DefaultLibraryPath() string {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "vegclf", "onnxruntime-"+RuntimeVersion, "libonnxruntime.so.1")
}

// Library returns the path of ONNX Runtime's shared library: $VEGCLF_ONNXRUNTIME when set, else
// DefaultLibraryPath. It is an error naming both, and how to install it, when the file is not there.
func Library() (string, error) {
	path := os.Getenv(LibraryEnv)
	if path == "" {
		path = DefaultLibraryPath()
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("ONNX Runtime's library is not at %s (set %s to its path, or run ./scripts/setup.sh --onnx to install ONNX Runtime %s there): %w",
			path, LibraryEnv, RuntimeVersion, err)
	}
	return path, nil
}
