package recipe

import (
	"encoding"
	"testing"
)

// TestChoiceSettings reads the three named-value settings through their UnmarshalText: "" and the zero
// value's name give the zero value, spaces are trimmed, each other word gives itself; anything else is an
// error naming the setting and every accepted word, and leaves the value as it was.
func TestChoiceSettings(t *testing.T) {
	for _, tc := range []struct {
		text    string
		setting choice
		want    string // The value's String after reading; for an error, the value before.
		err     string
	}{
		{"", choiceOf(InferenceONNX), "auto", ""},
		{" auto ", choiceOf(InferenceONNX), "auto", ""},
		{"onnx", choiceOf(InferenceTrain), "onnx", ""},
		{"train", choiceOf(InferenceAuto), "train", ""},
		{"gpu", choiceOf(InferenceONNX), "onnx", `inference backend "gpu": want auto, onnx or train`},
		{"norm", choiceOf(ClipValue), "norm", ""},
		{"value", choiceOf(ClipNorm), "value", ""},
		{"Value", choiceOf(ClipValue), "value", `clip mode "Value": want norm or value`},
		{"none", choiceOf(BalancedClassWeights), "none", ""},
		{"balanced ", choiceOf(NoClassWeights), "balanced", ""},
		{"inverse", choiceOf(BalancedClassWeights), "balanced", `class weights "inverse": want none or balanced`},
	} {
		err := tc.setting.value.UnmarshalText([]byte(tc.text))
		if got := tc.setting.text(); got != tc.want || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("reading %q: %q, %v; want %q, %q", tc.text, got, err, tc.want, tc.err)
		}
	}
}

// choice is a setting's value to read into, and its text form after reading.
type choice struct {
	value encoding.TextUnmarshaler
	text  func() string
}

// choiceOf returns a choice holding start.
func choiceOf[T interface {
	~string
	String() string
}, P interface {
	*T
	encoding.TextUnmarshaler
}](start T) choice {
	v := start
	return choice{value: P(&v), text: func() string { return v.String() }}
}
