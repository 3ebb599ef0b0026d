package mobilenet_test

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/internal/paritytest"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/mobilenet"
	"github.com/vegclf/vegclf/vegclf/nn"
)

// TestParityWithTorchvision: both architectures loaded from a torchvision state_dict (random weights,
// batch norms that look trained) give torchvision's logits in eval and train mode and its running
// statistics, with the banded depthwise products (the Go backend's path) and the native convolutions
// (XLA's); and one training step with the tutorial's head gives torch's loss and gradients.
func TestParityWithTorchvision(t *testing.T) {
	if testing.Short() {
		t.Skip("full-model parity with torchvision: not in the -short loop")
	}
	for _, arch := range []mobilenet.Arch{mobilenet.Large, mobilenet.Small} {
		paritytest.BothConvs(t, arch.Name(), func(h nn.Head) *nn.Model { return mobilenet.New(arch, h) }, 1e-4)
	}
}

// TestFoldedLogitsEqualLogits checks the export graph (channels first, batch norms folded, native grouped
// convolutions, pooled squeeze-excitations) against the model's own inference graph.
func TestFoldedLogitsEqualLogits(t *testing.T) {
	if testing.Short() {
		t.Skip("full-model parity with torchvision: not in the -short loop")
	}
	for _, arch := range []mobilenet.Arch{mobilenet.Large, mobilenet.Small} {
		t.Run(arch.Name(), func(t *testing.T) { paritytest.Folded(t, mobilenet.New(arch, nn.TutorialHead(4)), 64) })
	}
}

// TestDropoutInTraining: in train mode with a random state, the features the head reads are torchvision's
// Dropout(0.2) of those without: about a fifth zeroed, the rest scaled by 1/0.8; two states draw two masks.
func TestDropoutInTraining(t *testing.T) {
	m := mobilenet.New(mobilenet.Small, nn.TutorialHead(3))
	store := model.NewStore()
	if err := m.Init(store, 1, nil); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	images := nn.Fill([]int{4, 32, 32, 3}, func() float32 { return float32(rng.NormFloat64()) })
	exec := model.MustNewExec(testenv.Backend(t), store, func(scope *model.Scope, x, state1, state2 *Node) []*Node {
		plain := m.Features(scope.Store(), x, nn.Options{Train: true})
		first := m.Features(scope.Store(), x, nn.Options{Train: true, RNG: state1})
		second := m.Features(scope.Store(), x, nn.Options{Train: true, RNG: state2})
		return []*Node{plain, first, second}
	})
	state := func(seed int64) *tensors.Tensor {
		s, err := RNGStateFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	out := exec.MustCall(images, state(1), state(2))
	plain, first, second := tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1]), tensors.MustCopyFlatData[float32](out[2])
	zeroed, differ := 0, 0
	for i, p := range plain {
		switch {
		case first[i] == 0 && p != 0:
			zeroed++
		case math.Abs(float64(first[i]-p/0.8)) > 1e-5*math.Max(1, math.Abs(float64(p))):
			t.Fatalf("feature %d: %g with dropout, %g without: want 0 or %g", i, first[i], p, p/0.8)
		}
		if first[i] != second[i] {
			differ++
		}
	}
	if frac := float64(zeroed) / float64(len(plain)); frac < 0.15 || frac > 0.25 || differ == 0 {
		t.Errorf("dropout zeroed %.3f of the features (want about 0.2); the two masks differ in %d", frac, differ)
	}
}
