package interpret

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/weights"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// TestGradCAMMatchesTorch compares Grad-CAM maps with those computed by torch autograd on the same
// torchvision weights and inputs, on a ResNet's layer4, a MobileNetV3's and an EfficientNet's last
// convolution, a ConvNeXt's last stage, and a ViT's last block's normalized patch tokens.
func TestGradCAMMatchesTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("Grad-CAM parity of full models with torch: not in the -short loop")
	}
	for _, arch := range []string{"resnet18", "mobilenet_v3_small", "efficientnet_b0", "convnext_tiny", "vit_b_32"} {
		t.Run(arch, func(t *testing.T) { gradCAMMatchesTorch(t, arch) })
	}
}

func gradCAMMatchesTorch(t *testing.T, arch string) {
	const size = 128
	dir := t.TempDir()
	testenv.RunPython(t, "gradcam_reference.py", arch, dir, "128")
	m := zoo.MustNew(arch, nn.ImageNetHead())
	store := model.NewStore()
	if _, err := weights.LoadFile(store, m, filepath.Join(dir, "weights.pth"), weights.KeepHead); err != nil {
		t.Fatal(err)
	}
	g, err := NewGradCAM(testenv.Backend(t), m, store)
	if err != nil {
		t.Fatal(err)
	}
	images := tensors.FromFlatDataAndDimensions(testenv.ReadFloat32s(t, filepath.Join(dir, "input.bin")), 2, size, size, 3)
	maps, err := g.Maps(images, testenv.ReadInt32s(t, filepath.Join(dir, "classes.bin")))
	if err != nil {
		t.Fatal(err)
	}
	want := testenv.ReadFloat32s(t, filepath.Join(dir, "cams.bin"))
	side := size / 32
	for i, cam := range maps {
		if len(cam) != side || len(cam[0]) != side {
			t.Fatalf("map %d is %dx%d, want %dx%d", i, len(cam), len(cam[0]), side, side)
		}
		var maxDiff float64
		nonzero := 0
		for y := range cam {
			for x := range cam[y] {
				w := want[(i*side+y)*side+x]
				maxDiff = max(maxDiff, math.Abs(float64(cam[y][x]-w)))
				if w > 0 {
					nonzero++
				}
			}
		}
		if maxDiff > 1e-3 || nonzero == 0 {
			t.Errorf("map %d: max difference %.2e from torch (%d non-zero cells)", i, maxDiff, nonzero)
		}
	}
	if _, err := g.Maps(images, []int32{0}); err == nil {
		t.Error("a class count that differs from the images' should be an error")
	}
	if _, err := g.Maps(images, []int32{0, 1000}); err == nil {
		t.Error("a class out of range should be an error")
	}
}
