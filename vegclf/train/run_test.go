package train

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/schedule"

	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/memlimit"
	"github.com/vegclf/vegclf/vegclf/synthveg"
	"github.com/vegclf/vegclf/vegclf/weights"
)

// smallConfig is a recipe that a ResNet-18 from random initialization learns in seconds on synthveg data.
func smallConfig(dataDir string) recipe.Config {
	cfg := recipe.Default()
	cfg.Data, cfg.Arch, cfg.Weights, cfg.ImageSize, cfg.Batch = dataDir, "resnet18", "none", 32, 8
	cfg.FrozenEpochs, cfg.FinetuneEpochs, cfg.LR, cfg.FinetuneLR, cfg.Seed = 1, 3, 1e-3, 1e-3, 3
	return cfg
}

func generate(t *testing.T, o synthveg.Options) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := synthveg.Generate(dir, o); err != nil {
		t.Fatal(err)
	}
	return dir
}

// trainFresh opens a fresh run of cfg in a temporary folder and trains it, returning the run and its report.
func trainFresh(t *testing.T, cfg recipe.Config) (*Run, string) {
	t.Helper()
	r, err := Create(cfg, testenv.Backend(t), filepath.Join(t.TempDir(), "run"))
	if err != nil {
		t.Fatal(err)
	}
	var report strings.Builder
	r.Report = &report
	if err := r.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r, report.String()
}

var epochLine = regexp.MustCompile(`^Epoch +\d+ - Train accuracy: \d+\.\d\d%, Train loss: \d+\.\d{6}; Test accuracy: \d+\.\d\d%, Test loss: \d+\.\d{6}$`)

