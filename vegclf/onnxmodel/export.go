//go:build cgo

package onnxmodel

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	onnxbackend "github.com/gomlx/compute-onnx"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/internal/atomicfile"
	"github.com/vegclf/vegclf/vegclf/nn"
)

// exportBatch is the batch size the graph is compiled with before its batch axis is made symbolic: a
// size no other axis of the graph's values has at its place.
const exportBatch = 2

// Available reports whether this build can export ONNX models (it needs cgo to load ONNX Runtime).
const Available = true

// Encode returns the ONNX model (a serialized ModelProto) of m with the weights in store, for images of
// meta.ImageSize, compiled with the ONNX Runtime library at lib.
func Encode(m *nn.Model, store *model.Store, meta Metadata, lib string) ([]byte, error) {
	onnxbackend.EnableAutoInstall(false) // Its installer downloads; the library is given.
	b, err := onnxbackend.New(lib)
	if err != nil {
		return nil, fmt.Errorf("starting ONNX Runtime from %s: %w", lib, err)
	}
	defer b.Finalize()
	ort := b.(*onnxbackend.Backend)
	ort.SetKeepModelProto(true)
	exec, err := NewExec(b, func(pixels *Node) *Node { return m.FoldedLogits(store, pixels) })
	if err != nil {
		return nil, err
	}
	g, err := exec.Compile(shapes.Make(dtypes.Float32, exportBatch, m.Channels(), meta.ImageSize, meta.ImageSize))
	if err != nil {
		return nil, fmt.Errorf("building the ONNX graph: %w", err)
	}
	var buf bytes.Buffer
	if err := onnxbackend.SaveModel(b, g.Executable(), &buf, []string{"pixel_values"}, []string{"logits"}); err != nil {
		return nil, err
	}
	return finish(buf.Bytes(), exportBatch, meta)
}

// Export writes the ONNX model of m (Encode) to path, atomically: a failure leaves no file, or the one there
// before.
func Export(m *nn.Model, store *model.Store, meta Metadata, path string) error {
	lib, err := backend.ONNXRuntime()
	if err != nil {
		return err
	}
	// The folder is checked before the graph is built, so that a bad --out fails at once.
	probe, err := os.CreateTemp(filepath.Dir(path), ".onnx-write-test*")
	if err != nil {
		return fmt.Errorf("exporting %s: the folder cannot be written: %w", path, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	encoded, err := Encode(m, store, meta, lib)
	if err != nil {
		return fmt.Errorf("exporting %s: %w", path, err)
	}
	if err := atomicfile.Write(path, encoded); err != nil {
		return fmt.Errorf("exporting: %w", err)
	}
	return nil
}
