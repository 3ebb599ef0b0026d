//go:build cgo

package backend

import (
	onnx "github.com/gomlx/compute-onnx"  // ONNX Runtime ("onnx:/path/libonnxruntime.so.1"), loaded through cgo.
	"github.com/gomlx/go-xla/compute/xla" // XLA through PJRT plugins ("xla:cpu", "xla:cuda").
)

// xlaBuilt tells whether this build has the XLA backend (and ONNX Runtime's): go-xla loads its plugins
// through cgo, as compute-onnx loads ONNX Runtime.
const xlaBuilt = true

// disableAutoInstall tells XLA and ONNX Runtime never to download their plugins, through their own
// settings rather than the environment.
func disableAutoInstall() {
	xla.EnableAutoInstall(false)
	onnx.EnableAutoInstall(false)
}
