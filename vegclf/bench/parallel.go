package bench

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/schedule"
	"github.com/vegclf/vegclf/vegclf/step"
)

// ParallelFigures are DataParallel's figures and what they mean.
var ParallelFigures = []struct{ Key, About string }{
	{"devices", "devices the batch is split across"},
	{"finetune_step_images_per_second", "fine-tune step images/s, one device"},
	{"finetune_parallel_images_per_second", "fine-tune step images/s, split across the devices"},
	{"parallel_speedup", "split over one device"},
	{"parallel_loss_max_rel_diff", "largest relative difference of the losses, split vs one device"},
}

// parallelCheckSteps is how many fine-tune steps DataParallel compares before it times them.
const parallelCheckSteps = 3

// DataParallel measures data-parallel fine-tuning on b (an XLA backend, step.Parallel): from the same
// weights, it takes the same fine-tune steps on one device and split across o.Devices devices, compares
// their losses, then times both. go-benchmarks prints its statistics of each to stdout.
func DataParallel(b compute.Backend, o Options) (Result, error) {
	p, err := step.NewParallel(b, o.Devices)
	if err != nil {
		return nil, err
	}
	if !p.Splits(o.Batch) {
		return nil, fmt.Errorf("data parallel: a batch of %d does not split evenly across %d devices", o.Batch, o.Devices)
	}
	m, f, err := newModel(o)
	if err != nil {
		return nil, err
	}
	// Two stores with the same weights: one trained on one device, the other split.
	var steppers [2]*step.Stepper
	for i := range steppers {
		store := model.NewStore()
		if err := m.Init(store, 0, nil); err != nil {
			return nil, err
		}
		c := step.Config{Phase: runfolder.Finetune, Input: step.FromImages, BatchNormTrain: true, Schedule: schedule.Constant{LR: 1e-5}}
		if i == 1 {
			c.Parallel = p
		}
		if steppers[i], err = step.New(b, store, m, c); err != nil {
			return nil, err
		}
	}
	one, split := steppers[0], steppers[1]
	_, images, labels := randomBatch(o, len(f.Classes))
	res := Result{"devices": float64(o.Devices)}
	for step := 1; step <= parallelCheckSteps; step++ {
		a, _, err := one.Step(images, labels)
		if err != nil {
			return nil, fmt.Errorf("fine-tune step %d on one device: %w", step, err)
		}
		s, _, err := split.Step(images, labels)
		if err != nil {
			return nil, fmt.Errorf("fine-tune step %d split across %d devices: %w", step, o.Devices, err)
		}
		fmt.Printf("step %d: loss %.6f on one device, %.6f split across %d\n", step, a, s, o.Devices)
		res["parallel_loss_max_rel_diff"] = max(res["parallel_loss_max_rel_diff"], math.Abs(s-a)/math.Max(math.Abs(a), 1e-12))
	}
	var runErr error
	timeOne := measure("fine-tune step, one device", o.Duration, func() error { _, _, err := one.Step(images, labels); return err }, &runErr)
	timeSplit := measure(fmt.Sprintf("fine-tune step, split across %d devices", o.Devices), o.Duration, func() error { _, _, err := split.Step(images, labels); return err }, &runErr)
	if runErr != nil {
		return nil, runErr
	}
	res["finetune_step_images_per_second"] = float64(o.Batch) / timeOne
	res["finetune_parallel_images_per_second"] = float64(o.Batch) / timeSplit
	res["parallel_speedup"] = timeOne / timeSplit
	return res, nil
}

// WriteParallel prints DataParallel's figures as a table.
func WriteParallel(w io.Writer, res Result) {
	fmt.Fprintf(w, "| %-65s | %10s |\n", "data parallel", "")
	fmt.Fprintf(w, "|%s|%s|\n", strings.Repeat("-", 67), strings.Repeat("-", 12))
	for _, fig := range ParallelFigures {
		if v, ok := res[fig.Key]; ok {
			fmt.Fprintf(w, "| %-65s | %10.3g |\n", fig.About, v)
		}
	}
}