// TestRunEndToEndWithResume trains the recipe once straight through and once stopped after its second
// epoch and resumed, and checks the report, metrics, checkpoints, validation, and that the resumed run
// ends exactly where the uninterrupted one does.
func TestRunEndToEndWithResume(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	dataDir := generate(t, synthveg.Options{Classes: 3, Train: 24, Test: 8, Validation: 8, Size: 48, Seed: 1})
	backend := testenv.Backend(t)
	cfg := smallConfig(dataDir)

	straight := filepath.Join(t.TempDir(), "straight")
	r, err := Create(cfg, backend, straight)
	if err != nil {
		t.Fatal(err)
	}
	var report strings.Builder
	r.Report = &report
	if err := r.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	validation, err := r.EvaluateBest()
	if err != nil {
		t.Fatal(err)
	}
	summary, err := r.WriteSummary(validation)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(report.String(), "\n") {
		if strings.HasPrefix(l, "Epoch") {
			if !epochLine.MatchString(l) {
				t.Errorf("report line not in the tutorial's format: %q", l)
			}
			lines = append(lines, l)
		}
	}
	if len(lines) != 4 || !strings.Contains(report.String(), "Validation: ") || !strings.Contains(report.String(), "random initialization") ||
		!strings.Contains(report.String(), "Memory: soft limit") {
		t.Errorf("report:\n%s", report.String())
	}
	metrics, err := runfolder.ReadMetrics(straight)
	if err != nil {
		t.Fatal(err)
	}
	var phases []string
	for i, m := range metrics {
		phases = append(phases, string(m.Phase))
		if m.String() != lines[i] {
			t.Errorf("metrics line %d %q differs from the report %q", i, m, lines[i])
		}
	}
	if !slices.Equal(phases, []string{"frozen", "finetune", "finetune", "finetune"}) {
		t.Errorf("phases = %v", phases)
	}
	// Well above chance (33%) after training: at least 14 of the 24 test images (1% likely by guessing)
	// and 15 of the 24 validation images (0.3%). The tiny run overfits: its train accuracy ends higher.
	last := metrics[len(metrics)-1]
	if summary.BestTestAccuracy < 14.0/24 || validation.Accuracy < 15.0/24 {
		t.Errorf("best test accuracy %.2f, validation %.2f: the model did not learn (last epoch %s)", summary.BestTestAccuracy, validation.Accuracy, last)
	}
	best, _, err := checkpoint.ReadMeta(filepath.Join(straight, runfolder.BestFile))
	if err != nil {
		t.Fatal(err)
	}
	if best.TestAccuracy != summary.BestTestAccuracy || !slices.Equal(best.Classes, []string{"Bean", "Carrot", "Eggplant"}) || best.ImageSize != 32 {
		t.Errorf("best checkpoint meta = %+v", best)
	}
	lastMeta, _, err := checkpoint.ReadMeta(filepath.Join(straight, runfolder.LastFile))
	if err != nil || lastMeta.Phase != "finetune" || lastMeta.Epoch != 3 {
		t.Errorf("last checkpoint = %+v, %v", lastMeta, err)
	}
	for _, f := range []string{runfolder.ConfigFile, runfolder.SummaryFile, runfolder.SummaryTxtFile} {
		if _, err := os.Stat(filepath.Join(straight, f)); err != nil {
			t.Error(err)
		}
	}
	// Opening the same folder again without resume refuses: nothing is overwritten.
	if _, err := Create(cfg, backend, straight); !errors.Is(err, runfolder.ErrRunExists) {
		t.Errorf("reopening a run without resume: %v", err)
	}

	// The same run, stopped after its second epoch (the first fine-tuning one), then resumed.
	stopped := filepath.Join(t.TempDir(), "stopped")
	r, err = Create(cfg, backend, stopped)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	epochs := 0
	r.OnEpoch = func(runfolder.EpochMetrics) {
		if epochs++; epochs == 2 {
			cancel()
		}
	}
	if err := r.Train(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped run: %v", err)
	}
	if m := mustReadMetrics(t, stopped); len(m) != 2 {
		t.Fatalf("stopped run has %d metrics lines, want 2", len(m))
	}
	saved, err := runfolder.ReadConfig(stopped)
	if err != nil {
		t.Fatal(err)
	}
	r, err = Resume(saved, backend, stopped)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	resumed, err := runfolder.ReadMetrics(stopped)
	if err != nil {
		t.Fatal(err)
	}
	if len(resumed) != len(metrics) {
		t.Fatalf("resumed run has %d epochs, want %d", len(resumed), len(metrics))
	}
	// metrics.csv holds the same figures, row for row, also after the resume trimmed the file.
	f, err := os.Open(filepath.Join(stopped, runfolder.MetricsCSVFile))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != len(resumed)+1 || rows[0][0] != "phase" || rows[0][2] != "train_loss" {
		t.Fatalf("metrics.csv: %d rows (%v), want a header and %d epochs", len(rows), err, len(resumed))
	}
	for i, m := range resumed {
		row := rows[i+1]
		if row[0] != string(m.Phase) || row[1] != strconv.Itoa(m.Epoch) || row[2] != strconv.FormatFloat(m.TrainLoss, 'g', -1, 64) ||
			row[5] != strconv.FormatFloat(m.TestAccuracy, 'g', -1, 64) {
			t.Errorf("metrics.csv row %d %v, metrics.jsonl %+v", i+1, row, m)
		}
	}
	for i := range metrics {
		a, b := metrics[i], resumed[i]
		if a.TrainLoss != b.TrainLoss || a.TestLoss != b.TestLoss || a.TestAccuracy != b.TestAccuracy {
			t.Errorf("epoch %d: resumed %s, uninterrupted %s", i+1, b, a)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dataDir := generate(t, synthveg.Options{Classes: 2, Train: 2, Size: 32, Seed: 1})
	backend := testenv.Backend(t)
	cfg := smallConfig(dataDir)
	for _, tc := range []struct {
		name   string
		edit   func(c *recipe.Config)
		resume bool
		want   string
	}{
		{"nothing to resume", func(c *recipe.Config) {}, true, "nothing to resume"},
		{"missing data", func(c *recipe.Config) { c.Data = filepath.Join(dataDir, "nope") }, false, "nope"},
		{"weights not cached", func(c *recipe.Config) { c.Weights = "torchvision-v2" }, false, "vegclf weights download torchvision-v2"},
		{"zero epochs", func(c *recipe.Config) { c.FrozenEpochs, c.FinetuneEpochs = 0, 0 }, false, "no epochs"},
		{"invalid config", func(c *recipe.Config) { c.Batch = 0 }, false, "config: batch size 0"},
		{"negative devices", func(c *recipe.Config) { c.Devices = -1 }, false, "devices -1"},
		{"devices on the Go backend", func(c *recipe.Config) { c.Devices = 2 }, false, "needs an XLA backend"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("VEGCLF_CACHE", t.TempDir())
			c := cfg
			tc.edit(&c)
			open := Create
			if tc.resume {
				open = Resume
			}
			dir := filepath.Join(t.TempDir(), "run")
			_, err := open(c, backend, dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want %q", err, tc.want)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("the refused run created %s", dir) // Everything is checked before the folder is made.
			}
		})
	}
}

// TestRunOnRealPhotos runs the recipe on the hymenoptera photos (many sizes, EXIF, a GIF named .jpg; no
// test split, so one is carved) at a small image size, from random initialization: every photo is read,
// the phases run in order, fine-tuning lowers the training loss, the best checkpoint is the epoch of the
// best test accuracy, and validation and the summary account for all 80 validation photos.
func TestRunOnRealPhotos(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	cfg := smallConfig(testenv.SharedData(t, "hymenoptera"))
	cfg.MaxImagesPerClass, cfg.FrozenEpochs, cfg.FinetuneEpochs = 40, 1, 2
	r, report := trainFresh(t, cfg)
	validation, err := r.EvaluateBest()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", report)
	ds := r.Dataset
	if !ds.TestCarved || len(ds.Train.Samples) != 64 || len(ds.Test.Samples) != 16 || validation.Total != 80 {
		t.Errorf("splits: %d train, %d test (carved %v), %d validation", len(ds.Train.Samples), len(ds.Test.Samples), ds.TestCarved, validation.Total)
	}
	if len(ds.Skipped) > 0 || len(validation.Skipped) > 0 {
		t.Errorf("photos left out: %v, %v", ds.Skipped, validation.Skipped)
	}
	metrics := mustReadMetrics(t, r.Dir)
	var order []string
	for _, m := range metrics {
		order = append(order, fmt.Sprintf("%s %d", m.Phase, m.Epoch))
		for _, v := range []float64{m.TrainLoss, m.TestLoss} {
			if math.IsNaN(v) || v <= 0 || v > 10 {
				t.Errorf("implausible loss %v in %s", v, m)
			}
		}
	}
	if !slices.Equal(order, []string{"frozen 1", "finetune 1", "finetune 2"}) {
		t.Fatalf("epochs %v", order)
	}
	if first, last := metrics[1].TrainLoss, metrics[2].TrainLoss; last >= first {
		t.Errorf("fine-tuning did not lower the training loss: %.4f, then %.4f", first, last)
	}
	bestAt := 0
	for i, m := range metrics {
		if m.TestAccuracy > metrics[bestAt].TestAccuracy {
			bestAt = i
		}
	}
	meta, _, err := checkpoint.ReadMeta(filepath.Join(r.Dir, runfolder.BestFile))
	if err != nil {
		t.Fatal(err)
	}
	if want := metrics[bestAt]; meta.Phase != string(want.Phase) || meta.Epoch != want.Epoch || meta.TestAccuracy != want.TestAccuracy {
		t.Errorf("best checkpoint %s epoch %d (%.4f), want %s", meta.Phase, meta.Epoch, meta.TestAccuracy, want)
	}
	perClass := 0
	for c, row := range validation.Confusion {
		n := 0
		for _, v := range row {
			n += v
		}
		if n != 40 {
			t.Errorf("validation class %s: %d photos, want 40", ds.Classes[c], n)
		}
		perClass += row[c]
	}
	if perClass != validation.Correct || math.Abs(validation.Accuracy-float64(validation.Correct)/80) > 1e-12 {
		t.Errorf("validation: %d correct on the diagonal, %d counted, accuracy %v", perClass, validation.Correct, validation.Accuracy)
	}
	summary, err := r.WriteSummary(validation)
	if err != nil {
		t.Fatal(err)
	}
	if summary.ValidationAccuracy == nil || *summary.ValidationAccuracy != validation.Accuracy || summary.BestEpoch != meta.Epoch ||
		summary.BestPhase != meta.Phase || summary.ValidationImages != 80 || len(summary.Epochs) != 3 {
		t.Errorf("summary %+v", summary)
	}
}

// TestNaNLossStops poisons the model after the first epoch: the next step's loss is NaN, and the run
// stops with a message naming the phase, epoch and step, keeping the last good checkpoint.
func TestNaNLossStops(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	dataDir := generate(t, synthveg.Options{Classes: 2, Train: 8, Test: 2, Size: 32, Seed: 1})
	cfg := smallConfig(dataDir)
	cfg.FrozenEpochs, cfg.FinetuneEpochs = 1, 1
	r, err := Create(cfg, testenv.Backend(t), filepath.Join(t.TempDir(), "run"))
	if err != nil {
		t.Fatal(err)
	}
	r.OnEpoch = func(runfolder.EpochMetrics) {
		v := r.Store.GetVariable("/layer1/0/bn1/bias")
		value := tensors.MustCopyFlatData[float32](v.MustValue())
		value[0] = float32(math.NaN())
		if err := v.SetValue(tensors.FromFlatDataAndDimensions(value, len(value))); err != nil {
			t.Error(err)
		}
	}
	err = r.Train(context.Background())
	if err == nil || !strings.Contains(err.Error(), "finetune epoch 1, step 1: the loss is NaN") || !strings.Contains(err.Error(), runfolder.LastFile) {
		t.Fatalf("error = %v", err)
	}
	_, meta, err := checkpoint.Load(filepath.Join(r.Dir, runfolder.LastFile))
	if err != nil || meta.Phase != "frozen" || meta.Epoch != 1 {
		t.Errorf("last good checkpoint: %+v, %v", meta, err)
	}
}

// TestMemoryLimit checks the soft memory limit a run sets: a configured size from the start, the
// automatic one from the first fine-tuning step (none before it), and, after Train, the process's own.
func TestMemoryLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	t.Setenv("GOMEMLIMIT", "")
	dataDir := generate(t, synthveg.Options{Classes: 2, Train: 4, Test: 2, Size: 32, Seed: 2})
	const processLimit = int64(1) << 40
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(processLimit))
	for _, tc := range []struct {
		limit            memlimit.Policy
		frozen, finetune func(int64) bool // What the limit must be at the end of each phase's epoch.
		report           string
	}{
		{memlimit.Policy{Bytes: 3 << 30}, func(l int64) bool { return l == 3<<30 }, func(l int64) bool { return l == 3<<30 }, "Memory: soft limit 3072 MB, as configured"},
		{memlimit.Policy{}, func(l int64) bool { return l == processLimit }, func(l int64) bool { return l > 0 && l < processLimit }, "the first fine-tuning step's live memory"},
		{memlimit.Policy{Off: true}, func(l int64) bool { return l == processLimit }, func(l int64) bool { return l == processLimit }, ""},
	} {
		t.Run(tc.limit.String(), func(t *testing.T) {
			cfg := smallConfig(dataDir)
			cfg.FrozenEpochs, cfg.FinetuneEpochs, cfg.MemoryLimit = 1, 1, tc.limit
			r, err := Create(cfg, testenv.Backend(t), filepath.Join(t.TempDir(), "run"))
			if err != nil {
				t.Fatal(err)
			}
			var report strings.Builder
			r.Report = &report
			r.OnEpoch = func(m runfolder.EpochMetrics) {
				want := map[runfolder.Phase]func(int64) bool{runfolder.Frozen: tc.frozen, runfolder.Finetune: tc.finetune}[m.Phase]
				if l := debug.SetMemoryLimit(-1); !want(l) {
					t.Errorf("%s phase: soft limit %d", m.Phase, l)
				}
			}
			if err := r.Train(context.Background()); err != nil {
				t.Fatal(err)
			}
			if l := debug.SetMemoryLimit(-1); l != processLimit {
				t.Errorf("after Train the soft limit is %d, want the process's %d back", l, processLimit)
			}
			if got := strings.Contains(report.String(), "Memory: soft limit"); got != (tc.report != "") || !strings.Contains(report.String(), tc.report) {
				t.Errorf("report does not say %q:\n%s", tc.report, report.String())
			}
		})
	}
}

