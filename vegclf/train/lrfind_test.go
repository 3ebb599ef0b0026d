package train

import (
	"math"
	"testing"
)

// TestSuggest checks the suggestions on given curves: the steepest descent before the minimum (a fall
// while diverging does not count) and a tenth of the minimum's rate.
func TestSuggest(t *testing.T) {
	rates := make([]float64, 10)
	for i := range rates {
		rates[i] = math.Pow(10, float64(i-7))
	}
	for _, tc := range []struct {
		name           string
		losses         []float64
		steep, minOver float64
	}{
		{"fall then rise", []float64{2, 2, 1.9, 1.5, 1.0, 0.9, 0.8, 1.5, 3, 4}, 1e-4, 1e-2},
		{"fall while diverging", []float64{2, 2, 1.9, 1.4, 1.1, 1.05, 4, 9, 5, 3}, 1e-4, 1e-3},
		// fastai leaves out the first points: a noisy drop at the smallest rates is no suggestion.
		{"noisy start", []float64{3, 2, 2, 1.9, 1.5, 1.0, 0.9, 0.8, 1.5, 3}, 1e-3, 1e-1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := (&LRFind{Rates: rates, Losses: tc.losses}).suggest()
			if math.Abs(f.Steepest/tc.steep-1) > 1e-9 || math.Abs(f.MinOver/tc.minOver-1) > 1e-9 {
				t.Errorf("steepest %g, min/10 %g; want %g and %g", f.Steepest, f.MinOver, tc.steep, tc.minOver)
			}
		})
	}
}
