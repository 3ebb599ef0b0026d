package vit_test

import (
	"testing"

	"github.com/vegclf/vegclf/vegclf/internal/paritytest"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/vit"
)

// TestParityWithTorchvision: both architectures loaded from a torchvision state_dict (random weights; the
// LayerNorms, the class token and the head away from their constant initial values) give torchvision's
// logits in eval and train mode: ViT-B/32 at its native 224x224, ViT-B/16 at 160x160 with its position
// embeddings interpolated as torchvision's interpolate_embeddings does; and one training step with the
// tutorial's head gives torch's loss and gradients.
func TestParityWithTorchvision(t *testing.T) {
	if testing.Short() {
		t.Skip("torchvision's ViT-B at 224")
	}
	t.Run("vit_b_32/logits/224", func(t *testing.T) { paritytest.Logits(t, vit.New(vit.B32, nn.ImageNetHead()), nn.ConvAuto, 2, 224) })
	t.Run("vit_b_16/logits/160", func(t *testing.T) { paritytest.Logits(t, vit.New(vit.B16, nn.ImageNetHead()), nn.ConvAuto, 2, 160) })
	t.Run("vit_b_32/gradients/224", func(t *testing.T) {
		paritytest.Gradients(t, vit.New(vit.B32, nn.TutorialHead(5)), nn.ConvAuto, 3, 224, 1e-4)
	})
}
