package step

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/predict"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/schedule"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// TestStepsMoveWeights takes three steps of each kind of training step on one batch and checks that every
// step moves every trainable parameter and nothing else, and that each step starts from the weights the
// step before left: the loss on the batch changes at every step and falls. (With GoMLX v0.28.6 and later,
// a graph not marked as training has its variables compiled in as constants on the Go backend: each step
// then computes from the initial weights, and its loss never changes.)
func TestStepsMoveWeights(t *testing.T) {
	const classes, size, batch = 3, 32, 4
	for _, tc := range []struct {
		name    string
		phase   runfolder.Phase
		bnTrain bool
		input   Input
		lr      float64
	}{
		{"frozen head on features", runfolder.Frozen, false, FromFeatures, 1e-3},
		{"frozen head on images", runfolder.Frozen, false, FromImages, 1e-3},
		{"fine-tuning, batch norm in train mode", runfolder.Finetune, true, FromImages, 1e-4},
		{"fine-tuning, batch norm in inference mode", runfolder.Finetune, false, FromImages, 1e-4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := zoo.MustNew("resnet18", nn.TutorialHead(classes))
			store := model.NewStore()
			if err := m.Init(store, 5, nil); err != nil {
				t.Fatal(err)
			}
			s, err := New(testenv.Backend(t), store, m, Config{Phase: tc.phase, Input: tc.input, BatchNormTrain: tc.bnTrain, Schedule: schedule.Constant{LR: tc.lr}})
			if err != nil {
				t.Fatal(err)
			}
			trainable := map[string]bool{}
			for v := range store.IterVariables() {
				if v.Trainable {
					trainable[v.Path()] = true
				}
			}
			if len(trainable) == 0 {
				t.Fatal("no trainable variable")
			}
			isModel := func(path string) bool { return !strings.HasPrefix(path, OptimizerPrefix) }
			before := testenv.FloatValues(t, store, isModel)
			var losses []float64
			inputs, labels := testenv.RandomBatch(1, batch, size, classes)
			if tc.input == FromFeatures {
				inputs = randomFeatures(1, batch, m.FeatureDim())
			}
			for step := range 3 {
				loss, _, err := s.Step(inputs, labels)
				if err != nil {
					t.Fatalf("step %d: %v", step+1, err)
				}
				losses = append(losses, loss)
				after := testenv.FloatValues(t, store, isModel)
				for path, was := range before {
					moved := !slices.Equal(was, after[path])
					if trainable[path] && !moved {
						t.Errorf("step %d left trainable %s where step %d had left it", step+1, path, step)
					}
					if !trainable[path] && moved && !(tc.bnTrain && isRunningStat(path)) {
						t.Errorf("step %d changed %s, which the phase does not train", step+1, path)
					}
				}
				before = after
			}
			if s.Steps != 3 {
				t.Errorf("Steps = %d, want 3", s.Steps)
			}
			// Each step's loss is that of the weights the step before left, on the same batch: it must
			// change at every step, and fall.
			if losses[0] == losses[1] || losses[1] == losses[2] || losses[2] >= losses[0] {
				t.Errorf("losses on one batch %v: the steps do not start from the weights the step before left", losses)
			}
		})
	}
}

// isRunningStat tells whether a store path holds a batch norm's running statistics, which batch norm in
// train mode updates without training them.
func isRunningStat(path string) bool {
	return strings.HasSuffix(path, "running_mean") || strings.HasSuffix(path, "running_var")
}

// randomFeatures returns pooled features [n,dim] of seeded non-negative noise (they follow a ReLU).
func randomFeatures(seed uint64, n, dim int) *tensors.Tensor {
	rng := rand.New(rand.NewPCG(seed, 1))
	f := make([]float32, n*dim)
	for i := range f {
		f[i] = float32(rng.ExpFloat64())
	}
	return tensors.FromFlatDataAndDimensions(f, n, dim)
}

