package memlimit

import (
	"errors"
	"math"
	"runtime/debug"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	for _, tc := range []struct {
		in   string
		want Policy
		err  string
	}{
		{"", Policy{Auto: true}, ""},
		{"auto", Policy{Auto: true}, ""},
		{"Off", Policy{}, ""},
		{"3GiB", Policy{Bytes: 3 << 30}, ""},
		{"2500MiB", Policy{Bytes: 2500 << 20}, ""},
		{"1.5G", Policy{Bytes: 3 << 29}, ""},
		{"512k", Policy{Bytes: 512 << 10}, ""},
		{"1000000", Policy{Bytes: 1000000}, ""},
		{"3 GB", Policy{Bytes: 3 << 30}, ""},
		{"3TB", Policy{}, `unknown unit "tb"`},
		{"-1G", Policy{}, "not a positive size"},
		{"lots", Policy{}, "not a positive size"},
	} {
		got, err := Parse(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.in) {
				t.Errorf("Parse(%q) error = %v, want one naming the input and %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	// GOMEMLIMIT wins: the runtime already follows it.
	t.Setenv("GOMEMLIMIT", "2GiB")
	if got, err := Parse("3GiB"); err != nil || got != (Policy{}) {
		t.Errorf("with GOMEMLIMIT set, Parse = %+v, %v; want off", got, err)
	}
}

// TestProbe runs a step that holds 64 MB at once while allocating and dropping more: the limit must
// cover the held memory, stay well under what the step allocated in all, and be the runtime's limit
// afterwards; the collector's setting is restored, and a failing step sets nothing.
func TestProbe(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	const held = 64 << 20
	var sink [][]byte
	step := func() error {
		sink = nil
		for i := 0; i < 24; i++ { // 24 x 16 MB allocated, at most 4 (64 MB) alive at once.
			sink = append(sink, make([]byte, 16<<20))
			if len(sink) > 4 {
				sink = sink[1:]
			}
			for j := range sink[len(sink)-1] {
				sink[len(sink)-1][j] = byte(j)
			}
		}
		return nil
	}
	gcBefore := debug.SetGCPercent(100)
	limit, err := Probe(step, Margin, 0)
	if err != nil {
		t.Fatal(err)
	}
	if limit < held || limit > 24*16<<20 {
		t.Errorf("limit %d MB, want between %d and %d MB", limit>>20, held>>20, 24*16)
	}
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Errorf("runtime limit %d, want %d", got, limit)
	}
	if got := debug.SetGCPercent(gcBefore); got != 100 {
		t.Errorf("GOGC after the probe = %d, want 100 restored", got)
	}
	// The live heap sampled varies from one probe to the next (it depends on when collections run), so
	// the growth is checked against the bounds of the held memory, not against the first probe's limit.
	const growth = 100 << 20
	if grown, err := Probe(step, Margin, growth); err != nil || grown < held+growth || grown > 24*16<<20+growth {
		t.Errorf("with 100 MB of growth: limit %d MB, error %v; want between %d and %d MB",
			grown>>20, err, (held+growth)>>20, (24*16<<20+growth)>>20)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	if limit, err := Probe(func() error { return errors.New("boom") }, Margin, 0); err == nil || limit != 0 {
		t.Errorf("failing step: limit %d, error %v", limit, err)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("a failing probe changed the limit to %d", got)
	}
	_ = sink
}
