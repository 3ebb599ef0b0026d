package weights

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
)

// TorchCheckpoint is what a torch.save file holds: a model's state_dict and, in a training checkpoint
// such as the PyTorch tutorial's ({'model': ..., 'optimizer': ..., 'epoch': i}), its optimizer's state.
type TorchCheckpoint struct {
	Model *StateDict
	// Prefix is the prefix every name had in the file and that Model's names lack: "resnet." (the
	// tutorial's VegetableResnet), "module." (DataParallel), "model." (Lightning); "" for none.
	Prefix string
	// Adam is the state of a torch.optim.Adam with torch's default hyperparameters, when the file has
	// one; nil otherwise, with AdamNote saying why when the file has an optimizer.
	Adam     *AdamState
	AdamNote string
}

// AdamState is torch.optim.Adam's state: each parameter's moments, by the parameter's name in Model,
// the steps taken, and the learning rate.
type AdamState struct {
	Step             int64
	LR               float64
	ExpAvg, ExpAvgSq map[string]*Tensor
}

// stateDictKeys are the keys under which checkpoints keep the model's state_dict.
var stateDictKeys = []string{"state_dict", "model", "model_state_dict"}

// stripPrefixes are the prefixes wrappers add to a model's names.
var stripPrefixes = []string{"resnet.", "module.", "model."}

// ReadTorchCheckpoint reads a torch.save file holding a state_dict, directly or under one of
// stateDictKeys, with a common prefix (stripPrefixes) removed from its names, and the optimizer's state
// under "optimizer" or "optimizer_state_dict" when it is Adam's (see AdamState).
func ReadTorchCheckpoint(path string) (*TorchCheckpoint, error) {
	entries, err := readTorchFile(path)
	if err != nil {
		return nil, err
	}
	top := entries
	for _, key := range stateDictKeys {
		if inner, ok := lookup(top, key); ok {
			if innerEntries, err := dictEntries(inner); err == nil {
				entries = innerEntries
			}
		}
	}
	sd, err := stateDict(path, entries)
	if err != nil {
		return nil, err
	}
	ckpt := &TorchCheckpoint{Model: sd}
	ckpt.Prefix = commonPrefix(sd.Names)
	if ckpt.Prefix != "" {
		stripped := NewStateDict(path)
		for _, name := range sd.Names {
			stripped.Add(strings.TrimPrefix(name, ckpt.Prefix), sd.Tensors[name])
		}
		ckpt.Model = stripped
	}
	for _, key := range []string{"optimizer", "optimizer_state_dict"} {
		if opt, ok := lookup(top, key); ok {
			ckpt.Adam, ckpt.AdamNote = readAdam(path, opt, ckpt.Model)
		}
	}
	return ckpt, nil
}

// commonPrefix returns the prefix of stripPrefixes that every name has, or "".
func commonPrefix(names []string) string {
	for _, p := range stripPrefixes {
		all := true
		for _, n := range names {
			all = all && strings.HasPrefix(n, p)
		}
		if all {
			return p
		}
	}
	return ""
}

// isBuffer tells whether a state_dict name is a buffer (batch norm's statistics and counter), which
// model.parameters(), and so an optimizer, leaves out.
func isBuffer(name string) bool {
	return strings.HasSuffix(name, ".running_mean") || strings.HasSuffix(name, ".running_var") || strings.HasSuffix(name, ".num_batches_tracked")
}

