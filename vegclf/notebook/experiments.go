package notebook

import (
	"cmp"
	"context"
	"fmt"
	"html"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/compute"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/evaluate"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/sweep"
	"github.com/vegclf/vegclf/vegclf/viz"
)

// SmallSweep is the sweep RunsOrSweep launches when there are no runs: four settings of recipe.FromScratch's
// recipe that learn the generated data from random initialization (two fine-tuning rates, with and
// without label smoothing), in seconds each.
const SmallSweep = "finetune_lr=5e-4,1e-3;label_smoothing=0,0.1"

// RunsOrSweep returns dirs, or, when there are none, the run folders of SmallSweep in sweepDir on generated
// data (trained now, or found finished from an earlier call).
func RunsOrSweep(b compute.Backend, dirs []string, sweepDir string) ([]string, error) {
	if len(dirs) > 0 {
		return dirs, nil
	}
	dataDir, err := Synthetic(filepath.Join(sweepDir, "data"), 4, 24, 128)
	if err != nil {
		return nil, err
	}
	base := recipe.Default()
	base.Data = dataDir
	recipe.FromScratch(&base, func(string) bool { return false })
	fmt.Printf("No runs to compare: a small sweep (%s) on generated data in %s.\n", SmallSweep, sweepDir)
	return Sweep(b, base, SmallSweep, 0, sweepDir)
}

// ArchitectureSweep trains a run of each architecture of archs (comma-separated registry names) in dir,
// and returns their folders, for ShowTradeOff. With every architecture's default weights in the cache it
// runs the tutorial's recipe on data (a dataset folder); otherwise, or with no data, recipe.FromScratch's
// settings on generated data (in dir/data), with every batch norm's momentum 0.1 (MobileNetV3's 0.01 lags
// for hundreds of steps from scratch). Finished runs are kept (sweep.Run).
func ArchitectureSweep(b compute.Backend, archs, dataDir, dir string) ([]string, error) {
	base := recipe.Default()
	pretrained := dataDir != ""
	for _, arch := range strings.Split(archs, ",") {
		if weights, _ := Pretrained(recipe.Default().Weights, strings.TrimSpace(arch)); weights == "none" {
			pretrained = false
		}
	}
	if pretrained {
		base.Data = dataDir
		fmt.Printf("Architectures %s with their pretrained weights, the tutorial's recipe, on %s.\n", archs, dataDir)
	} else {
		var err error
		if base.Data, err = Synthetic(filepath.Join(dir, "data"), 4, 24, 128); err != nil {
			return nil, err
		}
		recipe.FromScratch(&base, func(string) bool { return false })
		base.BNMomentum = 0.1
		fmt.Printf("Architectures %s from random initialization (pretrained weights missing, or no data), on generated data in %s.\n", archs, base.Data)
	}
	return Sweep(b, base, "arch="+archs, 0, dir)
}

// Sweep trains, over base, a run per point of spec's grid (sweep.Grid: "lr=1e-4,1e-3;hidden=64,128"), or
// trials random points of it (sweep.Random) when trials > 0, in dir (see sweep.Run: shared features,
// finished runs kept), with a progress line per run, and returns the run folders, for CompareRuns.
func Sweep(b compute.Backend, base recipe.Config, spec string, trials int, dir string) ([]string, error) {
	points, err := sweep.Points(spec, trials, base.Seed+1)
	if err != nil {
		return nil, err
	}
	if err := sweep.Run(context.Background(), b, base, points, dir, lineProgress{}); err != nil {
		return nil, err
	}
	var dirs []string
	for _, p := range points {
		dirs = append(dirs, filepath.Join(dir, p.Name()))
	}
	return dirs, nil
}

// lineProgress prints the sweep's "== run i/n" lines of a report and drops the rest (each run's own
// report stays in its folder's metrics and summary).
type lineProgress struct{}

func (lineProgress) Write(b []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if strings.HasPrefix(line, "== run ") {
			fmt.Print(strings.TrimPrefix(line, "== "))
		}
	}
	return len(b), nil
}

// comparedRun is a run folder as training left it, with its settings as config.json holds them.
type comparedRun struct {
	*runfolder.Record
	settings map[string]any
}

// CompareRuns displays several runs: test accuracy and loss per epoch overlaid, a table of the settings in
// which they differ and their figures (sorted by any column: click its header), and the evaluation of the
// best run (by validation accuracy, then best test accuracy; multi-label runs by mean average precision) on
// its held-out split.
func CompareRuns(b compute.Backend, dirs []string) error {
	var runs []comparedRun
	for _, dir := range dirs {
		rec, err := runfolder.ReadRecord(dir)
		if err != nil {
			return err
		}
		settings, err := rec.Config.AllSettings()
		if err != nil {
			return fmt.Errorf("run %s: %w", dir, err)
		}
		runs = append(runs, comparedRun{Record: rec, settings: settings})
	}
	if len(runs) == 0 {
		return fmt.Errorf("no runs to compare")
	}
	if err := showRunCurves(runs); err != nil {
		return err
	}
	showHTML(runTable(runs))
	return showBestRun(b, bestRun(runs))
}

