//go:build !cgo

package backend

// xlaBuilt tells whether this build has the XLA backend: go-xla loads its plugins through cgo, so a build
// without cgo has the pure Go backend alone.
const xlaBuilt = false

// disableAutoInstall does nothing: without cgo there is neither XLA nor ONNX Runtime to download.
func disableAutoInstall() {}
