package weights

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Known is a published pretrained weights file (package zoo lists them by architecture), with the
// preprocessing its publisher evaluates it with on ImageNet.
type Known struct {
	Name          string   // Registry name, e.g. "torchvision-v2".
	Aliases       []string // Other accepted names.
	Arch          string   // The architecture's registry name.
	Enum          string   // torchvision's weights enum value, "IMAGENET1K_V2"; "" for others' files.
	URL           string
	File          string // File name in the cache.
	SHA256        string // Full hex digest, when published.
	SHA256Prefix  string // torchvision's check: the first hex digits of the SHA-256, as in the file name.
	Normalization string // Input normalization the weights were trained with.
	// Resize, Crop and Interpolation are the ImageNet evaluation's preprocessing (torchvision's
	// ImageClassification transform): the shorter side resized to Resize, the centre Crop x Crop kept.
	Resize, Crop  int
	Interpolation string // "bilinear" or "bicubic".
	Top1          float64
	About         string
}

// CacheDir returns the user cache folder for weights: $VEGCLF_CACHE, else $XDG_CACHE_HOME/vegclf, else
// ~/.cache/vegclf.
func CacheDir() (string, error) {
	if d := os.Getenv("VEGCLF_CACHE"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "vegclf"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the weights cache: %w (set VEGCLF_CACHE to a folder for it)", err)
	}
	return filepath.Join(home, ".cache", "vegclf"), nil
}

// ErrNotCached is returned (wrapped) when a registry entry has not been downloaded.
var ErrNotCached = errors.New("weights not in the cache")
