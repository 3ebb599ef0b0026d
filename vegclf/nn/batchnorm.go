package nn

import (
	"math"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Batch-norm constants of torch.nn.BatchNorm2d's defaults.
const (
	bnEpsilon  = 1e-5
	bnMomentum = 0.1
)

// BatchNorm is torch's BatchNorm2d on channels-last tensors, with its variables under Name ("bn1",
// "layer1.0.downsample.1"): weight, bias, running_mean, running_var and num_batches_tracked.
type BatchNorm struct {
	Name string
	// Eps and Momentum are torch's; zero takes torch's defaults, 1e-5 and 0.1.
	Eps, Momentum float64
}

func (bn BatchNorm) eps() float64 {
	if bn.Eps == 0 {
		return bnEpsilon
	}
	return bn.Eps
}

// in returns the batch norm as opts compute it: with their momentum, when they override it.
func (bn BatchNorm) in(opts Options) BatchNorm {
	if opts.BNMomentum > 0 {
		bn.Momentum = opts.BNMomentum
	}
	return bn
}

func (bn BatchNorm) momentum() float64 {
	if bn.Momentum == 0 {
		return bnMomentum
	}
	return bn.Momentum
}

// Params lists the batch norm's parameters over c channels, in torch's state_dict order, in group.
func (bn BatchNorm) Params(c, group int) []Param {
	return []Param{
		{Name: bn.Name + ".weight", TorchShape: []int{c}, Layout: Unchanged, Trainable: true, Group: group},
		{Name: bn.Name + ".bias", TorchShape: []int{c}, Layout: Unchanged, Trainable: true, Group: group},
		{Name: bn.Name + ".running_mean", TorchShape: []int{c}, Layout: Unchanged, Group: group},
		{Name: bn.Name + ".running_var", TorchShape: []int{c}, Layout: Unchanged, Group: group},
		{Name: bn.Name + ".num_batches_tracked", TorchShape: []int{}, Layout: Counter, Group: group},
	}
}

// InitBatchNorm returns torch's initial value of a batch norm's parameter: weight and running variance 1,
// bias and running mean 0, the counter 0; ok is false for a parameter that is none of these.
func InitBatchNorm(p Param) (value *tensors.Tensor, ok bool) {
	switch {
	case p.Layout == Counter:
		return tensors.FromScalar(int64(0)), true
	case p.Layout != Unchanged:
		return nil, false
	case strings.HasSuffix(p.Name, ".weight"), strings.HasSuffix(p.Name, ".running_var"):
		return Fill(p.Shape().Dimensions, func() float32 { return 1 }), true
	case strings.HasSuffix(p.Name, ".bias"), strings.HasSuffix(p.Name, ".running_mean"):
		return Fill(p.Shape().Dimensions, func() float32 { return 0 }), true
	}
	return nil, false
}

// scaleShift returns the per-channel scale and shift of the batch norm in inference mode:
// y = (x - mean) / sqrt(var + eps) * weight + bias = x * scale + shift.
func (bn BatchNorm) scaleShift(g *Graph, store *model.Store) (scale, shift *Node) {
	value := func(name string) *Node { return Value(store, g, bn.Name+"."+name) }
	scale = Mul(value("weight"), Reciprocal(Sqrt(AddScalar(value("running_var"), bn.eps()))))
	shift = Sub(value("bias"), Mul(value("running_mean"), scale))
	return scale, shift
}

// Train is the batch norm in train mode on channels-last x [B, H, W, C]: it normalizes with the batch's
// mean and biased variance, letting gradients flow through both (unlike GoMLX's layer, which stops them),
// and updates the running statistics as torch does: running = (1-momentum)*running + momentum*batch, with
// the unbiased variance, and counts the batch. It computes in float32 and returns x's dtype.
func (bn BatchNorm) Train(store *model.Store, x *Node) *Node {
	return bn.trainAxis(store, x, 3)
}

// trainAxis is Train on x whose channels are on axis (3: channels last, 0: channels first).
func (bn BatchNorm) trainAxis(store *model.Store, x *Node, axis int) *Node {
	if dtype := x.DType(); dtype != dtypes.Float32 {
		return ConvertDType(bn.trainAxis(store, ConvertDType(x, dtypes.Float32), axis), dtype)
	}
	g := x.Graph()
	variable := func(name string) *model.Variable { return Variable(store, g, bn.Name+"."+name) }
	weight := variable("weight").NodeValue(g)
	bias := variable("bias").NodeValue(g)
	dims := x.Shape().Dimensions
	broadcast := []int{1, 1, 1, 1}
	broadcast[axis] = dims[axis]
	var others []int // The axes statistics are taken over.
	n := 1.0
	for a := range dims {
		if a != axis {
			others = append(others, a)
			n *= float64(dims[a])
		}
	}
	asBroadcast := func(v *Node) *Node { return Reshape(v, broadcast...) }

	mean := ReduceMean(x, others...)
	centered := Sub(x, asBroadcast(mean))
	variance := ReduceMean(Square(centered), others...)
	invStd := Reciprocal(Sqrt(AddScalar(variance, bn.eps())))
	y := Add(Mul(centered, asBroadcast(Mul(invStd, weight))), asBroadcast(bias))

	bn.updateRunning(store, mean, variance, n)
	return y
}

// updateRunning moves the running statistics toward a batch's mean and (biased) variance over n values
// per channel, torch's way: the variance unbiased, each by the momentum; and counts the batch.
func (bn BatchNorm) updateRunning(store *model.Store, mean, variance *Node, n float64) {
	g := mean.Graph()
	variable := func(name string) *model.Variable { return Variable(store, g, bn.Name+"."+name) }
	runningMean, runningVar := variable("running_mean"), variable("running_var")
	unbiased := MulScalar(StopGradient(variance), n/max(n-1, 1))
	momentum := bn.momentum()
	runningMean.SetNodeValue(Add(MulScalar(runningMean.NodeValue(g), 1-momentum), MulScalar(StopGradient(mean), momentum)))
	runningVar.SetNodeValue(Add(MulScalar(runningVar.NodeValue(g), 1-momentum), MulScalar(unbiased, momentum)))
	counter := variable("num_batches_tracked")
	counter.SetNodeValue(Add(counter.NodeValue(g), ScalarOne(g, dtypes.Int64)))
}

// hostScaleShift returns the batch norm's inference scale and shift per channel, read from the store now.
func (bn BatchNorm) hostScaleShift(store *model.Store) (scale, shift []float64) {
	stats := map[string][]float32{}
	for _, s := range []string{"weight", "bias", "running_mean", "running_var"} {
		stats[s], _ = HostValue(store, bn.Name+"."+s)
	}
	scale, shift = make([]float64, len(stats["weight"])), make([]float64, len(stats["weight"]))
	for c := range scale {
		scale[c] = float64(stats["weight"][c]) / math.Sqrt(float64(stats["running_var"][c])+bn.eps())
		shift[c] = float64(stats["bias"][c]) - float64(stats["running_mean"][c])*scale[c]
	}
	return scale, shift
}

// ConvBN is a convolution without bias and its batch norm (torch's Conv2d and BatchNorm2d), by their
// state_dict names; an activation after them is the caller's.
type ConvBN struct {
	Conv string // The convolution's name: its kernel is Conv+".weight".
	BN   BatchNorm
	// Stride and Pad are the convolution's (symmetric zero padding).
	Stride, Pad int
	// Groups splits the channels into this many groups convolved apart (torch's groups): 0 or 1 for a
	// plain convolution, the channels' count for a depthwise one.
	Groups int
	// Input says that its input is the network's (the images): a backward pass takes its kernel's
	// gradient only.
	Input bool
}

// groups returns the convolution's channel groups, 1 for a plain convolution.
func (c ConvBN) groups() int { return max(c.Groups, 1) }

// Params lists the convolution's kernel (in -> out channels, k x k) and its batch norm's parameters.
func (c ConvBN) Params(in, out, k, group int) []Param {
	return append([]Param{{Name: c.Conv + ".weight", TorchShape: []int{out, in / c.groups(), k, k}, Layout: ConvKernel, Trainable: true, Group: group}},
		c.BN.Params(out, group)...)
}

// Apply computes the convolution and batch norm of x [B, H, W, Cin] in opts' compute dtype. In inference
// mode the norm's scale is folded into the kernel (one small multiplication instead of one over the
// whole output).
func (c ConvBN) Apply(store *model.Store, x *Node, opts Options) *Node {
	g := x.Graph()
	dtype := opts.ComputeDType()
	grads := NoGrads
	switch {
	case opts.Backward && c.Input: // The images need no gradient.
		grads = KernelGrads
	case opts.Backward:
		grads = AllGrads
	}
	kernel := Value(store, g, c.Conv+".weight")
	if opts.Train {
		return c.BN.in(opts).Train(store, Conv2D(x, ConvertDType(kernel, dtype), c.Stride, c.Pad, opts.Conv, grads))
	}
	scale, shift := c.BN.scaleShift(g, store)
	channels := scale.Shape().Dimensions[0]
	kernel = Mul(kernel, Reshape(scale, 1, 1, 1, channels))
	y := Conv2D(x, ConvertDType(kernel, dtype), c.Stride, c.Pad, opts.Conv, grads)
	return Add(y, ConvertDType(Reshape(shift, 1, 1, 1, channels), dtype))
}

// channelsFirst is the convolution layout of folded graphs: images [B, C, H, W] and kernels
// [Cout, Cin, kh, kw], torch's and ONNX's.
var channelsFirst = compute.ConvolveAxesConfig{
	InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
	KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
	OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3},
}

