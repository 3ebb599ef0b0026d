package notebook

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vegclf/vegclf/vegclf/augment"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/synthveg"
	"github.com/vegclf/vegclf/vegclf/zoo"

	"github.com/vegclf/vegclf/vegclf/schedule"
)

// TestScheduleSeries checks the drawn schedule: one point per step of both phases, a mark where each
// starts, the frozen phase at its rate, and fine-tuning at the head's rate, which a learning-rate range
// sets to its HI.
func TestScheduleSeries(t *testing.T) {
	cfg := recipe.Default()
	cfg.FrozenEpochs, cfg.FinetuneEpochs, cfg.LR, cfg.FinetuneLR = 2, 1, 1e-3, 1e-5
	x, rates, marks := scheduleSeries(cfg, 4)
	if len(x) != 12 || len(rates) != 12 || x[0] != 1 || x[11] != 12 || len(marks) != 2 || marks[1].X != 8.5 {
		t.Fatalf("%d points from %v to %v, marks %v", len(x), x[0], x[len(x)-1], marks)
	}
	if !slices.Equal(rates[:8], slices.Repeat([]float64{1e-3}, 8)) || !slices.Equal(rates[8:], slices.Repeat([]float64{1e-5}, 4)) {
		t.Errorf("constant rates %v", rates)
	}
	cfg.LRRange, cfg.Schedule = recipe.LRRange{Lo: 1e-6, Hi: 1e-4}, schedule.KindOneCycle
	_, rates, _ = scheduleSeries(cfg, 4)
	if top := slices.Max(rates[8:]); top > 1e-4*(1+1e-9) || top < 0.9e-4 {
		t.Errorf("fine-tuning with a range up to 1e-4 peaks at %g", top)
	}
	cfg.FinetuneEpochs = 0
	if x, _, marks := scheduleSeries(cfg, 4); len(x) != 8 || len(marks) != 1 {
		t.Errorf("no fine-tuning: %d points, marks %v", len(x), marks)
	}
}

// TestRunsOrSweepLearns runs the experiments notebook's own sweep, as a newcomer without runs gets it:
// every run of it learns the generated data (over 90% validation accuracy), and given runs are kept as
// they are.
func TestRunsOrSweepLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the notebook's sweep: not in the -short loop")
	}
	if got, err := RunsOrSweep(nil, []string{"a", "b"}, t.TempDir()); err != nil || !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("given runs: %v, %v", got, err)
	}
	start := time.Now()
	dirs, err := RunsOrSweep(testenv.Backend(t), nil, filepath.Join(t.TempDir(), "sweep"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the sweep took %.0f s", time.Since(start).Seconds())
	if len(dirs) != 4 {
		t.Fatalf("%d runs, want 4", len(dirs))
	}
	for _, dir := range dirs {
		rec, err := runfolder.ReadRecord(dir)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Summary == nil || rec.Summary.ValidationAccuracy == nil || *rec.Summary.ValidationAccuracy <= 0.9 {
			t.Errorf("%s: summary %+v: want over 90%% validation accuracy", filepath.Base(dir), rec.Summary)
			continue
		}
		t.Logf("%s: validation %.1f%%", filepath.Base(dir), 100**rec.Summary.ValidationAccuracy)
	}
}

// TestRunTableShowsZeroSettings checks that a setting config.json leaves out at its zero value (label
// smoothing 0, no class weights) shows as that value in the runs table, not as a missing one.
func TestRunTableShowsZeroSettings(t *testing.T) {
	var runs []comparedRun
	for i, smoothing := range []float64{0, 0.1} {
		cfg := recipe.Default()
		cfg.LabelSmoothing = smoothing
		if i == 1 {
			cfg.ClassWeights = recipe.BalancedClassWeights
		}
		settings, err := cfg.AllSettings()
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, comparedRun{Record: &runfolder.Record{Dir: filepath.Join("runs", fmt.Sprint("r", i)), Config: cfg}, settings: settings})
	}
	table := runTable(runs)
	for _, want := range []string{">label_smoothing</th>", ">class_weights</th>", `<td data-v="0">0</td>`, `<td data-v="0.1">0.1</td>`,
		`<td data-v="none">none</td>`, `<td data-v="balanced">balanced</td>`} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %s:\n%s", want, table)
		}
	}
	if strings.Contains(table, "nil") || strings.Contains(table, ">arch</th>") {
		t.Errorf("the table shows a missing value or a setting both runs share:\n%s", table)
	}
}