// TestCachedFeaturesEqualUncached trains the frozen phase with the backbone's features cached and
// without, from the same start: the epochs' figures and the trained head must be the same. A resumed
// run reads the cache from the run folder.
func TestCachedFeaturesEqualUncached(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	dataDir := generate(t, synthveg.Options{Classes: 3, Train: 10, Test: 4, Size: 40, Seed: 4})
	cfg := smallConfig(dataDir)
	cfg.FrozenEpochs, cfg.FinetuneEpochs, cfg.Batch = 3, 0, 4
	backend := testenv.Backend(t)
	run := func(cache bool, dir string, stopAfter, featureCacheMB int) (*Run, string) {
		c := cfg
		c.CacheFeatures, c.FeatureCacheMB = cache, featureCacheMB
		open := Create
		if stopAfter < 0 {
			open = Resume
		}
		r, err := open(c, backend, dir)
		if err != nil {
			t.Fatal(err)
		}
		var report strings.Builder
		r.Report = &report
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r.OnEpoch = func(m runfolder.EpochMetrics) {
			if m.Epoch == stopAfter {
				cancel()
			}
		}
		if err := r.Train(ctx); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		return r, report.String()
	}
	plain, plainReport := run(false, filepath.Join(t.TempDir(), "plain"), 0, 1024)
	cachedDir := filepath.Join(t.TempDir(), "cached")
	// The first part keeps no feature in memory: the pass spills them all, and its epoch reads them from the
	// features file; the resumed part holds them all in memory.
	_, firstReport := run(true, cachedDir, 1, 0)
	if spills, _ := filepath.Glob(filepath.Join(cachedDir, "*.spill")); len(spills) > 0 {
		t.Errorf("spill files left in the run folder: %v", spills)
	}
	cached, resumedReport := run(true, cachedDir, -1, 1024)
	if strings.Contains(plainReport, "computed once") || !strings.Contains(firstReport, "computed once") {
		t.Errorf("reports do not say whether features are cached:\n%s\n%s", plainReport, firstReport)
	}
	if !strings.Contains(resumedReport, "read from the cache") {
		t.Errorf("the resumed run did not reuse the feature cache:\n%s", resumedReport)
	}
	a := mustReadMetrics(t, plain.Dir)
	b := mustReadMetrics(t, cached.Dir)
	if len(a) != 3 || len(b) != 3 {
		t.Fatalf("%d and %d epochs", len(a), len(b))
	}
	close := func(x, y float64) bool { return math.Abs(x-y) <= 1e-5*math.Max(1, math.Abs(x)) }
	for i := range a {
		if !close(a[i].TrainLoss, b[i].TrainLoss) || !close(a[i].TestLoss, b[i].TestLoss) ||
			a[i].TrainAccuracy != b[i].TrainAccuracy || a[i].TestAccuracy != b[i].TestAccuracy {
			t.Errorf("epoch %d: cached %s, uncached %s", i+1, b[i], a[i])
		}
	}
	for _, p := range plain.Model.Params() {
		if !plain.Model.IsHead(p) {
			continue
		}
		x := tensors.MustCopyFlatData[float32](plain.Store.GetVariable(p.Path()).MustValue())
		y := tensors.MustCopyFlatData[float32](cached.Store.GetVariable(p.Path()).MustValue())
		for j := range x {
			if !close(float64(x[j]), float64(y[j])) {
				t.Fatalf("head %s[%d]: cached %v, uncached %v", p.Name, j, y[j], x[j])
			}
		}
	}
}

