// Package imagenet holds the names of the 1000 ImageNet-1k classes, in the order of the classifiers'
// outputs (torchvision's _IMAGENET_CATEGORIES).
package imagenet

import (
	_ "embed"
	"strings"
)

//go:embed labels.txt
var labelsText string

// Labels returns the 1000 class names, index i being output i of an ImageNet classifier.
func Labels() []string {
	return strings.Split(strings.TrimSuffix(labelsText, "\n"), "\n")
}
