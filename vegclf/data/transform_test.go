package data

import (
	"encoding/json"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/rgb"
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

// TestTransformResizeCropMatchesTorchvision compares Transform with Resize set with torchvision's ImageNet
// evaluation, Compose([Resize(r, interpolation), CenterCrop(c), ToTensor(), Normalize(mean, std)]), on
// images of every mode Pillow writes, tiny images (enlarged many times; one a column of 3 pixels) and
// one in 5 of the real photos (of many sizes, landscape and portrait: their crops start at halves,
// which Python's round takes to even). One transform resizes below the crop, which CenterCrop pads with
// black. Decoding and resizing are bit-exact, so values must agree to float32 rounding.
func TestTransformResizeCropMatchesTorchvision(t *testing.T) {
	dir := t.TempDir()
	testenv.RunPython(t, "make_images.py", dir)
	for _, size := range []image.Point{{23, 11}, {3, 40}, {9, 2}} {
		writeGradientPNG(t, filepath.Join(dir, fmt.Sprintf("tiny%dx%d.png", size.X, size.Y)), size.X, size.Y, 9)
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*"))
	slices.Sort(paths)
	if root := testenv.OptionalSharedData(t, "hymenoptera"); root != "" {
		photos, _ := filepath.Glob(filepath.Join(root, "*", "*", "*"))
		slices.Sort(photos)
		for i := 0; i < len(photos); i += 5 {
			paths = append(paths, photos[i])
		}
	}
	norm := ImageNetNormalization
	cases := []struct {
		resize, crop  int
		interpolation rgb.Filter
	}{
		{256, 224, rgb.Bilinear}, // ResNet-50's IMAGENET1K_V1 weights.
		{232, 224, rgb.Bilinear}, // ResNet-50's IMAGENET1K_V2 weights.
		{256, 224, rgb.Bicubic},
		{288, 288, rgb.Bicubic},
		{151, 224, rgb.Bicubic}, // The shorter side padded, the longer often too.
		{224, 224, rgb.Bilinear},
	}
	specs := make([]string, len(cases))
	for i, tc := range cases {
		specs[i] = fmt.Sprintf("%d:%d:%s", tc.resize, tc.crop, tc.interpolation)
	}
	refs := t.TempDir()
	testenv.RunPython(t, "transform_crop.py", append([]string{refs, join3(norm.Mean), join3(norm.Std), strings.Join(specs, ",")}, paths...)...)
	images := make([]*rgb.Image, len(paths))
	for i, p := range paths {
		img, err := rgb.DecodeFile(p, 0)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		images[i] = img
	}
	for i, tc := range cases {
		t.Run(specs[i], func(t *testing.T) {
			want := testenv.ReadFloat32s(t, filepath.Join(refs, fmt.Sprintf("%d.bin", i)))
			tf := Transform{Size: tc.crop, Normalization: norm, Resize: tc.resize, Interpolation: tc.interpolation}
			n := tc.crop * tc.crop * 3
			if len(want) != len(paths)*n {
				t.Fatalf("torchvision wrote %d values, want %d images of %d", len(want), len(paths), n)
			}
			got := make([]float32, n)
			worst := 0.0
			for j, img := range images {
				tf.Apply(img, got)
				maxDiff, at := 0.0, 0
				for k := range got {
					// Compare in [0,1] pixel units.
					d := math.Abs(float64(got[k]-want[j*n+k])) * float64(norm.Std[k%3])
					if d > maxDiff {
						maxDiff, at = d, k
					}
				}
				worst = max(worst, maxDiff)
				if maxDiff > 1e-6 {
					t.Errorf("%s (%dx%d): max difference %.5f (%.2f/255) from torchvision, at (%d,%d) channel %d",
						filepath.Base(paths[j]), img.Width, img.Height, maxDiff, maxDiff*255, at/3%tc.crop, at/3/tc.crop, at%3)
				}
			}
			t.Logf("%d images, largest difference %g", len(images), worst)
		})
	}
}

// TestResizeCropArithmetic checks the output size of torchvision's Resize(int) and CenterCrop's offsets
// on cases worked out with Python: the longer side truncated, crops at halves rounded to even.
func TestResizeCropArithmetic(t *testing.T) {
	for _, tc := range []struct{ w, h, size, wantW, wantH int }{
		{500, 375, 256, 341, 256},
		{375, 500, 232, 232, 309},
		{500, 333, 151, 226, 151},
		{23, 11, 256, 535, 256},
		{1, 40, 151, 151, 6040},
		{500, 500, 288, 288, 288},
	} {
		if w, h := resizedSize(tc.w, tc.h, tc.size); w != tc.wantW || h != tc.wantH {
			t.Errorf("resizedSize(%d, %d, %d) = %d, %d, want %d, %d", tc.w, tc.h, tc.size, w, h, tc.wantW, tc.wantH)
		}
	}
	for _, tc := range []struct{ n, c, start, pad, kept int }{
		{341, 224, 58, 0, 224}, // 58.5 rounds to 58,
		{343, 224, 60, 0, 224}, // 59.5 to 60,
		{225, 224, 0, 0, 224},  // 0.5 to 0.
		{226, 224, 1, 0, 224},
		{224, 224, 0, 0, 224},
		{151, 224, 0, 36, 151}, // Padded with 36 before, 37 after.
		{150, 224, 0, 37, 150},
	} {
		if start, pad, kept := centerCrop(tc.n, tc.c); start != tc.start || pad != tc.pad || kept != tc.kept {
			t.Errorf("centerCrop(%d, %d) = %d, %d, %d, want %d, %d, %d", tc.n, tc.c, start, pad, kept, tc.start, tc.pad, tc.kept)
		}
	}
}

// TestTransformJSON checks that a Transform without Resize and Interpolation marshals as it did before
// they existed (checkpoints and feature caches hold it), that old JSON reads with them zero, and that
// set ones round-trip.
func TestTransformJSON(t *testing.T) {
	old := `{"Size":224,"Normalization":"half","MaxPixels":0}`
	b, err := json.Marshal(Transform{Size: 224, Normalization: HalfNormalization})
	if err != nil || string(b) != old {
		t.Errorf("marshaled %s (%v), want %s", b, err, old)
	}
	var back Transform
	if err := json.Unmarshal([]byte(old), &back); err != nil || back != (Transform{Size: 224, Normalization: HalfNormalization}) {
		t.Errorf("read %s as %+v (%v)", old, back, err)
	}
	eval := Transform{Size: 224, Normalization: ImageNetNormalization, Resize: 256, Interpolation: rgb.Bicubic}
	b, err = json.Marshal(eval)
	if want := `{"Size":224,"Normalization":"imagenet","MaxPixels":0,"Resize":256,"Interpolation":"bicubic"}`; err != nil || string(b) != want {
		t.Errorf("marshaled %s (%v), want %s", b, err, want)
	}
	back = Transform{}
	if err := json.Unmarshal(b, &back); err != nil || back != eval {
		t.Errorf("read %s as %+v (%v), want %+v", b, back, err, eval)
	}
}
