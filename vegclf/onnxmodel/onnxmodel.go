// Package onnxmodel writes a trained classifier as an ONNX model that any ONNX runtime runs: input
// "pixel_values" float32 [batch, 3, H, W] (C for a model of C channels) normalized as the model was trained (the convention of torch.onnx
// exports of torchvision models and of Hugging Face image classifiers), output "logits" [batch, classes],
// a dynamic batch axis, native Conv nodes with the batch norms folded into them, and the classes, image
// size and normalization in the model's metadata_props. It compiles the graph with ONNX Runtime (through
// github.com/gomlx/compute-onnx), whose shared library it finds with backend.ONNXRuntime.
package onnxmodel

import (
	"encoding/json"
	"strconv"

	"github.com/vegclf/vegclf/vegclf/data"
)

// Metadata is what an exported model says about itself in its metadata_props, each value a string: the
// class names in order (a JSON list), the image size, and the normalization's name, mean and std.
type Metadata struct {
	Classes       []string
	ImageSize     int
	Normalization data.Normalization
	Source        string // Where the model came from (a run folder); optional.
	// MultiLabel says the logits are independent sigmoids' (several classes per image), not a softmax's;
	// Thresholds are then each class's probability above which it is the class (optional).
	MultiLabel bool
	Thresholds []float64
	// Channels is the input's channels when not 3 (grayscale: 1); the mean and std written are then one
	// per channel (data.Normalization.Channel).
	Channels int
}

// props returns the metadata as metadata_props entries, in a fixed order.
func (m Metadata) props() [][2]string {
	classes, _ := json.Marshal(m.Classes)
	mean, _ := json.Marshal(m.Normalization.Mean)
	std, _ := json.Marshal(m.Normalization.Std)
	layout := "NCHW, RGB in [0, 1] then (x - mean) / std"
	if c := m.Channels; c != 0 && c != 3 {
		means, stds := make([]float32, c), make([]float32, c)
		for k := range c {
			means[k], stds[k] = m.Normalization.Channel(k, c)
		}
		mean, _ = json.Marshal(means)
		std, _ = json.Marshal(stds)
		layout = map[int]string{1: "NCHW, 1 channel: luminance", 2: "NCHW, 2 channels: luminance, alpha", 4: "NCHW, 4 channels: R, G, B, alpha (or a fourth band)"}[c] +
			" in [0, 1] then (x - mean) / std"
	}
	props := [][2]string{
		{"classes", string(classes)},
		{"image_size", strconv.Itoa(m.ImageSize)},
		{"normalization", m.Normalization.Name},
		{"normalization_mean", string(mean)},
		{"normalization_std", string(std)},
		{"input_layout", layout},
		{"producer", "vegclf"},
	}
	if m.MultiLabel {
		props = append(props, [2]string{"multi_label", "true"},
			[2]string{"output_activation", "sigmoid: each class's probability is sigmoid(logit), independently of the others (several classes per image)"})
		if m.Thresholds != nil {
			thresholds, _ := json.Marshal(m.Thresholds)
			props = append(props, [2]string{"thresholds", string(thresholds)})
		}
	}
	if m.Source != "" {
		props = append(props, [2]string{"source", m.Source})
	}
	return props
}
