package sweep

import (
	"cmp"
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"github.com/vegclf/vegclf/vegclf/runfolder"
)

// Ranked is one finished run of a sweep with the figures it is ranked by: a single-label run's accuracies,
// a multi-label run's mean average precisions (mAP, the metric its best checkpoint is chosen by; its
// accuracy is the exact-match ratio, which a run predicting nothing for rare classes can score high on).
type Ranked struct {
	Name       string
	MultiLabel bool
	Best       float64 // The best checkpoint's test figure.
	Validation float64 // The best checkpoint's on the validation split; -1 when the data has none.
	Seconds    float64 // Training time.
}

// Rank reads the summaries of points' runs in dir and returns them best first: by validation figure, then
// best test figure, accuracy for single-label runs and mAP for multi-label ones.
func Rank(dir string, points []Point) ([]Ranked, error) {
	var rows []Ranked
	for _, p := range points {
		s, err := runfolder.ReadSummary(filepath.Join(dir, p.Name()))
		if err != nil {
			return nil, fmt.Errorf("ranking the sweep: %w", err)
		}
		r := Ranked{Name: p.Name(), Seconds: s.TrainSeconds}
		r.Validation, r.Best, r.MultiLabel = s.Ranking()
		rows = append(rows, r)
	}
	slices.SortStableFunc(rows, func(a, b Ranked) int {
		return cmp.Or(cmp.Compare(b.Validation, a.Validation), cmp.Compare(b.Best, a.Best))
	})
	return rows, nil
}

// metric names the figure the runs are ranked by (runfolder.RankingMetric).
func metric(rows []Ranked) string {
	multi := 0
	for _, r := range rows {
		if r.MultiLabel {
			multi++
		}
	}
	return runfolder.RankingMetric(multi, len(rows))
}

// WriteTable writes the ranked runs as a table that names the metric they are ranked by: accuracies as
// percentages, mean average precisions as fractions.
func WriteTable(w io.Writer, rows []Ranked) {
	figure := func(r Ranked, v float64) string {
		switch {
		case v < 0:
			return "-"
		case r.MultiLabel:
			return fmt.Sprintf("%.4f", v)
		}
		return fmt.Sprintf("%.2f%%", 100*v)
	}
	fmt.Fprintf(w, "\n%-48s %10s %10s %9s\n", "run (by validation "+metric(rows)+")", "best test", "validation", "seconds")
	for _, r := range rows {
		fmt.Fprintf(w, "%-48s %10s %10s %9.1f\n", r.Name, figure(r, r.Best), figure(r, r.Validation), r.Seconds)
	}
}
