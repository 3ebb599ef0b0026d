package resnet

import (
	"fmt"
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	layout "github.com/gomlx/gomlx/core/tensors/images"
	"github.com/gomlx/gomlx/ml/model"
)

// channelsFirst is the convolution layout of FoldedLogits: images [B, C, H, W] and kernels
// [Cout, Cin, kh, kw], torch's and ONNX's.
var channelsFirst = compute.ConvolveAxesConfig{
	InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
	KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
	OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3},
}

// FoldedLogits computes, in inference mode, the logits [B, NumClasses] of images [B, 3, H, W] in channels-
// first layout (torch's), from the store's values read now and put in the graph as constants: each batch
// norm folded on the host into the convolution before it (a kernel in torch's [Cout, Cin, kh, kw] layout
// and a bias), so the graph is the model as deployment runtimes expect it, convolution, bias, ReLU (a Max
// with 0), max pool, residual additions, global mean, and the head's products. It is the graph vegclf
// exports to ONNX: the batch size is never used, so the batch axis may be dynamic. The model's float32
// weights are used whatever its compute dtype.
func (m *Model) FoldedLogits(store *model.Store, pixels *Node) (*Node, error) {
	g := pixels.Graph()
	value := func(name string) ([]float32, []int, error) {
		v := store.GetVariable(VariablePath(name))
		if v == nil {
			return nil, nil, fmt.Errorf("the model has no variable %s", name)
		}
		t, err := v.Value()
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", name, err)
		}
		if t.DType() != dtypes.Float32 {
			return nil, nil, fmt.Errorf("%s is %s, want float32", name, t.DType())
		}
		return tensors.MustCopyFlatData[float32](t), t.Shape().Dimensions, nil
	}
	var err error
	// convBN is a convolution and its batch norm, folded: kernel * gamma / sqrt(var + eps) per output
	// channel, and bias beta - mean * gamma / sqrt(var + eps).
	convBN := func(convName, bnName string, x *Node, stride, pad int) *Node {
		if err != nil {
			return x
		}
		kernel, dims, e := value(convName + ".weight") // [kh, kw, Cin, Cout]
		if e != nil {
			err = e
			return x
		}
		stats := map[string][]float32{}
		for _, s := range []string{"weight", "bias", "running_mean", "running_var"} {
			if stats[s], _, e = value(bnName + "." + s); e != nil {
				err = e
				return x
			}
		}
		kh, kw, cin, cout := dims[0], dims[1], dims[2], dims[3]
		folded := make([]float32, len(kernel))
		bias := make([]float32, cout)
		for o := range cout {
			scale := float64(stats["weight"][o]) / math.Sqrt(float64(stats["running_var"][o])+bnEpsilon)
			bias[o] = float32(float64(stats["bias"][o]) - float64(stats["running_mean"][o])*scale)
			for i := range cin {
				for y := range kh {
					for xx := range kw {
						folded[((o*cin+i)*kh+y)*kw+xx] = float32(float64(kernel[((y*kw+xx)*cin+i)*cout+o]) * scale)
					}
				}
			}
		}
		k := Const(g, tensors.FromFlatDataAndDimensions(folded, cout, cin, kh, kw))
		out := Convolve(x, k).AxesConfig(channelsFirst).Strides(stride).PaddingPerDim([][2]int{{pad, pad}, {pad, pad}}).Done()
		return Add(out, Const(g, tensors.FromFlatDataAndDimensions(bias, 1, cout, 1, 1)))
	}
	relu := func(x *Node) *Node { return Max(x, ScalarZero(g, x.DType())) }

	x := m.backbone(pixels, convBN, relu, func(x *Node) *Node {
		return MaxPool(x).ChannelsAxis(layout.ChannelsFirst).Window(3).Strides(2).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()
	})
	x = ReduceMean(x, 2, 3)
	names := m.Head.linearNames()
	for i, name := range names {
		w, dims, e := value(name + ".weight") // [in, out]
		if e != nil {
			return nil, e
		}
		bias, _, e := value(name + ".bias")
		if e != nil {
			return nil, e
		}
		x = Add(MatMul(x, Const(g, tensors.FromFlatDataAndDimensions(w, dims...))), Const(g, tensors.FromFlatDataAndDimensions(bias, 1, len(bias))))
		if i < len(names)-1 {
			x = relu(x)
		}
	}
	if err != nil {
		return nil, err
	}
	return x, nil
}