// readAdam reads an optimizer's state_dict ({'state': {i: {...}}, 'param_groups': [{...}]}) as Adam's,
// parameter i being the i-th non-buffer tensor of sd (model.parameters()' order). It returns nil and why
// when the state is not that of an Adam with torch's defaults over every parameter.
func readAdam(path string, obj any, sd *StateDict) (*AdamState, string) {
	entries, err := dictEntries(obj)
	if err != nil {
		return nil, "the optimizer entry is not an optimizer's state_dict"
	}
	var params []string
	for _, n := range sd.Names {
		if !isBuffer(n) {
			params = append(params, n)
		}
	}
	groupsObj, _ := lookup(entries, "param_groups")
	groups, ok := groupsObj.(*types.List)
	if !ok || groups.Len() != 1 {
		return nil, "the optimizer does not have one parameter group"
	}
	group, err := dictEntries(groups.Get(0))
	if err != nil {
		return nil, "the optimizer's parameter group is not a dict"
	}
	adam := &AdamState{ExpAvg: map[string]*Tensor{}, ExpAvgSq: map[string]*Tensor{}}
	lr, ok := number(group, "lr")
	eps, _ := number(group, "eps")
	decay, _ := number(group, "weight_decay")
	betas, _ := lookup(group, "betas")
	amsgrad, _ := lookup(group, "amsgrad")
	b, isTuple := betas.(*types.Tuple)
	if !ok || !isTuple || b.Len() != 2 || toFloat(b.Get(0)) != 0.9 || toFloat(b.Get(1)) != 0.999 || eps != 1e-8 || decay != 0 || amsgrad == true {
		return nil, "the optimizer is not an Adam with torch's defaults (betas 0.9, 0.999, eps 1e-8, no weight decay, no amsgrad)"
	}
	adam.LR = lr
	stateObj, _ := lookup(entries, "state")
	state, err := dictEntries(stateObj)
	if err != nil {
		return nil, "the optimizer has no state"
	}
	if len(state) != len(params) {
		return nil, fmt.Sprintf("the optimizer's state covers %d of the model's %d parameters (a frozen-phase optimizer): "+
			"fine-tuning starts a fresh Adam, as the tutorial does", len(state), len(params))
	}
	for _, e := range state {
		i, ok := e.key.(int)
		if !ok || i < 0 || i >= len(params) {
			return nil, fmt.Sprintf("the optimizer's state has a parameter index %v outside the model's %d", e.key, len(params))
		}
		fields, err := dictEntries(e.value)
		if err != nil {
			return nil, "the optimizer's state is not Adam's"
		}
		step, okStep := lookup(fields, "step")
		m, okM := lookup(fields, "exp_avg")
		v, okV := lookup(fields, "exp_avg_sq")
		if !okStep || !okM || !okV || len(fields) != 3 {
			return nil, "the optimizer's state is not Adam's (step, exp_avg, exp_avg_sq)"
		}
		name := params[i]
		for _, moment := range []struct {
			value any
			into  map[string]*Tensor
		}{{m, adam.ExpAvg}, {v, adam.ExpAvgSq}} {
			pt, ok := moment.value.(*pytorch.Tensor)
			if !ok {
				return nil, fmt.Sprintf("the optimizer's moment of %s is not a tensor", name)
			}
			t, err := contiguous(pt)
			if err != nil || t.Float32 == nil || !slices.Equal(t.Shape, sd.Tensors[name].Shape) {
				return nil, fmt.Sprintf("the optimizer's moment of %s does not have its parameter's shape %v", name, sd.Tensors[name].Shape)
			}
			moment.into[name] = t
		}
		s := int64(toFloat(step))
		if pt, ok := step.(*pytorch.Tensor); ok {
			if t, err := contiguous(pt); err == nil && t.Len() == 1 {
				if t.Float32 != nil {
					s = int64(t.Float32[0])
				} else {
					s = t.Int64[0]
				}
			}
		}
		if adam.Step != 0 && s != adam.Step {
			return nil, "the optimizer's parameters have taken different numbers of steps"
		}
		adam.Step = s
	}
	return adam, ""
}

// number returns a dict entry's numeric value.
func number(entries []entry, key string) (float64, bool) {
	v, ok := lookup(entries, key)
	if !ok {
		return 0, false
	}
	switch v.(type) {
	case int, float64, bool:
		return toFloat(v), true
	}
	return 0, false
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case float64:
		return x
	case bool:
		if x {
			return 1
		}
	}
	return 0
}
