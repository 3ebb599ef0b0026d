package memlimit

import (
	"encoding/json"
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
		{"", Policy{}, ""},
		{"auto", Policy{}, ""},
		{"Off", Policy{Off: true}, ""},
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
	// GOMEMLIMIT wins where the policy is followed, not where it is read: the runtime already follows it.
	t.Setenv("GOMEMLIMIT", "2GiB")
	if got, err := Parse("3GiB"); err != nil || got != (Policy{Bytes: 3 << 30}) || got.Effective() != (Policy{Off: true}) {
		t.Errorf("with GOMEMLIMIT set, Parse = %+v, %v, effective %+v; want 3GiB, effective off", got, err, got.Effective())
	}
}

// TestPolicyText writes each kind of policy as text and reads it back, through JSON as configurations do.
func TestPolicyText(t *testing.T) {
	for _, tc := range []struct {
		p    Policy
		text string
	}{
		{Policy{}, "auto"}, {Policy{Off: true}, "off"}, {Policy{Bytes: 3 << 30}, "3GiB"},
		{Policy{Bytes: 2500 << 20}, "2500MiB"}, {Policy{Bytes: 512 << 10}, "512KiB"}, {Policy{Bytes: 1000001}, "1000001"},
	} {
		b, err := json.Marshal(tc.p)
		if err != nil || string(b) != `"`+tc.text+`"` {
			t.Errorf("json.Marshal(%+v) = %s, %v; want %q", tc.p, b, err, tc.text)
		}
		var back Policy
		if err := json.Unmarshal(b, &back); err != nil || back != tc.p {
			t.Errorf("json.Unmarshal(%s) = %+v, %v; want %+v", b, back, err, tc.p)
		}
	}
	var p Policy
	if err := json.Unmarshal([]byte(`"lots"`), &p); err == nil || !strings.Contains(err.Error(), `memory limit "lots"`) {
		t.Errorf(`json.Unmarshal("lots") error = %v, want one naming the value`, err)
	}
}

// TestProbe runs a step that holds 64 MB at once while allocating and dropping more: the limit must
// cover the held memory with its margin, stay under half of what the step allocated in all, and be the
// runtime's limit afterwards; the collector's setting is restored, and a failing step sets nothing.
func TestProbe(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	const held = 64 << 20
	var sink [][]byte
	step := func() error {
		sink = nil
		for i := 0; i < 32; i++ { // 32 x 16 MB allocated, at most 4 (64 MB) alive at once.
			sink = append(sink, make([]byte, 16<<20))
			if len(sink) > 4 {
				sink[0] = nil // Else the slice's array keeps the dropped buffer alive.
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
	// At least the held buffers are live at every collection; at most a few more, allocated or dropped
	// while one marks (measured on 2 cores at a margin of 1.1: 88 to 140 MB over 12 runs).
	const most = 16 * 16 << 20
	margin := Margin
	least := int64(margin * held)
	if limit < least || limit > most {
		t.Errorf("limit %d MB, want between %d and %d MB", limit>>20, least>>20, most>>20)
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
	grown, err := Probe(step, Margin, growth)
	if err != nil || grown < least+growth || grown > most+growth {
		t.Errorf("with 100 MB of growth: limit %d MB, error %v; want between %d and %d MB",
			grown>>20, err, (least+growth)>>20, (most+growth)>>20)
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
