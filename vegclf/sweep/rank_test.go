package sweep

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/runfolder"
)

// TestRank ranks runs from their summaries (written here, no training): single-label runs by validation
// accuracy then best test accuracy, multi-label runs by validation mAP then best test mAP (not by their
// exact-match accuracies, which rank them the other way), and the table names the metric.
func TestRank(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name      string
		summaries map[string]runfolder.Summary
		want      []string // Run names, best first.
		header    string
		lines     []string
	}{
		{
			name: "single-label",
			summaries: map[string]runfolder.Summary{
				"lr=1": {BestTestAccuracy: 0.9, ValidationAccuracy: f(0.7), TrainSeconds: 3},
				"lr=2": {BestTestAccuracy: 0.6, ValidationAccuracy: f(0.8), TrainSeconds: 4},
				"lr=3": {BestTestAccuracy: 0.95, ValidationAccuracy: f(0.7), TrainSeconds: 5},
			},
			want:   []string{"lr=2", "lr=3", "lr=1"},
			header: "run (by validation accuracy)",
			lines:  []string{"lr=2", "60.00%", "80.00%"},
		},
		{
			name: "multi-label without validation",
			summaries: map[string]runfolder.Summary{
				"lr=1": {BestTestAccuracy: 0.9, BestTestMAP: f(0.61)},
				"lr=2": {BestTestAccuracy: 0.5, BestTestMAP: f(0.93)},
				"lr=3": {BestTestAccuracy: 0.7, BestTestMAP: f(0.75)},
			},
			want:   []string{"lr=2", "lr=3", "lr=1"},
			header: "run (by validation mAP)",
			lines:  []string{"lr=2", "0.9300", "-"},
		},
		{
			name: "multi-label with validation",
			summaries: map[string]runfolder.Summary{
				"lr=1": {BestTestAccuracy: 0.2, BestTestMAP: f(0.9), ValidationAccuracy: f(0.9), ValidationMAP: f(0.8)},
				"lr=2": {BestTestAccuracy: 0.8, BestTestMAP: f(0.7), ValidationAccuracy: f(0.1), ValidationMAP: f(0.85)},
				"lr=3": {BestTestAccuracy: 0.9, BestTestMAP: f(0.95), ValidationAccuracy: f(0.95), ValidationMAP: f(0.5)},
			},
			want:   []string{"lr=2", "lr=1", "lr=3"},
			header: "run (by validation mAP)",
			lines:  []string{"lr=2", "0.7000", "0.8500"},
		},
	} {
		dir := t.TempDir()
		points, err := Grid("lr=1,2,3")
		if err != nil {
			t.Fatal(err)
		}
		for name, s := range tc.summaries {
			content, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name, runfolder.SummaryFile), content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		rows, err := Rank(dir, points)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, r.Name)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: ranked %v, want %v", tc.name, got, tc.want)
		}
		var b strings.Builder
		WriteTable(&b, rows)
		table := strings.Split(strings.TrimSpace(b.String()), "\n")
		if len(table) != 4 || !strings.HasPrefix(table[0], tc.header) || !slices.Equal(strings.Fields(table[1])[:3], tc.lines) {
			t.Errorf("%s: table\n%s\nwant the header %q and first row %v", tc.name, b.String(), tc.header, tc.lines)
		}
	}
	if _, err := Rank(t.TempDir(), []Point{{{"lr", "1"}}}); err == nil || !strings.Contains(err.Error(), runfolder.SummaryFile) {
		t.Errorf("a run without a summary: %v", err)
	}
}
