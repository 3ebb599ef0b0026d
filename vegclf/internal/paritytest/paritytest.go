// Package paritytest checks vegclf's architectures against torchvision's, which Debian's python3-torchvision
// runs beside the tests (internal/torchref): the logits of a model loaded from a torchvision state_dict in
// eval and train mode with the running statistics after the train-mode pass, and one training step's loss
// and gradients with the tutorial's head.
package paritytest

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/weights"
)

// RelErr is max|got-want| / max|want|: the error relative to the scale of the reference values.
func RelErr(got, want []float32) float64 {
	var maxDiff, maxRef float64
	for i := range want {
		maxDiff = max(maxDiff, math.Abs(float64(got[i]-want[i])))
		maxRef = max(maxRef, math.Abs(float64(want[i])))
	}
	if maxRef == 0 {
		return maxDiff
	}
	return maxDiff / maxRef
}

// Logits loads model_reference.py's torchvision model (random weights, batch norms that look trained)
// into m, built with nn.ImageNetHead, and compares its logits on the script's images in eval mode and in
// train mode (batch statistics, dropout and stochastic depth off), then the running statistics and
// counters after the train-mode pass (where the model has batch norms), within testenv.ParityBound.
func Logits(t *testing.T, m *nn.Model, conv nn.ConvImpl, batch, size int) {
	t.Helper()
	backend := testenv.Backend(t)
	bound := testenv.ParityBound(backend)
	dir := t.TempDir()
	testenv.RunPython(t, "model_reference.py", m.Name(), dir, strconv.Itoa(batch), strconv.Itoa(size), "1")
	store := model.NewStore()
	if _, err := weights.LoadFile(store, m, filepath.Join(dir, "weights.pth"), weights.KeepHead); err != nil {
		t.Fatal(err)
	}
	input := tensors.FromFlatDataAndDimensions(testenv.ReadFloat32s(t, filepath.Join(dir, "input.bin")), batch, size, size, 3)
	for _, train := range []bool{false, true} {
		exec := model.MustNewExec(backend, store, func(scope *model.Scope, x *Node) *Node {
			return m.Logits(scope.Store(), x, nn.Options{Train: train, Conv: conv})
		})
		got := tensors.MustCopyFlatData[float32](exec.MustCall(input)[0])
		ref := "eval.bin"
		if train {
			ref = "train.bin"
		}
		want := testenv.ReadFloat32s(t, filepath.Join(dir, ref))
		if e := RelErr(got, want); e > bound {
			t.Errorf("train=%v: logits relative error %.2e > %g", train, e, bound)
		} else {
			t.Logf("train=%v: logits relative error %.2e", train, e)
		}
	}
	after, err := weights.Read(filepath.Join(dir, "after_train.pth"))
	if err != nil {
		t.Fatal(err)
	}
	worst, counters, norms := 0.0, 0, 0
	for _, p := range m.Params() {
		if strings.HasSuffix(p.Name, ".running_var") {
			norms++
		}
		switch {
		case p.Layout == nn.Counter:
			got := tensors.ToScalar[int64](store.GetVariable(p.Path()).MustValue())
			if want := after.Tensors[p.Name].Int64[0]; got != want {
				t.Errorf("%s = %d, want %d", p.Name, got, want)
			}
			counters++
		case p.Layout == nn.Unchanged && !m.IsHead(p) && !p.Trainable:
			got := tensors.MustCopyFlatData[float32](store.GetVariable(p.Path()).MustValue())
			worst = max(worst, RelErr(got, after.Tensors[p.Name].Float32))
		}
	}
	if worst > bound || counters != norms {
		t.Errorf("running statistics relative error %.2e > %g (%d counters of %d batch norms)", worst, bound, counters, norms)
	}
}

