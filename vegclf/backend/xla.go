//go:build cgo

package backend

import _ "github.com/gomlx/go-xla/compute/xla" // XLA through PJRT plugins ("xla:cpu", "xla:cuda").

// xlaBuilt tells whether this build has the XLA backend: go-xla loads its plugins through cgo.
const xlaBuilt = true
