// Package multidevice presents a single-device backend (the pure Go one, in tests) as an XLA backend with
// several devices, and runs automatically sharded graphs (GoMLX's AutoSharding) on it as a partitioner
// promises to: the result of the whole (logical) computation, with each output laid out on the devices
// as its sharding says. It gathers the inputs' shards into whole tensors, runs the logical graph once,
// and gives every device its part of each output.
//
// It checks the code around a sharded step (the layout of its arguments and outputs, GoMLX's handling of
// replicated variables, switching between sharded and one-device steps) where no machine with several
// devices is at hand. XLA's own partitioning is not exercised: that needs XLA (scripts/gpu-check.sh).
// Only the first axis of a tensor may be split, over a one-axis mesh, which is what data parallelism
// uses.
package multidevice

import (
	"fmt"
	"reflect"
	"sync/atomic"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
)

// Backend is inner presented as Devices devices. Its Name is XLA's, since only XLA shards graphs.
type Backend struct {
	inner   compute.Backend
	devices int
	split   atomic.Int64 // Executions across several devices.
}

// New returns inner presented as devices devices.
func New(inner compute.Backend, devices int) *Backend {
	return &Backend{inner: inner, devices: devices}
}

// SplitExecutions returns how many executions ran across several devices so far.
func (b *Backend) SplitExecutions() int64 { return b.split.Load() }

// Name returns "xla": the backend stands in for XLA's partitioning.
func (b *Backend) Name() string { return "xla" }

// String returns Name.
func (b *Backend) String() string { return b.Name() }

// Description says what the backend is.
func (b *Backend) Description() string {
	return fmt.Sprintf("%s presented as %d devices", b.inner.Description(), b.devices)
}

// NumDevices returns the number of devices presented.
func (b *Backend) NumDevices() int { return b.devices }

// DeviceDescription describes a device.
func (b *Backend) DeviceDescription(d compute.DeviceNum) string {
	return fmt.Sprintf("device %d of %s", d, b.Description())
}

// Capabilities returns inner's.
func (b *Backend) Capabilities() compute.Capabilities { return b.inner.Capabilities() }

// Builder returns a builder of graphs that may be sharded.
func (b *Backend) Builder(name string) compute.Builder {
	return &builder{Builder: b.inner.Builder(name), b: b}
}

// Finalize finalizes inner.
func (b *Backend) Finalize() { b.inner.Finalize() }

// IsFinalized reports whether inner is finalized.
func (b *Backend) IsFinalized() bool { return b.inner.IsFinalized() }

// HasSharedBuffers returns false: buffers are copied, so that each device's copy is its own.
func (b *Backend) HasSharedBuffers() bool { return false }

// NewSharedBuffer is not supported (HasSharedBuffers is false).
func (b *Backend) NewSharedBuffer(compute.DeviceNum, shapes.Shape) (compute.Buffer, any, error) {
	return nil, nil, fmt.Errorf("multidevice: no shared buffers")
}

// BufferFromFlatData stores flat in inner, as if on device d.
func (b *Backend) BufferFromFlatData(d compute.DeviceNum, flat any, shape shapes.Shape) (compute.Buffer, error) {
	if err := b.checkDevice(d); err != nil {
		return nil, err
	}
	inner, err := b.inner.BufferFromFlatData(0, flat, shape)
	if err != nil {
		return nil, err
	}
	return &buffer{Buffer: inner, b: b, device: d}, nil
}

func (b *Backend) checkDevice(d compute.DeviceNum) error {
	if d < 0 || int(d) >= b.devices {
		return fmt.Errorf("multidevice: device %d of %d", d, b.devices)
	}
	return nil
}

// buffer is an inner buffer that belongs to one of the presented devices.
type buffer struct {
	compute.Buffer
	b      *Backend
	device compute.DeviceNum
}

func (x *buffer) Backend() compute.Backend { return x.b }

func (x *buffer) DeviceNum() (compute.DeviceNum, error) { return x.device, nil }

func (x *buffer) CopyToDevice(d compute.DeviceNum) (compute.Buffer, error) {
	flat, shape, err := x.flat()
	if err != nil {
		return nil, err
	}
	return x.b.BufferFromFlatData(d, flat, shape)
}