// Gradients runs grad_reference.py (the tutorial's head in place of the module m's head replaces, train
// mode, dropout and stochastic depth off, computed in float64: the exact gradients), loads its initial
// state_dict into m, built with nn.TutorialHead(classes), and compares one training step's cross-entropy
// and the gradient of every parameter, within bound relative to each gradient's largest value.
func Gradients(t *testing.T, m *nn.Model, conv nn.ConvImpl, batch, size int, bound float64) {
	t.Helper()
	backend := testenv.Backend(t)
	dir := t.TempDir()
	classes := m.Head.NumClasses
	testenv.RunPython(t, "grad_reference.py", m.Name(), m.Backbone.HeadName(), dir, strconv.Itoa(classes), strconv.Itoa(batch), strconv.Itoa(size), "2")
	store := model.NewStore()
	if _, err := weights.LoadFile(store, m, filepath.Join(dir, "init.pth"), weights.KeepHead); err != nil {
		t.Fatal(err)
	}
	input := tensors.FromFlatDataAndDimensions(testenv.ReadFloat32s(t, filepath.Join(dir, "input.bin")), batch, size, size, 3)
	labels := tensors.FromFlatDataAndDimensions(testenv.ReadInt32s(t, filepath.Join(dir, "labels.bin")), batch)
	var params []nn.Param
	for _, p := range m.Params() {
		if p.Trainable {
			params = append(params, p)
		}
	}
	exec := model.MustNewExec(backend, store, func(scope *model.Scope, x, labels *Node) []*Node {
		logits := m.Logits(scope.Store(), x, nn.Options{Train: true, Backward: true, Conv: conv})
		targets := OneHot(labels, classes, dtypes.Float32)
		loss := ReduceAllMean(Neg(ReduceSum(Mul(targets, LogSoftmax(logits, -1)), -1)))
		vars := make([]*Node, len(params))
		for i, p := range params {
			vars[i] = nn.Value(scope.Store(), x.Graph(), p.Name)
		}
		return append([]*Node{loss}, Gradient(loss, vars...)...)
	})
	out := exec.MustCall(input, labels)
	var ref struct{ Loss float64 }
	raw, err := os.ReadFile(filepath.Join(dir, "loss.json"))
	if err != nil || json.Unmarshal(raw, &ref) != nil {
		t.Fatalf("reading the reference loss: %v", err)
	}
	loss := float64(tensors.ToScalar[float32](out[0]))
	if math.Abs(loss-ref.Loss) > bound*math.Max(1, math.Abs(ref.Loss)) {
		t.Errorf("loss %.7g, torch's %.7g", loss, ref.Loss)
	}
	grads, err := weights.Read(filepath.Join(dir, "grads.pth"))
	if err != nil {
		t.Fatal(err)
	}
	// Each gradient's error is relative to its largest value, or, for gradients that vanish but for
	// rounding (the bias of a batch norm whose output only a batch norm in train mode reads, which takes
	// every constant shift out), to a thousandth of the model's largest gradient.
	gots, wants := make([][]float32, len(params)), make([][]float32, len(params))
	largest := 0.0
	for i, p := range params {
		g, ok := grads.Tensors[p.Name]
		if !ok {
			t.Fatalf("no reference gradient for %s", p.Name)
		}
		want, err := weights.ToModelLayout(p, g)
		if err != nil {
			t.Fatal(err)
		}
		gots[i], wants[i] = tensors.MustCopyFlatData[float32](out[i+1]), tensors.MustCopyFlatData[float32](want)
		for _, v := range wants[i] {
			largest = max(largest, math.Abs(float64(v)))
		}
	}
	worst, worstName := 0.0, ""
	for i, p := range params {
		var diff, ref float64
		for j, w := range wants[i] {
			diff = max(diff, math.Abs(float64(gots[i][j]-w)))
			ref = max(ref, math.Abs(float64(w)))
		}
		if e := diff / max(ref, 1e-3*largest); e > worst {
			worst, worstName = e, p.Name
		}
	}
	t.Logf("loss %.7g (torch %.7g); %d gradients, worst relative error %.2e (%s)", loss, ref.Loss, len(params), worst, worstName)
	if worst > bound {
		t.Errorf("gradient of %s: relative error %.2e > %g", worstName, worst, bound)
	}
}

// BothConvs runs Logits (batch 2) and Gradients (batch 4, within bound) at size 64 for the model build
// makes with each head, as subtests named name/matmul/... and name/native/...: the Go backend's
// products and the backend's native convolutions (XLA's path).
func BothConvs(t *testing.T, name string, build func(nn.Head) *nn.Model, bound float64) {
	t.Helper()
	for _, conv := range []nn.ConvImpl{nn.ConvMatMul, nn.ConvNative} {
		sub := name + map[nn.ConvImpl]string{nn.ConvMatMul: "/matmul", nn.ConvNative: "/native"}[conv]
		t.Run(sub+"/logits", func(t *testing.T) { Logits(t, build(nn.ImageNetHead()), conv, 2, 64) })
		t.Run(sub+"/gradients", func(t *testing.T) { Gradients(t, build(nn.TutorialHead(5)), conv, 4, 64, bound) })
	}
}

