// Package resnet is torchvision's ResNet family (ResNet-18/34/50/101/152, v1.5: stride on the 3x3
// convolution) in GoMLX, numerically the same function as torchvision.models.resnetNN, with a replaceable
// classification head.
//
// Variables live in a model.Store under torchvision's state_dict names, with "/" for ".":
// "layer1.0.conv1.weight" is the variable "/layer1/0/conv1/weight". Convolution kernels are stored
// [kh, kw, in, out] and linear weights [in, out] (the layouts the graph uses); package weights converts
// from torch's [out, in, kh, kw] and [out, in].
package resnet

import (
	"fmt"
	"strings"
)

// BlockKind is the residual block a ResNet is made of.
type BlockKind int

const (
	// Basic is two 3x3 convolutions (ResNet-18 and -34).
	Basic BlockKind = iota
	// Bottleneck is 1x1, 3x3 (strided), 1x1 with 4x expansion (ResNet-50 and deeper).
	Bottleneck
)

// Arch describes one member of the family.
type Arch struct {
	Name   string
	Block  BlockKind
	Layers [4]int // Blocks in layer1..layer4.
}

// The torchvision architectures.
var (
	ResNet18  = Arch{Name: "resnet18", Block: Basic, Layers: [4]int{2, 2, 2, 2}}
	ResNet34  = Arch{Name: "resnet34", Block: Basic, Layers: [4]int{3, 4, 6, 3}}
	ResNet50  = Arch{Name: "resnet50", Block: Bottleneck, Layers: [4]int{3, 4, 6, 3}}
	ResNet101 = Arch{Name: "resnet101", Block: Bottleneck, Layers: [4]int{3, 4, 23, 3}}
	ResNet152 = Arch{Name: "resnet152", Block: Bottleneck, Layers: [4]int{3, 8, 36, 3}}
)

// Archs lists the known architectures.
var Archs = []Arch{ResNet18, ResNet34, ResNet50, ResNet101, ResNet152}

// ArchByName returns the architecture called name ("resnet50", ...).
func ArchByName(name string) (Arch, error) {
	var names []string
	for _, a := range Archs {
		if strings.EqualFold(a.Name, name) {
			return a, nil
		}
		names = append(names, a.Name)
	}
	return Arch{}, fmt.Errorf("unknown architecture %q (known: %s)", name, strings.Join(names, ", "))
}

// String returns the architecture's name.
func (a Arch) String() string { return a.Name }

// MarshalText writes the architecture as its name, as configurations (flags, JSON) hold it.
func (a Arch) MarshalText() ([]byte, error) { return []byte(a.Name), nil }

// UnmarshalText sets the architecture named by text (ArchByName).
func (a *Arch) UnmarshalText(text []byte) error {
	arch, err := ArchByName(string(text))
	if err != nil {
		return err
	}
	*a = arch
	return nil
}

// expansion is the ratio of a block's output channels to its width.
func (a Arch) expansion() int {
	if a.Block == Bottleneck {
		return 4
	}
	return 1
}

// FeatureDim is the size of the pooled backbone features (512 or 2048).
func (a Arch) FeatureDim() int {
	return 512 * a.expansion()
}

// Head is the classifier on top of the pooled features: Linear layers with ReLU between them.
// With no hidden layers it is torchvision's single "fc" Linear; with hidden layers it is the tutorial's
// nn.Sequential(Linear, ReLU, Linear, ...), whose state_dict names are fc.0, fc.2, ...
type Head struct {
	Hidden     []int
	NumClasses int
}

// ImageNetHead is torchvision's original classifier: one Linear to the 1000 ImageNet classes.
func ImageNetHead() Head { return Head{NumClasses: 1000} }

// TutorialHead is the tutorial's Linear(features, 128), ReLU, Linear(128, numClasses).
func TutorialHead(numClasses int) Head { return Head{Hidden: []int{128}, NumClasses: numClasses} }

// linearNames returns the state_dict prefixes of the head's Linear layers.
func (h Head) linearNames() []string {
	if len(h.Hidden) == 0 {
		return []string{"fc"}
	}
	names := make([]string, len(h.Hidden)+1)
	for i := range names {
		names[i] = fmt.Sprintf("fc.%d", 2*i) // Sequential indices: Linear at 0, 2, 4; ReLU between.
	}
	return names
}

// String describes the head as PyTorch modules.
func (h Head) String() string {
	var parts []string
	prev := -1
	for i, n := range append(append([]int{}, h.Hidden...), h.NumClasses) {
		if i > 0 {
			parts = append(parts, "ReLU")
		}
		if prev < 0 {
			parts = append(parts, fmt.Sprintf("Linear(in,%d)", n))
		} else {
			parts = append(parts, fmt.Sprintf("Linear(%d,%d)", prev, n))
		}
		prev = n
	}
	return strings.Join(parts, "-")
}
