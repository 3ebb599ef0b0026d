// Package memlimit sets the Go runtime's soft memory limit from a measured training step.
//
// The pure Go backend allocates every intermediate tensor of a step as a Go buffer. Between garbage
// collections the freed ones stay resident, so by default a step holds much more memory than its live
// tensors' peak. A soft memory limit a little above the live peak makes the collector reclaim them in
// time, with later steps as fast as before (BENCHMARKS.md has the figures).
package memlimit

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Policy says how a run sets the soft memory limit: automatically (the zero value: Probe the first
// step), not at all (Off), or to a fixed size (Bytes). It is written and parsed as text: "auto", "off",
// or a size such as "3GiB".
type Policy struct {
	Off   bool  // Leave the runtime's limit alone.
	Bytes int64 // A fixed limit, when not Off; 0: automatic.
}

// Auto reports whether the limit is set by probing the first step.
func (p Policy) Auto() bool { return !p.Off && p.Bytes <= 0 }

// Effective returns the policy to follow in this process: Off when GOMEMLIMIT is set (the runtime already
// follows it), else p.
func (p Policy) Effective() Policy {
	if os.Getenv("GOMEMLIMIT") != "" {
		return Policy{Off: true}
	}
	return p
}

// String writes the policy as Parse reads it: "auto", "off", or a size in GiB, MiB, KiB or bytes.
func (p Policy) String() string {
	switch {
	case p.Off:
		return "off"
	case p.Auto():
		return "auto"
	}
	for _, u := range []struct {
		shift uint
		name  string
	}{{30, "GiB"}, {20, "MiB"}, {10, "KiB"}} {
		if p.Bytes%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d%s", p.Bytes>>u.shift, u.name)
		}
	}
	return strconv.FormatInt(p.Bytes, 10)
}

// MarshalText writes the policy (String).
func (p Policy) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText sets the policy text describes (Parse).
func (p *Policy) UnmarshalText(text []byte) error {
	parsed, err := Parse(string(text))
	if err != nil {
		return err
	}
	*p = parsed
	return nil
}

// Margin is how far above the probed live peak Probe sets the limit: closer makes the collector run
// more often, and each collection empties the backend's pools of buffers, so fresh ones are zeroed and
// faulted in again. ResNet-50 at 224, batch 16, fine-tuning on the Go backend (AMD EPYC, 2 cores,
// BENCHMARKS.md issue 47): at 1.1 the step took 5.5-7.3 s against 2.5-3.1 s with no limit (peak 3.2 GB
// against 4.1-4.3 GB); at 1.29 (4000 MiB) 4.2 s. At 1.5 the limit sits above the peak a collector at
// GOGC 100 reaches on its own: it bounds growth (a filling cache, a leak) without slowing the steps.
const Margin = 1.5

// Parse reads a policy: "auto" (or ""), "off", or a size such as "3GiB", "2500MiB", "3G" or "3000000000"
// (bytes).
func Parse(s string) (Policy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return Policy{}, nil
	case "off", "none":
		return Policy{Off: true}, nil
	}
	n, err := parseBytes(s)
	if err != nil {
		return Policy{}, fmt.Errorf("memory limit %q: %w (want auto, off, or a size such as 3GiB)", s, err)
	}
	return Policy{Bytes: n}, nil
}

// parseBytes reads a size with an optional unit: B, K/KB/KiB, M/MB/MiB, G/GB/GiB (all powers of 1024).
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	number, unit := s, ""
	if i >= 0 {
		number, unit = s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	}
	v, err := strconv.ParseFloat(number, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("not a positive size")
	}
	scale := map[string]float64{"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
		"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30}[unit]
	if scale == 0 {
		return 0, fmt.Errorf("unknown unit %q", unit)
	}
	return int64(math.Round(v * scale)), nil
}

// Apply runs step under the policy as it stands in this process (Effective): it sets a fixed limit, or
// runs step through Probe for an automatic one (with growth bytes of headroom); off, it just runs step. It
// returns the limit set (0: none).
func (p Policy) Apply(step func() error, growth int64) (int64, error) {
	switch p := p.Effective(); {
	case p.Off:
		return 0, step()
	case p.Auto():
		return Probe(step, Margin, growth)
	default:
		debug.SetMemoryLimit(p.Bytes)
		return p.Bytes, step()
	}
}

// Probe runs step with the collector running often (GOGC 5), samples the live heap each collection
// leaves meanwhile, and then sets the soft limit to margin times the largest, plus growth: what the
// caller will still add to the live heap (an in-memory image cache still filling). A live heap above the
// limit would keep the collector running. (A minimal soft limit would track the live heap more closely
// while probing, but makes the runtime return and refault memory at every allocation: a ResNet-50 step
// then takes minutes.)
func Probe(step func() error, margin float64, growth int64) (int64, error) {
	previous := debug.SetGCPercent(5)
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var (
		peak uint64
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	sample := func() {
		metrics.Read(samples)
		if samples[0].Value.Kind() == metrics.KindUint64 {
			peak = max(peak, samples[0].Value.Uint64())
		}
	}
	wg.Go(func() {
		ticker := time.NewTicker(2 * time.Millisecond)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				sample()
			}
		}
	})
	err := step()
	close(done)
	wg.Wait()
	sample()
	debug.SetGCPercent(previous)
	if err != nil || peak == 0 {
		return 0, err
	}
	limit := int64(float64(peak)*margin) + max(growth, 0)
	debug.SetMemoryLimit(limit)
	return limit, nil
}

// PeakRSS returns the process's peak resident memory in bytes (VmHWM of /proc/self/status), or 0 where
// /proc is missing.
func PeakRSS() int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
