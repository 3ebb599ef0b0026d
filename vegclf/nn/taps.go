package nn

import (
	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
)

// windowTaps returns the views of x [B, H, W, C] (already padded) that a kh x kw window moved with stride
// sees at each of its taps, in row-major tap order: tap (i, j) is x[:, i::stride, j::stride, :] cut to
// [B, outH, outW, C]. They are the im2col patches' parts and the max pool's operands.
//
// With differentiable, each is a Slice, whose gradient GoMLX computes; the Go backend copies a Slice element
// by element. Otherwise each is a crop (cropped), which it copies in blocks: stride 1 directly, stride 2
// from the four phases of one space-to-depth transpose of x. A crop has no gradient in GoMLX (its Pad
// gradient assumes non-negative padding): graphs without a backward pass through the backbone use them.
func windowTaps(x *Node, kh, kw, stride, outH, outW int, differentiable bool) []*Node {
	taps := make([]*Node, 0, kh*kw)
	switch {
	case differentiable || stride > 2:
		for i := range kh {
			for j := range kw {
				taps = append(taps, Slice(x, AxisRange(),
					AxisRange(i, i+(outH-1)*stride+1).Stride(stride),
					AxisRange(j, j+(outW-1)*stride+1).Stride(stride)))
			}
		}
	case stride == 1:
		dims := x.Shape().Dimensions
		for i := range kh {
			for j := range kw {
				taps = append(taps, cropped(x, []int{0, i, j, 0}, []int{dims[0], outH, outW, dims[3]}))
			}
		}
	default: // Stride 2: phase (a, b) holds x[:, a::2, b::2, :], and tap (i, j) is phase (i%2, j%2) from (i/2, j/2).
		dims := x.Shape().Dimensions
		batch, h, w, c := dims[0], dims[1], dims[2], dims[3]
		if h%2 == 1 || w%2 == 1 { // An extra row or column, which no tap reaches.
			x = Pad(x, ScalarZero(x.Graph(), x.DType()), compute.PadAxis{}, compute.PadAxis{End: h % 2}, compute.PadAxis{End: w % 2}, compute.PadAxis{})
			h, w = h+h%2, w+w%2
		}
		phases := TransposeAllDims(Reshape(x, batch, h/2, 2, w/2, 2, c), 2, 4, 0, 1, 3, 5) // [2, 2, B, h/2, w/2, C]
		for i := range kh {
			for j := range kw {
				tap := cropped(phases, []int{i % 2, j % 2, 0, i / 2, j / 2, 0}, []int{1, 1, batch, outH, outW, c})
				taps = append(taps, Reshape(tap, batch, outH, outW, c))
			}
		}
	}
	return taps
}

// cropped returns the block of x of the given sizes from the given starts on each axis, as a Pad with
// negative padding, which the Go backend copies in blocks (a Slice it copies element by element).
func cropped(x *Node, starts, sizes []int) *Node {
	dims := x.Shape().Dimensions
	axes := make([]compute.PadAxis, len(dims))
	for a, d := range dims {
		axes[a] = compute.PadAxis{Start: -starts[a], End: -(d - starts[a] - sizes[a])}
	}
	return Pad(x, ScalarZero(x.Graph(), x.DType()), axes...)
}
