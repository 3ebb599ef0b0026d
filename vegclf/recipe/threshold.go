package recipe

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultThreshold is the probability above which a multi-label model's output counts as its label when
// no threshold is set.
const DefaultThreshold = 0.5

// Threshold says when a multi-label model's output counts as its label: above one probability for every
// class, or above a threshold per class tuned on the test split to maximize each class's F1 ("tune").
// The zero value is DefaultThreshold. It is written and parsed as text: "0.5" or "tune".
type Threshold struct {
	Tune  bool    // Per class, tuned on the test split (evaluate.TuneThresholds).
	Value float64 // The probability for every class when not tuned; 0: DefaultThreshold.
}

// Probability returns the threshold of every class when it is not tuned: Value, else DefaultThreshold.
func (t Threshold) Probability() float64 {
	if t.Value == 0 {
		return DefaultThreshold
	}
	return t.Value
}

// String writes the threshold: "tune", or its probability ("0.5").
func (t Threshold) String() string {
	if t.Tune {
		return "tune"
	}
	return strconv.FormatFloat(t.Probability(), 'g', -1, 64)
}

// MarshalText writes the threshold (String).
func (t Threshold) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText reads "tune", or a probability strictly between 0 and 1 ("" is DefaultThreshold).
func (t *Threshold) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	switch s {
	case "":
		*t = Threshold{}
		return nil
	case "tune":
		*t = Threshold{Tune: true}
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v > 0 && v < 1) {
		return fmt.Errorf("threshold %q: want a probability between 0 and 1 (such as 0.5), or tune", text)
	}
	*t = Threshold{Value: v}
	if v == DefaultThreshold {
		*t = Threshold{} // One value for the default, so that config.json compares equal.
	}
	return nil
}
