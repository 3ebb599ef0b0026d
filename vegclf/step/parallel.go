package step

import (
	"errors"
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/distributed"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/core/tensors/dtensor"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/backend"
)

// parallelAxis names the device mesh's one axis, the one the batch is split along.
const parallelAxis = "data"

// Parallel is the layout of data-parallel training: a one-axis mesh of devices, each batch split along
// its first axis across them, and the weights, batch-norm statistics and optimizer state replicated on
// every device. It uses GoMLX's automatic sharding (XLA Shardy), so the step is written for the whole
// batch: batch norm's statistics and the loss are the whole batch's, and a step computes what one
// device would, up to float rounding.
type Parallel struct {
	mesh       *distributed.DeviceMesh
	batch      *distributed.ShardingSpec // The first axis split across the mesh.
	replicated *distributed.ShardingSpec
}

// Devices resolves the number of devices data-parallel training on b uses, for a requested count (0:
// all of b's devices). It says why when b cannot: only XLA backends split a step across devices.
func Devices(b compute.Backend, requested int) (int, error) {
	n := b.NumDevices()
	switch {
	case requested < 0:
		return 0, fmt.Errorf("devices: %d (want 0 for all, or a positive count)", requested)
	case requested == 0:
		return n, nil
	case requested > 1 && !backend.IsXLA(b):
		return 0, fmt.Errorf("%w: %d devices asked for; %s runs on one device", ErrNeedsXLA, requested, b.Name())
	case requested > n:
		return 0, fmt.Errorf("data parallel over %d devices: %s has %d", requested, b.Name(), n)
	}
	return requested, nil
}

// NewParallel returns the layout of data-parallel training over the first devices of b's devices. b
// must be an XLA backend, which alone partitions a graph across devices; one device is allowed (XLA
// then compiles the sharded step for one device, which checks the sharded path on a machine with one
// GPU).
func NewParallel(b compute.Backend, devices int) (*Parallel, error) {
	if !backend.IsXLA(b) {
		return nil, fmt.Errorf("%w; %s runs on one device", ErrNeedsXLA, b.Name())
	}
	if devices < 1 || devices > b.NumDevices() {
		return nil, fmt.Errorf("data parallel over %d devices: %s has %d", devices, b.Name(), b.NumDevices())
	}
	mesh, err := distributed.NewDeviceMesh([]int{devices}, []string{parallelAxis})
	if err != nil {
		return nil, fmt.Errorf("data parallel mesh: %w", err)
	}
	batch, err := distributed.BuildSpec(mesh).S(parallelAxis).Done()
	if err != nil {
		return nil, fmt.Errorf("data parallel batch sharding: %w", err)
	}
	return &Parallel{mesh: mesh, batch: batch, replicated: distributed.NewReplicatedShardingSpec(mesh)}, nil
}

// ErrNeedsXLA is returned (wrapped) when data parallel is asked of a backend other than XLA's.
var ErrNeedsXLA = errors.New("data parallel needs an XLA backend (xla:cuda)")

// Devices returns the number of devices a batch is split across.
func (p *Parallel) Devices() int {
	return p.mesh.NumDevices()
}

// Splits reports whether a batch of n examples is split: n must be a multiple of the device count
// (other batches, such as an epoch's last one, run on one device).
func (p *Parallel) Splits(n int) bool {
	return n%p.Devices() == 0
}

// distribute makes exec run across p's devices, its inputs and outputs laid out as given, and the
// store's variables replicated.
func (p *Parallel) distribute(exec *model.Exec, inputs, outputs []*distributed.ShardingSpec) error {
	exec.AutoSharding(p.mesh).WithInputShardingSpecs(inputs...).WithOutputShardingSpecs(outputs...)
	if err := exec.SetDefaultShardingSpec(p.replicated); err != nil {
		return fmt.Errorf("data parallel: replicating the variables: %w", err)
	}
	return nil
}

// configure makes exec a data-parallel training step: inputs, targets and labels split along their
// first axis, Adam's per-step scalars and the outputs (loss, correct) replicated, as are the store's
// variables.
func (p *Parallel) configure(exec *model.Exec) error {
	return p.distribute(exec, []*distributed.ShardingSpec{p.batch, p.batch, p.batch, p.replicated, p.replicated},
		[]*distributed.ShardingSpec{p.replicated, p.replicated})
}

// layOut returns t laid out over p's devices as spec says.
func (p *Parallel) layOut(spec *distributed.ShardingSpec, t *tensors.Tensor) (*dtensor.Tensor, error) {
	dt, err := dtensor.ShardTensor(spec, t)
	if err != nil {
		return nil, fmt.Errorf("data parallel: splitting a batch of shape %s across %d devices: %w", t.Shape(), p.Devices(), err)
	}
	return dt, nil
}

// shard returns the step's arguments as distributed tensors: inputs, targets and labels split along
// their first axis, hyper and the random state replicated.
func (p *Parallel) shard(inputs, targets, labels, hyper, rng *tensors.Tensor) ([]any, error) {
	args := make([]any, 0, 5)
	for i, t := range []*tensors.Tensor{inputs, targets, labels, hyper, rng} {
		spec := p.batch
		if i >= 3 {
			spec = p.replicated
		}
		dt, err := p.layOut(spec, t)
		if err != nil {
			return nil, err
		}
		args = append(args, dt)
	}
	return args, nil
}

// Inference runs a one-input, one-output graph of the model (no variable changes) on batches: split
// across a layout's devices when there is one and the batch splits, on one device otherwise. A run's
// feature pass computes the backbone's features with it.
type Inference struct {
	one, split *model.Exec
	p          *Parallel
}

// NewInference prepares fn's graph on b over store, split across p's devices (nil: one device).
func NewInference(b compute.Backend, store *model.Store, p *Parallel, fn func(scope *model.Scope, x *Node) *Node) (*Inference, error) {
	one, err := model.NewExec(b, store, fn)
	if err != nil {
		return nil, err
	}
	x := &Inference{one: one, p: p}
	if p == nil {
		return x, nil
	}
	if x.split, err = model.NewExec(b, store, fn); err != nil {
		return nil, err
	}
	specs := []*distributed.ShardingSpec{p.batch}
	if err := p.distribute(x.split, specs, specs); err != nil {
		return nil, err
	}
	return x, nil
}

// Run returns the graph's output for the batch.
func (x *Inference) Run(batch *tensors.Tensor) (*tensors.Tensor, error) {
	if x.split == nil || !x.p.Splits(batch.Shape().Dimensions[0]) {
		out, err := x.one.Exec(batch)
		if err != nil {
			return nil, err
		}
		return out[0], nil
	}
	in, err := x.p.layOut(x.p.batch, batch)
	if err != nil {
		return nil, err
	}
	shards, err := x.split.Exec(in) // One output per device.
	if err != nil {
		return nil, err
	}
	out, err := dtensor.NewTensor(x.p.batch, shards)
	if err != nil {
		return nil, fmt.Errorf("data parallel: gathering the output: %w", err)
	}
	return out.Merge()
}
