package augment

import (
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/rgb"
)

// textureImage is a w x h test image with smooth gradients, hard edges and noise, so that every
// operation changes it: the geometric ones move edges, the histogram ones see many values, and the
// sharpness filter sees detail.
func textureImage(w, h int, seed uint64) *rgb.Image {
	rng := rand.New(rand.NewPCG(seed, 3))
	img := rgb.New(w, h)
	for y := range h {
		for x := range w {
			i := (y*w + x) * 3
			r := 30 + 180*x/w + rng.IntN(20)
			g := 20 + 200*y/h + rng.IntN(30)
			b := 60 + rng.IntN(40)
			if (x/7+y/5)%3 == 0 {
				b += 120
			}
			if (x-w/3)*(x-w/3)+(y-h/2)*(y-h/2) < h*h/9 {
				r, g = 240-r/3, g/2
			}
			img.Pix[i], img.Pix[i+1], img.Pix[i+2] = uint8(min(r, 255)), uint8(min(g, 255)), uint8(min(b, 255))
		}
	}
	return img
}

func writePNG(t *testing.T, path string, img *rgb.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpsMatchTorchvision applies every policy operation at every magnitude of both policies' bins,
// positive and negated, to two images (67x53, and a 48x48 square, which rotates by 90 degrees through
// Pillow's transposition), and compares the results with torchvision 0.14's _apply_op on the same PIL
// images (autoaugment_reference.py): every pixel must be equal; the operations are Pillow's integer and
// float32 arithmetic, done in the same order. It also checks that the policies' magnitude bins are
// torchvision's float32 values, RandAugment's translations for every width from 16 to 399 too.
func TestOpsMatchTorchvision(t *testing.T) {
	dir := t.TempDir()
	images := map[string]*rgb.Image{"wide.png": textureImage(67, 53, 1), "square.png": textureImage(48, 48, 2)}
	var names []string
	for name, img := range images {
		writePNG(t, filepath.Join(dir, name), img)
		names = append(names, name)
	}
	type opBins struct {
		Bins   []float64 `json:"bins"`
		Signed bool      `json:"signed"`
	}
	var report struct {
		CPUCapability string                                  `json:"cpu_capability"`
		Images        map[string]map[string]map[string]opBins `json:"images"`
		Translate     map[int][]float64                       `json:"translate"`
	}
	if err := json.Unmarshal(testenv.RunPython(t, "autoaugment_reference.py", append([]string{dir}, names...)...), &report); err != nil {
		t.Fatal(err)
	}
	exactBins := report.CPUCapability == "AVX2"
	if exactBins {
		for side, want := range report.Translate {
			got, _ := AutoPolicy{Kind: RandAugment, NumOps: 1}.Bins(TranslateX, side, side)
			for i, v := range want {
				if got[i] != float32(v) {
					t.Errorf("RandAugment's translation bin %d for width %d: %v, torch's %v", i, side, got[i], float32(v))
				}
			}
		}
		if len(report.Translate) != 384 {
			t.Errorf("%d widths of translation bins, want 384", len(report.Translate))
		}
	}
	policies := map[string]AutoPolicy{"trivialaugment": {Kind: TrivialAugment}, "randaugment": {Kind: RandAugment, NumOps: 2, Magnitude: 9}}
	for _, name := range names {
		img := images[name]
		// The bins: torch.linspace's float32 values. With AVX2 (the development machine's and CI's) they
		// must be equal; torch's kernels for other CPU capabilities round some points differently, so
		// there they may be a float32 unit in the last place apart. The operations' comparison below
		// takes torchvision's magnitudes, so it does not depend on this.
		exact, offByOne := 0, 0
		for policyName, ops := range report.Images[name] {
			p := policies[policyName]
			for opName, want := range ops {
				op, ok := OpByName(opName)
				if !ok {
					t.Fatalf("torchvision's operation %s is not one of ours", opName)
				}
				got, signed := p.Bins(op, img.Width, img.Height)
				if signed != want.Signed || len(got) != len(want.Bins) {
					t.Fatalf("%s %s on %s: bins %v (signed %v), torchvision's %v (signed %v)", policyName, op, name, got, signed, want.Bins, want.Signed)
				}
				for i, v := range want.Bins {
					w := float32(v)
					switch {
					case got[i] == w:
						exact++
					case !exactBins && math.Abs(float64(got[i]-w)) <= float64(math.Nextafter32(w, float32(math.Inf(1)))-w):
						offByOne++
					default:
						t.Errorf("%s %s bin %d on %s: %v, torchvision's %v", policyName, op, i, name, got[i], w)
					}
				}
			}
			if len(ops) != int(numOps) {
				t.Errorf("%s has %d operations, we have %d", policyName, len(ops), numOps)
			}
		}

		t.Logf("%s: %d magnitude bins equal to torchvision's (torch's CPU capability %s), %d a float32 unit in the last place apart", name, exact, report.CPUCapability, offByOne)

		var cases []struct {
			Policy, Op string
			Magnitude  float64
		}
		raw, err := os.ReadFile(filepath.Join(dir, name+".cases.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &cases); err != nil {
			t.Fatal(err)
		}
		out, err := os.ReadFile(filepath.Join(dir, name+".out.raw"))
		if err != nil {
			t.Fatal(err)
		}
		size := len(img.Pix)
		if len(out) != len(cases)*size {
			t.Fatalf("%s: %d bytes of results for %d cases", name, len(out), len(cases))
		}
		changed := map[Op]bool{}
		for i, c := range cases {
			op, _ := OpByName(c.Op)
			got := op.Apply(img, c.Magnitude)
			want := out[i*size : (i+1)*size]
			if diff := countDiff(got.Pix, want); diff > 0 {
				t.Errorf("%s %s(%v) on %s: %d of %d values differ from torchvision's, the first at %s", c.Policy, c.Op, c.Magnitude, name, diff, size, firstDiff(got, want))
			}
			if countDiff(got.Pix, img.Pix) > 0 {
				changed[op] = true
			}
		}
		for _, op := range Ops() {
			if op != Identity && !changed[op] {
				t.Errorf("%s never changed %s: the comparison tests nothing", op, name)
			}
		}
		t.Logf("%s: %d operations and magnitudes equal to torchvision's", name, len(cases))
	}
}

func countDiff(a, b []uint8) int {
	n := 0
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

func firstDiff(got *rgb.Image, want []uint8) string {
	for i := range got.Pix {
		if got.Pix[i] != want[i] {
			p := i / 3
			return fmt.Sprintf("(%d,%d) channel %d: %d, torchvision's %d", p%got.Width, p/got.Width, i%3, got.Pix[i], want[i])
		}
	}
	return ""
}

// TestOpsKeepInput checks that no operation modifies its input image.
func TestOpsKeepInput(t *testing.T) {
	img := textureImage(20, 16, 5)
	before := append([]uint8(nil), img.Pix...)
	for _, op := range Ops() {
		for _, m := range []float64{0, 0.5, -0.5, 3, 200, 8} {
			if op == Posterize {
				m = 4
			}
			out := op.Apply(img, m)
			if out == img || countDiff(img.Pix, before) > 0 {
				t.Fatalf("%s(%v) returned or modified its input", op, m)
			}
		}
	}
}
