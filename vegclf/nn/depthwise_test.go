package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
)

// nativeDepthwise is the backend's grouped convolution of x [C, B, H, W] (channels first) with kernel
// [kh, kw, 1, C]: the reference.
func nativeDepthwise(x, kernel *Node, stride, pad int) *Node {
	c := x.Shape().Dimensions[0]
	cfg := compute.ConvolveAxesConfig{
		InputBatch: 1, InputChannels: 0, InputSpatial: []int{2, 3},
		KernelInputChannels: 2, KernelOutputChannels: 3, KernelSpatial: []int{0, 1},
		OutputBatch: 1, OutputChannels: 0, OutputSpatial: []int{2, 3},
	}
	return Convolve(x, kernel).AxesConfig(cfg).ChannelGroupCount(c).Strides(stride).PaddingPerDim([][2]int{{pad, pad}, {pad, pad}}).Done()
}

// TestDepthwiseCFEqualsNative checks the banded-product depthwise convolution against the backend's
// grouped convolution: the output and the gradients of the input and the kernel, for 3x3 and 5x5 filters,
// strides 1 and 2, odd and even sizes, whole rows and rows cut in tiles.
func TestDepthwiseCFEqualsNative(t *testing.T) {
	backend := testenv.Backend(t)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ c, b, h, w, k, stride, tile int }{
		{4, 2, 9, 9, 3, 1, 0}, {3, 2, 8, 10, 3, 2, 0}, {5, 1, 9, 7, 3, 2, 0}, {3, 2, 11, 12, 5, 1, 0}, {4, 1, 12, 11, 5, 2, 0}, {2, 1, 3, 3, 5, 1, 0},
		{3, 2, 7, 12, 3, 1, 3}, {2, 2, 6, 12, 3, 1, 4}, {3, 1, 8, 16, 3, 2, 4}, {2, 2, 5, 15, 3, 2, 4}, {3, 1, 10, 20, 5, 1, 5}, {2, 1, 9, 20, 5, 2, 5},
		{3, 2, 2, 2, 7, 1, 0}, {3, 2, 4, 4, 7, 1, 0}, {2, 1, 14, 14, 7, 1, 0}, {2, 1, 8, 56, 7, 1, 28}, // ConvNeXt's.
	} {
		name := fmt.Sprintf("%dx%d/%d on %dx%d, tiles of %d", tc.k, tc.k, tc.stride, tc.h, tc.w, tc.tile)
		t.Run(name, func(t *testing.T) {
			x := randomTensor(rng, tc.c, tc.b, tc.h, tc.w)
			kernel := randomTensor(rng, tc.k, tc.k, 1, tc.c)
			run := func(conv func(x, kernel *Node, stride, pad int) *Node) []*tensors.Tensor {
				return MustNewExec(backend, func(x, kernel *Node) []*Node {
					y := conv(x, kernel, tc.stride, tc.k/2)
					loss := ReduceAllSum(Mul(y, Sin(Iota(x.Graph(), y.Shape(), 3))))
					return append([]*Node{y}, Gradient(loss, x, kernel)...)
				}).MustCall(x, kernel)
			}
			conv := DepthwiseCF
			if tc.tile > 0 {
				conv = func(x, kernel *Node, stride, pad int) *Node { return depthwiseTiled(x, kernel, stride, pad, tc.tile) }
			}
			want, got := run(nativeDepthwise), run(conv)
			for i, what := range []string{"output", "input gradient", "kernel gradient"} {
				w, g := tensors.MustCopyFlatData[float32](want[i]), tensors.MustCopyFlatData[float32](got[i])
				if !want[i].Shape().Equal(got[i].Shape()) {
					t.Fatalf("%s: shape %s, want %s", what, got[i].Shape(), want[i].Shape())
				}
				for j := range w {
					if math.Abs(float64(g[j]-w[j])) > 1e-4*(1+math.Abs(float64(w[j]))) {
						t.Fatalf("%s[%d] = %g, want %g", what, j, g[j], w[j])
					}
				}
			}
		})
	}
}