// TestRunTableRanksMultiLabelByMAP compares summaries (written here, no training): multi-label runs are
// ranked, and shown, by mean average precision (validation, then best test), not by their exact-match
// accuracies, which rank them the other way; single-label runs by accuracy, as before.
func TestRunTableRanksMultiLabelByMAP(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name      string
		summaries []*runfolder.Summary
		best      string
		cells     []string
	}{
		{"multi-label", []*runfolder.Summary{
			{BestTestAccuracy: 0.9, BestTestMAP: f(0.6), ValidationAccuracy: f(0.9), ValidationMAP: f(0.7)},
			{BestTestAccuracy: 0.5, BestTestMAP: f(0.8), ValidationAccuracy: f(0.4), ValidationMAP: f(0.85)},
			nil,
		}, "r1", []string{">best test mAP</th>", ">validation mAP</th>", `<td data-v="0.85">0.8500</td>`, `<td data-v="0.6">0.6000</td>`}},
		{"single-label", []*runfolder.Summary{
			{BestTestAccuracy: 0.9, ValidationAccuracy: f(0.7)},
			{BestTestAccuracy: 0.8, ValidationAccuracy: f(0.75)},
		}, "r1", []string{">best test accuracy</th>", ">validation accuracy</th>", `<td data-v="0.75">75.00%</td>`}},
	} {
		var runs []comparedRun
		for i, s := range tc.summaries {
			cfg := recipe.Default()
			cfg.Hidden = 16 * (i + 1)
			settings, err := cfg.AllSettings()
			if err != nil {
				t.Fatal(err)
			}
			runs = append(runs, comparedRun{Record: &runfolder.Record{Dir: fmt.Sprint("r", i), Config: cfg, Summary: s}, settings: settings})
		}
		if got := filepath.Base(bestRun(runs).Dir); got != tc.best {
			t.Errorf("%s: the best run is %s, want %s", tc.name, got, tc.best)
		}
		var table string
		stdoutOf(t, func() { table = runTable(runs) })
		for _, want := range tc.cells {
			if !strings.Contains(table, want) {
				t.Errorf("%s: the table lacks %s:\n%s", tc.name, want, table)
			}
		}
	}
}

// TestArchitecturesTable: every registered architecture has its row, with its family, its trainable
// parameters with the tutorial's head (ResNet-50's 23.8 M: 23.5 M of backbone and its 0.26 M head),
// features, size and default weights, in the table and the text.
func TestArchitecturesTable(t *testing.T) {
	t.Setenv("VEGCLF_CACHE", t.TempDir())
	var text strings.Builder
	table := architecturesTable(15, &text)
	for _, a := range zoo.Archs() {
		if !strings.Contains(table, "<td>"+a.Name+"</td><td>"+a.Family+"</td>") || !strings.Contains(text.String(), a.Name) ||
			!strings.Contains(table, "<td>"+a.Default().Name+"</td>") {
			t.Errorf("%s is missing from the table:\n%s\n%s", a.Name, table, text.String())
		}
	}
	for _, want := range []string{"<td>resnet50</td><td>ResNet</td><td>23.8 M</td><td>2048</td><td>224</td><td>torchvision-v2</td><td>80.9%</td><td>no</td>",
		"<td>mobilenet_v3_large</td><td>MobileNetV3</td>", "<td>1280</td>"} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q:\n%s", want, table)
		}
	}
}

