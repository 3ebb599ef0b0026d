package nn

import (
	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// DepthwiseCF convolves each channel of x [C, B, H, W] (channels first) with its own kh x kw filter, of
// the kernel [kh, kw, 1, C] (torch's Conv2d(C, C, k, groups=C) weight [C, 1, kh, kw] in the model's
// layout), with the given stride and symmetric zero padding, returning [C, B, outH, outW].
//
// On the Go backend a depthwise convolution is a few multiply-adds per value: as elementwise ops (one
// memory pass each, and the backend fuses nothing) or as its native convolution (a direct loop), it costs
// more than the dense layers around it. Here each output row is a product instead, computed by the
// backend's matrix multiplication: the kh input rows a window reads, side by side, times a banded matrix
// built from the filter (a Toeplitz matrix per channel: the filter's taps on its diagonals, the padding
// and stride in its shape), for all the channels in one batched product (bandedProduct). The rows come
// from one Gather of x padded with zero rows (the vertical padding); its gradient is one ScatterSum. A
// banded row costs its width over kw times the direct form's arithmetic, so wide rows are cut in tiles
// (depthwiseTile).
func DepthwiseCF(x, kernel *Node, stride, pad int) *Node {
	dims := x.Shape().Dimensions
	kw := kernel.Shape().Dimensions[1]
	outW := (dims[3]+2*pad-kw)/stride + 1
	return depthwiseTiled(x, kernel, stride, pad, depthwiseTile(outW, stride, kw))
}

// depthwiseTile returns the output columns of each tile DepthwiseCF cuts the rows in: all of them up to
// 112, else the largest divisor of outW from kw up to 16/stride*2 (a tile reads two input tiles, so its
// band is 2*tile*stride columns wide per filter row), or all when none divides. Whole rows gather half
// the values tiles do (a tile reads two input tiles), and give the product a wider output: since the
// banded product's gradients take no copies (bandedProduct), they are faster at every width networks
// have at 224x224 (BENCHMARKS.md, "Measured in code comments before").
func depthwiseTile(outW, stride, kw int) int {
	if outW <= 112 {
		return outW
	}
	for t := 32 / stride; t >= kw; t-- {
		if outW%t == 0 {
			return t
		}
	}
	return outW
}

// depthwiseTiled is DepthwiseCF with output rows cut in tiles of tile columns (tile == outW: whole rows).
// Tile t of an output row reads input tiles t and t+1 of its kh input rows (the input padded on the left
// by pad and on the right to whole tiles), tile*stride columns each: a band of kh*2*tile*stride columns.
func depthwiseTiled(x, kernel *Node, stride, pad, tile int) *Node {
	g := x.Graph()
	dims := x.Shape().Dimensions
	c, batch, h, w := dims[0], dims[1], dims[2], dims[3]
	kdims := kernel.Shape().Dimensions
	kh, kw := kdims[0], kdims[1]
	outH := (h+2*pad-kh)/stride + 1
	outW := (w+2*pad-kw)/stride + 1

	// Rows of x padded with pad zero rows above and below (the rows windows read outside the image), whole
	// (one tile), or padded and cut in input tiles of width in, read in pairs; left is the padding the band
	// accounts for. The padding is one Pad of x, which the rows reshape without a copy, and its gradient a
	// crop (padCroppedGradient).
	tiles, in, pairs, left := 1, w, 1, pad
	columns := compute.PadAxis{}
	if tile < outW {
		tiles, in, pairs, left = outW/tile, tile*stride, 2, 0
		columns = compute.PadAxis{Start: pad, End: (tiles+1)*in - w - pad}
	}
	hp := h + 2*pad
	perRow := tiles + pairs - 1 // Input tiles per row.
	padded := padCroppedGradient(x, compute.PadAxis{}, compute.PadAxis{}, compute.PadAxis{Start: pad, End: pad}, columns)
	rows := Reshape(padded, c*batch*hp*perRow, in)
	indices := make([]int32, 0, c*batch*outH*tiles*kh*pairs)
	for plane := range c * batch {
		for oy := range outH {
			for t := range tiles {
				for i := range kh {
					row := oy*stride + i // In the padded rows.
					for q := range pairs {
						indices = append(indices, int32((plane*hp+row)*perRow+t+q))
					}
				}
			}
		}
	}
	n := len(indices)
	index := Reshape(Const(g, tensors.FromFlatDataAndDimensions(indices, n)), n, 1)
	width := pairs * in // Of the band, per filter row.
	lhs := Reshape(Gather(rows, index), c, batch*outH*tiles, kh*width)

	// The banded matrices: band[j][u][v] = 1 where column u of the band is tap j of output column v.
	band := make([]float32, kw*width*tile)
	for j := range kw {
		for v := range tile {
			if u := v*stride + j - left; u >= 0 && u < width {
				band[(j*width+u)*tile+v] = 1
			}
		}
	}
	bands := Const(g, tensors.FromFlatDataAndDimensions(band, kw, width*tile))
	if bands.DType() != x.DType() {
		bands = ConvertDType(bands, x.DType())
	}
	// Each channel's filter rows [C*kh, kw] times the bands: [C, kh*width, tile], filter row i's band in
	// rows i*width...
	taps := Reshape(TransposeAllAxes(Reshape(kernel, kh, kw, c), 2, 0, 1), c*kh, kw)
	toeplitz := Reshape(MatMul(taps, bands), c, kh*width, tile)
	return Reshape(bandedProduct(lhs, toeplitz), c, batch, outH, outW)
}

// bandedProduct returns the batched product lhs . toeplitz ([C, M, K] x [C, K, N] = [C, M, N]) with
// gradients laid out for the Go backend, which contracts a product's left operand over its last axis and
// takes the right one as [K, N] or [N, K], and transposes anything else element by element. The left
// operand's gradient, dOut . toeplitz^T, fits as it is. The right one's, lhs^T . dOut, contracted over M,
// the first axis of both, would transpose both; it is computed transposed instead, dOut^T . lhs, from
// dOut^T [C, N, M], which a 0213 transpose (one of the backend's fast ones) gives. As ProductCF does, GoMLX
// runs the product and differentiates a stand-in whose identities' custom gradients are these products (a
// decomposed graph differentiated by GoMLX would copy lhs, the largest tensor, for a StopGradient, and each
// gradient again for the identity transpose GoMLX's DotGeneral gradient ends with).
func bandedProduct(lhs, toeplitz *Node) *Node {
	out, _ := InternalFusedOpCaller(
		func() *Node { return DotGeneral(lhs, []int{2}, []int{0}, toeplitz, []int{1}, []int{0}) },
		func() *Node {
			var dOut *Node
			ls := IdentityWithCustomGradient(lhs, func(_, _ *Node) *Node {
				return DotGeneral(dOut, []int{2}, []int{0}, toeplitz, []int{2}, []int{0})
			})
			ts := IdentityWithCustomGradient(toeplitz, func(_, _ *Node) *Node {
				return swapLastTwo(DotGeneral(swapLastTwo(dOut), []int{2}, []int{0}, lhs, []int{1}, []int{0})) // [C, N, K] -> [C, K, N], small.
			})
			y := DotGeneral(ls, []int{2}, []int{0}, ts, []int{1}, []int{0})
			return IdentityWithCustomGradient(y, func(_, v *Node) *Node { dOut = v; return v })
		}, true)
	return out
}

// swapLastTwo transposes x [C, M, N] to [C, N, M] as a 0213 transpose of [C, M, N, 1], one of the Go
// backend's fast transposes (and so is its gradient).
func swapLastTwo(x *Node) *Node {
	d := x.Shape().Dimensions
	return Reshape(TransposeAllAxes(Reshape(x, d[0], d[1], d[2], 1), 0, 2, 1, 3), d[0], d[2], d[1])
}
