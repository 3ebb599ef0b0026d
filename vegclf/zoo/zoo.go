// Package zoo is vegclf's registry of architectures, as timm's create_model and list_models are: one
// table mapping each architecture's name (the --arch setting) to its implementation, its native image size
// and its published ImageNet weights, with the preprocessing each is evaluated with. It is the one package
// that names the architectures' packages; everything else builds models through it.
package zoo

import (
	"encoding"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vegclf/vegclf/vegclf/convnext"
	"github.com/vegclf/vegclf/vegclf/efficientnet"
	"github.com/vegclf/vegclf/vegclf/mobilenet"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/resnet"
	"github.com/vegclf/vegclf/vegclf/vit"
	"github.com/vegclf/vegclf/vegclf/weights"
)

// Arch is a registered architecture.
type Arch struct {
	Name     string // The registry name: "resnet50".
	Family   string // "ResNet".
	Backbone nn.Backbone
	// ImageSize is the size its published weights were trained and are evaluated at.
	ImageSize int
	// Weights are its published ImageNet weights; the first is torchvision's DEFAULT.
	Weights []weights.Known
	// FasterOnONNXRuntime says ONNX Runtime runs its exported graph's inference faster than the pure Go
	// backend runs the model (a run's passes without gradients then take it): measured on a 2-core AMD
	// EPYC at 224, batch 16 (BENCHMARKS.md, every architecture side by side): ResNet-50 1.29x, MobileNetV3
	// 1.43-2.59x, EfficientNet-B0 2.47x; not ConvNeXt-Tiny (0.75x) nor ViT (0.64-0.67x).
	FasterOnONNXRuntime bool
}

// archs is the registry, in the order `vegclf weights list` and the notebooks show it.
var archs = []Arch{
	resNet(resnet.ResNet18, tv("resnet18", "V1", "f37072fd", 69.758, 256)),
	resNet(resnet.ResNet34, tv("resnet34", "V1", "b627a593", 73.314, 256)),
	resNet(resnet.ResNet50,
		named(tv("resnet50", "V2", "11ad3fa6", 80.858, 232), "torchvision-v2", "the tutorial's DEFAULT"),
		named(tv("resnet50", "V1", "0676ba61", 76.130, 256), "torchvision-v1", "the original paper's recipe"),
		timm("resnet50.tv2_in1k", "timm's copy of torchvision's IMAGENET1K_V2, as safetensors", 80.86, 232, "bilinear"),
		timm("resnet50.tv_in1k", "timm's copy of torchvision's IMAGENET1K_V1, as safetensors", 76.13, 256, "bilinear"),
		timm("resnet50.a1_in1k", "timm's ResNet Strikes Back A1 recipe", 81.22, 235, "bicubic")),
	resNet(resnet.ResNet101, tv("resnet101", "V2", "cd907fc2", 81.886, 232), tv("resnet101", "V1", "63fe2227", 77.374, 256)),
	resNet(resnet.ResNet152, tv("resnet152", "V2", "f82ba261", 82.284, 232), tv("resnet152", "V1", "394f9c45", 78.312, 256)),
	mobileNet(mobilenet.Large, tv("mobilenet_v3_large", "V2", "5c1a4163", 75.274, 232), tv("mobilenet_v3_large", "V1", "8738ca79", 74.042, 256)),
	mobileNet(mobilenet.Small, tv("mobilenet_v3_small", "V1", "047dcff4", 67.668, 256)),
	efficientNet(efficientnet.B0, 224, tvEval("efficientnet_b0", "V1", "efficientnet_b0_rwightman-3dd342df.pth", 77.692, 256, 224, "bicubic")),
	efficientNet(efficientnet.B1, 240,
		tvEval("efficientnet_b1", "V2", "efficientnet_b1-c27df63c.pth", 79.838, 255, 240, "bilinear"),
		tvEval("efficientnet_b1", "V1", "efficientnet_b1_rwightman-533bc792.pth", 78.642, 256, 240, "bicubic")),
	efficientNet(efficientnet.B2, 288, tvEval("efficientnet_b2", "V1", "efficientnet_b2_rwightman-bcdf34b7.pth", 80.608, 288, 288, "bicubic")),
	efficientNet(efficientnet.B3, 300, tvEval("efficientnet_b3", "V1", "efficientnet_b3_rwightman-cf984f9c.pth", 82.008, 320, 300, "bicubic")),
	convNeXt(convnext.Tiny, tv("convnext_tiny", "V1", "983f1562", 82.520, 236)),
	convNeXt(convnext.Small, tv("convnext_small", "V1", "0c510722", 83.616, 230)),
	visionTransformer(vit.B16, tv("vit_b_16", "V1", "c867db91", 81.072, 256)),
	visionTransformer(vit.B32, tv("vit_b_32", "V1", "d86f8d99", 75.912, 256)),
}