func TestEarlyStoppingAndSchedules(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	dataDir := generate(t, synthveg.Options{Classes: 2, Train: 6, Test: 2, Size: 32, Seed: 3})
	cfg := smallConfig(dataDir)
	cfg.FrozenEpochs, cfg.FinetuneEpochs, cfg.Patience = 5, 3, 1
	cfg.LR, cfg.FinetuneLR = 1e-12, 1e-12 // Nothing improves: each phase stops once its patience runs out.
	cfg.Schedule, cfg.Warmup = schedule.KindCosine, 0.2
	r, report := trainFresh(t, cfg)
	metrics := mustReadMetrics(t, r.Dir)
	var phases []string
	for _, m := range metrics {
		phases = append(phases, string(m.Phase))
	}
	if !slices.Equal(phases, []string{"frozen", "frozen", "finetune"}) {
		t.Errorf("epochs run: %v, want two frozen (the first best, then one without improvement) and one fine-tuning", phases)
	}
	for _, want := range []string{"Early stopping: no better test accuracy for 1 epoch; ending the frozen phase after 2 of 5 epochs",
		"ending the finetune phase after 1 of 3 epochs", "Learning rate: cosine 1e-12 with 20% linear warmup"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}

// A ResNet's layer groups (nn.Model.Groups): stem, layer1..4, head.
const (
	groupStem   = 0
	groupLayer2 = 2
	groupLayer3 = 3
	groupLayer4 = 4
	groupHead   = 5
)

// weightsOf returns the first conv kernel of each layer group (the head's first Linear), as flat values.
func weightsOf(t *testing.T, r *Run) map[int][]float32 {
	out := map[int][]float32{}
	for _, p := range r.Model.Params() {
		if _, seen := out[p.Group]; !seen && (p.Layout == nn.ConvKernel || p.Layout == nn.LinearWeight) {
			out[p.Group] = tensors.MustCopyFlatData[float32](r.Store.GetVariable(p.Path()).MustValue())
		}
	}
	return out
}

// TestGroupRatesAndGradualUnfreezing checks that per-group rates reach the right variables (a group at
// rate 0 does not move) and that gradual unfreezing trains layer4 first, then layer3 too.
func TestGroupRatesAndGradualUnfreezing(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	dataDir := generate(t, synthveg.Options{Classes: 2, Train: 4, Test: 2, Size: 32, Seed: 3})
	cfg := smallConfig(dataDir)
	cfg.FrozenEpochs, cfg.FinetuneEpochs, cfg.GradualUnfreeze = 0, 2, true
	r, err := Create(cfg, testenv.Backend(t), filepath.Join(t.TempDir(), "run"))
	if err != nil {
		t.Fatal(err)
	}
	var report strings.Builder
	r.Report = &report
	snapshots := []map[int][]float32{weightsOf(t, r)}
	r.OnEpoch = func(runfolder.EpochMetrics) { snapshots = append(snapshots, weightsOf(t, r)) }
	if err := r.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	moved := func(epoch, group int) bool { return !slices.Equal(snapshots[epoch-1][group], snapshots[epoch][group]) }
	for _, tc := range []struct {
		epoch, group int
		want         bool
	}{
		{1, groupHead, true}, {1, groupLayer4, true}, {1, groupLayer3, false}, {1, groupStem, false},
		{2, groupLayer3, true}, {2, groupLayer2, false}, {2, groupStem, false},
	} {
		if got := moved(tc.epoch, tc.group); got != tc.want {
			t.Errorf("epoch %d: %s moved = %v, want %v", tc.epoch, r.Model.Groups()[tc.group], got, tc.want)
		}
	}
	if !strings.Contains(report.String(), "Gradual unfreezing: training layer4 to the head") ||
		!strings.Contains(report.String(), "Gradual unfreezing: training layer3 to the head") {
		t.Errorf("report:\n%s", report.String())
	}

	// Per-group rates: from 1e-30 at the stem to 1e-3 at the head, the stem's steps vanish in float32.
	cfg.GradualUnfreeze, cfg.FinetuneEpochs, cfg.LRRange = false, 1, recipe.LRRange{Lo: 1e-30, Hi: 1e-3}
	r, err = Create(cfg, testenv.Backend(t), filepath.Join(t.TempDir(), "run2"))
	if err != nil {
		t.Fatal(err)
	}
	r.Report = &report
	before := weightsOf(t, r)
	if err := r.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := weightsOf(t, r)
	if slices.Equal(before[groupHead], after[groupHead]) || !slices.Equal(before[groupStem], after[groupStem]) {
		t.Error("with rates from 1e-30 (stem) to 1e-3 (head), the head should move and the stem not")
	}
	if !strings.Contains(report.String(), "Discriminative learning rates: stem 1e-30") {
		t.Errorf("report:\n%s", report.String())
	}
}

// TestFindLR sweeps the head's learning rate on generated data and checks the suggestions against real
// trainings at nine rates half a decade apart: trained at the finder's minimum/10, the head must end with a
// train loss no worse than at the second best of them, and the steepest-descent suggestion must lie within
// 10x of the best (on this small set it lands a little past it). The run's own model must not change.
func TestFindLR(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	dataDir := generate(t, synthveg.Options{Classes: 3, Train: 16, Test: 4, Size: 40, Seed: 8})
	cfg := smallConfig(dataDir)
	cfg.FrozenEpochs, cfg.FinetuneEpochs, cfg.Batch = 4, 0, 8
	backend := testenv.Backend(t)
	r, err := Create(cfg, backend, filepath.Join(t.TempDir(), "find"))
	if err != nil {
		t.Fatal(err)
	}
	before := weightsOf(t, r)
	found, err := r.FindLR(runfolder.Frozen, 1e-6, 10, 120)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before[groupHead], weightsOf(t, r)[groupHead]) {
		t.Error("the finder changed the run's model")
	}
	if len(found.Rates) < 20 || found.Steepest <= 1e-6 || found.MinOver <= 0 {
		t.Fatalf("finder: %d steps, steepest %g, min/10 %g", len(found.Rates), found.Steepest, found.MinOver)
	}
	finalLoss := func(rate float64) float64 {
		c := cfg
		c.LR = rate
		run, err := Create(c, backend, filepath.Join(t.TempDir(), fmt.Sprint(rate)))
		if err != nil {
			t.Fatal(err)
		}
		if err := run.Train(context.Background()); err != nil {
			t.Fatal(err)
		}
		metrics := mustReadMetrics(t, run.Dir)
		return metrics[len(metrics)-1].TrainLoss
	}
	grid := []float64{1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1}
	losses := make([]float64, len(grid))
	for i, rate := range grid {
		losses[i] = finalLoss(rate)
		t.Logf("rate %g: final train loss %.4f", rate, losses[i])
	}
	best := slices.Index(losses, slices.Min(losses))
	sorted := slices.Sorted(slices.Values(losses))
	suggested := finalLoss(found.MinOver)
	t.Logf("finder suggests %g (steepest) and %g (minimum/10, final train loss %.4f); the grid's best rate is %g",
		found.Steepest, found.MinOver, suggested, grid[best])
	if suggested > sorted[1] {
		t.Errorf("trained at the suggested %g, the loss is %.4f: worse than the grid's second best, %.4f", found.MinOver, suggested, sorted[1])
	}
	if ratio := found.Steepest / grid[best]; ratio < 0.1 || ratio > 10 {
		t.Errorf("steepest-descent rate %g is not within 10x of the best trained rate %g", found.Steepest, grid[best])
	}
}

