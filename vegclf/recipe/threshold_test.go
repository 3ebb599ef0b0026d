package recipe

import (
	"encoding/json"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

// TestThreshold checks the threshold's text (flag and config.json) both ways, its bad values, and the
// balanced pos_weight.
func TestThreshold(t *testing.T) {
	for text, want := range map[string]Threshold{"tune": {Tune: true}, "0.3": {Value: 0.3}, "0.5": {}, "": {}, " 0.75 ": {Value: 0.75}} {
		var th Threshold
		if err := th.UnmarshalText([]byte(text)); err != nil || th != want {
			t.Errorf("%q reads as %+v, %v; want %+v", text, th, err, want)
		}
	}
	for _, bad := range []string{"0", "1", "1.5", "-0.1", "NaN", "tuned", "half"} {
		var th Threshold
		if err := th.UnmarshalText([]byte(bad)); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: error %v, want one naming the value", bad, err)
		}
	}
	if s := (Threshold{}).String(); s != "0.5" {
		t.Errorf("the default threshold writes %q", s)
	}
	c := Default()
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.RegisterFlags(fs)
	if err := fs.Parse([]string{"--multi-label", "--threshold", "tune", "--labels", "l.csv"}); err != nil {
		t.Fatal(err)
	}
	if !c.MultiLabel || c.Threshold != (Threshold{Tune: true}) || c.Validate() != nil {
		t.Errorf("flags gave multi-label %v, threshold %+v (%v)", c.MultiLabel, c.Threshold, c.Validate())
	}
	b, err := json.Marshal(c)
	if err != nil || !strings.Contains(string(b), `"multi_label":true`) || !strings.Contains(string(b), `"threshold":"tune"`) {
		t.Errorf("config.json %s, %v", b, err)
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil || back != c {
		t.Errorf("read back %+v, %v", back, err)
	}
	if defaults, _ := json.Marshal(Default()); strings.Contains(string(defaults), "threshold") || strings.Contains(string(defaults), "multi_label") {
		t.Errorf("the defaults write the multi-label settings: %s", defaults)
	}
	if w := BalancedClassWeights.PosWeights([]int{2, 5, 0}, 10); !slices.Equal(w, []float64{4, 1, 1}) {
		t.Errorf("balanced pos_weight %v, want negatives/positives [4 1 1]", w)
	}
	if w := NoClassWeights.PosWeights([]int{2, 5}, 10); w != nil {
		t.Errorf("no class weights: pos_weight %v", w)
	}
}
