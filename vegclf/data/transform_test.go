package data

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/internal/testenv"
)

// TestTransformMatchesTorchvision compares Transform with torchvision's
// Compose([Resize((s,s)), ToTensor(), Normalize(mean, std)]) on images of every mode Pillow writes and on
// real photos. The decoder (libjpeg's IDCT and chroma upsampling) and the resize (Pillow's fixed point) are
// bit-exact, so values must agree to float32 rounding, far inside the required 1/255.
func TestTransformMatchesTorchvision(t *testing.T) {
	dir := t.TempDir()
	testenv.RunPython(t, "make_images.py", dir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range entries {
		paths = append(paths, filepath.Join(dir, e.Name()))
	}
	if root := testenv.OptionalSharedData(t, "hymenoptera"); root != "" {
		for _, class := range []string{"ants", "bees"} {
			photos, _ := filepath.Glob(filepath.Join(root, "train", class, "*.jpg"))
			slices.Sort(photos)
			paths = append(paths, photos[:4]...)
		}
	}
	for _, tc := range []struct {
		size int
		norm Normalization
	}{
		{224, HalfNormalization},
		{64, ImageNetNormalization},
		{500, HalfNormalization}, // Upscaling.
	} {
		t.Run(tc.norm.Name, func(t *testing.T) {
			ref := filepath.Join(t.TempDir(), "ref.bin")
			args := []string{ref, strconv.Itoa(tc.size), join3(tc.norm.Mean), join3(tc.norm.Std)}
			testenv.RunPython(t, "transform.py", append(args, paths...)...)
			want := testenv.ReadFloat32s(t, ref)
			tf := Transform{Size: tc.size, Normalization: tc.norm}
			n := tc.size * tc.size * 3
			for i, p := range paths {
				got, err := tf.Load(p)
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				maxDiff := 0.0
				for j := range got {
					c := j % 3
					// Compare in [0,1] pixel units.
					d := math.Abs(float64(got[j]-want[i*n+j])) * float64(tc.norm.Std[c])
					maxDiff = max(maxDiff, d)
				}
				if maxDiff > 1e-6 {
					t.Errorf("%s at %d: max difference %.5f (%.2f/255) from torchvision", filepath.Base(p), tc.size, maxDiff, maxDiff*255)
				}
			}
		})
	}
}

func join3(v [3]float32) string {
	parts := make([]string, 3)
	for i, x := range v {
		parts[i] = strconv.FormatFloat(float64(x), 'g', -1, 32)
	}
	return strings.Join(parts, ",")
}
