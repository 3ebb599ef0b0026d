package nn

import (
	"github.com/gomlx/compute/shapes"
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
// backend's matrix multiplication: the kh input rows a window reads, side by side ([kh*W]), times a banded
// [kh*W, outW] matrix built from the filter (a Toeplitz matrix per channel: the filter's taps on its
// diagonals, the horizontal padding and stride in its shape). That is outW/kw times the arithmetic of the
// direct form, at the speed of a matrix product: one Gather of whole rows (the rows outside the image read
// a zero row: the vertical padding), one batched product over the channels. Its gradient is one
// ScatterSum of rows and the product's two.
func DepthwiseCF(x, kernel *Node, stride, pad int) *Node {
	g := x.Graph()
	dims := x.Shape().Dimensions
	c, batch, h, w := dims[0], dims[1], dims[2], dims[3]
	kdims := kernel.Shape().Dimensions
	kh, kw := kdims[0], kdims[1]
	outH := (h+2*pad-kh)/stride + 1
	outW := (w+2*pad-kw)/stride + 1

	// The rows each output row reads: row oy*stride+i-pad of its channel and image, or the zero row.
	rows := Concatenate([]*Node{Reshape(x, c*batch*h, w), Zeros(g, shapes.Make(x.DType(), 1, w))}, 0)
	zero := int32(c * batch * h)
	indices := make([]int32, 0, c*batch*outH*kh)
	for plane := range c * batch {
		for oy := range outH {
			for i := range kh {
				row := oy*stride + i - pad
				if row < 0 || row >= h {
					indices = append(indices, zero)
				} else {
					indices = append(indices, int32(plane*h+row))
				}
			}
		}
	}
	index := Reshape(Const(g, tensors.FromFlatDataAndDimensions(indices, c*batch*outH*kh)), c*batch*outH*kh, 1)
	lhs := Reshape(Gather(rows, index), c, batch*outH, kh*w)

	// The banded matrices: band[j][xin][ox] = 1 where input column xin is tap j of output column ox.
	band := make([]float32, kw*w*outW)
	for j := range kw {
		for ox := range outW {
			if xin := ox*stride + j - pad; xin >= 0 && xin < w {
				band[(j*w+xin)*outW+ox] = 1
			}
		}
	}
	bands := Const(g, tensors.FromFlatDataAndDimensions(band, kw, w*outW))
	if bands.DType() != x.DType() {
		bands = ConvertDType(bands, x.DType())
	}
	// Each channel's filter rows [C*kh, kw] times the bands: [C, kh*W, outW], filter row i's band in rows i*W...
	taps := Reshape(TransposeAllAxes(Reshape(kernel, kh, kw, c), 2, 0, 1), c*kh, kw)
	toeplitz := Reshape(MatMul(taps, bands), c, kh*w, outW)
	out := DotGeneral(lhs, []int{2}, []int{0}, toeplitz, []int{1}, []int{0}) // [C, B*outH, outW]
	return Reshape(out, c, batch, outH, outW)
}
