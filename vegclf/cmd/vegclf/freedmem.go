package main

import "strings"

// withMadvFree returns the GODEBUG value that makes the runtime hand freed memory back to the kernel with
// MADV_FREE (madvdontneed=0): godebug with the setting added, and true; or false when godebug sets
// madvdontneed already (the user's choice stands).
//
// Why: the kernel takes MADV_FREE pages back only when it needs them, so a training step's tensors reuse
// the pages the last step freed without a page fault each, where MADV_DONTNEED (the runtime's default)
// makes every reused page fault again. On the 2-core benchmark VM a fresh page costs about 3 s a GB, and
// a one-epoch ResNet-50 run took 1.1M page faults instead of 1.8M and 14% less time (BENCHMARKS.md).
// The notebook kernels (kernels/*/kernel.json) set the same GODEBUG for the programs of their cells.
func withMadvFree(godebug string) (string, bool) {
	for field := range strings.SplitSeq(godebug, ",") {
		if key, _, _ := strings.Cut(field, "="); strings.TrimSpace(key) == "madvdontneed" {
			return "", false
		}
	}
	if godebug == "" {
		return "madvdontneed=0", true
	}
	return godebug + ",madvdontneed=0", true
}
