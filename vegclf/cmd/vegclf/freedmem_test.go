package main

import "testing"

func TestWithMadvFree(t *testing.T) {
	for _, tc := range []struct {
		godebug, want string
		ok            bool
	}{
		{"", "madvdontneed=0", true},
		{"gctrace=1", "gctrace=1,madvdontneed=0", true},
		{"madvdontneed=1", "", false},
		{"gctrace=1,madvdontneed=0", "", false},
		{"gctrace=1, madvdontneed=1", "", false},
		{"madvdontneedx=1", "madvdontneedx=1,madvdontneed=0", true},
	} {
		got, ok := withMadvFree(tc.godebug)
		if got != tc.want || ok != tc.ok {
			t.Errorf("withMadvFree(%q) = %q, %v; want %q, %v", tc.godebug, got, ok, tc.want, tc.ok)
		}
	}
}
