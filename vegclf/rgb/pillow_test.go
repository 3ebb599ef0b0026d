package rgb

import (
	"bufio"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/internal/testenv"
)

// pillowBound is the largest difference from Pillow's pixels, in 8-bit levels, that the build without cgo
// (Go's image/jpeg, whose IDCT is not libjpeg's) shows on the test images; README states it. The build
// with libjpeg-turbo must show none.
const pillowBound = 3

// TestDecodeMatchesPillow decodes images of every mode and JPEG encoding Pillow writes (4:2:0, 4:2:2, 4:4:4,
// grayscale, CMYK, progressive, restart markers, EXIF orientation, PNG, GIF) and every real photo of the
// shared data (one of them a GIF named .jpg), and compares the pixels with Pillow's
// Image.open(p).convert("RGB"): with libjpeg-turbo, not one may differ.
func TestDecodeMatchesPillow(t *testing.T) {
	dir := t.TempDir()
	testenv.RunPython(t, "make_images.py", dir)
	paths, _ := filepath.Glob(filepath.Join(dir, "*"))
	if root := testenv.OptionalSharedData(t, "hymenoptera"); root != "" {
		photos, _ := filepath.Glob(filepath.Join(root, "*", "*", "*"))
		paths = append(paths, photos...)
	}
	slices.Sort(paths)
	ref := filepath.Join(t.TempDir(), "pillow.bin")
	testenv.RunPython(t, "decode.py", append([]string{ref}, paths...)...)
	f, err := os.Open(ref)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	exact := strings.HasPrefix(JPEGDecoder, "libjpeg-turbo")
	worst, differing, total := 0, 0, 0
	for _, p := range paths {
		var size [2]uint32
		if err := binary.Read(r, binary.LittleEndian, &size); err != nil {
			t.Fatalf("reading Pillow's pixels of %s: %v", p, err)
		}
		want := make([]uint8, int(size[0])*int(size[1])*3)
		if _, err := io.ReadFull(r, want); err != nil {
			t.Fatalf("reading Pillow's pixels of %s: %v", p, err)
		}
		got, err := DecodeFile(p, 0)
		if err != nil && !exact && filepath.Base(p) == "restart_progressive.jpg" {
			// Go's image/jpeg refuses progressive files with restart markers ("missing 0xff00 sequence"):
			// a limitation of the build without cgo, which README states.
			t.Logf("%s: %v", JPEGDecoder, err)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if got.Width != int(size[0]) || got.Height != int(size[1]) {
			t.Fatalf("%s: %dx%d, Pillow %dx%d", p, got.Width, got.Height, size[0], size[1])
		}
		diff, largest := 0, 0
		for i := 0; i < len(want); i += 3 {
			d := 0
			for c := range 3 {
				d = max(d, abs(int(got.Pix[i+c])-int(want[i+c])))
			}
			if d > 0 {
				diff++
			}
			largest = max(largest, d)
		}
		worst, differing, total = max(worst, largest), differing+diff, total+len(want)/3
		if exact && diff > 0 || largest > pillowBound {
			t.Errorf("%s: %d of %d pixels differ from Pillow's, by up to %d levels", filepath.Base(p), diff, len(want)/3, largest)
		}
	}
	t.Logf("%s: %d images, %d of %d pixels differ from Pillow's, by up to %d levels", JPEGDecoder, len(paths), differing, total, worst)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
