//go:build !linux

package main

// keepFreedMemory does nothing here: the runtime's madvdontneed setting is Linux's.
func keepFreedMemory() {}
