// Package schedule computes learning rates step by step: constant (the tutorial's), cosine annealing with
// a linear warmup (timm's default), and one-cycle (fastai's fine_tune and fit_one_cycle).
package schedule

import (
	"fmt"
	"math"
	"strings"
)

// Schedule gives the learning rate of step (0-based) of a phase of total steps.
type Schedule interface {
	Rate(step, total int64) float64
	String() string
}

// Constant is the same rate at every step.
type Constant struct{ LR float64 }

func (c Constant) Rate(int64, int64) float64 { return c.LR }
func (c Constant) String() string            { return fmt.Sprintf("constant %g", c.LR) }

// WarmupCosine rises linearly from 0 to LR over the first Warmup fraction of the steps, then follows a
// cosine from LR down to 0 at the last step.
type WarmupCosine struct {
	LR     float64
	Warmup float64 // Fraction of the steps, in [0, 1).
}

func (c WarmupCosine) Rate(step, total int64) float64 {
	warm := int64(math.Round(c.Warmup * float64(total)))
	if step < warm {
		return c.LR * float64(step+1) / float64(warm)
	}
	span := max(total-warm, 1)
	progress := float64(step-warm) / float64(span)
	return c.LR * 0.5 * (1 + math.Cos(math.Pi*progress))
}

func (c WarmupCosine) String() string {
	return fmt.Sprintf("cosine %g with %.0f%% linear warmup", c.LR, 100*c.Warmup)
}

// OneCycle is fastai's: a cosine from Max/Div up to Max over the first PctStart of the steps, then a
// cosine down to Max/FinalDiv.
type OneCycle struct {
	Max, PctStart, Div, FinalDiv float64
}

// NewOneCycle returns fastai's defaults around max: pct_start 0.25, div 25, div_final 1e5.
func NewOneCycle(max float64) OneCycle {
	return OneCycle{Max: max, PctStart: 0.25, Div: 25, FinalDiv: 1e5}
}

func (c OneCycle) Rate(step, total int64) float64 {
	cos := func(start, end, pct float64) float64 { return end + (start-end)/2*(1+math.Cos(math.Pi*pct)) }
	pos := float64(step) / float64(max(total-1, 1))
	if pos < c.PctStart {
		return cos(c.Max/c.Div, c.Max, pos/c.PctStart)
	}
	return cos(c.Max, c.Max/c.FinalDiv, (pos-c.PctStart)/(1-c.PctStart))
}

func (c OneCycle) String() string { return fmt.Sprintf("one-cycle up to %g", c.Max) }

// Exponential rises geometrically from Lo to Hi over the steps: the learning-rate finder's sweep.
type Exponential struct{ Lo, Hi float64 }

func (e Exponential) Rate(step, total int64) float64 {
	return e.Lo * math.Pow(e.Hi/e.Lo, float64(step)/float64(max(total-1, 1)))
}

func (e Exponential) String() string { return fmt.Sprintf("exponential %g to %g", e.Lo, e.Hi) }

// Kind is a schedule's shape as a configuration names it: KindConstant (the zero value), KindCosine or
// KindOneCycle. It is written and parsed as its name (flags, JSON).
type Kind int

// The kinds of schedule a configuration can name.
const (
	KindConstant Kind = iota // Constant: the tutorial's.
	KindCosine               // WarmupCosine: timm's default.
	KindOneCycle             // OneCycle: fastai's.
)

// kindNames are the kinds' names, in Kind order.
var kindNames = []string{"constant", "cosine", "onecycle"}

// String returns the kind's name: "constant", "cosine" or "onecycle".
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("Kind(%d)", int(k))
	}
	return kindNames[k]
}

// ParseKind returns the kind named name ("" is constant; "one-cycle" is onecycle).
func ParseKind(name string) (Kind, error) {
	switch n := strings.ToLower(strings.TrimSpace(name)); n {
	case "":
		return KindConstant, nil
	case "one-cycle":
		return KindOneCycle, nil
	default:
		for k, known := range kindNames {
			if n == known {
				return Kind(k), nil
			}
		}
	}
	return 0, fmt.Errorf("unknown learning-rate schedule %q (want %s)", name, strings.Join(kindNames, ", "))
}

// MarshalText writes the kind's name.
func (k Kind) MarshalText() ([]byte, error) {
	if k < 0 || int(k) >= len(kindNames) {
		return nil, fmt.Errorf("unknown learning-rate schedule %s", k)
	}
	return []byte(k.String()), nil
}

// UnmarshalText sets the kind named by text (ParseKind).
func (k *Kind) UnmarshalText(text []byte) error {
	parsed, err := ParseKind(string(text))
	if err != nil {
		return err
	}
	*k = parsed
	return nil
}

// CheckWarmup checks a cosine schedule's warmup fraction: in [0, 1).
func CheckWarmup(warmup float64) error {
	if warmup < 0 || warmup >= 1 {
		return fmt.Errorf("schedule: warmup fraction %g (want 0 to 1)", warmup)
	}
	return nil
}

// New returns the kind's schedule around lr; warmup, the cosine schedule's warmup fraction, is clamped
// into [0, 1) (CheckWarmup says whether it is).
func (k Kind) New(lr, warmup float64) Schedule {
	switch k {
	case KindCosine:
		return WarmupCosine{LR: lr, Warmup: min(max(warmup, 0), 0.99)}
	case KindOneCycle:
		return NewOneCycle(lr)
	}
	return Constant{lr}
}
