package recipe

// ClipMode says how ClipGrad clips the gradients: by their global norm (the zero value, "norm", torch's
// clip_grad_norm_) or each element by value ("value", torch's clip_grad_value_).
type ClipMode string

const (
	// ClipNorm scales every gradient by min(1, max/(total norm + 1e-6)), the total norm being the L2
	// norm of all the trainable parameters' gradients together: torch's clip_grad_norm_.
	ClipNorm ClipMode = ""
	// ClipValue clamps every gradient element to [-max, max]: torch's clip_grad_value_.
	ClipValue ClipMode = "value"
)

// String returns "norm" or "value".
func (m ClipMode) String() string {
	if m == ClipNorm {
		return "norm"
	}
	return string(m)
}

// MarshalText writes the mode (String).
func (m ClipMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads "norm" (or "") or "value".
func (m *ClipMode) UnmarshalText(text []byte) error {
	return setChoice(m, "clip mode", "norm", text, ClipValue)
}
