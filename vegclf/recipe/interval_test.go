package recipe

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestInterval reads each form of --checkpoint-every, writes it back, and says when a checkpoint is due;
// bad values are refused, naming the value.
func TestInterval(t *testing.T) {
	for _, tc := range []struct {
		text, written string
		want          Interval
		due, notDue   [2]int64 // Steps and seconds since the last checkpoint: due, and not yet due.
	}{
		{"", "10m0s", Interval{}, [2]int64{0, 600}, [2]int64{1000, 599}},
		{"90s", "1m30s", Interval{Duration: 90 * time.Second}, [2]int64{0, 90}, [2]int64{1000, 89}},
		{"25steps", "25steps", Interval{Steps: 25}, [2]int64{25, 0}, [2]int64{24, 100000}},
		{"0", "0", Interval{Off: true}, [2]int64{-1, -1}, [2]int64{1 << 30, 1 << 30}},
	} {
		var got Interval
		if err := got.UnmarshalText([]byte(tc.text)); err != nil || got != tc.want {
			t.Errorf("%q: read %+v, %v; want %+v", tc.text, got, err, tc.want)
			continue
		}
		if got.String() != tc.written {
			t.Errorf("%q: written %q, want %q", tc.text, got.String(), tc.written)
		}
		if tc.due[0] >= 0 && !got.Due(int(tc.due[0]), time.Duration(tc.due[1])*time.Second) {
			t.Errorf("%q: not due after %d steps and %d s", tc.text, tc.due[0], tc.due[1])
		}
		if got.Due(int(tc.notDue[0]), time.Duration(tc.notDue[1])*time.Second) {
			t.Errorf("%q: due after %d steps and %d s", tc.text, tc.notDue[0], tc.notDue[1])
		}
	}
	for _, bad := range []string{"soon", "-5m", "0steps", "-3steps", "2.5steps", "10"} {
		var i Interval
		if err := i.UnmarshalText([]byte(bad)); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: error %v, want one naming the value", bad, err)
		}
	}
	// config.json leaves the default out and keeps the others.
	c := Default()
	out, _ := json.Marshal(c)
	if strings.Contains(string(out), "checkpoint_every") {
		t.Errorf("the default interval is written: %s", out)
	}
	c.CheckpointEvery = Interval{Steps: 25}
	out, _ = json.Marshal(c)
	var back Config
	if err := json.Unmarshal(out, &back); err != nil || back.CheckpointEvery != c.CheckpointEvery {
		t.Errorf("read back %+v, %v from %s", back.CheckpointEvery, err, out)
	}
}
