package recipe

import (
	"fmt"
	"strings"
)

// setChoice sets *dst to the value text names, for the settings held as a string type whose zero value
// stands for a default (ClassWeighting, ClipMode, InferenceBackend): "" or zero (the zero value's written
// name, such as "none") name the zero value, each of values itself. Anything else leaves *dst as it was
// and is an error naming the setting (what) and every accepted word: `clip mode "x": want norm or value`.
func setChoice[T ~string](dst *T, what, zero string, text []byte, values ...T) error {
	s := strings.TrimSpace(string(text))
	if s == "" || s == zero {
		*dst = ""
		return nil
	}
	for _, v := range values {
		if s == string(v) {
			*dst = v
			return nil
		}
	}
	names := []string{zero}
	for _, v := range values {
		names = append(names, string(v))
	}
	want := names[len(names)-1]
	if len(names) > 1 {
		want = strings.Join(names[:len(names)-1], ", ") + " or " + want
	}
	return fmt.Errorf("%s %q: want %s", what, text, want)
}
