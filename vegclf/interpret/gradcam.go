// Package interpret explains a classifier's decisions: Grad-CAM saliency maps of the last stage
// (Selvaraju et al.), the regions of an image that raise a class's score.
package interpret

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/nn"
)

// GradCAM computes Grad-CAM maps on a model's spatial map (a CNN's last stage).
type GradCAM struct {
	exec  *model.Exec
	model *nn.Model
}

// NewGradCAM prepares Grad-CAM for the model whose variables are in store (inference mode).
func NewGradCAM(b compute.Backend, m *nn.Model, store *model.Store) (*GradCAM, error) {
	exec, err := model.NewExec(b, store, func(scope *model.Scope, images, classes *Node) *Node {
		features, maps := m.FeaturesAndMap(scope.Store(), images, nn.Options{})
		logits := m.Classify(scope.Store(), features)
		score := ReduceAllSum(Mul(logits, OneHot(classes, m.Head.NumClasses, logits.DType())))
		grads := Gradient(score, maps)[0]
		weights := ReduceMean(grads, 1, 2) // [B, C]: how much each channel raises the score.
		cam := ReduceSum(Mul(maps, InsertAxes(weights, 1, 1)), -1)
		return Max(cam, ZerosLike(cam)) // [B, h, w]
	})
	if err != nil {
		return nil, err
	}
	return &GradCAM{exec: exec, model: m}, nil
}

// Maps returns, for each image [B,H,W,C] (C: the model's input channels) and the class to explain, its
// map [h][w] (the spatial map's resolution, H/32 for a ResNet), scaled to [0, 1] (all zero when nothing
// raises the class).
func (g *GradCAM) Maps(images *tensors.Tensor, classes []int32) ([][][]float32, error) {
	if n := images.Shape().Dimensions[0]; n != len(classes) {
		return nil, fmt.Errorf("grad-cam: %d images, %d classes", n, len(classes))
	}
	for _, c := range classes {
		if c < 0 || int(c) >= g.model.Head.NumClasses {
			return nil, fmt.Errorf("grad-cam: class %d out of range (%d classes)", c, g.model.Head.NumClasses)
		}
	}
	out, err := g.exec.Exec(images, tensors.FromValue(classes))
	if err != nil {
		return nil, fmt.Errorf("grad-cam: %w", err)
	}
	if out[0].DType() != dtypes.Float32 {
		return nil, fmt.Errorf("grad-cam: unexpected dtype %s", out[0].DType())
	}
	dims := out[0].Shape().Dimensions
	flat := tensors.MustCopyFlatData[float32](out[0])
	maps := make([][][]float32, dims[0])
	for i := range maps {
		cells := flat[i*dims[1]*dims[2] : (i+1)*dims[1]*dims[2]]
		var top float32
		for _, v := range cells {
			top = max(top, v)
		}
		maps[i] = make([][]float32, dims[1])
		for y := range maps[i] {
			maps[i][y] = make([]float32, dims[2])
			for x := range maps[i][y] {
				if top > 0 {
					maps[i][y][x] = cells[y*dims[2]+x] / top
				}
			}
		}
	}
	return maps, nil
}