// TestAugmentationInRuns checks that augmentation is off by default (cached features), that asking for
// it in the frozen phase turns the cache off and says so, that augmented and mixed runs are
// reproducible, and that mixup and cutmix change what is trained.
func TestAugmentationInRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	dataDir := generate(t, synthveg.Options{Classes: 2, Train: 6, Test: 2, Size: 40, Seed: 2})
	cfg := smallConfig(dataDir)
	cfg.FrozenEpochs, cfg.FinetuneEpochs, cfg.Augment, cfg.AugmentFrozen = 1, 1, true, true
	run := func(cfg recipe.Config) ([]runfolder.EpochMetrics, string) {
		r, report := trainFresh(t, cfg)
		m := mustReadMetrics(t, r.Dir)
		return m, report
	}
	plain, _ := run(cfg)
	cfg.Mixup, cfg.Cutmix = 0.8, 1
	a, report := run(cfg)
	b, _ := run(cfg)
	for _, want := range []string{"Feature caching is off: augmented images", "Augmentation: random resized crops", "Mixing images: mixup 0.8, cutmix 1"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "computed once") {
		t.Error("features were cached although the frozen phase is augmented")
	}
	for i := range a {
		if a[i].TrainLoss != b[i].TrainLoss {
			t.Errorf("epoch %d: augmented runs differ: %s vs %s", i+1, a[i], b[i])
		}
		if a[i].TrainLoss == plain[i].TrainLoss {
			t.Errorf("epoch %d: mixing images changed nothing: %s", i+1, a[i])
		}
	}
}

