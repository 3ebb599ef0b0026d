package efficientnet

import (
	"math"
	"testing"
)

// TestArchitectures checks torchvision's EfficientNet-B0 to B3: the features' width, the number of
// learnable parameters (torchvision's num_params without classifier.1), the blocks and their stochastic
// depth probabilities (0.2 * index / blocks), the squeeze-excitations' widths, and the dropout.
func TestArchitectures(t *testing.T) {
	for _, tc := range []struct {
		arch                     Arch
		features, params, blocks int
		stem, squeeze            int // features.0's width; the last block's squeeze-excitation's.
		dropout                  float64
	}{
		{B0, 1280, 5288548 - 1281000, 16, 32, 48, 0.2},
		{B1, 1280, 7794184 - 1281000, 23, 32, 80, 0.2},
		{B2, 1408, 9109994 - 1409000, 23, 32, 88, 0.3},
		{B3, 1536, 12233232 - 1537000, 26, 40, 96, 0.3},
	} {
		a := tc.arch
		n := 0
		for _, p := range a.Params() {
			if p.Trainable {
				size := 1
				for _, d := range p.TorchShape {
					size *= d
				}
				n += size
			}
		}
		last := a.blocks[len(a.blocks)-1]
		if a.FeatureDim() != tc.features || n != tc.params || len(a.blocks) != tc.blocks || a.stem != tc.stem || last.squeeze != tc.squeeze ||
			a.Dropout() != tc.dropout || a.HeadName() != "classifier.1" {
			t.Errorf("%s: %d features, %d parameters, %d blocks, stem %d, squeeze %d, dropout %g; want %d, %d, %d, %d, %d, %g",
				a, a.FeatureDim(), n, len(a.blocks), a.stem, last.squeeze, a.Dropout(), tc.features, tc.params, tc.blocks, tc.stem, tc.squeeze, tc.dropout)
		}
		for i, b := range a.blocks {
			if want := 0.2 * float64(i) / float64(tc.blocks); math.Abs(b.dropProb-want) > 1e-15 {
				t.Errorf("%s block %d: stochastic depth %g, want %g", a, i, b.dropProb, want)
			}
		}
	}
}