// bestRun returns the best of runs as sweeps rank them (Summary.Ranking: by validation figure, then best
// test figure, mean average precision for a multi-label run); a run without a summary comes last.
func bestRun(runs []comparedRun) comparedRun {
	ranking := func(r comparedRun) (float64, float64) {
		if r.Summary == nil {
			return -2, -2
		}
		validation, test, _ := r.Summary.Ranking()
		return validation, test
	}
	return slices.MaxFunc(runs, func(a, b comparedRun) int {
		va, ta := ranking(a)
		vb, tb := ranking(b)
		return cmp.Or(cmp.Compare(va, vb), cmp.Compare(ta, tb))
	})
}

// ShowTradeOff draws, for runs that finished (a summary), their accuracy (validation, else the best test
// accuracy) against the seconds their fine-tuning epochs took on average (the frozen ones' when they did not
// fine-tune), each point labeled by its architecture (its run folder's name when they share one): what a
// faster backbone costs in accuracy. It prints the points too.
func ShowTradeOff(dirs []string) error {
	var recs []*runfolder.Record
	archs := map[string]bool{}
	for _, dir := range dirs {
		rec, err := runfolder.ReadRecord(dir)
		if err != nil {
			return err
		}
		if rec.Summary != nil && len(rec.Metrics) > 0 {
			recs, archs[string(rec.Config.Arch)] = append(recs, rec), true
		}
	}
	if len(recs) == 0 {
		return fmt.Errorf("no finished runs to compare (in %s)", strings.Join(dirs, ", "))
	}
	zero, hundred := 0.0, 100.0
	chart := viz.Plot{Title: "Accuracy against training time", XLabel: "seconds per training epoch", YLabel: "accuracy (%)",
		XMin: &zero, YMin: &zero, YMax: &hundred}
	for _, rec := range recs {
		label := filepath.Base(rec.Dir)
		if len(archs) == len(recs) {
			label = string(rec.Config.Arch)
		}
		seconds := epochSeconds(rec.Metrics)
		chart.Points = append(chart.Points, viz.Point{X: seconds, Y: 100 * rec.Accuracy(), Label: label})
		fmt.Printf("%s: %.2f%% accuracy, %.1f s per training epoch\n", label, 100*rec.Accuracy(), seconds)
	}
	svg, err := chart.SVG()
	if err != nil {
		return err
	}
	showHTML(svg)
	return nil
}

// epochSeconds returns the mean seconds of the fine-tuning epochs, or of the frozen ones when there are none.
func epochSeconds(metrics []runfolder.EpochMetrics) float64 {
	for _, phase := range []runfolder.Phase{runfolder.Finetune, runfolder.Frozen} {
		sum, n := 0.0, 0
		for _, m := range metrics {
			if m.Phase == phase {
				sum, n = sum+m.Seconds, n+1
			}
		}
		if n > 0 {
			return sum / float64(n)
		}
	}
	return 0
}

// showRunCurves draws every run's test accuracy and loss per epoch on shared charts.
func showRunCurves(runs []comparedRun) error {
	zero, hundred := 0.0, 100.0
	acc := viz.Plot{Title: "Test accuracy per epoch", XLabel: "epoch", YLabel: "accuracy (%)", IntegerX: true, YMin: &zero, YMax: &hundred}
	loss := viz.Plot{Title: "Test loss per epoch", XLabel: "epoch", YLabel: "cross-entropy", IntegerX: true, YMin: &zero}
	for _, r := range runs {
		var x, a, l []float64
		for j, m := range r.Metrics {
			x, a, l = append(x, float64(j+1)), append(a, 100*m.TestAccuracy), append(l, m.TestLoss)
		}
		acc.Lines = append(acc.Lines, viz.Line{Name: filepath.Base(r.Dir), X: x, Y: a})
		loss.Lines = append(loss.Lines, viz.Line{Name: filepath.Base(r.Dir), X: x, Y: l})
	}
	accSVG, err := acc.SVG()
	if err != nil {
		return err
	}
	lossSVG, err := loss.SVG()
	if err != nil {
		return err
	}
	showHTML(`<div style="display:flex;gap:12px;flex-wrap:wrap">` + accSVG + lossSVG + `</div>`)
	return nil
}

