package train

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/augment"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/synthveg"
)

// TestAugmentPolicyInRuns trains a ResNet-18 on generated data with --augment-policy trivialaugment and
// --random-erasing 0.5: the report says so, config.json records both, the frozen phase (not augmented
// without --augment-frozen) keeps its feature cache and trains as the plain run's while fine-tuning trains
// differently; a run stopped after its first fine-tuning epoch and resumed ends exactly as the straight
// one (the draws come from the seed, epoch and image), and resuming with another policy is refused.
// RandAugment with --augment-frozen augments the frozen phase too, without the cache.
func TestAugmentPolicyInRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	dataDir := generate(t, synthveg.Options{Classes: 2, Train: 8, Test: 2, Size: 40, Seed: 4})
	cfg := smallConfig(dataDir)
	cfg.FrozenEpochs, cfg.FinetuneEpochs = 1, 2
	plain := mustReadMetrics(t, trainDir(t, cfg))
	cfg.AugmentPolicy, cfg.RandomErasing = augment.AutoPolicy{Kind: augment.TrivialAugment}, 0.5

	straight := filepath.Join(t.TempDir(), "straight")
	report := trainStopped(t, cfg, straight, false, 0)
	for _, want := range []string{"Augmentation policy: trivialaugment, as torchvision's TrivialAugmentWide()", "Random erasing: p 0.5", "computed once"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, report)
		}
	}
	saved, err := os.ReadFile(filepath.Join(straight, runfolder.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"augment_policy": "trivialaugment"`, `"random_erasing": 0.5`} {
		if !strings.Contains(string(saved), want) {
			t.Errorf("config.json lacks %s:\n%s", want, saved)
		}
	}
	metrics := mustReadMetrics(t, straight)
	if len(metrics) != 3 {
		t.Fatalf("%d epochs, want 3", len(metrics))
	}
	if metrics[0].TrainLoss != plain[0].TrainLoss {
		t.Errorf("the frozen epoch trained %s, the plain run's %s: the policy is for fine-tuning", metrics[0], plain[0])
	}
	for i := 1; i < 3; i++ {
		if metrics[i].TrainLoss == plain[i].TrainLoss {
			t.Errorf("fine-tuning epoch %d trained as without augmentation: %s", i, metrics[i])
		}
	}

	stopped := filepath.Join(t.TempDir(), "stopped")
	trainStopped(t, cfg, stopped, false, 2)
	if got := mustReadMetrics(t, stopped); len(got) != 2 {
		t.Fatalf("stopped after %d epochs, want 2", len(got))
	}
	trainStopped(t, cfg, stopped, true, 0)
	resumed := mustReadMetrics(t, stopped)
	for i := range metrics {
		if resumed[i].TrainLoss != metrics[i].TrainLoss || resumed[i].TestLoss != metrics[i].TestLoss {
			t.Errorf("epoch %d: resumed %s, straight %s", i+1, resumed[i], metrics[i])
		}
	}
	other := cfg
	other.AugmentPolicy = augment.AutoPolicy{Kind: augment.RandAugment, NumOps: 2, Magnitude: 9}
	if _, err := Resume(other, testenv.Backend(t), stopped); !errors.As(err, new(*ResumeConflict)) || !strings.Contains(err.Error(), "augment_policy") {
		t.Errorf("resuming with another policy: %v, want a conflict naming augment_policy", err)
	}

	rand := other
	rand.RandomErasing, rand.AugmentFrozen = 0, true
	r, report := trainFresh(t, rand)
	for _, want := range []string{"Augmentation policy: randaugment:2:9, as torchvision's RandAugment(num_ops=2, magnitude=9)", "Feature caching is off: augmented images"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "Random erasing") {
		t.Errorf("random erasing is on without --random-erasing:\n%s", report)
	}
	if m := mustReadMetrics(t, r.Dir); m[0].TrainLoss == plain[0].TrainLoss {
		t.Errorf("the frozen epoch with --augment-frozen trained as the plain run's: %s", m[0])
	}
}
