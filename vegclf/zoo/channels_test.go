package zoo

import (
	"fmt"
	"testing"

	"github.com/vegclf/vegclf/vegclf/internal/paritytest"
	"github.com/vegclf/vegclf/vegclf/nn"
)

// TestModelsTakeChannels: every family's model takes images of 1 and 4 channels (nn.Model.InChannels),
// its stem named by StemName and shaped for them, in its training graph and in its export graph (channels
// first, batch norms folded: what ONNX gets), which agree.
func TestModelsTakeChannels(t *testing.T) {
	for _, tc := range []struct {
		arch, stem string
		size       int
	}{
		{"resnet18", "conv1.weight", 32},
		{"mobilenet_v3_small", "features.0.0.weight", 32},
		{"efficientnet_b0", "features.0.0.weight", 32},
		{"convnext_tiny", "features.0.0.weight", 32},
		{"vit_b_32", "conv_proj.weight", 64},
	} {
		for _, c := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/%d", tc.arch, c), func(t *testing.T) {
				m := MustNew(tc.arch, nn.TutorialHead(3))
				m.InChannels = c
				if m.StemName() != tc.stem {
					t.Fatalf("stem %q, want %q", m.StemName(), tc.stem)
				}
				for _, p := range m.Params() {
					if p.Name == tc.stem && p.TorchShape[1] != c {
						t.Fatalf("stem %v, want %d input channels", p.TorchShape, c)
					}
				}
				paritytest.Folded(t, m, tc.size)
			})
		}
	}
}