// sortScript sorts a runs table by the clicked column: numbers by value, words alphabetically, the other
// way on a second click.
const sortScript = `<script>
function vegclfSortRuns(th) {
  const table = th.closest('table'), col = Array.from(th.parentNode.children).indexOf(th);
  const up = th.dataset.up !== '1'; th.dataset.up = up ? '1' : '0';
  const rows = Array.from(table.querySelectorAll('tr')).slice(1);
  rows.sort((a, b) => {
    const x = a.children[col].dataset.v, y = b.children[col].dataset.v;
    const c = (x !== '' && y !== '' && !isNaN(x) && !isNaN(y)) ? x - y : x.localeCompare(y);
    return up ? c : -c;
  });
  rows.forEach(r => table.appendChild(r));
}
</script>`

// runTable returns an HTML table of the runs: the settings in which they differ, the best test and the
// validation figures runs are ranked by (Summary.Ranking: accuracies, multi-label runs' mean average
// precisions, the headers naming which), the last test loss and the training time, sortable by column;
// and prints it.
func runTable(runs []comparedRun) string {
	var keys []string
	for _, k := range recipe.Keys() {
		for _, r := range runs[1:] {
			if !reflect.DeepEqual(r.settings[k], runs[0].settings[k]) {
				keys = append(keys, k)
				break
			}
		}
	}
	multi, finished := 0, 0
	for _, r := range runs {
		if r.Summary != nil {
			finished++
			if _, _, multiLabel := r.Summary.Ranking(); multiLabel {
				multi++
			}
		}
	}
	metric := runfolder.RankingMetric(multi, finished)
	var b strings.Builder
	b.WriteString(sortScript + `<table class="vegclf-runs"><tr>`)
	for _, h := range append(append([]string{"run"}, keys...), "best test "+metric, "validation "+metric, "last test loss", "training s") {
		fmt.Fprintf(&b, `<th onclick="vegclfSortRuns(this)" style="cursor:pointer" title="sort">%s</th>`, html.EscapeString(h))
	}
	b.WriteString("</tr>")
	cell := func(sortKey, text string) string {
		return fmt.Sprintf(`<td data-v="%s">%s</td>`, html.EscapeString(sortKey), html.EscapeString(text))
	}
	for _, r := range runs {
		b.WriteString("<tr>" + cell(filepath.Base(r.Dir), filepath.Base(r.Dir)))
		var line []string
		for _, k := range keys {
			v := fmt.Sprint(r.settings[k])
			b.WriteString(cell(v, v))
			line = append(line, k+"="+v)
		}
		best, val, secs := "", "", ""
		format := percent
		if s := r.Summary; s != nil {
			validation, test, multiLabel := s.Ranking()
			best, secs = fmt.Sprint(test), fmt.Sprint(s.TrainSeconds)
			if validation >= 0 {
				val = fmt.Sprint(validation)
			}
			if multiLabel {
				format = func(v string) string { return rounded(v, 4) }
			}
		}
		loss := ""
		if n := len(r.Metrics); n > 0 {
			loss = fmt.Sprint(r.Metrics[n-1].TestLoss)
		}
		b.WriteString(cell(best, format(best)) + cell(val, format(val)) + cell(loss, rounded(loss, 4)) + cell(secs, rounded(secs, 1)) + "</tr>")
		fmt.Printf("%s: %s; best test %s %s, validation %s\n", filepath.Base(r.Dir), strings.Join(line, " "), metric, format(best), format(val))
	}
	if len(keys) == 0 {
		fmt.Println("The runs share every setting.")
	}
	b.WriteString("</table>")
	return b.String()
}

// percent formats a fraction written as a number ("0.95") as a percentage ("95.00%"); "" stays "-".
func percent(v string) string {
	var f float64
	if _, err := fmt.Sscan(v, &f); err != nil {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", 100*f)
}

// rounded writes a number written as text with the given decimals; "" stays "-".
func rounded(v string, decimals int) string {
	var f float64
	if _, err := fmt.Sscan(v, &f); err != nil {
		return "-"
	}
	return strconv.FormatFloat(f, 'f', decimals, 64)
}

// showBestRun shows the best run's confusion matrix on its held-out split (validation, else test).
func showBestRun(b compute.Backend, r comparedRun) error {
	cfg := r.Config
	ds, err := data.LoadDataset(cfg.Data, cfg.DatasetOptions())
	if err != nil {
		return fmt.Errorf("the best run %s: %w", r.Dir, err)
	}
	split := ds.HeldOut()
	c, _, err := runfolder.LoadClassifier(b, r.Dir)
	if err != nil {
		return err
	}
	res, err := evaluate.Split(c, split, cfg.Batch, nil)
	if err != nil {
		return err
	}
	fmt.Printf("Best run: %s, on its %s split:\n", filepath.Base(r.Dir), split.Name)
	ShowEvaluation(res, 0)
	return nil
}
