package recipe

import (
	"slices"
	"testing"
)

// TestClassWeighting checks the setting's text forms and a class without images.
func TestClassWeighting(t *testing.T) {
	for _, tc := range []struct {
		text string
		want ClassWeighting
		ok   bool
	}{{"none", NoClassWeights, true}, {"", NoClassWeights, true}, {"balanced", BalancedClassWeights, true}, {"inverse", "", false}} {
		var w ClassWeighting
		err := w.UnmarshalText([]byte(tc.text))
		if (err == nil) != tc.ok || w != tc.want {
			t.Errorf("%q: %q, %v", tc.text, w, err)
		}
	}
	if w := BalancedClassWeights.Weights([]int{3, 0, 1}); !slices.Equal(w, []float64{4.0 / 9, 0, 4.0 / 3}) {
		t.Errorf("weights of counts 3, 0, 1: %v", w)
	}
	if NoClassWeights.Weights([]int{3, 1}) != nil {
		t.Error("no class weights gave weights")
	}
}
