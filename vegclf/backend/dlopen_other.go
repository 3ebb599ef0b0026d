//go:build !(linux || darwin)

package backend

import "errors"

// loadGlobal is not available on this system: the XLA CUDA plugin runs on Linux.
func loadGlobal(path string) error {
	return errors.New("loading " + path + ": not supported on this system")
}

// isLoaded reports false: no library is loaded by name on this system.
func isLoaded(string) bool { return false }
