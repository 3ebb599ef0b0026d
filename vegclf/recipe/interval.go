package recipe

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultCheckpointEvery is how often a run checkpoints inside an epoch when CheckpointEvery is not set.
const DefaultCheckpointEvery = 10 * time.Minute

// Interval is how often a run saves last.ckpt inside an epoch (Config.CheckpointEvery): every Duration of
// training, or every Steps batches, or never (Off). The zero value is the default, every 10 minutes. It is
// written and parsed as text: "10m", "25steps", or "0" for off.
type Interval struct {
	Duration time.Duration
	Steps    int
	Off      bool
}

// stepsSuffix ends an interval counted in training steps (batches): "25steps".
const stepsSuffix = "steps"

// Effective returns the interval a run uses: the default for the zero value.
func (i Interval) Effective() Interval {
	if i == (Interval{}) {
		return Interval{Duration: DefaultCheckpointEvery}
	}
	return i
}

// String writes the interval: "10m0s", "25steps", "0".
func (i Interval) String() string {
	switch i = i.Effective(); {
	case i.Off:
		return "0"
	case i.Steps > 0:
		return strconv.Itoa(i.Steps) + stepsSuffix
	}
	return i.Duration.String()
}

// MarshalText writes the interval (String).
func (i Interval) MarshalText() ([]byte, error) { return []byte(i.String()), nil }

// UnmarshalText reads a duration above 0 ("10m", "90s"), a number of steps above 0 ("25steps"), "0" for
// off, or "" for the default.
func (i *Interval) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	switch {
	case s == "":
		*i = Interval{}
		return nil
	case s == "0":
		*i = Interval{Off: true}
		return nil
	}
	if n, ok := strings.CutSuffix(s, stepsSuffix); ok {
		steps, err := strconv.Atoi(n)
		if err != nil || steps <= 0 {
			return fmt.Errorf("checkpoint interval %q: want a positive number of steps, such as 25steps", text)
		}
		*i = Interval{Steps: steps}
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("checkpoint interval %q: want a duration such as 10m, a number of steps such as 25steps, or 0 for off", text)
	}
	*i = Interval{Duration: d}
	return nil
}

// Due reports whether a checkpoint is due after steps training steps and elapsed training time since the
// last one.
func (i Interval) Due(steps int, elapsed time.Duration) bool {
	switch i = i.Effective(); {
	case i.Off:
		return false
	case i.Steps > 0:
		return steps >= i.Steps
	}
	return elapsed >= i.Duration
}