// TestMixedPrecisionRun trains the same run in float32 and with a bfloat16 backbone and compares them:
// the mixed-precision run learns as well (its mean train loss and best test accuracy close to
// float32's), while its
// checkpoint keeps float32 weights. Float16 training is refused.
func TestMixedPrecisionRun(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	dataDir := generate(t, synthveg.Options{Classes: 3, Train: 16, Test: 8, Size: 48, Seed: 4})
	cfg := smallConfig(dataDir)
	cfg.FinetuneEpochs = 2
	full, _ := trainFresh(t, cfg)
	cfg.Precision = nn.Precision(dtypes.BFloat16)
	mixed, report := trainFresh(t, cfg)
	if !strings.Contains(report, "Mixed precision: the backbone computes in BFloat16") {
		t.Errorf("the report does not mention mixed precision:\n%s", report)
	}
	a := mustReadMetrics(t, full.Dir)
	b := mustReadMetrics(t, mixed.Dir)
	for i := range a {
		t.Logf("float32  %s", a[i])
		t.Logf("bfloat16 %s", b[i])
	}
	// Single epochs of a small run are noisy; the mean training loss and the best test accuracy are not.
	summary := func(m []runfolder.EpochMetrics) (meanLoss, best float64) {
		for _, e := range m {
			meanLoss += e.TrainLoss / float64(len(m))
			best = max(best, e.TestAccuracy)
		}
		return meanLoss, best
	}
	lossA, bestA := summary(a)
	lossB, bestB := summary(b)
	t.Logf("mean train loss: float32 %.4f, bfloat16 %.4f; best test accuracy: %.3f and %.3f", lossA, lossB, bestA, bestB)
	if r := lossB / lossA; r > 1.15 || r < 0.85 || math.Abs(bestA-bestB) > 0.15 {
		t.Errorf("bfloat16 does not learn as float32 does: mean train loss %.4f vs %.4f, best test accuracy %.3f vs %.3f", lossB, lossA, bestB, bestA)
	}
	store, _, err := checkpoint.Load(filepath.Join(mixed.Dir, runfolder.LastFile))
	if err != nil {
		t.Fatal(err)
	}
	for v := range store.IterVariables() {
		if dt := v.Shape().DType; dt != dtypes.Float32 && dt != dtypes.Int64 {
			t.Errorf("checkpoint variable %s is %s", v.Path(), dt)
		}
	}
	cfg.Precision = nn.Precision(dtypes.Float16)
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "loss scaling") {
		t.Errorf("float16 training: %v", err)
	}
}

