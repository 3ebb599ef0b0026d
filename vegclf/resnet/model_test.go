package resnet

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
)

// TestHeadKeepsNaN: a NaN in the head's first layer must reach the logits (and so the loss, which stops a
// run), as in torch; a ReLU that dropped it would hide a diverged head behind finite logits. The hidden
// layer's 10 values are a partial vector, where the Go backend's Max drops NaN.
func TestHeadKeepsNaN(t *testing.T) {
	m := New(ResNet18, nn.Head{Hidden: []int{10}, NumClasses: 3})
	store := model.NewStore()
	if err := m.Init(store, 1, nil); err != nil {
		t.Fatal(err)
	}
	w1 := store.GetVariable(nn.VariablePath(m.Head.LinearNames(m.Backbone.HeadName())[0] + ".weight"))
	value := tensors.MustCopyFlatData[float32](w1.MustValue())
	value[0] = float32(math.NaN())
	if err := w1.SetValue(tensors.FromFlatDataAndDimensions(value, w1.Shape().Dimensions...)); err != nil {
		t.Fatal(err)
	}
	exec, err := model.NewExec(testenv.Backend(t), store, func(scope *model.Scope, features *Node) *Node {
		return m.Classify(scope.Store(), features)
	})
	if err != nil {
		t.Fatal(err)
	}
	features := make([]float32, m.FeatureDim())
	for i := range features {
		features[i] = 1
	}
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(features, 1, m.FeatureDim()))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range tensors.MustCopyFlatData[float32](out[0]) {
		if !math.IsNaN(float64(v)) {
			t.Fatalf("logit %d = %v with a NaN first-layer weight, want NaN", i, v)
		}
	}
}
