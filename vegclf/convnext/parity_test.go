package convnext_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/convnext"
	"github.com/vegclf/vegclf/vegclf/internal/paritytest"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
)

// TestParityWithTorchvision: both architectures loaded from a torchvision state_dict (random weights,
// LayerNorm weights and biases and layer scales away from their initial values) give torchvision's logits
// in eval and train mode (stochastic depth off), with the banded depthwise products and space-to-depth
// products (the Go backend's path) and the native convolutions (XLA's); and one training step with the
// tutorial's head gives torch's loss and gradients.
func TestParityWithTorchvision(t *testing.T) {
	if testing.Short() {
		t.Skip("full-model parity with torchvision: not in the -short loop")
	}
	for _, arch := range []convnext.Arch{convnext.Tiny, convnext.Small} {
		paritytest.BothConvs(t, arch.Name(), func(h nn.Head) *nn.Model { return convnext.New(arch, h) }, 1e-4)
	}
}

// TestFoldedLogitsEqualLogits checks the export graph (channels first, constants, LayerNorms as products
// with 1/C and their affine parameters folded, GELU's Erf expression) against the model's own inference
// graph, with trained-looking LayerNorms and layer scales.
func TestFoldedLogitsEqualLogits(t *testing.T) {
	if testing.Short() {
		t.Skip("full-model parity with torchvision: not in the -short loop")
	}
	for _, arch := range []convnext.Arch{convnext.Tiny, convnext.Small} {
		t.Run(arch.Name(), func(t *testing.T) { paritytest.Folded(t, convnext.New(arch, nn.TutorialHead(4)), 64) })
	}
}

// TestStochasticDepthInTraining: in train mode with a random state the features differ from those
// without (stochastic depth drops blocks' branches), the same state draws the same, another state
// another; without a random state train mode is eval mode (a ConvNeXt has no batch norm).
func TestStochasticDepthInTraining(t *testing.T) {
	m := convnext.New(convnext.Tiny, nn.TutorialHead(3))
	store := model.NewStore()
	if err := m.Init(store, 1, nil); err != nil {
		t.Fatal(err)
	}
	paritytest.TrainedBatchNorms(t, m, store, 2) // Layer scales of 2 to 5: the branches count.
	rng := rand.New(rand.NewPCG(1, 2))
	images := nn.Fill([]int{8, 32, 32, 3}, func() float32 { return float32(rng.NormFloat64()) })
	exec := model.MustNewExec(testenv.Backend(t), store, func(scope *model.Scope, x, state1, state2 *Node) []*Node {
		s := scope.Store()
		return []*Node{
			m.Features(s, x, nn.Options{}),
			m.Features(s, x, nn.Options{Train: true}),
			m.Features(s, x, nn.Options{Train: true, RNG: state1}),
			m.Features(s, x, nn.Options{Train: true, RNG: state1}),
			m.Features(s, x, nn.Options{Train: true, RNG: state2}),
		}
	})
	state := func(seed int64) *tensors.Tensor {
		s, err := RNGStateFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	out := exec.MustCall(images, state(1), state(2))
	f := make([][]float32, len(out))
	for i, o := range out {
		f[i] = tensors.MustCopyFlatData[float32](o)
	}
	if e := paritytest.RelErr(f[1], f[0]); e > 1e-6 {
		t.Errorf("train mode without a random state differs from eval mode by %.2e", e)
	}
	if !slices.Equal(f[2], f[3]) || slices.Equal(f[2], f[0]) || slices.Equal(f[2], f[4]) {
		t.Errorf("stochastic depth: one state gives the same features twice (%v), and not those without (%v) nor another state's (%v)",
			slices.Equal(f[2], f[3]), !slices.Equal(f[2], f[0]), !slices.Equal(f[2], f[4]))
	}
}
