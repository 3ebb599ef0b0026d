package onnxmodel

import (
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/data"
)

// TestMetadataMultiLabel checks that a multi-label model's metadata says its outputs are independent
// sigmoids and gives its thresholds, and that a single-label model's says nothing of the kind.
func TestMetadataMultiLabel(t *testing.T) {
	props := func(m Metadata) map[string]string {
		out := map[string]string{}
		for _, p := range m.props() {
			out[p[0]] = p[1]
		}
		return out
	}
	single := Metadata{Classes: []string{"box", "disc"}, ImageSize: 32, Normalization: data.HalfNormalization}
	multi := single
	multi.MultiLabel, multi.Thresholds = true, []float64{0.25, 0.5}
	got := props(multi)
	if got["multi_label"] != "true" || !strings.HasPrefix(got["output_activation"], "sigmoid") || got["thresholds"] != "[0.25,0.5]" {
		t.Errorf("multi-label metadata %v", got)
	}
	if got := props(single); got["multi_label"] != "" || got["output_activation"] != "" || got["thresholds"] != "" {
		t.Errorf("single-label metadata %v", got)
	}
}
