//go:build !cgo || !(linux || darwin)

package backend

import "errors"

// loadGlobal is not available without cgo or on this system: the XLA CUDA plugin runs on Linux, through cgo.
func loadGlobal(path string) error {
	return errors.New("loading " + path + ": not supported on this system")
}

// isLoaded reports false: no library is loaded by name on this system.
func isLoaded(string) bool { return false }
