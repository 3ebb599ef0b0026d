package rgb

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vegclf/vegclf/vegclf/internal/testenv"
)

var allPhotos = flag.Bool("allphotos", false, "TestResizeMatchesPillow resizes every photo of the shared data, not one in photoStride")

// photoStride is how many of the shared data's photos, sorted by path, TestResizeMatchesPillow takes one
// of (without -allphotos): every photo with every size would stream 3 GB per filter from Python.
const photoStride = 7

// TestResizeMatchesPillow resizes images with each filter to sizes that shrink and enlarge (by other
// factors across and down, one side alone, to a few pixels, and not at all) and compares the pixels with
// Pillow's Image.resize((w, h), filter) and torchvision's Resize((h, w), interpolation) on the PIL image:
// not one may differ. The images are Pillow's test images, tiny and high-contrast ones (the bicubic
// filter overshoots there, and clips), and real photos. The input is the pixels Pillow decodes, so the
// comparison does not depend on this package's decoder.
func TestResizeMatchesPillow(t *testing.T) {
	dir := t.TempDir()
	testenv.RunPython(t, "make_images.py", dir)
	writeTestPNGs(t, dir)
	paths, _ := filepath.Glob(filepath.Join(dir, "*"))
	slices.Sort(paths)
	if root := testenv.OptionalSharedData(t, "hymenoptera"); root != "" {
		photos, _ := filepath.Glob(filepath.Join(root, "*", "*", "*"))
		slices.Sort(photos)
		for i, p := range photos {
			if *allPhotos || i%photoStride == 0 {
				paths = append(paths, p)
			}
		}
	}
	filters := []Filter{Bilinear, Bicubic}
	images, resizes := 0, 0
	streamPython(t, func(r *bufio.Reader) error {
		for _, p := range paths {
			src, err := readPixels(r)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			var n uint32
			if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
				return err
			}
			for range n {
				var size [2]uint32
				if err := binary.Read(r, binary.LittleEndian, &size); err != nil {
					return err
				}
				w, h := int(size[0]), int(size[1])
				pil, tv := New(w, h), New(w, h)
				for _, f := range filters {
					if _, err := io.ReadFull(r, pil.Pix); err != nil {
						return err
					}
					if _, err := io.ReadFull(r, tv.Pix); err != nil {
						return err
					}
					got := ResizeFilter(src, w, h, f)
					what := fmt.Sprintf("%s %dx%d to %dx%d %s", filepath.Base(p), src.Width, src.Height, w, h, f)
					comparePixels(t, what+", Pillow's", got, pil)
					comparePixels(t, what+", torchvision's", got, tv)
					resizes++
				}
			}
			images++
		}
		return nil
	}, "resize.py", append([]string{"bilinear,bicubic"}, paths...)...)
	t.Logf("%d images, %d resizes (%v) equal to Pillow's and torchvision's", images, resizes, filters)
}

// writeTestPNGs writes tiny images (one pixel, a few) and a black and white checkerboard, whose edges
// make the bicubic filter overshoot both ways.
func writeTestPNGs(t *testing.T, dir string) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []image.Point{{1, 1}, {3, 2}, {2, 5}, {23, 11}} {
		img := New(size.X, size.Y)
		for i := range img.Pix {
			img.Pix[i] = uint8(rng.IntN(256))
		}
		writePNG(t, filepath.Join(dir, fmt.Sprintf("tiny%dx%d.png", size.X, size.Y)), img)
	}
	checker := New(41, 29)
	for y := range checker.Height {
		for x := range checker.Width {
			if (x/3+y/2)%2 == 0 {
				i := (y*checker.Width + x) * 3
				checker.Pix[i], checker.Pix[i+1], checker.Pix[i+2] = 255, 255, uint8(x*6)
			}
		}
	}
	writePNG(t, filepath.Join(dir, "checker.png"), checker)
}

