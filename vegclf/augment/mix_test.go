package augment

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestMix(t *testing.T) {
	const batch, h, w, c, classes = 5, 6, 8, 3, 4
	pixels := make([]float32, batch*h*w*c)
	for i := range pixels {
		pixels[i] = float32(i%97) / 7
	}
	labels := []int32{0, 3, 1, 1, 2}
	original := slices.Clone(pixels)
	for _, tc := range []struct {
		name       string
		mix        Mix
		wantCutmix func(seen map[bool]int) bool
	}{
		{"mixup", Mix{Mixup: 0.8}, func(seen map[bool]int) bool { return seen[true] == 0 }},
		{"cutmix", Mix{Cutmix: 1}, func(seen map[bool]int) bool { return seen[false] == 0 }},
		{"both", Mix{Mixup: 0.8, Cutmix: 1}, func(seen map[bool]int) bool { return seen[true] > 5 && seen[false] > 5 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[bool]int{}
			for seed := range uint64(40) {
				m, err := tc.mix.Apply(pixels, labels, h, w, classes, rand.New(rand.NewPCG(seed, 1)))
				if err != nil {
					t.Fatal(err)
				}
				seen[m.Cutmix]++
				again, _ := tc.mix.Apply(pixels, labels, h, w, classes, rand.New(rand.NewPCG(seed, 1)))
				if !slices.Equal(m.Pixels, again.Pixels) || !slices.Equal(m.Targets, again.Targets) {
					t.Fatalf("seed %d: two draws with the same seed differ", seed)
				}
				if m.Lambda < 0 || m.Lambda > 1 {
					t.Fatalf("seed %d: lambda %g", seed, m.Lambda)
				}
				checkTargets(t, m, labels, classes)
				checkPixels(t, m, pixels, batch, h, w, c)
			}
			if !slices.Equal(pixels, original) {
				t.Error("the input pixels changed")
			}
			if !tc.wantCutmix(seen) {
				t.Errorf("cutmix/mixup batches: %v", seen)
			}
		})
	}
}

// checkTargets checks that each row is lambda on the image's label plus 1-lambda on its partner's.
func checkTargets(t *testing.T, m *Mixed, labels []int32, classes int) {
	t.Helper()
	batch := len(labels)
	for i, l := range labels {
		want := make([]float64, classes)
		want[l] += m.Lambda
		want[labels[batch-1-i]] += 1 - m.Lambda
		var sum float64
		for k := 0; k < classes; k++ {
			got := float64(m.Targets[i*classes+k])
			sum += got
			if math.Abs(got-want[k]) > 1e-6 {
				t.Fatalf("image %d class %d: target %g, want %g (lambda %g)", i, k, got, want[k], m.Lambda)
			}
		}
		if math.Abs(sum-1) > 1e-6 {
			t.Fatalf("image %d: targets sum to %g", i, sum)
		}
	}
}

// checkPixels checks mixup's blend, or cutmix's box of the partner with the image's own pixels around
// it and a lambda equal to the part not covered.
func checkPixels(t *testing.T, m *Mixed, pixels []float32, batch, h, w, c int) {
	t.Helper()
	size := h * w * c
	if m.Cutmix {
		y0, y1, x0, x1 := m.Box[0], m.Box[1], m.Box[2], m.Box[3]
		if want := 1 - float64((y1-y0)*(x1-x0))/float64(h*w); math.Abs(m.Lambda-want) > 1e-12 {
			t.Fatalf("cutmix lambda %g, box %v covers %g", m.Lambda, m.Box, 1-want)
		}
	}
	for i := 0; i < batch; i++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				for k := 0; k < c; k++ {
					j := (y*w+x)*c + k
					own, other := pixels[i*size+j], pixels[(batch-1-i)*size+j]
					want := float32(m.Lambda)*own + float32(1-m.Lambda)*other
					if m.Cutmix {
						want = own
						if y >= m.Box[0] && y < m.Box[1] && x >= m.Box[2] && x < m.Box[3] {
							want = other
						}
					}
					if got := m.Pixels[i*size+j]; math.Abs(float64(got-want)) > 1e-5 {
						t.Fatalf("image %d pixel (%d,%d,%d): %g, want %g (cutmix %v, lambda %g)", i, y, x, k, got, want, m.Cutmix, m.Lambda)
					}
				}
			}
		}
	}
}

func TestMixErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name   string
		mix    Mix
		pixels int
		labels []int32
	}{
		{"negative alpha", Mix{Mixup: -1}, 12, []int32{0}},
		{"switch probability", Mix{Mixup: 1, Cutmix: 1, SwitchProb: 2}, 12, []int32{0}},
		{"label out of range", Mix{Mixup: 1}, 12, []int32{5}},
		{"pixels do not fit", Mix{Mixup: 1}, 13, []int32{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.mix.Validate()
			if err == nil {
				_, err = tc.mix.Apply(make([]float32, tc.pixels), tc.labels, 2, 2, 3, rng)
			}
			if err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestBeta(t *testing.T) {
	for _, tc := range []struct{ a, b float64 }{{0.2, 0.2}, {0.8, 0.8}, {1, 1}, {2, 5}} {
		rng := rand.New(rand.NewPCG(7, 11))
		const n = 40000
		var sum, sq float64
		for range n {
			x := Beta(rng, tc.a, tc.b)
			if x < 0 || x > 1 {
				t.Fatalf("Beta(%g, %g) drew %g", tc.a, tc.b, x)
			}
			sum, sq = sum+x, sq+x*x
		}
		mean, variance := sum/n, sq/n-(sum/n)*(sum/n)
		wantMean := tc.a / (tc.a + tc.b)
		wantVar := tc.a * tc.b / ((tc.a + tc.b) * (tc.a + tc.b) * (tc.a + tc.b + 1))
		if math.Abs(mean-wantMean) > 0.01 || math.Abs(variance-wantVar) > 0.01 {
			t.Errorf("Beta(%g, %g): mean %.4f variance %.4f, want %.4f and %.4f", tc.a, tc.b, mean, variance, wantMean, wantVar)
		}
	}
}