func convNeXt(a convnext.Arch, ws ...weights.Known) Arch {
	return Arch{Name: a.Name(), Family: "ConvNeXt", Backbone: a, ImageSize: 224, Weights: ws}
}

func resNet(a resnet.Arch, ws ...weights.Known) Arch {
	return Arch{Name: a.Name(), Family: "ResNet", FasterOnONNXRuntime: true, Backbone: a, ImageSize: 224, Weights: ws}
}

func mobileNet(a mobilenet.Arch, ws ...weights.Known) Arch {
	return Arch{Name: a.Name(), Family: "MobileNetV3", FasterOnONNXRuntime: true, Backbone: a, ImageSize: 224, Weights: ws}
}

// efficientNet is an EfficientNet at its native size (torchvision's crop for its weights).
func efficientNet(a efficientnet.Arch, size int, ws ...weights.Known) Arch {
	return Arch{Name: a.Name(), Family: "EfficientNet", FasterOnONNXRuntime: true, Backbone: a, ImageSize: size, Weights: ws}
}

// tvEval is a torchvision weights file whose name is not arch-prefix.pth (EfficientNet's ported from timm
// are efficientnet_b0_rwightman-3dd342df.pth), evaluated at crop after resizing the shorter side to
// resize with interpolation.
func tvEval(arch, enum, file string, top1 float64, resize, crop int, interpolation string) weights.Known {
	k := tv(arch, enum, file[strings.LastIndex(file, "-")+1:strings.LastIndex(file, ".")], top1, resize)
	k.URL, k.File = "https://download.pytorch.org/models/"+file, file
	k.Crop, k.Interpolation = crop, interpolation
	return k
}

func visionTransformer(a vit.Arch, ws ...weights.Known) Arch {
	return Arch{Name: a.Name(), Family: "ViT", Backbone: a, ImageSize: a.ImageSize, Weights: ws}
}

// tv is a torchvision weights file: arch-version (resnet18-v1), its URL and file named with the SHA-256
// prefix, evaluated at 224 after resizing the shorter side to resize, bilinearly.
func tv(arch, enum, prefix string, top1 float64, resize int) weights.Known {
	file := fmt.Sprintf("%s-%s.pth", arch, prefix)
	return weights.Known{
		Name: arch + "-" + strings.ToLower(strings.TrimPrefix(enum, "IMAGENET1K_")), Arch: arch, Enum: "IMAGENET1K_" + enum,
		URL: "https://download.pytorch.org/models/" + file, File: file, SHA256Prefix: prefix, Normalization: "imagenet",
		Resize: resize, Crop: 224, Interpolation: "bilinear", Top1: top1,
		About: fmt.Sprintf("torchvision %s IMAGENET1K_%s", arch, enum),
	}
}

// named gives a torchvision file another name, keeping arch-version as an alias.
func named(k weights.Known, name, about string) weights.Known {
	k.Aliases = append(k.Aliases, k.Name)
	k.Name = name
	k.About += ", " + about
	return k
}

// timm is a timm weights file on the Hugging Face hub (safetensors), evaluated at 224.
func timm(name, about string, top1 float64, resize int, interpolation string) weights.Known {
	return weights.Known{
		Name: "timm/" + name, Aliases: []string{name}, Arch: strings.SplitN(name, ".", 2)[0],
		URL:  "https://huggingface.co/timm/" + name + "/resolve/main/model.safetensors",
		File: "timm-" + name + ".safetensors", Normalization: "imagenet", Resize: resize, Crop: 224,
		Interpolation: interpolation, Top1: top1, About: about,
	}
}

// Archs returns the registered architectures.
func Archs() []Arch { return append([]Arch(nil), archs...) }

