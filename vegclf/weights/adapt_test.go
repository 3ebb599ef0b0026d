package weights_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/weights"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// TestAdaptInputConvMatchesTimm loads torchvision checkpoints into models of 1, 2 and 4 input channels
// and compares the stem Load adapted with timm's adapt_input_conv of the checkpoint's RGB kernel, computed
// by torch (adapt_reference.py): equal to the bit. Every other tensor loads as for RGB.
func TestAdaptInputConvMatchesTimm(t *testing.T) {
	for _, tc := range []struct{ arch, stem string }{
		{"resnet18", "conv1.weight"},
		{"mobilenet_v3_small", "features.0.0.weight"},
		{"efficientnet_b0", "features.0.0.weight"},
	} {
		t.Run(tc.arch, func(t *testing.T) {
			dir := t.TempDir()
			channels := []int{1, 2, 4}
			args := []string{tc.arch, tc.stem, dir, "3"}
			for _, c := range channels {
				args = append(args, strconv.Itoa(c))
			}
			testenv.RunPython(t, "adapt_reference.py", args...)
			sd, err := weights.Read(filepath.Join(dir, "model.pth"))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range channels {
				m := zoo.MustNew(tc.arch, nn.TutorialHead(2))
				m.InChannels = c
				if got := m.StemName(); got != tc.stem {
					t.Fatalf("stem %q, want %q", got, tc.stem)
				}
				store := model.NewStore()
				report, err := weights.Load(store, m, sd, weights.DropHead)
				if err != nil {
					t.Fatal(err)
				}
				if report.Adapted != tc.stem {
					t.Errorf("%d channels: the report says %q was adapted, want %q", c, report.Adapted, tc.stem)
				}
				want := testenv.ReadFloat32s(t, filepath.Join(dir, fmt.Sprintf("stem_%d.bin", c)))
				v, err := store.GetVariable(nn.VariablePath(tc.stem)).Value()
				if err != nil {
					t.Fatal(err)
				}
				// The model's layout [kh, kw, C, O]; torch's [O, C, kh, kw].
				d := v.Shape().Dimensions
				kh, kw, in, out := d[0], d[1], d[2], d[3]
				if in != c || len(want) != kh*kw*in*out {
					t.Fatalf("%d channels: stem %v, timm's %d values", c, d, len(want))
				}
				got := tensors.MustCopyFlatData[float32](v)
				differ := 0
				for o := range out {
					for ch := range in {
						for y := range kh {
							for x := range kw {
								if got[((y*kw+x)*in+ch)*out+o] != want[((o*in+ch)*kh+y)*kw+x] {
									differ++
								}
							}
						}
					}
				}
				if differ > 0 {
					t.Errorf("%d channels: %d of %d stem values differ from timm's adapt_input_conv", c, differ, len(want))
				}
			}
		})
	}
}
