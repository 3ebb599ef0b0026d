package recipe

// InferenceBackend says where a run's passes without gradients run (the frozen backbone's feature pass,
// each epoch's test evaluation, the final validation): the zero value, "auto", picks the faster one.
type InferenceBackend string

const (
	// InferenceAuto runs a pass on ONNX Runtime when the run trains on the pure Go backend, ONNX Runtime is
	// installed, runs the architecture faster (zoo.Arch.FasterOnONNXRuntime) and the pass is long enough
	// for its faster inference to repay building its graph (which
	// holds the weights as constants, so it is built again whenever they have changed); on the training
	// backend otherwise (a run on XLA keeps XLA).
	InferenceAuto InferenceBackend = ""
	// InferenceONNX runs every such pass on ONNX Runtime, which must be installed.
	InferenceONNX InferenceBackend = "onnx"
	// InferenceTrain runs them on the training backend.
	InferenceTrain InferenceBackend = "train"
)

// String returns "auto", "onnx" or "train".
func (b InferenceBackend) String() string {
	if b == InferenceAuto {
		return "auto"
	}
	return string(b)
}

// MarshalText writes the choice (String).
func (b InferenceBackend) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText reads "auto" (or ""), "onnx" or "train".
func (b *InferenceBackend) UnmarshalText(text []byte) error {
	return setChoice(b, "inference backend", "auto", text, InferenceONNX, InferenceTrain)
}