// TestRecipeConvergesAsWell compares, on the same budget, the tutorial's constant-rate recipe with
// the fastai/timm one (warmup+cosine schedule, discriminative rates, augmentation) in the setting they
// are for: a few images of a new task and a pretrained backbone. The backbone is pretrained here on
// other generated images (six vegetables); the new task has four, six training images each. The recipe
// must end at least as accurate as the constant rate, with a test loss no more than 10% higher, and be
// at least as accurate on average over the fine-tuning epochs.
func TestRecipeConvergesAsWell(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three runs")
	}
	pre := smallConfig(generate(t, synthveg.Options{Classes: 6, Train: 24, Test: 4, Size: 96, Seed: 11}))
	pre.ImageSize, pre.FrozenEpochs, pre.FinetuneEpochs = 48, 0, 6
	pretrained, _ := trainFresh(t, pre)
	sd, err := weights.FromStore(pretrained.Store, pretrained.Model)
	if err != nil {
		t.Fatal(err)
	}
	backbone := filepath.Join(t.TempDir(), "pretrained.safetensors")
	if err := weights.WriteSafetensors(backbone, sd); err != nil {
		t.Fatal(err)
	}

	constant := smallConfig(generate(t, synthveg.Options{Classes: 4, Train: 6, Test: 12, Size: 96, Seed: 12}))
	constant.Weights, constant.ImageSize, constant.FrozenEpochs, constant.FinetuneEpochs = backbone, 48, 2, 4
	tuned := constant
	tuned.Schedule, tuned.Warmup, tuned.LRRange, tuned.Augment = schedule.KindCosine, 0.1, recipe.LRRange{Lo: 1e-4, Hi: 1e-3}, true
	// The final epoch, and the mean test accuracy over the fine-tuning epochs (how steadily it converges).
	run := func(cfg recipe.Config) (runfolder.EpochMetrics, float64) {
		r, _ := trainFresh(t, cfg)
		m, err := runfolder.ReadMetrics(r.Dir)
		if err != nil {
			t.Fatal(err)
		}
		var mean float64
		for _, e := range m {
			t.Logf("%-8s %s %s", cfg.Schedule, e.Phase, e)
			if e.Phase == runfolder.Finetune {
				mean += e.TestAccuracy / float64(cfg.FinetuneEpochs)
			}
		}
		return m[len(m)-1], mean
	}
	a, meanA := run(constant)
	b, meanB := run(tuned)
	t.Logf("constant rate: final test accuracy %.2f%%, loss %.4f, mean fine-tuning test accuracy %.2f%%", 100*a.TestAccuracy, a.TestLoss, 100*meanA)
	t.Logf("tuned:        final test accuracy %.2f%%, loss %.4f, mean fine-tuning test accuracy %.2f%%", 100*b.TestAccuracy, b.TestLoss, 100*meanB)
	// "As well": the mean fine-tuning accuracy within one test image (of 48) of the constant rate's; on
	// these few images a different rounding of the same steps moves it by that much.
	if b.TestAccuracy < a.TestAccuracy || b.TestLoss > 1.1*a.TestLoss || meanB < meanA-1/48.0 {
		t.Errorf("the tuned converged worse than the constant rate")
	}
}