// TestShowTradeOff: finished runs of two architectures are placed by their accuracy (validation, else best
// test) and their mean fine-tuning epoch's seconds, labeled by architecture; an unfinished run is left out.
func TestShowTradeOff(t *testing.T) {
	dir := t.TempDir()
	write := func(name, arch string, seconds []float64, validation *float64, best float64) string {
		run := filepath.Join(dir, name)
		cfg := recipe.Default()
		cfg.Arch = zoo.Name(arch)
		if err := os.MkdirAll(run, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := runfolder.Start(run, cfg, nil); err != nil {
			t.Fatal(err)
		}
		loss := 0.1
		s := &runfolder.Summary{BestTestAccuracy: best, ValidationAccuracy: validation, ValidationLoss: &loss}
		for i, sec := range seconds {
			m := runfolder.EpochMetrics{Phase: runfolder.Finetune, Epoch: i + 1, Seconds: sec}
			if i == 0 {
				m.Phase = runfolder.Frozen
			}
			if err := runfolder.AppendMetrics(run, m); err != nil {
				t.Fatal(err)
			}
		}
		if validation != nil {
			if err := runfolder.WriteSummary(run, s); err != nil {
				t.Fatal(err)
			}
		}
		return run
	}
	v1, v2 := 0.95, 0.9
	dirs := []string{write("a", "resnet50", []float64{1, 10, 12}, &v1, 0.9), write("b", "mobilenet_v3_large", []float64{1, 3, 4}, &v2, 0.8),
		write("c", "resnet18", []float64{1, 2}, nil, 0.5)}
	out := stdoutOf(t, func() {
		if err := ShowTradeOff(dirs); err != nil {
			t.Error(err)
		}
	})
	for _, want := range []string{"resnet50: 95.00% accuracy, 11.0 s per training epoch", "mobilenet_v3_large: 90.00% accuracy, 3.5 s per training epoch"} {
		if !strings.Contains(out, want) {
			t.Errorf("the trade-off lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "resnet18") {
		t.Errorf("an unfinished run is shown:\n%s", out)
	}
}

// TestAugmentedSamples checks the sample grid of augmented images: with the configuration's augmentation
// policy its draws differ from the crops alone and from each other, captioned with the policy's
// operations, at the training image size; the same draws come again; random erasing paints a rectangle in
// the normalization's mean; with neither setting the session shows --augment's crops.
func TestAugmentedSamples(t *testing.T) {
	dir := t.TempDir()
	if _, err := synthveg.Generate(dir, synthveg.Options{Classes: 2, Train: 2, Test: 1, Size: 48, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	ds, err := data.LoadDataset(dir, data.DatasetOptions{TestFraction: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	cfg := recipe.Default()
	cfg.ImageSize = 40
	s := &Session{Config: cfg, Dataset: ds}
	if a := s.augmentation(); a.Crops == nil || a.Policy.Enabled() || a.Erasing.P != 0 {
		t.Fatalf("without a policy the session draws %+v, want --augment's crops", a)
	}
	crops, err := augmentedSamples(ds.Train, ds.Classes, s.augmentation(), 2, 6)
	if err != nil {
		t.Fatal(err)
	}
	s.Config.AugmentPolicy = augment.AutoPolicy{Kind: augment.RandAugment, NumOps: 2, Magnitude: 15}
	a := s.augmentation()
	if a.Crops != nil || a.Size != 40 {
		t.Fatalf("with a policy and no --augment the session draws %+v, want the policy alone at 40px", a)
	}
	policy, err := augmentedSamples(ds.Train, ds.Classes, a, 2, 6)
	if err != nil {
		t.Fatal(err)
	}
	again, err := augmentedSamples(ds.Train, ds.Classes, a, 2, 6)
	if err != nil {
		t.Fatal(err)
	}
	if len(policy) != 12 || len(crops) != 12 {
		t.Fatalf("%d and %d samples, want 12", len(policy), len(crops))
	}
	distinct := map[string]bool{}
	for i, item := range policy {
		if !slices.Equal(item.Image.Pix, again[i].Image.Pix) {
			t.Errorf("sample %d: the same draw gave another image", i)
		}
		if i%6 == 0 {
			continue
		}
		if item.Image.Width != 40 || item.Image.Height != 40 {
			t.Errorf("sample %d is %dx%d, want the training size 40", i, item.Image.Width, item.Image.Height)
		}
		if slices.Equal(item.Image.Pix, crops[i].Image.Pix) {
			t.Errorf("sample %d: the policy drew the crops' image", i)
		}
		ops := strings.Split(item.Caption, ", ")
		if _, ok := augment.OpByName(strings.Fields(ops[0])[0]); !ok || len(ops) != 2 {
			t.Errorf("sample %d's caption %q does not name its two operations", i, item.Caption)
		}
		distinct[string(item.Image.Pix)] = true
	}
	if len(distinct) < 8 {
		t.Errorf("%d distinct images of 10 policy draws", len(distinct))
	}

	a.Policy, a.Erasing, a.Mean = augment.AutoPolicy{}, augment.Erasing{P: 1}, [3]float32{0.5, 0.25, 1}
	erased, err := augmentedSamples(ds.Train, ds.Classes, a, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range erased[1:] {
		painted := 0
		for p := 0; p < len(item.Image.Pix); p += 3 {
			if item.Image.Pix[p] == 128 && item.Image.Pix[p+1] == 64 && item.Image.Pix[p+2] == 255 {
				painted++
			}
		}
		if !strings.HasSuffix(item.Caption, "erased") || painted < 40*40/50 {
			t.Errorf("%q: %d pixels painted the mean colour, want at least 2%% of 40x40", item.Caption, painted)
		}
	}
}
