//go:build linux

package main

import (
	"os"
	"strings"
	"syscall"
)

// keepFreedMemory starts the program again in the same process (execve) with madvdontneed=0 added to
// GODEBUG (withMadvFree says why), which the runtime reads only at start-up; it returns, changing nothing,
// when GODEBUG sets madvdontneed already or the program cannot be executed again.
func keepFreedMemory() {
	godebug, ok := withMadvFree(os.Getenv("GODEBUG"))
	if !ok {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	env := []string{"GODEBUG=" + godebug}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			env = append(env, kv)
		}
	}
	_ = syscall.Exec(exe, os.Args, env) // Returns only on failure: then the program goes on as it is.
}
