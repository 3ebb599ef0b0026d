package nn

import (
	"math"
	"os"
	"strconv"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
)

// GELU is torch's nn.GELU() in its exact form, 0.5 * x * (1 + erf(x / sqrt(2))), with torch's gradient.
// Where the backend has the fused activation and its gradient (the Go backend: one pass each, vectorized)
// they are used; elsewhere (XLA) the erf expression, which autodiff differentiates.
func GELU(x *Node) *Node {
	cfg := compute.ActivationConfig{Type: compute.ActivationGelu}
	ops := x.Graph().Backend().Capabilities().Operations
	if fusionOn() && ops[compute.OpTypeFusedActivation] && ops[compute.OpTypeFusedActivationVJP] {
		return BackendFusedActivation(x, cfg)
	}
	y, _ := InternalFusedOpCaller(func() *Node { return BackendFusedActivation(x, cfg) }, func() *Node { return erfGELU(x) }, true)
	return y
}

// fusionOn reports whether GoMLX may use fused operations (its GOMLX_FUSION setting, on by default).
func fusionOn() bool {
	v, ok := os.LookupEnv(FusionEnv)
	if !ok || v == "" {
		return true
	}
	on, err := strconv.ParseBool(v)
	return err != nil || on
}

// erfGELU is x * 0.5 * (1 + erf(x / sqrt(2))) as torch's CPU kernel computes it (x times 1/sqrt(2)).
func erfGELU(x *Node) *Node {
	return Mul(MulScalar(x, 0.5), AddScalar(Erf(MulScalar(x, 1/math.Sqrt2)), 1))
}

// PortableGELU is GELU made of ONNX operators every runtime has (Mul, Add, Erf): opset 17 has no Gelu
// (opset 20 added it), and the graphs exported to ONNX use this form.
func PortableGELU(x *Node) *Node { return erfGELU(x) }
