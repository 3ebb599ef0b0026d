package mobilenet_test

import (
	"testing"

	"github.com/vegclf/vegclf/vegclf/internal/paritytest"
	"github.com/vegclf/vegclf/vegclf/mobilenet"
	"github.com/vegclf/vegclf/vegclf/nn"
)

// TestParityWithTorchvision: both architectures loaded from a torchvision state_dict (random weights,
// batch norms that look trained) give torchvision's logits in eval and train mode and its running
// statistics, with the banded depthwise products (the Go backend's path) and the native convolutions
// (XLA's); and one training step with the tutorial's head gives torch's loss and gradients.
func TestParityWithTorchvision(t *testing.T) {
	for _, arch := range []mobilenet.Arch{mobilenet.Large, mobilenet.Small} {
		for _, conv := range []nn.ConvImpl{nn.ConvMatMul, nn.ConvNative} {
			name := arch.Name() + map[nn.ConvImpl]string{nn.ConvMatMul: "/matmul", nn.ConvNative: "/native"}[conv]
			t.Run(name+"/logits", func(t *testing.T) {
				paritytest.Logits(t, mobilenet.New(arch, nn.ImageNetHead()), conv, 2, 64)
			})
			t.Run(name+"/gradients", func(t *testing.T) {
				paritytest.Gradients(t, mobilenet.New(arch, nn.TutorialHead(5)), conv, 4, 64, 1e-4)
			})
		}
	}
}

// TestFoldedLogitsEqualLogits checks the export graph (channels first, batch norms folded, native grouped
// convolutions, pooled squeeze-excitations) against the model's own inference graph.
func TestFoldedLogitsEqualLogits(t *testing.T) {
	for _, arch := range []mobilenet.Arch{mobilenet.Large, mobilenet.Small} {
		t.Run(arch.Name(), func(t *testing.T) { paritytest.Folded(t, mobilenet.New(arch, nn.TutorialHead(4)), 64) })
	}
}
