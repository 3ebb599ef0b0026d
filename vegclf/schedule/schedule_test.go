package schedule

import (
	"math"
	"strings"
	"testing"
)

func TestRates(t *testing.T) {
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-12+1e-9*math.Abs(b) }
	for _, tc := range []struct {
		name        string
		s           Schedule
		step, total int64
		want        float64
	}{
		{"constant", Constant{1e-4}, 57, 100, 1e-4},
		{"cosine warmup first step", WarmupCosine{LR: 1, Warmup: 0.1}, 0, 100, 0.1},
		{"cosine warmup end", WarmupCosine{LR: 1, Warmup: 0.1}, 9, 100, 1},
		{"cosine peak", WarmupCosine{LR: 1, Warmup: 0.1}, 10, 100, 1},
		{"cosine half way", WarmupCosine{LR: 1, Warmup: 0.1}, 55, 100, 0.5},
		{"cosine no warmup end", WarmupCosine{LR: 2, Warmup: 0}, 100, 100, 0},
		{"one-cycle start", NewOneCycle(1), 0, 101, 1.0 / 25},
		{"one-cycle peak", NewOneCycle(1), 25, 101, 1},
		{"one-cycle end", NewOneCycle(1), 100, 101, 1e-5},
		{"one-cycle middle of the rise", NewOneCycle(1), 12, 97, 1.0/25 + (1-1.0/25)/2},
	} {
		if got := tc.s.Rate(tc.step, tc.total); !near(got, tc.want) {
			t.Errorf("%s: Rate(%d, %d) = %v, want %v", tc.name, tc.step, tc.total, got, tc.want)
		}
	}
}

func TestKinds(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Kind
		rate string
	}{
		{"", KindConstant, "constant 0.001"}, {"constant", KindConstant, "constant 0.001"},
		{"cosine", KindCosine, "cosine 0.001 with 10% linear warmup"}, {"Cosine", KindCosine, "cosine 0.001 with 10% linear warmup"},
		{"onecycle", KindOneCycle, "one-cycle up to 0.001"}, {"one-cycle", KindOneCycle, "one-cycle up to 0.001"},
	} {
		var k Kind
		if err := k.UnmarshalText([]byte(tc.name)); err != nil || k != tc.want {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", tc.name, k, err, tc.want)
		}
		if s := k.New(1e-3, 0.1).String(); s != tc.rate {
			t.Errorf("%v.New = %s, want %s", k, s, tc.rate)
		}
		if text, err := k.MarshalText(); err != nil || string(text) != tc.want.String() {
			t.Errorf("%v.MarshalText = %s, %v", k, text, err)
		}
	}
	var k Kind
	if err := k.UnmarshalText([]byte("linear")); err == nil || !strings.Contains(err.Error(), `"linear"`) || !strings.Contains(err.Error(), "constant, cosine, onecycle") {
		t.Errorf("unknown schedule error = %v", err)
	}
	if _, err := Kind(7).MarshalText(); err == nil {
		t.Error("Kind(7).MarshalText gave no error")
	}
	for _, tc := range []struct {
		warmup float64
		ok     bool
	}{{0, true}, {0.5, true}, {-0.1, false}, {1, false}, {1.5, false}} {
		if err := CheckWarmup(tc.warmup); (err == nil) != tc.ok {
			t.Errorf("CheckWarmup(%g) = %v", tc.warmup, err)
		}
	}
}

func TestExponential(t *testing.T) {
	e := Exponential{Lo: 1e-7, Hi: 10}
	for _, tc := range []struct {
		step int64
		want float64
	}{{0, 1e-7}, {4, 1e-3}, {8, 10}} {
		if got := e.Rate(tc.step, 9); math.Abs(got-tc.want) > 1e-9*tc.want {
			t.Errorf("Rate(%d, 9) = %g, want %g", tc.step, got, tc.want)
		}
	}
}
