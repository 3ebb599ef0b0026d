package multidevice

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/distributed"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/core/tensors/dtensor"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
)

// TestShardedGraph runs a graph with a split input and a replicated one, and a split output and a
// replicated one, across three devices: each device gets its rows of the split output, and every device
// the whole replicated one, computed from the gathered input.
func TestShardedGraph(t *testing.T) {
	b := New(testenv.Backend(t), 3)
	mesh, err := distributed.NewDeviceMesh([]int{3}, []string{"data"})
	if err != nil {
		t.Fatal(err)
	}
	split, err := distributed.BuildSpec(mesh).S("data").Done()
	if err != nil {
		t.Fatal(err)
	}
	replicated := distributed.NewReplicatedShardingSpec(mesh)
	exec, err := NewExec(b, func(x, w *Node) (*Node, *Node) {
		return MulScalar(x, 2), ReduceAllSum(Mul(x, ExpandAxes(w, 0)))
	})
	if err != nil {
		t.Fatal(err)
	}
	exec.AutoSharding(mesh).WithInputShardingSpecs(split, replicated).WithOutputShardingSpecs(split, replicated)
	x, err := dtensor.ShardTensor(split, tensors.FromValue([][]float32{{1, 2}, {3, 4}, {5, 6}, {7, 8}, {9, 10}, {11, 12}}))
	if err != nil {
		t.Fatal(err)
	}
	w, err := dtensor.ShardTensor(replicated, tensors.FromValue([]float32{1, -1}))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Call(x, w)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 6 {
		t.Fatalf("%d outputs, want 2 for each of 3 devices", len(out))
	}
	for d := range 3 {
		rows := tensors.MustCopyFlatData[float32](out[2*d])
		want := []float32{float32(8*d + 2), float32(8*d + 4), float32(8*d + 6), float32(8*d + 8)} // Rows 2d and 2d+1, doubled.
		if !slices.Equal(rows, want) {
			t.Errorf("device %d: rows %v, want %v", d, rows, want)
		}
		if sum := tensors.ToScalar[float32](out[2*d+1]); sum != -6 {
			t.Errorf("device %d: sum %v, want -6 (the whole batch's)", d, sum)
		}
	}
	if b.SplitExecutions() != 1 {
		t.Errorf("%d split executions, want 1", b.SplitExecutions())
	}

	// Replicated shards must agree.
	bad, err := dtensor.NewTensor(replicated, []*tensors.Tensor{tensors.FromValue([]float32{1, -1}), tensors.FromValue([]float32{1, -1}), tensors.FromValue([]float32{1, 0})})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.Call(x, bad); err == nil || !strings.Contains(err.Error(), "replicated shards differ between devices 0 and 2") {
		t.Errorf("differing replicas: error = %v", err)
	}
}

// TestRefusesWhatItCannotRun checks the layouts it does not emulate.
func TestRefusesWhatItCannotRun(t *testing.T) {
	b := New(testenv.Backend(t), 2)
	mesh, err := distributed.NewDeviceMesh([]int{2}, []string{"data"})
	if err != nil {
		t.Fatal(err)
	}
	secondAxis, err := distributed.BuildSpec(mesh).R().S("data").Done()
	if err != nil {
		t.Fatal(err)
	}
	exec, err := NewExec(b, func(x *Node) *Node { return Neg(x) })
	if err != nil {
		t.Fatal(err)
	}
	exec.AutoSharding(mesh).WithInputShardingSpecs(secondAxis).WithOutputShardingSpecs(secondAxis)
	x, err := dtensor.ShardTensor(secondAxis, tensors.FromValue([][]float32{{1, 2}, {3, 4}}))
	if err != nil {
		t.Fatal(err)
	}
	// GoMLX panics when a parameter cannot be created.
	run := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%v", r)
			}
		}()
		_, err = exec.Call(x)
		return err
	}
	if err := run(); err == nil || !strings.Contains(err.Error(), "only the first axis may be split") {
		t.Errorf("second axis split: error = %v", err)
	}
	if _, err := b.BufferFromFlatData(2, []float32{1}, tensors.FromValue([]float32{1}).Shape()); err == nil {
		t.Error("a buffer on device 2 of 2")
	}
}
