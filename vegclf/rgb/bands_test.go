package rgb

import (
	"slices"
	"testing"
)

// TestBandsRGB: bands are shown as gray for one band and for luminance and alpha, as their first three
// for three and four (alpha dropped).
func TestBandsRGB(t *testing.T) {
	for _, tc := range []struct {
		c        int
		pix, rgb []uint8
	}{
		{1, []uint8{10, 200}, []uint8{10, 10, 10, 200, 200, 200}},
		{2, []uint8{10, 0, 200, 99}, []uint8{10, 10, 10, 200, 200, 200}},
		{3, []uint8{1, 2, 3, 4, 5, 6}, []uint8{1, 2, 3, 4, 5, 6}},
		{4, []uint8{1, 2, 3, 0, 4, 5, 6, 77}, []uint8{1, 2, 3, 4, 5, 6}},
	} {
		got := (&Bands{Width: 2, Height: 1, C: tc.c, Pix: tc.pix}).RGB()
		if got.Width != 2 || got.Height != 1 || !slices.Equal(got.Pix, tc.rgb) {
			t.Errorf("%d bands %v: RGB %dx%d %v, want 2x1 %v", tc.c, tc.pix, got.Width, got.Height, got.Pix, tc.rgb)
		}
	}
}