// flat copies the buffer's values to a new Go slice.
func (x *buffer) flat() (any, shapes.Shape, error) {
	shape, err := x.Shape()
	if err != nil {
		return nil, shape, err
	}
	flat := reflect.MakeSlice(reflect.SliceOf(shape.DType.GoType()), shape.Size(), shape.Size()).Interface()
	return flat, shape, x.ToFlatData(flat)
}

// builder records a graph's mesh and its parameters' and outputs' shardings.
type builder struct {
	compute.Builder
	b       *Backend
	devices int // Of the mesh; 0 when the graph is not sharded.
	main    *function
}

func (x *builder) DistributedAutoSharding(meshes ...compute.Mesh) error {
	if len(meshes) != 1 || len(meshes[0].AxesSizes) != 1 {
		return fmt.Errorf("multidevice: only one mesh of one axis is supported, got %+v", meshes)
	}
	if n := meshes[0].AxesSizes[0]; n > x.b.devices {
		return fmt.Errorf("multidevice: a mesh of %d devices on %d", n, x.b.devices)
	}
	x.devices = meshes[0].AxesSizes[0]
	return nil
}

func (x *builder) DistributedSPMD(int) error {
	return fmt.Errorf("multidevice: SPMD is not supported")
}

func (x *builder) DeviceAssignment(devices ...compute.DeviceNum) error {
	for i, d := range devices {
		if int(d) != i {
			return fmt.Errorf("multidevice: only the default device assignment is supported, got %v", devices)
		}
	}
	return nil
}

func (x *builder) Main() compute.Function {
	if x.main == nil {
		x.main = &function{Function: x.Builder.Main(), builder: x}
	}
	return x.main
}

func (x *builder) Compile() (compute.Executable, error) {
	inner, err := x.Builder.Compile()
	if err != nil {
		return nil, err
	}
	e := &executable{Executable: inner, b: x.b, devices: max(x.devices, 1)}
	if x.main != nil {
		e.inputs, e.outputs = x.main.inputs, x.main.outputs
	}
	return e, nil
}

// function is the main function of a graph: it records the shardings of its parameters and outputs,
// and builds the logical graph in inner.
type function struct {
	compute.Function
	builder *builder
	inputs  []*compute.ShardingSpec
	outputs []*compute.ShardingSpec
}

func (f *function) Builder() compute.Builder { return f.builder }

func (f *function) Parameter(name string, shape shapes.Shape, sharding *compute.ShardingSpec) (compute.Value, error) {
	if err := checkSpec(sharding); err != nil {
		return nil, fmt.Errorf("parameter %s: %w", name, err)
	}
	f.inputs = append(f.inputs, sharding)
	return f.Function.Parameter(name, shape, nil)
}

func (f *function) Return(outputs []compute.Value, shardings []*compute.ShardingSpec) error {
	for i, s := range shardings {
		if err := checkSpec(s); err != nil {
			return fmt.Errorf("output %d: %w", i, err)
		}
	}
	f.outputs = shardings
	return f.Function.Return(outputs, nil)
}

// checkSpec accepts a replicated layout or one whose first axis only is split.
func checkSpec(s *compute.ShardingSpec) error {
	if s == nil {
		return nil
	}
	for axis, meshAxes := range s.Axes {
		if len(meshAxes) > 0 && axis > 0 || len(meshAxes) > 1 {
			return fmt.Errorf("multidevice: only the first axis may be split over one mesh axis, got %+v", s)
		}
	}
	return nil
}

// splitsFirstAxis reports whether s splits a tensor's first axis across the devices.
func splitsFirstAxis(s *compute.ShardingSpec) bool {
	return s != nil && len(s.Axes) > 0 && len(s.Axes[0]) > 0
}

// executable runs a logical graph on its devices' shards.
type executable struct {
	compute.Executable
	b               *Backend
	devices         int
	inputs, outputs []*compute.ShardingSpec
}