// TestClassifierSeesNewWeights keeps one classifier across training steps, as a run keeps its classifier
// across epochs: after a step its probabilities must change and equal those of a classifier built anew
// (a graph that compiled the weights in as constants would go on answering with the first ones).
func TestClassifierSeesNewWeights(t *testing.T) {
	const classes, size = 3, 32
	b := testenv.Backend(t)
	m := zoo.MustNew("resnet18", nn.TutorialHead(classes))
	store := model.NewStore()
	if err := m.Init(store, 9, nil); err != nil {
		t.Fatal(err)
	}
	labels := []string{"a", "b", "c"}
	kept, err := predict.New(b, m, store, labels, data.Transform{})
	if err != nil {
		t.Fatal(err)
	}
	images, targets := testenv.RandomBatch(1, 4, size, classes)
	first, err := kept.LogProbabilities(images)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(b, store, m, Config{Phase: runfolder.Finetune, Input: FromImages, Schedule: schedule.Constant{LR: 1e-2}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Step(images, targets); err != nil {
		t.Fatal(err)
	}
	again, err := kept.LogProbabilities(images)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := predict.New(b, m, store, labels, data.Transform{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := fresh.LogProbabilities(images)
	if err != nil {
		t.Fatal(err)
	}
	if slices.EqualFunc(first, again, slices.Equal) {
		t.Fatal("the kept classifier answers as before the training step")
	}
	if !slices.EqualFunc(again, want, slices.Equal) {
		t.Errorf("the kept classifier gives %v, a new one %v", again, want)
	}
}

// rates is a schedule given step by step.
type rates []float64

func (r rates) Rate(step, _ int64) float64 { return r[step] }
func (r rates) String() string             { return "given rates" }

// TestScheduleDrivesUpdates checks that the schedule's rate reaches the Adam update: a step at rate 0
// leaves the head unchanged, a step at a positive rate changes it.
func TestScheduleDrivesUpdates(t *testing.T) {
	m := zoo.MustNew("resnet18", nn.TutorialHead(3))
	store := model.NewStore()
	if err := m.Init(store, 1, nil); err != nil {
		t.Fatal(err)
	}
	s, err := New(testenv.Backend(t), store, m, Config{Phase: runfolder.Frozen, Input: FromFeatures, Schedule: rates{0, 1e-2, 0}, TotalSteps: 3})
	if err != nil {
		t.Fatal(err)
	}
	values := make([]float32, 4*512)
	for i := range values {
		values[i] = float32(i%7) / 7
	}
	features := tensors.FromFlatDataAndDimensions(values, 4, 512)
	head := func() []float32 {
		return tensors.MustCopyFlatData[float32](store.GetVariable("/fc/2/bias").MustValue())
	}
	labels := []int32{0, 1, 2, 0}
	for step, wantChange := range []bool{false, true, false} {
		before := head()
		if got := s.LearningRate(); got != rates([]float64{0, 1e-2, 0})[step] {
			t.Errorf("step %d: learning rate %v", step, got)
		}
		if _, _, err := s.Step(features, labels); err != nil {
			t.Fatal(err)
		}
		changed := !slices.Equal(before, head())
		if changed != wantChange {
			t.Errorf("step %d: head changed = %v, want %v", step, changed, wantChange)
		}
	}
}

// TestSoftTargets checks a step on soft targets: its loss is the cross-entropy of the model's
// log-probabilities with the targets (hard labels are checked against torch by the parity test).
func TestSoftTargets(t *testing.T) {
	m := zoo.MustNew("resnet18", nn.TutorialHead(3))
	b := testenv.Backend(t)
	store := model.NewStore()
	if err := m.Init(store, 1, nil); err != nil {
		t.Fatal(err)
	}
	values := make([]float32, 4*512)
	for i := range values {
		values[i] = float32(i%11) / 5
	}
	features := tensors.FromFlatDataAndDimensions(values, 4, 512)
	labels := []int32{0, 1, 2, 0}
	soft := []float32{0.7, 0.3, 0, 0.2, 0.8, 0, 0, 0.4, 0.6, 1, 0, 0}

	exec, err := model.NewExec(b, store, func(scope *model.Scope, x *Node) *Node {
		return LogSoftmax(m.Classify(scope.Store(), x), -1)
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(features)
	if err != nil {
		t.Fatal(err)
	}
	logp := tensors.MustCopyFlatData[float32](out[0])
	var want float64
	for i, p := range soft {
		want -= float64(p) * float64(logp[i]) / 4
	}
	s, err := New(b, store, m, Config{Phase: runfolder.Frozen, Input: FromFeatures, Schedule: schedule.Constant{LR: 1e-3}})
	if err != nil {
		t.Fatal(err)
	}
	loss, _, err := s.StepSoft(features, tensors.FromFlatDataAndDimensions(soft, 4, 3), labels)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(loss-want) > 1e-5*math.Abs(want) {
		t.Errorf("soft-target loss %.7f, want %.7f", loss, want)
	}
}
