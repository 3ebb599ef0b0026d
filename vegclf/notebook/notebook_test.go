package notebook

import (
	"slices"
	"testing"

	"github.com/vegclf/vegclf/vegclf/schedule"
	"github.com/vegclf/vegclf/vegclf/train"
)

// TestScheduleSeries checks the drawn schedule: one point per step of both phases, a mark where each
// starts, the frozen phase at its rate, and fine-tuning at the head's rate, which a learning-rate range
// sets to its HI.
func TestScheduleSeries(t *testing.T) {
	cfg := train.DefaultConfig()
	cfg.FrozenEpochs, cfg.FinetuneEpochs, cfg.LR, cfg.FinetuneLR = 2, 1, 1e-3, 1e-5
	x, rates, marks := scheduleSeries(cfg, 4)
	if len(x) != 12 || len(rates) != 12 || x[0] != 1 || x[11] != 12 || len(marks) != 2 || marks[1].X != 8.5 {
		t.Fatalf("%d points from %v to %v, marks %v", len(x), x[0], x[len(x)-1], marks)
	}
	if !slices.Equal(rates[:8], slices.Repeat([]float64{1e-3}, 8)) || !slices.Equal(rates[8:], slices.Repeat([]float64{1e-5}, 4)) {
		t.Errorf("constant rates %v", rates)
	}
	cfg.LRRange, cfg.Schedule = train.LRRange{Lo: 1e-6, Hi: 1e-4}, schedule.KindOneCycle
	_, rates, _ = scheduleSeries(cfg, 4)
	if top := slices.Max(rates[8:]); top > 1e-4*(1+1e-9) || top < 0.9e-4 {
		t.Errorf("fine-tuning with a range up to 1e-4 peaks at %g", top)
	}
	cfg.FinetuneEpochs = 0
	if x, _, marks := scheduleSeries(cfg, 4); len(x) != 8 || len(marks) != 1 {
		t.Errorf("no fine-tuning: %d points, marks %v", len(x), marks)
	}
}
