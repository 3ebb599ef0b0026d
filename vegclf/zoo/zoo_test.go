package zoo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/weights"
)

// TestRegistry checks every entry: a unique name, a backbone of that name whose parameters are
// consistent, published weights that name it, with a URL, a cache file carrying torchvision's checksum
// prefix and an evaluation preprocessing; and the text form of architecture names.
func TestRegistry(t *testing.T) {
	seen := map[string]bool{}
	for _, a := range Archs() {
		if seen[a.Name] || a.Backbone.Name() != a.Name || a.ImageSize < 16 || len(a.Weights) == 0 {
			t.Errorf("%s: entry %+v", a.Name, a)
		}
		seen[a.Name] = true
		m := nn.New(a.Backbone, nn.TutorialHead(3))
		groups := len(m.Groups())
		for _, p := range m.Params() {
			if p.Group < 0 || p.Group >= groups {
				t.Errorf("%s: %s in group %d of %d", a.Name, p.Name, p.Group, groups)
			}
		}
		for _, k := range a.Weights {
			if k.Arch != a.Name {
				t.Errorf("%s: weights %s are for %s", a.Name, k.Name, k.Arch)
			}
			if !strings.HasPrefix(k.URL, "https://") || k.File == "" || k.Crop < 16 || k.Resize < k.Crop || k.Top1 <= 0 ||
				(k.Interpolation != "bilinear" && k.Interpolation != "bicubic") {
				t.Errorf("%s: incomplete entry %+v", k.Name, k)
			}
			if k.SHA256Prefix != "" && !strings.Contains(k.File, k.SHA256Prefix) {
				t.Errorf("%s: file %s does not carry its checksum prefix %s", k.Name, k.File, k.SHA256Prefix)
			}
		}
	}
	var n Name
	if err := n.UnmarshalText([]byte("ResNet50")); err != nil || n != "resnet50" {
		t.Errorf("Name from ResNet50: %q, %v", n, err)
	}
	if err := n.UnmarshalText([]byte("vgg16")); err == nil || !strings.Contains(err.Error(), "resnet50") {
		t.Errorf("Name from vgg16: %v", err)
	}
}

// TestLookupAndResolveWeights: registry names and aliases, torchvision's enum names (DEFAULT,
// IMAGENET1K_V1) within an architecture, the error for an unknown name, and resolving to a cached file, a
// file given, a missing file, and an entry not downloaded (ErrNotCached, saying how to get it).
func TestLookupAndResolveWeights(t *testing.T) {
	for _, tc := range []struct{ name, arch, want string }{
		{"torchvision-v2", "", "resnet50-11ad3fa6.pth"},
		{"resnet50-v2", "", "resnet50-11ad3fa6.pth"},
		{"DEFAULT", "resnet50", "resnet50-11ad3fa6.pth"},
		{"IMAGENET1K_V1", "resnet50", "resnet50-0676ba61.pth"},
		{"default", "resnet18", "resnet18-f37072fd.pth"},
		{"resnet50.a1_in1k", "resnet18", "timm-resnet50.a1_in1k.safetensors"},
		{"DEFAULT", "efficientnet_b1", "efficientnet_b1-c27df63c.pth"},
		{"IMAGENET1K_V1", "efficientnet_b0", "efficientnet_b0_rwightman-3dd342df.pth"},
	} {
		k, err := LookupWeights(tc.name, tc.arch)
		if err != nil || k.File != tc.want {
			t.Errorf("LookupWeights(%s, %s) = %s, %v; want %s", tc.name, tc.arch, k.File, err, tc.want)
		}
	}
	if _, err := LookupWeights("resnet9000", "resnet18"); err == nil || !strings.Contains(err.Error(), "torchvision-v2") || !strings.Contains(err.Error(), "for resnet18") {
		t.Errorf("unknown name error = %v", err)
	}
	if _, err := LookupWeights("DEFAULT", ""); err == nil {
		t.Error("DEFAULT without an architecture was found")
	}
	cache := t.TempDir()
	_, _, err := ResolveWeights("torchvision-v2", "resnet50", cache)
	if !errors.Is(err, weights.ErrNotCached) || !strings.Contains(err.Error(), "vegclf weights download torchvision-v2") {
		t.Errorf("ResolveWeights of an absent entry = %v", err)
	}
	os.WriteFile(filepath.Join(cache, "resnet50-11ad3fa6.pth"), []byte("x"), 0o644)
	if p, k, err := ResolveWeights("IMAGENET1K_V2", "resnet50", cache); err != nil || k == nil || filepath.Base(p) != "resnet50-11ad3fa6.pth" {
		t.Errorf("ResolveWeights of a cached entry = %s, %v, %v", p, k, err)
	}
	file := filepath.Join(cache, "mine.safetensors")
	os.WriteFile(file, []byte("x"), 0o644)
	if p, k, err := ResolveWeights(file, "resnet50", cache); err != nil || k != nil || p != file {
		t.Errorf("ResolveWeights of a file = %s, %v, %v", p, k, err)
	}
	if _, _, err := ResolveWeights("/no/such/file.pth", "resnet50", cache); err == nil || !strings.Contains(err.Error(), "/no/such/file.pth") {
		t.Errorf("ResolveWeights of a missing file = %v", err)
	}
}
