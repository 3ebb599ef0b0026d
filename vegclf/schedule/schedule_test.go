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

func TestParse(t *testing.T) {
	for name, want := range map[string]string{"": "constant 0.001", "cosine": "cosine 0.001 with 10% linear warmup", "onecycle": "one-cycle up to 0.001"} {
		s, err := Parse(name, 1e-3, 0.1)
		if err != nil || s.String() != want {
			t.Errorf("Parse(%q) = %v, %v; want %s", name, s, err, want)
		}
	}
	if _, err := Parse("linear", 1, 0); err == nil || !strings.Contains(err.Error(), "constant, cosine, onecycle") {
		t.Errorf("unknown schedule error = %v", err)
	}
	if _, err := Parse("cosine", 1, 1.5); err == nil {
		t.Error("a warmup fraction over 1 should be an error")
	}
}
