package train

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/nn"
)

// emaPrefix is the store scope of the averaged weights: "/ema" followed by each variable's path. They are
// saved in checkpoints, so a resumed run continues the same average.
const emaPrefix = "/ema"

// WeightAverage is an exponential moving average of a model's weights, batch-norm statistics included
// (timm's ModelEmaV2): after each update of the weights w, avg = decay·avg + (1-decay)·w.
type WeightAverage struct {
	Decay   float64
	vars    []*model.Variable // The model's float32 variables, weights and statistics.
	avgs    []*model.Variable // Their averages.
	b       compute.Backend
	store   *model.Store
	updates map[string]*model.Exec // By the set of variables a phase changes.
}

// NewWeightAverage finds (after a resume) or starts (equal to the current weights) the average of m's
// float32 variables in store.
func NewWeightAverage(b compute.Backend, store *model.Store, m *nn.Model, decay float64) (*WeightAverage, error) {
	if decay <= 0 || decay >= 1 {
		return nil, fmt.Errorf("weight average: decay %g, want between 0 and 1", decay)
	}
	a := &WeightAverage{Decay: decay, b: b, store: store, updates: map[string]*model.Exec{}}
	for _, p := range m.Params() {
		v := store.GetVariable(p.Path())
		if v == nil || v.DType() != dtypes.Float32 {
			continue // Counters.
		}
		avg := store.GetVariable(emaPrefix + p.Path())
		if avg == nil {
			value, err := v.Value()
			if err != nil {
				return nil, err
			}
			start, err := value.LocalClone()
			if err != nil {
				return nil, err
			}
			if avg, err = store.CreateVariable(emaPrefix+p.Path(), start); err != nil {
				return nil, fmt.Errorf("creating the weight average: %w", err)
			}
		} else if !avg.Shape().Equal(v.Shape()) {
			return nil, fmt.Errorf("weight average %s has shape %s, its variable %s", avg.Path(), avg.Shape(), v.Shape())
		}
		avg.SetTrainable(false)
		a.vars, a.avgs = append(a.vars, v), append(a.avgs, avg)
	}
	return a, nil
}

// Update moves the averages of the variables changing (by path; nil: all) towards their current values.
func (a *WeightAverage) Update(changing func(path string) bool) error {
	var key []byte
	var which []int
	for i, v := range a.vars {
		in := changing == nil || changing(v.Path())
		key = append(key, "01"[btoi(in)])
		if in {
			which = append(which, i)
		}
	}
	exec, ok := a.updates[string(key)]
	if !ok {
		var err error
		exec, err = model.NewExec(a.b, a.store, func(scope *model.Scope, decay *Node) *Node {
			g := decay.Graph()
			scope.Store().SetTraining(g, true)
			for _, i := range which {
				avg, v := a.avgs[i].NodeValue(g), a.vars[i].NodeValue(g)
				// avg + (1-decay)·(v - avg): exact when v == avg, as for the frozen weights.
				a.avgs[i].SetNodeValue(Add(avg, Mul(OneMinus(decay), Sub(v, avg))))
			}
			return decay
		})
		if err != nil {
			return err
		}
		a.updates[string(key)] = exec
	}
	_, err := exec.Exec(float32(a.Decay))
	return err
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Swap exchanges the weights and their averages in the store: the model then computes with the averages,
// until the next Swap.
func (a *WeightAverage) Swap() error {
	for i, v := range a.vars {
		value, err := v.Value()
		if err != nil {
			return err
		}
		avg, err := a.avgs[i].Value()
		if err != nil {
			return err
		}
		// Neither value is freed: each goes on in the other variable.
		if err := v.SetValuePreservingOld(avg); err != nil {
			return err
		}
		if err := a.avgs[i].SetValuePreservingOld(value); err != nil {
			return err
		}
	}
	return nil
}