func writePNG(t *testing.T, path string, img *Image) {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readPixels reads an image as the reference scripts write it: width and height (little-endian uint32),
// then the RGB pixels row by row.
func readPixels(r io.Reader) (*Image, error) {
	var size [2]uint32
	if err := binary.Read(r, binary.LittleEndian, &size); err != nil {
		return nil, err
	}
	img := New(int(size[0]), int(size[1]))
	if _, err := io.ReadFull(r, img.Pix); err != nil {
		return nil, err
	}
	return img, nil
}

// comparePixels reports an error when got's size or pixels differ from want's.
func comparePixels(t *testing.T, what string, got, want *Image) {
	t.Helper()
	if got.Width != want.Width || got.Height != want.Height {
		t.Errorf("%s: %dx%d, want %dx%d", what, got.Width, got.Height, want.Width, want.Height)
		return
	}
	differ, first := 0, -1
	for i := range got.Pix {
		if got.Pix[i] != want.Pix[i] {
			if differ == 0 {
				first = i
			}
			differ++
		}
	}
	if differ > 0 {
		x, y := first/3%got.Width, first/3/got.Width
		t.Errorf("%s: %d of %d values differ, the first at (%d,%d) channel %d: %d, want %d",
			what, differ, len(got.Pix), x, y, first%3, got.Pix[first], want.Pix[first])
	}
}

// streamPython runs a script of vegclf/internal/torchref with the reference Python, as testenv.RunPython
// does, and hands its standard output to read as it comes, rather than holding all of it.
func streamPython(t *testing.T, read func(*bufio.Reader) error, script string, args ...string) {
	t.Helper()
	path := filepath.Join(testenv.RepoRoot(t), "vegclf", "internal", "torchref", script)
	cmd := exec.Command(testenv.Python(t), append([]string{path}, args...)...)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=2")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	readErr := read(bufio.NewReaderSize(out, 1<<20))
	rest, _ := io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("running %s: %v\n%s", script, err, stderr.Bytes())
	}
	if readErr != nil {
		t.Fatalf("reading %s's output: %v", script, readErr)
	}
	if rest > 0 {
		t.Fatalf("%s wrote %d bytes more than read", script, rest)
	}
}

// TestResizeCropEqualsCrop checks that ResizeCrop gives the pixels of the whole resized image within the
// crop, for both filters, shrinking and enlarging, with and without each pass, and that Resize is
// ResizeFilter with Bilinear.
func TestResizeCropEqualsCrop(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	img := New(61, 47)
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	for _, f := range []Filter{Bilinear, Bicubic} {
		for _, size := range []image.Point{{20, 15}, {100, 90}, {61, 30}, {90, 47}, {61, 47}, {5, 200}} {
			full := ResizeFilter(img, size.X, size.Y, f)
			if f == Bilinear {
				comparePixels(t, fmt.Sprintf("Resize to %v", size), Resize(img, size.X, size.Y), full)
			}
			crops := []image.Rectangle{image.Rect(0, 0, size.X, size.Y), image.Rect(0, 0, 1, 1), image.Rect(size.X-1, size.Y-1, size.X, size.Y)}
			for range 20 {
				x0, y0 := rng.IntN(size.X), rng.IntN(size.Y)
				crops = append(crops, image.Rect(x0, y0, x0+1+rng.IntN(size.X-x0), y0+1+rng.IntN(size.Y-y0)))
			}
			for _, c := range crops {
				comparePixels(t, fmt.Sprintf("%s to %v, crop %v", f, size, c), ResizeCrop(img, size.X, size.Y, f, c), subImage(full, c))
			}
		}
	}
	// The input is read, never written, and the result never aliases it.
	before := slices.Clone(img.Pix)
	out := ResizeCrop(img, 61, 30, Bicubic, image.Rect(0, 0, 61, 30))
	out.Pix[0]++
	if !bytes.Equal(img.Pix, before) {
		t.Error("ResizeCrop changed its input")
	}
	if got := ResizeCrop(img, 61, 30, Bilinear, image.Rect(3, 3, 3, 9)); got.Width != 0 || got.Height != 6 || len(got.Pix) != 0 {
		t.Errorf("empty crop: %dx%d, %d values", got.Width, got.Height, len(got.Pix))
	}
}

func TestFilterText(t *testing.T) {
	for _, f := range []Filter{Bilinear, Bicubic} {
		text, err := f.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Filter = -1
		if err := back.UnmarshalText(bytes.ToUpper(text)); err != nil || back != f {
			t.Errorf("%s: marshaled %q, read back %v (%v)", f, text, back, err)
		}
	}
	if Filter(0) != Bilinear {
		t.Error("the zero Filter is not Bilinear")
	}
	if _, err := Filter(2).MarshalText(); err == nil {
		t.Error("Filter(2) marshaled without an error")
	}
	var f Filter
	if err := f.UnmarshalText([]byte("lanczos")); err == nil {
		t.Error("lanczos parsed without an error")
	}
}

func BenchmarkResize(b *testing.B) {
	img := New(500, 375)
	for i := range img.Pix {
		img.Pix[i] = uint8(i*7 + i/1500)
	}
	for _, f := range []Filter{Bilinear, Bicubic} {
		b.Run(f.String()+"/224x224", func(b *testing.B) {
			for b.Loop() {
				ResizeFilter(img, 224, 224, f)
			}
		})
	}
}
