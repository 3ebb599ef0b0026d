//go:build !cgo

package onnxmodel

import (
	"errors"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/nn"
)

// Available reports whether this build can export ONNX models (it needs cgo to load ONNX Runtime).
const Available = false

// errNoCgo is Export's error in a build without cgo.
var errNoCgo = errors.New("ONNX export needs ONNX Runtime, which this vegclf (built without cgo) cannot load: build it with cgo")

// Encode needs cgo: in this build it returns an error saying so.
func Encode(m *nn.Model, store *model.Store, meta Metadata, lib string) ([]byte, error) {
	return nil, errNoCgo
}

// Export needs cgo: in this build it returns an error saying so.
func Export(m *nn.Model, store *model.Store, meta Metadata, path string) error {
	return errNoCgo
}