// Execute takes one input per parameter and device (device-major, as compute.Executable says), gathers
// each parameter's shards (split ones concatenated along the first axis in device order, replicated ones
// taken from device 0), runs the logical graph, and returns each output's part for each device
// (device-major).
func (e *executable) Execute(inputs []compute.Buffer, donate []bool, defaultDevice compute.DeviceNum) ([]compute.Buffer, error) {
	names, _ := e.Inputs()
	params := len(names)
	if len(inputs) != params*e.devices {
		return nil, fmt.Errorf("multidevice: %d inputs for %d parameters on %d devices", len(inputs), params, e.devices)
	}
	if e.devices == 1 {
		device := defaultDevice
		inner := make([]compute.Buffer, params)
		for i, in := range inputs {
			x, ok := in.(*buffer)
			if !ok {
				return nil, fmt.Errorf("multidevice: input %d is not this backend's buffer", i)
			}
			inner[i], device = x.Buffer, x.device
		}
		outs, err := e.Executable.Execute(inner, donate, 0)
		if err != nil {
			return nil, err
		}
		for i, out := range outs {
			outs[i] = &buffer{Buffer: out, b: e.b, device: device}
		}
		return outs, nil
	}
	e.b.split.Add(1)
	whole := make([]compute.Buffer, params)
	for p := range params {
		shards := make([]*buffer, e.devices)
		for d := range shards {
			x, ok := inputs[d*params+p].(*buffer)
			if !ok {
				return nil, fmt.Errorf("multidevice: input %d of device %d is not this backend's buffer", p, d)
			}
			if x.device != compute.DeviceNum(d) {
				return nil, fmt.Errorf("multidevice: input %d for device %d is on device %d", p, d, x.device)
			}
			shards[d] = x
		}
		var spec *compute.ShardingSpec
		if p < len(e.inputs) {
			spec = e.inputs[p]
		}
		var err error
		if whole[p], err = e.gather(shards, splitsFirstAxis(spec)); err != nil {
			return nil, fmt.Errorf("multidevice: input %d: %w", p, err)
		}
	}
	outs, err := e.Executable.Execute(whole, nil, 0)
	for _, w := range whole {
		_ = w.Finalize()
	}
	if err != nil {
		return nil, err
	}
	result := make([]compute.Buffer, e.devices*len(outs))
	for o, out := range outs {
		var spec *compute.ShardingSpec
		if o < len(e.outputs) {
			spec = e.outputs[o]
		}
		parts, err := e.scatter(&buffer{Buffer: out, b: e.b}, splitsFirstAxis(spec))
		_ = out.Finalize()
		if err != nil {
			return nil, fmt.Errorf("multidevice: output %d: %w", o, err)
		}
		for d, part := range parts {
			result[d*len(outs)+o] = part
		}
	}
	return result, nil
}

// gather returns the whole tensor of shards: their concatenation along the first axis when split,
// device 0's otherwise (a replicated tensor's shards must all be equal).
func (e *executable) gather(shards []*buffer, split bool) (compute.Buffer, error) {
	first, shape, err := shards[0].flat()
	if err != nil {
		return nil, err
	}
	all := reflect.ValueOf(first)
	for d, s := range shards[1:] {
		flat, sShape, err := s.flat()
		if err != nil {
			return nil, err
		}
		if !sShape.Equal(shape) {
			return nil, fmt.Errorf("shard of device %d has shape %s, device 0's %s", d+1, sShape, shape)
		}
		if split {
			all = reflect.AppendSlice(all, reflect.ValueOf(flat))
		} else if !reflect.DeepEqual(first, flat) {
			return nil, fmt.Errorf("replicated shards differ between devices 0 and %d", d+1)
		}
	}
	if split {
		shape = shape.Clone()
		shape.Dimensions[0] *= len(shards)
	}
	return e.b.inner.BufferFromFlatData(0, all.Interface(), shape)
}

// scatter returns each device's part of out: consecutive slices of its first axis when split, a copy
// of the whole otherwise.
func (e *executable) scatter(out *buffer, split bool) ([]compute.Buffer, error) {
	flat, shape, err := out.flat()
	if err != nil {
		return nil, err
	}
	parts := make([]compute.Buffer, e.devices)
	partShape := shape
	if split {
		if shape.Rank() == 0 || shape.Dimensions[0]%e.devices != 0 {
			return nil, fmt.Errorf("shape %s does not split across %d devices", shape, e.devices)
		}
		partShape = shape.Clone()
		partShape.Dimensions[0] /= e.devices
	}
	all, n := reflect.ValueOf(flat), partShape.Size()
	for d := range parts {
		part := flat
		if split {
			part = all.Slice(d*n, (d+1)*n).Interface()
		}
		if parts[d], err = e.b.BufferFromFlatData(compute.DeviceNum(d), part, partShape); err != nil {
			return nil, err
		}
	}
	return parts, nil
}
