package nn

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
)

// TestStochasticDepth: in training with a random state, each sample (the batch axis of channels-first x
// [C, B, H, W]) is zeroed whole with probability p or scaled whole by 1/(1-p), about p of them zeroed; it
// is the identity without a random state or out of training.
func TestStochasticDepth(t *testing.T) {
	const c, batch, p = 3, 4000, 0.3
	x := Fill([]int{c, batch, 2, 2}, func() float32 { return 1 })
	state, err := RNGStateFromSeed(7)
	if err != nil {
		t.Fatal(err)
	}
	out := MustNewExec(testenv.Backend(t), func(x, rng *Node) []*Node {
		return []*Node{
			StochasticDepth(x, p, 1, &Options{Train: true, RNG: rng}),
			StochasticDepth(x, p, 1, &Options{Train: true}),
			StochasticDepth(x, p, 1, &Options{RNG: rng}),
		}
	}).MustCall(x, state)
	dropped := tensors.MustCopyFlatData[float32](out[0])
	zeroed := 0
	for b := range batch {
		first := dropped[b*4]
		if first != 0 && math.Abs(float64(first)-1/(1-p)) > 1e-6 {
			t.Fatalf("sample %d scaled by %g, want 0 or %g", b, first, 1/(1-p))
		}
		for ch := range c {
			for i := range 4 {
				if v := dropped[(ch*batch+b)*4+i]; v != first {
					t.Fatalf("sample %d: channel %d value %d is %g, its first %g: not dropped whole", b, ch, i, v, first)
				}
			}
		}
		if first == 0 {
			zeroed++
		}
	}
	if frac := float64(zeroed) / batch; math.Abs(frac-p) > 0.03 {
		t.Errorf("%.3f of the samples dropped, want about %g", frac, p)
	}
	for _, o := range out[1:] {
		for _, v := range tensors.MustCopyFlatData[float32](o) {
			if v != 1 {
				t.Fatalf("without a random state or out of training: %g, want the identity", v)
			}
		}
	}
}