// Folded computes the convolution and batch norm of x [B, Cin, H, W] (channels first) in inference mode,
// the norm folded on the host into a constant kernel in torch's [Cout, Cin, kh, kw] layout and a bias:
// kernel * gamma / sqrt(var + eps) per output channel, and beta - mean * gamma / sqrt(var + eps).
func (c ConvBN) Folded(store *model.Store, x *Node) *Node {
	g := x.Graph()
	kernel, dims := HostValue(store, c.Conv+".weight") // [kh, kw, Cin/groups, Cout]
	scale, shift := c.BN.hostScaleShift(store)
	kh, kw, cin, cout := dims[0], dims[1], dims[2], dims[3]
	folded := make([]float32, len(kernel))
	bias := make([]float32, cout)
	for o := range cout {
		bias[o] = float32(shift[o])
		for i := range cin {
			for y := range kh {
				for xx := range kw {
					folded[((o*cin+i)*kh+y)*kw+xx] = float32(float64(kernel[((y*kw+xx)*cin+i)*cout+o]) * scale[o])
				}
			}
		}
	}
	k := Const(g, tensors.FromFlatDataAndDimensions(folded, cout, cin, kh, kw))
	out := Convolve(x, k).AxesConfig(channelsFirst).ChannelGroupCount(c.groups()).Strides(c.Stride).
		PaddingPerDim([][2]int{{c.Pad, c.Pad}, {c.Pad, c.Pad}}).Done()
	return Add(out, Const(g, tensors.FromFlatDataAndDimensions(bias, 1, cout, 1, 1)))
}

// FoldedConvBias computes torch's Conv2d(bias=True) with the variables under name (1x1 or k x k, stride 1,
// no padding) of x [B, Cin, H, W] (channels first), its kernel put in the graph as a constant in torch's
// [Cout, Cin, kh, kw] layout, as in folded graphs: a squeeze-excitation's layers.
func FoldedConvBias(store *model.Store, name string, x *Node) *Node {
	g := x.Graph()
	kernel, dims := HostValue(store, name+".weight") // [kh, kw, Cin, Cout]
	kh, kw, cin, cout := dims[0], dims[1], dims[2], dims[3]
	oihw := make([]float32, len(kernel))
	for o := range cout {
		for i := range cin {
			for y := range kh {
				for xx := range kw {
					oihw[((o*cin+i)*kh+y)*kw+xx] = kernel[((y*kw+xx)*cin+i)*cout+o]
				}
			}
		}
	}
	k := Const(g, tensors.FromFlatDataAndDimensions(oihw, cout, cin, kh, kw))
	return Add(Convolve(x, k).AxesConfig(channelsFirst).Done(), ConstValue(g, store, name+".bias", 1, cout, 1, 1))
}
