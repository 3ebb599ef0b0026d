package weights

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/nn"
)

// HeadPolicy says what Load does with the file's classifier: the tensors of the module the model's head
// replaces (Backbone.HeadName: "fc.*" for a ResNet).
type HeadPolicy int

const (
	// DropHead ignores the file's classifier: the model's head keeps its own (fresh) values. This is
	// transfer learning's case: ImageNet's 1000-class fc is replaced by a new head.
	DropHead HeadPolicy = iota
	// KeepHead loads the classifier too; the model's head must match the file's (ImageNetHead for
	// ImageNet weights).
	KeepHead
)

// Report says what Load did.
type Report struct {
	Loaded  int      // Tensors set in the model.
	Dropped []string // File tensors ignored by DropHead.
	Zeroed  []string // num_batches_tracked counters absent from the file (timm files omit them), set to 0.
	// Adapted names the RGB stem adapted to the model's other channel count (AdaptInputConv), if it was.
	Adapted string
}

// LoadFile reads the weights file at path (see Read) and loads it into store (see Load).
func LoadFile(store *model.Store, m *nn.Model, path string, head HeadPolicy) (*Report, error) {
	sd, err := Read(path)
	if err != nil {
		return nil, err
	}
	return Load(store, m, sd, head)
}

// Load sets the variables of m in store from sd. Every parameter of the model must be in the file with
// its torch shape, and every tensor of the file must belong to the model (or to the head DropHead
// drops): anything missing, extra or misshaped is an error that names it. Nothing is changed in the store
// unless the whole file fits.
func Load(store *model.Store, m *nn.Model, sd *StateDict, head HeadPolicy) (*Report, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("loading weights %s into %s: %s", sd.Path, m, fmt.Sprintf(format, args...))
	}
	report := &Report{}
	params := m.Params()
	headName := m.Backbone.HeadName()
	known := map[string]bool{}
	var missing []string
	for _, p := range params {
		known[p.Name] = true
		_, inFile := sd.Tensors[p.Name]
		if !inFile && !(head == DropHead && m.IsHead(p)) && p.Layout != nn.Counter {
			missing = append(missing, p.Name)
		}
	}
	var extra []string
	for _, name := range sd.Names {
		switch {
		case head == DropHead && (name == headName || strings.HasPrefix(name, headName+".")):
			report.Dropped = append(report.Dropped, name)
		case !known[name]:
			extra = append(extra, name)
		}
	}
	// Names first: weights of another architecture show up as missing and extra tensors.
	if len(missing) > 0 {
		return nil, fail("%d tensors missing from the file, e.g. %s (is it weights for another architecture?)",
			len(missing), quoteFirst(missing, 5))
	}
	if len(extra) > 0 {
		return nil, fail("%d tensors in the file are not in the model, e.g. %s (is it weights for another architecture?)",
			len(extra), quoteFirst(extra, 5))
	}
	values := make([]*tensors.Tensor, len(params))
	stem := m.StemName()
	for i, p := range params {
		if head == DropHead && m.IsHead(p) {
			continue
		}
		t, ok := sd.Tensors[p.Name]
		if !ok { // A counter absent from a timm file.
			report.Zeroed = append(report.Zeroed, p.Name)
			values[i] = tensors.FromScalar(int64(0))
			continue
		}
		if c := m.Channels(); p.Name == stem && c != 3 && len(t.Shape) == 4 && t.Shape[1] == 3 && slices.Equal(t.Shape, []int{p.TorchShape[0], 3, p.TorchShape[2], p.TorchShape[3]}) {
			t = AdaptInputConv(t, c)
			report.Adapted = p.Name
		}
		if !slices.Equal(t.Shape, p.TorchShape) {
			hint := ""
			if m.IsHead(p) {
				hint = " (a classifier for another number of classes: drop the head or build the model with a matching one)"
			}
			return nil, fail("tensor %q has shape %v, the model needs %v%s", p.Name, t.Shape, p.TorchShape, hint)
		}
		v, err := ToModelLayout(p, t)
		if err != nil {
			return nil, fail("%v", err)
		}
		values[i] = v
	}
	for i, p := range params {
		if values[i] == nil {
			continue
		}
		if err := nn.SetVariable(store, p, values[i]); err != nil {
			return nil, fail("%v", err)
		}
		report.Loaded++
	}
	return report, nil
}

