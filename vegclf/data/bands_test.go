package data

import (
	"bufio"
	"encoding/binary"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/rgb"
)

// TestBandsMatchPillow checks --in-channels' reading of images against Pillow and torchvision
// (bands.py): the decoded bands equal Image.open(p).convert(mode) pixel for pixel for L (1 channel), LA
// (2) and RGBA (4), on images of every mode (RGB, grayscale, CMYK and progressive JPEGs, palettes with and
// without transparency, RGBA PNG and TIFF, gray-and-alpha PNG, grayscale PNG and TIFF) and real photos; the
// transformed images equal torchvision's Resize((s, s)), ToTensor(), Normalize of the L image to float32
// rounding, and for 2 and 4 channels the same of each band resized on its own, with the statistics
// Normalization.Channel gives.
func TestBandsMatchPillow(t *testing.T) {
	dir := t.TempDir()
	testenv.RunPython(t, "make_images.py", dir)
	testenv.RunPython(t, "bands.py", "make", dir)
	paths, _ := filepath.Glob(filepath.Join(dir, "*"))
	slices.Sort(paths)
	if root := testenv.OptionalSharedData(t, "hymenoptera"); root != "" {
		photos, _ := filepath.Glob(filepath.Join(root, "train", "ants", "*.jpg"))
		slices.Sort(photos)
		paths = append(paths, photos[:3]...)
	}
	const size = 64
	norm := ImageNetNormalization
	for _, mode := range []string{"L", "LA", "RGBA"} {
		t.Run(mode, func(t *testing.T) {
			c := len(mode)
			ref := filepath.Join(t.TempDir(), "ref.bin")
			testenv.RunPython(t, "bands.py", append([]string{ref, mode, strconv.Itoa(size), join3(norm.Mean), join3(norm.Std)}, paths...)...)
			f, err := os.Open(ref)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r := bufio.NewReader(f)
			tf := Transform{Size: size, Normalization: norm, Channels: c}
			for _, p := range paths {
				var dims [2]uint32
				if err := binary.Read(r, binary.LittleEndian, &dims); err != nil {
					t.Fatal(err)
				}
				wantPix := make([]uint8, int(dims[0]*dims[1])*c)
				wantValues := make([]float32, size*size*c)
				if _, err := io.ReadFull(r, wantPix); err != nil {
					t.Fatal(err)
				}
				if err := binary.Read(r, binary.LittleEndian, wantValues); err != nil {
					t.Fatal(err)
				}
				var got *rgb.Bands
				err := rgb.DecodeFileWith(p, func(content []byte) (err error) {
					got, err = rgb.DecodeBands(content, 0, c)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if got.Width != int(dims[0]) || got.Height != int(dims[1]) || got.C != c {
					t.Fatalf("%s: %dx%dx%d, Pillow %dx%dx%d", p, got.Width, got.Height, got.C, dims[0], dims[1], c)
				}
				differ, worst := 0, 0
				for i := range wantPix {
					if d := int(got.Pix[i]) - int(wantPix[i]); d != 0 {
						differ++
						worst = max(worst, max(d, -d))
					}
				}
				if differ > 0 {
					t.Errorf("%s as %s: %d of %d values differ from Pillow's, by up to %d", filepath.Base(p), mode, differ, len(wantPix), worst)
				}
				values, err := tf.Load(p)
				if err != nil {
					t.Fatal(err)
				}
				maxDiff := 0.0
				for i := range values {
					_, std := norm.Channel(i%c, c)
					maxDiff = max(maxDiff, math.Abs(float64(values[i]-wantValues[i]))*float64(std))
				}
				if maxDiff > 1e-6 {
					t.Errorf("%s as %s at %d: max difference %.3g (in [0,1] units) from torchvision's", filepath.Base(p), mode, size, maxDiff)
				}
			}
		})
	}
}
