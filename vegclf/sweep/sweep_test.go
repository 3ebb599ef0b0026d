package sweep

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/schedule"
	"github.com/vegclf/vegclf/vegclf/synthveg"
	"github.com/vegclf/vegclf/vegclf/train"
)

func names(points []Point) []string {
	var out []string
	for _, p := range points {
		out = append(out, p.Name())
	}
	return out
}

func TestGridAndRandom(t *testing.T) {
	grid, err := Grid("lr=1e-4,1e-3; hidden=64,128")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(grid); !slices.Equal(got, []string{"lr=1e-4,hidden=64", "lr=1e-4,hidden=128", "lr=1e-3,hidden=64", "lr=1e-3,hidden=128"}) {
		t.Errorf("grid %v", got)
	}
	cfg, err := grid[3].Apply(recipe.Default())
	if err != nil || cfg.LR != 1e-3 || cfg.Hidden != 128 || cfg.Arch != "resnet50" {
		t.Errorf("applied %+v (%v)", cfg, err)
	}
	if p, err := Grid("finetune-epochs=0,2;schedule=cosine"); err != nil || p[1].Name() != "finetune_epochs=2,schedule=cosine" {
		t.Errorf("flag names and words: %v (%v)", names(p), err)
	} else if cfg, err := p[1].Apply(recipe.Default()); err != nil || cfg.FinetuneEpochs != 2 || cfg.Schedule != schedule.KindCosine {
		t.Errorf("applied %+v (%v)", cfg, err)
	}
	if p, err := Grid("normalize=imagenet"); err != nil || p[0].Name() != "normalization=imagenet" {
		t.Errorf("a flag named unlike its key: %v (%v)", names(p), err)
	} else if cfg, err := p[0].Apply(recipe.Default()); err != nil || cfg.Normalization != data.ImageNetNormalization {
		t.Errorf("applied %+v (%v)", cfg, err)
	}
	if p, err := Grid("arch=vgg16"); err != nil {
		t.Error(err)
	} else if _, err := p[0].Apply(recipe.Default()); err == nil || !strings.Contains(err.Error(), "vgg16") {
		t.Errorf("a bad value: %v", err)
	}
	for spec, want := range map[string]string{
		"lr=1e-5:1e-2":  "a range",
		"learning=1,2":  `unknown setting "learning"`,
		"lr":            "want KEY=V1,V2",
		"hidden=128:64": "not LO:HI",
	} {
		if _, err := Grid(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Grid(%q): %v, want %q", spec, err, want)
		}
	}
	if p, err := Points("lr=1e-4,1e-3; hidden=64,128", 0, 7); err != nil || !slices.Equal(names(p), names(grid)) {
		t.Errorf("Points without trials: %v (%v), want the grid", names(p), err)
	}
	if _, err := Points("lr=1e-5:1e-2", 0, 7); err == nil {
		t.Error("Points without trials took a range")
	}
	a, err := Random("lr=1e-5:1e-2;hidden=16:256;schedule=constant,cosine", 20, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Points("lr=1e-5:1e-2;hidden=16:256;schedule=constant,cosine", 20, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names(a), names(b)) {
		t.Error("Points with trials, or the same seed, drew other points")
	}
	for _, p := range a {
		cfg, err := p.Apply(recipe.Default())
		if err != nil {
			t.Fatal(err)
		}
		if cfg.LR < 1e-5 || cfg.LR > 1e-2 || cfg.Hidden < 16 || cfg.Hidden > 256 || (cfg.Schedule != schedule.KindConstant && cfg.Schedule != schedule.KindCosine) {
			t.Errorf("point %s outside the space", p.Name())
		}
	}
}

// TestSweepSharesFeaturesAndResumes runs a sweep killed after its first run, then again whole: the
// finished run is not redone, the frozen backbone's features are computed once for all the runs, and a
// run's figures equal those of the same configuration trained on its own.
func TestSweepSharesFeaturesAndResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a sweep: not in the -short loop")
	}
	data := filepath.Join(t.TempDir(), "data")
	if _, err := synthveg.Generate(data, synthveg.Options{Classes: 2, Train: 6, Test: 2, Validation: 2, Size: 40, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	base := recipe.Default()
	base.Data, base.Arch, base.Weights, base.ImageSize, base.Batch = data, "resnet18", "none", 32, 4
	base.FrozenEpochs, base.FinetuneEpochs = 2, 0
	points, err := Grid("lr=1e-3,1e-2;hidden=16,32")
	if err != nil {
		t.Fatal(err)
	}
	b := testenv.Backend(t)
	dir := filepath.Join(t.TempDir(), "sweep")
	var first strings.Builder
	if err := Run(context.Background(), b, base, points[:1], dir, &first); err != nil {
		t.Fatal(err)
	}
	var whole strings.Builder
	if err := Run(context.Background(), b, base, points, dir, &whole); err != nil {
		t.Fatal(err)
	}
	report := whole.String()
	if !strings.Contains(report, "run 1/4 lr=1e-3,hidden=16: finished before, skipped") {
		t.Errorf("the finished run was not skipped:\n%s", report)
	}
	if n := strings.Count(report, "read from the cache"); n != 3 {
		t.Errorf("%d runs read the features from the shared cache, want the 3 after the first:\n%s", n, report)
	}
	cached, _ := filepath.Glob(filepath.Join(dir, FeaturesDir, "*.safetensors"))
	if len(cached) != 1 {
		t.Errorf("%d feature files, want 1", len(cached))
	}
	cfg, err := points[3].Apply(base)
	if err != nil {
		t.Fatal(err)
	}
	alone, err := train.Create(cfg, b, filepath.Join(t.TempDir(), "alone"))
	if err != nil {
		t.Fatal(err)
	}
	if err := alone.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	want, err := runfolder.ReadMetrics(alone.Dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := runfolder.ReadMetrics(filepath.Join(dir, points[3].Name()))
	if err != nil || len(got) != 2 || len(want) != 2 {
		t.Fatalf("metrics: %d swept (%v), %d alone", len(got), err, len(want))
	}
	for i := range want {
		if got[i].TrainLoss != want[i].TrainLoss || got[i].TestAccuracy != want[i].TestAccuracy {
			t.Errorf("epoch %d: swept %s, alone %s", i+1, got[i], want[i])
		}
	}
	for _, p := range points {
		if _, err := os.Stat(filepath.Join(dir, p.Name(), runfolder.SummaryFile)); err != nil {
			t.Errorf("run %s: %v", p.Name(), err)
		}
	}
}
