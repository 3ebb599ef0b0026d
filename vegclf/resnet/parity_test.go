package resnet_test

import (
	"math"
	"path/filepath"
	"strconv"
	"testing"

	_ "github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/resnet"
	"github.com/vegclf/vegclf/vegclf/weights"
)

// relErr is max|got-want| / max|want|: the error relative to the scale of the reference values.
func relErr(got, want []float32) float64 {
	var maxDiff, maxRef float64
	for i := range want {
		maxDiff = max(maxDiff, math.Abs(float64(got[i]-want[i])))
		maxRef = max(maxRef, math.Abs(float64(want[i])))
	}
	return maxDiff / maxRef
}

// TestParityWithTorchvision loads a torchvision state_dict written by torch.save into the Go model and
// compares eval-mode logits, train-mode logits (batch statistics) and the running statistics after the
// train-mode pass with torchvision's, for both block kinds and both convolution implementations.
func TestParityWithTorchvision(t *testing.T) {
	if testing.Short() {
		t.Skip("full-model parity with torchvision: not in the -short loop")
	}
	backend := testenv.Backend(t)
	bound := testenv.ParityBound(backend)
	const batch, size = 2, 64
	for _, tc := range []struct {
		arch resnet.Arch
		conv nn.ConvImpl
	}{
		{resnet.ResNet18, nn.ConvMatMul},
		{resnet.ResNet18, nn.ConvNative},
		{resnet.ResNet50, nn.ConvMatMul},
		{resnet.ResNet50, nn.ConvNative}, // The path XLA runs (ConvAuto).
	} {
		name := tc.arch.Name() + map[nn.ConvImpl]string{nn.ConvMatMul: "/matmul", nn.ConvNative: "/native"}[tc.conv]
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			testenv.RunPython(t, "model_reference.py", tc.arch.Name(), dir, strconv.Itoa(batch), strconv.Itoa(size), "1")
			m := resnet.New(tc.arch, nn.ImageNetHead())
			store := model.NewStore()
			if _, err := weights.LoadFile(store, m, filepath.Join(dir, "weights.pth"), weights.KeepHead); err != nil {
				t.Fatal(err)
			}
			input := tensors.FromFlatDataAndDimensions(testenv.ReadFloat32s(t, filepath.Join(dir, "input.bin")), batch, size, size, 3)
			for _, train := range []bool{false, true} {
				exec := model.MustNewExec(backend, store, func(scope *model.Scope, x *Node) *Node {
					return m.Logits(scope.Store(), x, nn.Options{Train: train, Conv: tc.conv})
				})
				got := tensors.MustCopyFlatData[float32](exec.MustCall(input)[0])
				ref := "eval.bin"
				if train {
					ref = "train.bin"
				}
				want := testenv.ReadFloat32s(t, filepath.Join(dir, ref))
				if e := relErr(got, want); e > bound {
					t.Errorf("train=%v: logits relative error %.2e > %g", train, e, bound)
				} else {
					t.Logf("train=%v: logits relative error %.2e", train, e)
				}
			}
			// Running statistics after the train-mode pass.
			after, err := weights.Read(filepath.Join(dir, "after_train.pth"))
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for _, p := range m.Params() {
				if p.Layout != nn.Unchanged || m.IsHead(p) || p.Trainable {
					continue
				}
				got := tensors.MustCopyFlatData[float32](store.GetVariable(p.Path()).MustValue())
				worst = max(worst, relErr(got, after.Tensors[p.Name].Float32))
			}
			if worst > bound {
				t.Errorf("running statistics relative error %.2e > %g", worst, bound)
			}
			counter := tensors.ToScalar[int64](store.GetVariable("/bn1/num_batches_tracked").MustValue())
			if want := after.Tensors["bn1.num_batches_tracked"].Int64[0]; counter != want {
				t.Errorf("num_batches_tracked = %d, want %d", counter, want)
			}
		})
	}
}
