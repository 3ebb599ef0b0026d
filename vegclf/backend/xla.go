//go:build cgo

package backend

import (
	_ "github.com/gomlx/compute-onnx"       // ONNX Runtime ("onnx:/path/libonnxruntime.so.1"), loaded through cgo.
	_ "github.com/gomlx/go-xla/compute/xla" // XLA through PJRT plugins ("xla:cpu", "xla:cuda").
)

// xlaBuilt tells whether this build has the XLA backend (and ONNX Runtime's): go-xla loads its plugins
// through cgo, as compute-onnx loads ONNX Runtime.
const xlaBuilt = true
