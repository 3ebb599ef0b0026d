package recipe

import (
	"fmt"
	"strings"
)

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
	switch strings.TrimSpace(string(text)) {
	case "", "norm":
		*m = ClipNorm
	case "value":
		*m = ClipValue
	default:
		return fmt.Errorf("clip mode %q: want norm or value", text)
	}
	return nil
}
