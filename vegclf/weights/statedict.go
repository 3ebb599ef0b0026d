// Package weights reads pretrained weights (torch.save state_dicts and safetensors files), loads them
// into a ResNet's variables with every tensor checked by name and shape, and knows where the published
// ImageNet weights are and how to download them into a user cache.
package weights

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// Tensor is a tensor read from a weights file, in torch's layout (row-major, contiguous).
// Floating-point tensors of any precision are converted to float32; integer ones to int64.
type Tensor struct {
	Shape   []int
	Float32 []float32 // Set for floating-point tensors.
	Int64   []int64   // Set for integer tensors.
}

// Len returns the number of elements the shape holds.
func (t *Tensor) Len() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// StateDict is the named tensors of a weights file, in the file's order.
type StateDict struct {
	Path     string
	Names    []string
	Tensors  map[string]*Tensor
	Metadata map[string]string // A safetensors file's __metadata__.
}

// NewStateDict returns an empty state dict for the file at path.
func NewStateDict(path string) *StateDict {
	return &StateDict{Path: path, Tensors: map[string]*Tensor{}}
}

// Add appends a tensor; a name already present is an error.
func (sd *StateDict) Add(name string, t *Tensor) error {
	if _, dup := sd.Tensors[name]; dup {
		return fmt.Errorf("tensor %q appears twice", name)
	}
	if n := t.Len(); (t.Float32 != nil && len(t.Float32) != n) || (t.Int64 != nil && len(t.Int64) != n) {
		return fmt.Errorf("tensor %q: shape %v holds %d values, the file has %d", name, t.Shape, n, max(len(t.Float32), len(t.Int64)))
	}
	sd.Names = append(sd.Names, name)
	sd.Tensors[name] = t
	return nil
}

// Read reads a weights file, telling the format by its content: a torch.save zip archive (.pth, .pt,
// .bin) or a safetensors file. Errors name the file and what is wrong.
func Read(path string) (*StateDict, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading weights: %w", err)
	}
	head := make([]byte, 9)
	n, _ := io.ReadFull(f, head)
	f.Close()
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return ReadPTH(path)
	case n == 9 && head[8] == '{':
		return ReadSafetensors(path)
	case n > 0 && head[0] == 0x80:
		return nil, fmt.Errorf("reading weights %s: legacy (pre-1.6, non-zip) torch.save format is not supported: re-save it with torch.save(state_dict, path) in a recent PyTorch", path)
	}
	return nil, fmt.Errorf("reading weights %s: neither a torch.save zip archive nor a safetensors file", path)
}