// BenchmarkDepthwise times MobileNetV3-Large's, EfficientNet's and ConvNeXt's depthwise shapes at batch 16 as a
// banded product (DepthwiseCF), as nine shifted slices multiplied and added, and as the backend's
// grouped convolution: the forward pass, and the forward pass with the gradients of input and kernel.
//
//	GOTOOLCHAIN=go1.27.3 GOEXPERIMENT=simd go test -run '^$' -bench Depthwise -benchtime 3x ./vegclf/nn
func BenchmarkDepthwise(b *testing.B) {
	backend := testenv.Backend(b)
	rng := rand.New(rand.NewPCG(3, 4))
	shifted := func(x, kernel *Node, stride, pad int) *Node {
		dims := x.Shape().Dimensions
		k := kernel.Shape().Dimensions[0]
		outH, outW := (dims[2]+2*pad-k)/stride+1, (dims[3]+2*pad-k)/stride+1
		padded := Pad(x, ScalarZero(x.Graph(), x.DType()), compute.PadAxis{}, compute.PadAxis{}, compute.PadAxis{Start: pad, End: pad}, compute.PadAxis{Start: pad, End: pad})
		var out *Node
		for i := range k {
			for j := range k {
				tap := Slice(padded, AxisRange(), AxisRange(), AxisRange(i, i+(outH-1)*stride+1).Stride(stride), AxisRange(j, j+(outW-1)*stride+1).Stride(stride))
				term := Mul(tap, Reshape(Slice(kernel, AxisElem(i), AxisElem(j)), dims[0], 1, 1, 1))
				if out == nil {
					out = term
				} else {
					out = Add(out, term)
				}
			}
		}
		return out
	}
	for _, shape := range []struct {
		name               string
		c, size, k, stride int
	}{
		{"3x3 16ch 112", 16, 112, 3, 1},
		{"3x3/2 64ch 112", 64, 112, 3, 2},
		{"3x3 72ch 56", 72, 56, 3, 1},
		{"3x3 144ch 56", 144, 56, 3, 1},
		{"5x5/2 72ch 56", 72, 56, 5, 2},
		{"5x5 120ch 28", 120, 28, 5, 1},
		{"3x3 480ch 14", 480, 14, 3, 1},
		{"5x5 960ch 7", 960, 7, 5, 1},
		{"7x7 96ch 56", 96, 56, 7, 1}, // ConvNeXt-Tiny's.
		{"7x7 192ch 28", 192, 28, 7, 1},
		{"7x7 384ch 14", 384, 14, 7, 1},
		{"7x7 768ch 7", 768, 7, 7, 1},
	} {
		x := randomTensor(rng, shape.c, 16, shape.size, shape.size)
		kernel := randomTensor(rng, shape.k, shape.k, 1, shape.c)
		for _, impl := range []struct {
			name string
			conv func(x, kernel *Node, stride, pad int) *Node
		}{{"banded", DepthwiseCF}, {"shifted", shifted}, {"native", nativeDepthwise}} {
			for _, train := range []bool{false, true} {
				name := shape.name + "/" + impl.name + map[bool]string{false: "/forward", true: "/train"}[train]
				b.Run(name, func(b *testing.B) {
					exec := MustNewExec(backend, func(x, kernel *Node) []*Node {
						y := impl.conv(x, kernel, shape.stride, shape.k/2)
						if !train {
							return []*Node{y}
						}
						return Gradient(ReduceAllSum(Mul(y, y)), x, kernel)
					})
					for _, t := range exec.MustCall(x, kernel) {
						t.FinalizeAll()
					}
					b.ResetTimer()
					for b.Loop() {
						for _, t := range exec.MustCall(x, kernel) {
							t.FinalizeAll()
						}
					}
				})
			}
		}
	}
}