// AdaptInputConv returns an RGB stem's kernel t, torch [O, 3, kh, kw], adapted to images of c channels as
// timm's adapt_input_conv (timm/models/_manipulate.py) does for pretrained weights: for one channel, the
// sum over the RGB axis (a gray image's response equals its RGB copy's); for more (or 2), the RGB kernels
// repeated ceil(c/3) times along the input axis, the first c kept, and multiplied by 3/c (the response's
// scale kept). Three channels return t.
func AdaptInputConv(t *Tensor, c int) *Tensor {
	if c == 3 {
		return t
	}
	o, in, kh, kw := t.Shape[0], t.Shape[1], t.Shape[2], t.Shape[3]
	taps := kh * kw
	out := &Tensor{Shape: []int{o, c, kh, kw}, Float32: make([]float32, o*c*taps)}
	for oc := range o {
		src := t.Float32[oc*in*taps : (oc+1)*in*taps]
		dst := out.Float32[oc*c*taps : (oc+1)*c*taps]
		if c == 1 {
			// Summed in float32, in channel order, as torch's sum(dim=1) over three values is.
			for k := range taps {
				dst[k] = src[k] + src[taps+k] + src[2*taps+k]
			}
			continue
		}
		scale := float32(3 / float64(c))
		for ch := range c {
			for k := range taps {
				dst[ch*taps+k] = src[(ch%in)*taps+k] * scale
			}
		}
	}
	return out
}

func quoteFirst(names []string, n int) string {
	var q []string
	for _, name := range names[:min(n, len(names))] {
		q = append(q, fmt.Sprintf("%q", name))
	}
	s := strings.Join(q, ", ")
	if len(names) > n {
		s += ", ..."
	}
	return s
}

// ToModelLayout converts a torch-layout tensor of parameter p (or of a tensor shaped like it, such as its
// optimizer moments) to the model's layout.
func ToModelLayout(p nn.Param, t *Tensor) (*tensors.Tensor, error) {
	if p.Layout == nn.Counter {
		if t.Int64 == nil || len(t.Int64) != 1 {
			return nil, fmt.Errorf("tensor %q should be an integer scalar", p.Name)
		}
		return tensors.FromScalar(t.Int64[0]), nil
	}
	if t.Float32 == nil {
		return nil, fmt.Errorf("tensor %q should be floating point, the file has integers", p.Name)
	}
	dims := p.Shape().Dimensions
	switch p.Layout {
	case nn.ConvKernel:
		return tensors.FromFlatDataAndDimensions(permute(t.Float32, t.Shape, []int{2, 3, 1, 0}), dims...), nil
	case nn.LinearWeight:
		return tensors.FromFlatDataAndDimensions(permute(t.Float32, t.Shape, []int{1, 0}), dims...), nil
	}
	return tensors.FromFlatDataAndDimensions(slices.Clone(t.Float32), dims...), nil
}

// permute transposes row-major data of the given shape so that output axis i is input axis perm[i].
func permute(data []float32, shape, perm []int) []float32 {
	rank := len(shape)
	inStrides := make([]int, rank)
	s := 1
	for i := rank - 1; i >= 0; i-- {
		inStrides[i] = s
		s *= shape[i]
	}
	outShape := make([]int, rank)
	for i, p := range perm {
		outShape[i] = shape[p]
	}
	out := make([]float32, len(data))
	idx := make([]int, rank)
	for o := range out {
		in := 0
		for i, v := range idx {
			in += v * inStrides[perm[i]]
		}
		out[o] = data[in]
		for d := rank - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < outShape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out
}

// inversePermutation returns q such that permuting by perm then q is the identity.
func inversePermutation(perm []int) []int {
	q := make([]int, len(perm))
	for i, p := range perm {
		q[p] = i
	}
	return q
}

// FromStore returns the model's variables as a torch-layout state_dict (torchvision's names and shapes),
// for export to safetensors.
func FromStore(store *model.Store, m *nn.Model) (*StateDict, error) {
	sd := NewStateDict("")
	for _, p := range m.Params() {
		v := store.GetVariable(p.Path())
		if v == nil {
			return nil, fmt.Errorf("exporting %s: variable %q is missing", m, p.Name)
		}
		value, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("exporting %s: %q: %w", m, p.Name, err)
		}
		t := &Tensor{Shape: slices.Clone(p.TorchShape)}
		if p.Layout == nn.Counter {
			t.Int64 = []int64{tensors.ToScalar[int64](value)}
		} else {
			flat := tensors.MustCopyFlatData[float32](value)
			switch p.Layout {
			case nn.ConvKernel:
				flat = permute(flat, value.Shape().Dimensions, inversePermutation([]int{2, 3, 1, 0}))
			case nn.LinearWeight:
				flat = permute(flat, value.Shape().Dimensions, []int{1, 0})
			}
			t.Float32 = flat
		}
		if err := sd.Add(p.Name, t); err != nil {
			return nil, err
		}
	}
	return sd, nil
}
