package weights

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Known is a published pretrained weights file.
type Known struct {
	Name          string   // Registry name, e.g. "torchvision-v2".
	Aliases       []string // Other accepted names (torchvision's enum names).
	Arch          string   // resnet.Arch name.
	URL           string
	File          string // File name in the cache.
	SHA256        string // Full hex digest, when published.
	SHA256Prefix  string // torchvision's check: the first hex digits of the SHA-256, as in the file name.
	Normalization string // Input normalization the weights were trained with.
	Top1          float64
	About         string
}

// Registry lists the published ImageNet weights for the ResNet family. torchvision's files carry the
// first 8 hex digits of their SHA-256 in their name, which torch.hub checks; that prefix is checked here too.
var Registry = []Known{
	tv("resnet18", "v1", "f37072fd", 69.758),
	tv("resnet34", "v1", "b627a593", 73.314),
	{
		Name: "torchvision-v1", Aliases: []string{"IMAGENET1K_V1", "resnet50-v1"}, Arch: "resnet50",
		URL: "https://download.pytorch.org/models/resnet50-0676ba61.pth", File: "resnet50-0676ba61.pth",
		SHA256Prefix: "0676ba61", Normalization: "imagenet", Top1: 76.130,
		About: "torchvision ResNet50_Weights.IMAGENET1K_V1 (the original paper's recipe)",
	},
	{
		Name: "torchvision-v2", Aliases: []string{"IMAGENET1K_V2", "DEFAULT", "resnet50-v2"}, Arch: "resnet50",
		URL: "https://download.pytorch.org/models/resnet50-11ad3fa6.pth", File: "resnet50-11ad3fa6.pth",
		SHA256Prefix: "11ad3fa6", Normalization: "imagenet", Top1: 80.858,
		About: "torchvision ResNet50_Weights.IMAGENET1K_V2, the tutorial's DEFAULT",
	},
	tv("resnet101", "v1", "63fe2227", 77.374),
	tv("resnet101", "v2", "cd907fc2", 81.886),
	tv("resnet152", "v1", "394f9c45", 78.312),
	tv("resnet152", "v2", "f82ba261", 82.284),
	timm("resnet50.tv2_in1k", "timm's copy of torchvision's IMAGENET1K_V2, as safetensors", 80.86),
	timm("resnet50.tv_in1k", "timm's copy of torchvision's IMAGENET1K_V1, as safetensors", 76.13),
	timm("resnet50.a1_in1k", "timm's ResNet Strikes Back A1 recipe", 81.22),
}

func tv(arch, version, prefix string, top1 float64) Known {
	file := fmt.Sprintf("%s-%s.pth", arch, prefix)
	return Known{
		Name: arch + "-" + version, Arch: arch, URL: "https://download.pytorch.org/models/" + file, File: file,
		SHA256Prefix: prefix, Normalization: "imagenet", Top1: top1,
		About: fmt.Sprintf("torchvision %s IMAGENET1K_%s", arch, strings.ToUpper(version)),
	}
}

func timm(name, about string, top1 float64) Known {
	return Known{
		Name: "timm/" + name, Aliases: []string{name}, Arch: strings.SplitN(name, ".", 2)[0],
		URL:  "https://huggingface.co/timm/" + name + "/resolve/main/model.safetensors",
		File: "timm-" + name + ".safetensors", Normalization: "imagenet", Top1: top1, About: about,
	}
}

// Lookup returns the registry entry called name (or one of its aliases), case-insensitively.
func Lookup(name string) (Known, error) {
	for _, k := range Registry {
		if strings.EqualFold(k.Name, name) {
			return k, nil
		}
		for _, a := range k.Aliases {
			if strings.EqualFold(a, name) {
				return k, nil
			}
		}
	}
	var names []string
	for _, k := range Registry {
		names = append(names, k.Name)
	}
	return Known{}, fmt.Errorf("unknown weights %q (known: %s; or give a file path)", name, strings.Join(names, ", "))
}

// CacheDir returns the user cache folder for weights: $VEGCLF_CACHE, else $XDG_CACHE_HOME/vegclf, else
// ~/.cache/vegclf.
func CacheDir() (string, error) {
	if d := os.Getenv("VEGCLF_CACHE"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "vegclf"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the weights cache: %w (set VEGCLF_CACHE to a folder for it)", err)
	}
	return filepath.Join(home, ".cache", "vegclf"), nil
}

// ErrNotCached is returned (wrapped) by Resolve when a registry entry has not been downloaded.
var ErrNotCached = errors.New("weights not in the cache")

// Resolve turns a weights spec into a file path: an existing file is used as is; a registry name is
// looked up in cacheDir. A registry entry not yet downloaded is an error wrapping ErrNotCached that says
// how to get it.
func Resolve(spec, cacheDir string) (string, *Known, error) {
	if info, err := os.Stat(spec); err == nil && !info.IsDir() {
		return spec, nil, nil
	}
	k, err := Lookup(spec)
	if err != nil {
		if strings.ContainsAny(spec, `/\.`) {
			return "", nil, fmt.Errorf("weights file %s: %w", spec, os.ErrNotExist)
		}
		return "", nil, err
	}
	path := filepath.Join(cacheDir, k.File)
	if _, err := os.Stat(path); err != nil {
		return "", &k, fmt.Errorf("%w: %s (%s) is not at %s; download it with `vegclf weights download %s` "+
			"(or fetch %s and place it there)", ErrNotCached, k.Name, k.About, path, k.Name, k.URL)
	}
	return path, &k, nil
}
