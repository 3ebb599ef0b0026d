package step

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/distributed"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/core/tensors/dtensor"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/internal/multidevice"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/schedule"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

func TestDevices(t *testing.T) {
	goBackend := testenv.Backend(t)
	four := testenv.XLANamed{Devices: 4}
	for _, tc := range []struct {
		name      string
		requested int
		xla       bool
		want      int
		wantErr   string
	}{
		{"go: all", 0, false, 1, ""},
		{"go: one", 1, false, 1, ""},
		{"go: two", 2, false, 0, "data parallel needs an XLA backend (xla:cuda): 2 devices asked for; Go Backend runs on one device"},
		{"go: negative", -1, false, 0, "devices: -1"},
		{"xla: all", 0, true, 4, ""},
		{"xla: two", 2, true, 2, ""},
		{"xla: too many", 5, true, 0, "over 5 devices: xla has 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := goBackend
			if tc.xla {
				b = four
			}
			got, err := Devices(b, tc.requested)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Devices = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestNewParallelNeedsXLA(t *testing.T) {
	if _, err := NewParallel(testenv.Backend(t), 1); err == nil || !strings.Contains(err.Error(), "needs an XLA backend") {
		t.Errorf("Go backend: error = %v", err)
	}
	if _, err := NewParallel(testenv.XLANamed{Devices: 2}, 3); err == nil || !strings.Contains(err.Error(), "has 2") {
		t.Errorf("too many devices: error = %v", err)
	}
}

// TestParallelShard checks the split of a step's arguments: each device gets its consecutive rows of
// the images, targets and labels, and all of Adam's scalars.
func TestParallelShard(t *testing.T) {
	p, err := NewParallel(testenv.XLANamed{Devices: 2}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Splits(4) || p.Splits(3) {
		t.Errorf("Splits(4), Splits(3) = %v, %v; want true, false", p.Splits(4), p.Splits(3))
	}
	pix := make([]float32, 4*2*2*3)
	for i := range pix {
		pix[i] = float32(i)
	}
	images := tensors.FromFlatDataAndDimensions(pix, 4, 2, 2, 3)
	targets := oneHot([]int32{0, 1, 2, 1}, 3)
	labels := tensors.FromValue([]int32{0, 1, 2, 1})
	hyper := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3, 4}, 2, 2)
	rng := noise(1, runfolder.Finetune, 3, 0)
	args, err := p.shard(images, targets, labels, hyper, rng)
	if err != nil {
		t.Fatal(err)
	}
	if len(args) != 5 {
		t.Fatalf("%d arguments, want 5", len(args))
	}
	shards := func(i int) []*tensors.Tensor { return args[i].(*dtensor.Tensor).Shards() }
	for d, s := range shards(0) {
		if want := pix[d*24 : (d+1)*24]; !slices.Equal(tensors.MustCopyFlatData[float32](s), want) {
			t.Errorf("images, device %d: %v, want %v", d, tensors.MustCopyFlatData[float32](s), want)
		}
	}
	if got := tensors.MustCopyFlatData[float32](shards(1)[1]); !slices.Equal(got, []float32{0, 0, 1, 0, 1, 0}) {
		t.Errorf("targets, device 1: %v", got)
	}
	if a, b := shards(2)[0].Value().([]int32), shards(2)[1].Value().([]int32); !slices.Equal(a, []int32{0, 1}) || !slices.Equal(b, []int32{2, 1}) {
		t.Errorf("labels: %v, %v", a, b)
	}
	for d, s := range shards(3) {
		if got := tensors.MustCopyFlatData[float32](s); !slices.Equal(got, []float32{1, 2, 3, 4}) {
			t.Errorf("hyper, device %d: %v (want it whole on every device)", d, got)
		}
	}
	for d, s := range shards(4) {
		if got, want := tensors.MustCopyFlatData[uint64](s), tensors.MustCopyFlatData[uint64](rng); !slices.Equal(got, want) {
			t.Errorf("random state, device %d: %v (want it whole on every device: %v)", d, got, want)
		}
	}
	if _, err := p.shard(tensors.FromShape(images.Shape().Clone()), oneHot([]int32{0, 1, 2}, 3), labels, hyper, rng); err == nil {
		t.Error("a batch of 3 was split across 2 devices")
	}
}

// TestStepperDataParallel checks the split step's configuration: XLA's automatic sharding over the
// layout's mesh, the batch arguments split, the rest and the store's variables replicated. (The split
// steps run in TestDataParallelStepsMatchOneDevice, on presented devices, and on XLA in
// scripts/gpu-check.sh.)
func TestStepperDataParallel(t *testing.T) {
	m := zoo.MustNew("resnet18", nn.TutorialHead(3))
	store := model.NewStore()
	if err := m.Init(store, 1, nil); err != nil {
		t.Fatal(err)
	}
	b := testenv.XLANamed{Backend: testenv.Backend(t), Devices: 2}
	p, err := NewParallel(b, 2)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(b, store, m, Config{Phase: runfolder.Frozen, Input: FromFeatures, Schedule: schedule.Constant{LR: 1e-3}, Parallel: p})
	if err != nil {
		t.Fatal(err)
	}
	if s.sharded == s.exec || s.exec.DistributionStrategy() != distributed.None {
		t.Error("the one-device step was changed")
	}
	if got := s.sharded.DistributionStrategy(); got != distributed.AutoSharding {
		t.Errorf("strategy %s, want AutoSharding", got)
	}
	if got := s.sharded.NumDevices(); got != 2 {
		t.Errorf("%d devices, want 2", got)
	}
	if spec := s.sharded.DefaultShardingSpec(); spec == nil || !spec.IsReplicated() || spec.Mesh != p.mesh {
		t.Errorf("variables' sharding %v, want replicated over the layout's mesh", spec)
	}
	// A batch the layout does not split runs the one-device step, on the Go backend underneath.
	features := tensors.FromFlatDataAndDimensions(make([]float32, 3*512), 3, 512)
	if _, _, err := s.Step(features, []int32{0, 1, 2}); err != nil {
		t.Fatalf("an unsplit batch: %v", err)
	}
}

// TestDataParallelStepsMatchOneDevice trains the same fine-tuning steps (batch norm in train mode) on
// one device and split across two (multidevice: the logical step run on gathered shards, as a
// partitioner computes it), including a batch that does not split, between split ones: the losses and
// every weight, statistic and moment must agree.
func TestDataParallelStepsMatchOneDevice(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	b := multidevice.New(testenv.Backend(t), 2)
	m := zoo.MustNew("resnet18", nn.TutorialHead(3))
	var stores [2]*model.Store
	var steppers [2]*Stepper
	p, err := NewParallel(b, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range stores {
		stores[i] = model.NewStore()
		if err := m.Init(stores[i], 7, nil); err != nil {
			t.Fatal(err)
		}
		c := Config{Phase: runfolder.Finetune, Input: FromImages, BatchNormTrain: true, Schedule: schedule.Constant{LR: 1e-3}}
		if i == 1 {
			c.Parallel = p
		}
		if steppers[i], err = New(b, stores[i], m, c); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	batch := func(n int) (*tensors.Tensor, []int32) {
		pix := make([]float32, n*32*32*3)
		for i := range pix {
			pix[i] = float32(rng.NormFloat64())
		}
		labels := make([]int32, n)
		for i := range labels {
			labels[i] = int32(i % 3)
		}
		return tensors.FromFlatDataAndDimensions(pix, n, 32, 32, 3), labels
	}
	before := b.SplitExecutions()
	for step, n := range []int{4, 4, 3, 4} { // The batch of 3 runs on one device.
		images, labels := batch(n)
		lossOne, correctOne, err := steppers[0].Step(images, labels)
		if err != nil {
			t.Fatal(err)
		}
		lossSplit, correctSplit, err := steppers[1].Step(images, labels)
		if err != nil {
			t.Fatalf("step %d (batch of %d), split: %v", step+1, n, err)
		}
		if math.Abs(lossOne-lossSplit) > 1e-5*math.Abs(lossOne) || correctOne != correctSplit {
			t.Errorf("step %d (batch of %d): loss %v, %v correct on one device; %v, %v split", step+1, n, lossOne, correctOne, lossSplit, correctSplit)
		}
	}
	if got := b.SplitExecutions() - before; got != 3 {
		t.Errorf("%d steps ran across both devices, want 3", got)
	}
	testenv.SameValues(t, stores[0], stores[1])
}

// TestDataParallelMultiLabelStepsMatchOneDevice trains the same multi-label head steps (binary cross-entropy
// with pos_weight and label smoothing, on backbone features) on one device and split across two
// (multidevice), a batch that does not split included: the multi-hot labels and smoothed targets split
// with the batch, and the losses, exact-match counts and every weight and moment agree. Cheap: a head on
// 512 features, batches of 4.
func TestDataParallelMultiLabelStepsMatchOneDevice(t *testing.T) {
	b := multidevice.New(testenv.Backend(t), 2)
	m := zoo.MustNew("resnet18", nn.TutorialHead(3))
	p, err := NewParallel(b, 2)
	if err != nil {
		t.Fatal(err)
	}
	loss := Loss{MultiLabel: true, PosWeight: []float64{3, 0.5, 1.5}, LabelSmoothing: 0.1}
	var stores [2]*model.Store
	var steppers [2]*Stepper
	for i := range stores {
		stores[i] = model.NewStore()
		if err := m.Init(stores[i], 7, nil); err != nil {
			t.Fatal(err)
		}
		c := Config{Phase: runfolder.Frozen, Input: FromFeatures, Schedule: schedule.Constant{LR: 1e-2}, Loss: loss}
		if i == 1 {
			c.Parallel = p
		}
		if steppers[i], err = New(b, stores[i], m, c); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	before := b.SplitExecutions()
	for step, n := range []int{4, 4, 3, 4} { // The batch of 3 runs on one device.
		features := make([]float32, n*512)
		for i := range features {
			features[i] = float32(rng.NormFloat64())
		}
		sets := make([][]int, n)
		for i := range sets {
			sets[i] = [][]int{{0}, {1, 2}, {0, 2}, {2}}[(i+step)%4]
		}
		x := tensors.FromFlatDataAndDimensions(features, n, 512)
		lossOne, exactOne, err := steppers[0].StepMulti(x, sets)
		if err != nil {
			t.Fatal(err)
		}
		lossSplit, exactSplit, err := steppers[1].StepMulti(x, sets)
		if err != nil {
			t.Fatalf("step %d (batch of %d), split: %v", step+1, n, err)
		}
		if math.Abs(lossOne-lossSplit) > 1e-5*math.Abs(lossOne) || exactOne != exactSplit {
			t.Errorf("step %d (batch of %d): loss %v, %v exact on one device; %v, %v split", step+1, n, lossOne, exactOne, lossSplit, exactSplit)
		}
	}
	if got := b.SplitExecutions() - before; got != 3 {
		t.Errorf("%d steps ran across both devices, want 3", got)
	}
	testenv.SameValues(t, stores[0], stores[1])
}
