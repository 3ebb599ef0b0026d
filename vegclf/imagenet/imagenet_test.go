package imagenet

import "testing"

func TestLabels(t *testing.T) {
	labels := Labels()
	if len(labels) != 1000 {
		t.Fatalf("%d labels, want 1000", len(labels))
	}
	for i, want := range map[int]string{0: "tench", 1: "goldfish", 207: "golden retriever", 999: "toilet tissue"} {
		if labels[i] != want {
			t.Errorf("label %d = %q, want %q", i, labels[i], want)
		}
	}
}