// Names returns the registered architectures' names.
func Names() []string {
	names := make([]string, len(archs))
	for i, a := range archs {
		names[i] = a.Name
	}
	return names
}

// Lookup returns the architecture called name (case-insensitively).
func Lookup(name string) (Arch, error) {
	for _, a := range archs {
		if strings.EqualFold(a.Name, name) {
			return a, nil
		}
	}
	return Arch{}, fmt.Errorf("unknown architecture %q (known: %s)", name, strings.Join(Names(), ", "))
}

// New returns the model of the architecture called name with the head.
func New(name string, head nn.Head) (*nn.Model, error) {
	a, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	return nn.New(a.Backbone, head), nil
}

// Default returns the architecture's default weights: torchvision's DEFAULT.
func (a Arch) Default() weights.Known { return a.Weights[0] }

// Name is an architecture's registry name as configurations hold it: text that must name a registered
// architecture (flags, JSON, YAML).
type Name string

var _ encoding.TextUnmarshaler = (*Name)(nil)

// String returns the name.
func (n Name) String() string { return string(n) }

// MarshalText writes the name.
func (n Name) MarshalText() ([]byte, error) { return []byte(n), nil }

// UnmarshalText sets the name of the registered architecture text names (Lookup), in the registry's spelling.
func (n *Name) UnmarshalText(text []byte) error {
	a, err := Lookup(string(text))
	if err != nil {
		return err
	}
	*n = Name(a.Name)
	return nil
}

// AllWeights returns every architecture's published weights, in the registry's order.
func AllWeights() []weights.Known {
	var all []weights.Known
	for _, a := range archs {
		all = append(all, a.Weights...)
	}
	return all
}

// DefaultWeights is the weights setting that means an architecture's torchvision DEFAULT.
const DefaultWeights = "DEFAULT"

// LookupWeights returns the published weights called name (or one of its aliases), case-insensitively,
// or for arch (a registry name; "" for none), torchvision's enum names: DEFAULT, IMAGENET1K_V1, ... of that
// architecture.
func LookupWeights(name, arch string) (weights.Known, error) {
	for _, k := range AllWeights() {
		if strings.EqualFold(k.Name, name) {
			return k, nil
		}
		for _, alias := range k.Aliases {
			if strings.EqualFold(alias, name) {
				return k, nil
			}
		}
	}
	if a, err := Lookup(arch); err == nil {
		if strings.EqualFold(name, DefaultWeights) {
			return a.Default(), nil
		}
		for _, k := range a.Weights {
			if k.Enum != "" && strings.EqualFold(k.Enum, name) {
				return k, nil
			}
		}
	}
	var names []string
	for _, k := range AllWeights() {
		names = append(names, k.Name)
	}
	forArch, hint := "", ""
	if arch != "" {
		forArch = " for " + arch
		hint = ", or DEFAULT"
	}
	return weights.Known{}, fmt.Errorf("unknown weights %q%s (known: %s%s; or give a file path)", name, forArch, strings.Join(names, ", "), hint)
}

// ResolveWeights turns a weights setting into a file path: an existing file is used as is; a registry name
// (LookupWeights, for arch) is looked up in cacheDir. A registry entry not yet downloaded is an error
// wrapping weights.ErrNotCached that says how to get it.
func ResolveWeights(spec, arch, cacheDir string) (string, *weights.Known, error) {
	if info, err := os.Stat(spec); err == nil && !info.IsDir() {
		return spec, nil, nil
	}
	k, err := LookupWeights(spec, arch)
	if err != nil {
		if strings.ContainsAny(spec, `/\.`) {
			return "", nil, fmt.Errorf("weights file %s: %w", spec, os.ErrNotExist)
		}
		return "", nil, err
	}
	path := filepath.Join(cacheDir, k.File)
	if _, err := os.Stat(path); err != nil {
		return "", &k, fmt.Errorf("%w: %s (%s) is not at %s; download it with `vegclf weights download %s` "+
			"(or fetch %s and place it there)", weights.ErrNotCached, k.Name, k.About, path, k.Name, k.URL)
	}
	return path, &k, nil
}

// MustNew is New for a name known to be registered (a constant); it panics on an unknown one.
func MustNew(name string, head nn.Head) *nn.Model {
	m, err := New(name, head)
	if err != nil {
		panic(err)
	}
	return m
}