// TrainedBatchNorms gives m's batch norms in store statistics and affine parameters far from their
// initial values, as trained ones are (weights and variances in [0.5, 1.5), biases and means in
// [-0.3, 0.3)), drawn from seed: folding them into convolutions is then tested. Then, for architectures
// with them, its other normalizations likewise: LayerNorms' affine parameters (a weight stored as it is in
// torch, not a batch norm's) and layer scales (in [2, 5), as the torch references set them), drawn after
// the batch norms' values, which do not change.
func TrainedBatchNorms(t *testing.T, m *nn.Model, store *model.Store, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 9))
	norms := map[string]bool{} // A batch norm is what has a num_batches_tracked counter.
	for _, p := range m.Params() {
		if p.Layout == nn.Counter {
			norms[strings.TrimSuffix(p.Name, ".num_batches_tracked")] = true
		}
	}
	for _, p := range m.Params() {
		dot := strings.LastIndex(p.Name, ".")
		if dot < 0 || !norms[p.Name[:dot]] || p.Layout == nn.Counter {
			continue
		}
		lo, hi := -0.3, 0.3
		if field := p.Name[dot+1:]; field == "weight" || field == "running_var" {
			lo, hi = 0.5, 1.5
		}
		if err := store.GetVariable(p.Path()).SetValue(nn.Fill(p.Shape().Dimensions, func() float32 { return float32(lo + (hi-lo)*rng.Float64()) })); err != nil {
			t.Fatal(err)
		}
	}
	layerNorms := map[string]bool{}
	for _, p := range m.Params() {
		if name, ok := strings.CutSuffix(p.Name, ".weight"); ok && p.Layout == nn.Unchanged && !norms[name] && !m.IsHead(p) {
			layerNorms[name] = true
		}
	}
	for _, p := range m.Params() {
		dot := strings.LastIndex(p.Name, ".")
		var lo, hi float64
		switch {
		case strings.HasSuffix(p.Name, ".layer_scale"):
			lo, hi = 2, 5
		case dot < 0 || !layerNorms[p.Name[:dot]]:
			continue
		case p.Name[dot+1:] == "weight":
			lo, hi = 0.5, 1.5
		default:
			lo, hi = -0.3, 0.3
		}
		if err := store.GetVariable(p.Path()).SetValue(nn.Fill(p.Shape().Dimensions, func() float32 { return float32(lo + (hi-lo)*rng.Float64()) })); err != nil {
			t.Fatal(err)
		}
	}
}

// Folded checks m's export graph (FoldedLogits: channels first, batch norms folded into constant kernels
// and biases) against its inference graph on random images (of the model's Channels), with trained-looking
// batch norms.
func Folded(t *testing.T, m *nn.Model, size int) {
	t.Helper()
	store := model.NewStore()
	if err := m.Init(store, 3, nil); err != nil {
		t.Fatal(err)
	}
	TrainedBatchNorms(t, m, store, 8)
	rng := rand.New(rand.NewPCG(8, 10))
	nchw := nn.Fill([]int{3, m.Channels(), size, size}, func() float32 { return float32(rng.NormFloat64()) })
	exec, err := model.NewExec(testenv.Backend(t), store, func(scope *model.Scope, x *Node) []*Node {
		return []*Node{m.FoldedLogits(scope.Store(), x), m.Logits(scope.Store(), TransposeAllAxes(x, 0, 2, 3, 1), nn.Options{})}
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(nchw)
	if err != nil {
		t.Fatal(err)
	}
	got, want := tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
	worst, largest := 0.0, 0.0
	for i := range want {
		worst = max(worst, math.Abs(float64(got[i]-want[i])))
		largest = max(largest, math.Abs(float64(want[i])))
	}
	t.Logf("logits differ by up to %.3g (largest %.3g)", worst, largest)
	if len(got) != 3*m.Head.NumClasses || worst > 1e-4*max(largest, 1) {
		t.Errorf("folded logits %v, the model's %v", got, want)
	}
}