func TestMemoryPolicy(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	goBackend := testenv.Backend(t)
	for _, tc := range []struct {
		p, want memlimit.Policy
		b       compute.Backend
		env     string
	}{
		{memlimit.Policy{}, memlimit.Policy{}, goBackend, ""},
		{memlimit.Policy{}, memlimit.Policy{Off: true}, testenv.XLANamed{}, ""}, // XLA's tensors are not in Go's heap.
		{memlimit.Policy{Bytes: 3 << 30}, memlimit.Policy{Bytes: 3 << 30}, testenv.XLANamed{}, ""},
		{memlimit.Policy{Off: true}, memlimit.Policy{Off: true}, goBackend, ""},
		{memlimit.Policy{Bytes: 3 << 30}, memlimit.Policy{Off: true}, goBackend, "2GiB"}, // The runtime follows GOMEMLIMIT.
	} {
		t.Setenv("GOMEMLIMIT", tc.env)
		if got := memoryPolicy(tc.p, tc.b); got != tc.want {
			t.Errorf("memoryPolicy(%v, %s) with GOMEMLIMIT %q = %+v; want %+v", tc.p, tc.b.Name(), tc.env, got, tc.want)
		}
	}
}

func TestEpochCount(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{{0, "0 epochs"}, {1, "1 epoch"}, {2, "2 epochs"}, {15, "15 epochs"}} {
		if got := epochCount(tc.n); got != tc.want {
			t.Errorf("epochCount(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

// mustReadMetrics reads a run folder's metrics, failing the test when they cannot be read.
func mustReadMetrics(t *testing.T, dir string) []runfolder.EpochMetrics {
	t.Helper()
	m, err := runfolder.ReadMetrics(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
