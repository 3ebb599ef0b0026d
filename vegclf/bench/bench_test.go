package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/vegclf/vegclf/vegclf/internal/multidevice"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/synthveg"
)

func TestRunAndCompare(t *testing.T) {
	if testing.Short() {
		t.Skip("benchmarks training steps: not in the -short loop")
	}
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := synthveg.Generate(dir, synthveg.Options{Classes: 2, Train: 4, Test: 2, Validation: 2, Size: 40, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	res, err := Run(testenv.Backend(t), Options{Data: dir, Arch: "resnet18", ImageSize: 32, Batch: 4, FrozenEpochs: 1,
		FinetuneEpochs: 1, Duration: 200 * time.Millisecond, Recipe: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range Figures {
		if v, ok := res[f.Key]; !ok || v <= 0 {
			t.Errorf("%s = %v", f.Key, v)
		}
	}
	// Caching makes the frozen phase faster than running the backbone every epoch... with one epoch
	// it cannot be slower than one inference pass.
	if res["frozen_cached_images_per_second"] > res["inference_images_per_second"]*1.01 {
		t.Errorf("one cached frozen epoch (%v images/s) faster than inference (%v)", res["frozen_cached_images_per_second"], res["inference_images_per_second"])
	}
	var b strings.Builder
	WriteComparison(&b, res, Result{"inference_images_per_second": res["inference_images_per_second"] * 2, "frozen_step_images_per_second": 10})
	out := b.String()
	if !strings.Contains(out, "|           0.50 |") || !strings.Contains(out, "whole recipe seconds") {
		t.Errorf("comparison table:\n%s", out)
	}
}

// TestStepsOnlyInBFloat16 measures the model's steps alone, with a bfloat16 backbone, as the GPU check
// does: the three step figures and none of data loading or the recipe; and writes the CPU profile of the
// fine-tune steps (pprof's gzipped protobuf).
func TestStepsOnlyInBFloat16(t *testing.T) {
	if testing.Short() {
		t.Skip("benchmarks training steps: not in the -short loop")
	}
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := synthveg.Generate(dir, synthveg.Options{Classes: 2, Train: 4, Test: 2, Validation: 2, Size: 40, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	o := Options{Data: dir, Arch: "resnet18", ImageSize: 32, Batch: 2, FrozenEpochs: 1, FinetuneEpochs: 1,
		Duration: 100 * time.Millisecond, StepsOnly: true, Recipe: true, Precision: nn.Precision(dtypes.BFloat16),
		CPUProfile: filepath.Join(t.TempDir(), "finetune.prof")}
	res, err := Run(testenv.Backend(t), o)
	if err != nil {
		t.Fatal(err)
	}
	if profile, err := os.ReadFile(o.CPUProfile); err != nil || len(profile) < 2 || profile[0] != 0x1f || profile[1] != 0x8b {
		t.Errorf("CPU profile %s: %v, %d bytes, not gzip", o.CPUProfile, err, len(profile))
	}
	for _, key := range []string{"inference_images_per_second", "frozen_step_images_per_second", "finetune_step_images_per_second"} {
		if res[key] <= 0 {
			t.Errorf("%s = %v", key, res[key])
		}
	}
	for _, key := range []string{"data_loading_images_per_second", "recipe_seconds"} {
		if _, ok := res[key]; ok {
			t.Errorf("steps only, but %s was measured", key)
		}
	}
}

// TestDataParallel measures a fine-tune step split across two devices (multidevice: the Go backend
// presented as two, running the logical step on the gathered shards) against one device's.
func TestDataParallel(t *testing.T) {
	if testing.Short() {
		t.Skip("benchmarks training steps: not in the -short loop")
	}
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := synthveg.Generate(dir, synthveg.Options{Classes: 2, Train: 2, Test: 1, Validation: 1, Size: 32, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	o := Options{Data: dir, Arch: "resnet18", ImageSize: 32, Batch: 4, Devices: 2, Duration: 100 * time.Millisecond}
	res, err := DataParallel(multidevice.New(testenv.Backend(t), 2), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ParallelFigures {
		if _, ok := res[f.Key]; !ok {
			t.Errorf("no %s", f.Key)
		}
	}
	if res["devices"] != 2 || res["finetune_parallel_images_per_second"] <= 0 || res["parallel_speedup"] <= 0 {
		t.Errorf("figures %v", res)
	}
	if d := res["parallel_loss_max_rel_diff"]; !(d < 1e-5) {
		t.Errorf("losses differ by %v (relative) between one device and two", d)
	}
}

// TestDataParallelErrors checks what DataParallel refuses before it computes anything: a backend that
// cannot split a step, and a batch that does not split evenly. (It runs on XLA: scripts/gpu-check.sh.)
func TestDataParallelErrors(t *testing.T) {
	o := Options{Data: t.TempDir(), Arch: "resnet18", ImageSize: 32, Batch: 3, Devices: 2}
	if _, err := DataParallel(testenv.Backend(t), o); err == nil || !strings.Contains(err.Error(), "needs an XLA backend") {
		t.Errorf("Go backend: error = %v", err)
	}
	if _, err := DataParallel(testenv.XLANamed{Devices: 2}, o); err == nil || !strings.Contains(err.Error(), "a batch of 3 does not split evenly across 2 devices") {
		t.Errorf("batch of 3: error = %v", err)
	}
}

func TestWriteParallel(t *testing.T) {
	var b strings.Builder
	WriteParallel(&b, Result{"devices": 2, "finetune_step_images_per_second": 100, "finetune_parallel_images_per_second": 180, "parallel_speedup": 1.8, "parallel_loss_max_rel_diff": 2e-6})
	for _, want := range []string{"| devices the batch is split across", "|          2 |", "|        1.8 |", "|      2e-06 |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
