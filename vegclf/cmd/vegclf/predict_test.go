package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/predict"
	"github.com/vegclf/vegclf/vegclf/weights"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// runCLI runs the command line and returns its exit status, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeImage(t *testing.T, path string, c color.Color) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 50, 40))
	for y := 0; y < 40; y++ {
		for x := 0; x < 50; x++ {
			img.Set(x, y, c)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	png.Encode(f, img)
}

// randomWeightsFile writes a randomly initialized ImageNet ResNet-18 as safetensors.
func randomWeightsFile(t *testing.T, dir string) string {
	t.Helper()
	m := zoo.MustNew("resnet18", nn.ImageNetHead())
	store := model.NewStore()
	if err := m.Init(store, 5, nil); err != nil {
		t.Fatal(err)
	}
	sd, err := weights.FromStore(store, m)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "resnet18.safetensors")
	if err := weights.WriteSafetensors(path, sd); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPredictJSON(t *testing.T) {
	dir := t.TempDir()
	w := randomWeightsFile(t, dir)
	a, b := filepath.Join(dir, "red image.png"), filepath.Join(dir, "blue.png")
	writeImage(t, a, color.NRGBA{200, 30, 30, 255})
	writeImage(t, b, color.NRGBA{30, 30, 200, 255})
	code, stdout, stderr := runCLI(t, "predict", "--weights", w, "--arch", "resnet18", "--image-size", "64", a, b, "--topk", "3", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 JSON lines, got %q", stdout)
	}
	for i, line := range lines {
		var p predict.Prediction
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", i, err, line)
		}
		if p.Image != []string{a, b}[i] || len(p.Top) != 3 {
			t.Fatalf("line %d = %+v", i, p)
		}
		for j, c := range p.Top {
			if c.Label == "" || c.Index < 0 || c.Index >= 1000 || c.Prob <= 0 || c.Prob > 1 || (j > 0 && c.Prob > p.Top[j-1].Prob) {
				t.Errorf("line %d class %d = %+v", i, j, c)
			}
		}
		var raw map[string]any
		json.Unmarshal([]byte(line), &raw)
		top := raw["top"].([]any)[0].(map[string]any)
		for _, key := range []string{"index", "label", "prob"} {
			if _, ok := top[key]; !ok {
				t.Errorf("JSON class lacks %q: %s", key, line)
			}
		}
	}
}

func TestPredictTextAndErrors(t *testing.T) {
	dir := t.TempDir()
	w := randomWeightsFile(t, dir)
	img := filepath.Join(dir, "x.png")
	writeImage(t, img, color.NRGBA{10, 200, 10, 255})
	bad := filepath.Join(dir, "broken.jpg")
	os.WriteFile(bad, []byte("nope"), 0o644)

	code, stdout, stderr := runCLI(t, "predict", "--weights", w, "--arch", "resnet18", "--image-size", "48", "--topk", "2", img, bad)
	if code != 1 || !strings.Contains(stderr, bad) || !strings.Contains(stderr, "1 of 2 images could not be read") {
		t.Errorf("with a bad image: exit %d, stderr %q", code, stderr)
	}
	if !strings.HasPrefix(stdout, img+"\n  1. ") || !strings.Contains(stdout, "\n  2. ") {
		t.Errorf("text output = %q", stdout)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"predict", img}, 2, "give either --weights or --run"},
		{[]string{"predict", "--weights", w}, 2, "no images given"},
		{[]string{"predict", "--weights", w, "--normalize", "weird", img}, 2, "unknown normalization"},
		{[]string{"predict", "--weights", w, "--arch", "resnet50", img}, 1, "tensors missing from the file"},
		{[]string{"predict", "--weights", filepath.Join(dir, "none.pth"), img}, 1, "none.pth"},
		{[]string{"predict", "--weights", "torchvision-v2", img}, 1, "vegclf weights download torchvision-v2"},
		{[]string{"frobnicate"}, 2, "unknown command"},
	} {
		t.Setenv("VEGCLF_CACHE", t.TempDir())
		code, _, stderr := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}

// TestPredictTorchFile runs predict on a real torch.save file from torchvision and checks the top class
// against torchvision's prediction for the same image.
func TestPredictTorchFile(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	dir := t.TempDir()
	testenv.RunPython(t, "model_reference.py", "resnet18", dir, "2", "64", "3")
	img := filepath.Join(dir, "x.png")
	writeImage(t, img, color.NRGBA{120, 80, 40, 255})
	code, stdout, stderr := runCLI(t, "predict", "--weights", filepath.Join(dir, "weights.pth"), "--arch", "resnet18",
		"--image-size", "64", "--topk", "1", "--json", img)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var p predict.Prediction
	if err := json.Unmarshal([]byte(stdout), &p); err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSpace(string(testenv.RunPython(t, "classify.py", "resnet18", filepath.Join(dir, "weights.pth"), "64", img)))
	if strconv.Itoa(p.Top[0].Index) != want {
		t.Errorf("top class %d, torchvision says %s", p.Top[0].Index, want)
	}
}

// TestPredictWeightsMatchTorchvision runs predict on torchvision models saved with torch.save (random
// weights, trained-looking batch norms, LayerNorms and layer scales, the last layer scaled so that the
// softmax is neither flat nor one-hot) on real photos: a weights file of each architecture family (both
// ConvNeXts), preprocessed as the tutorial's transform does, and
// registry weights in the cache, preprocessed as their torchvision weights enum evaluates them (the shorter
// side resized, the centre cropped). The 1000 class probabilities equal torchvision's (1e-3 relative to
// the largest).
func TestPredictWeightsMatchTorchvision(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	photos := testenv.SharedData(t, "hymenoptera")
	images, _ := filepath.Glob(filepath.Join(photos, "val", "bees", "*.jpg"))
	images = images[:3]
	for _, tc := range []struct{ arch, weights, transform string }{
		{"mobilenet_v3_large", "", "squash:96"},
		{"mobilenet_v3_small", "", "squash:64"},
		{"resnet18", "", "squash:64"},
		{"vit_b_32", "", "squash:64"},
		{"mobilenet_v3_small", "mobilenet_v3_small-v1", "enum:IMAGENET1K_V1"},
		{"mobilenet_v3_large", "mobilenet_v3_large-v2", "enum:IMAGENET1K_V2"},
		{"efficientnet_b0", "", "squash:224"},
		{"efficientnet_b0", "efficientnet_b0-v1", "enum:IMAGENET1K_V1"}, // Bicubic, 256 to 224.
		{"efficientnet_b2", "efficientnet_b2-v1", "enum:IMAGENET1K_V1"}, // Bicubic, 288 to 288.
		{"convnext_tiny", "", "squash:64"},
		{"convnext_small", "", "squash:64"},
		{"convnext_tiny", "convnext_tiny-v1", "enum:IMAGENET1K_V1"},
	} {
		t.Run(tc.arch+"/"+tc.transform, func(t *testing.T) {
			dir := t.TempDir()
			testenv.RunPython(t, "predict_reference.py", append([]string{tc.arch, dir, tc.transform}, images...)...)
			var want [][]float64
			raw, err := os.ReadFile(filepath.Join(dir, "probs.json"))
			if err != nil || json.Unmarshal(raw, &want) != nil {
				t.Fatalf("reading torchvision's probabilities: %v", err)
			}
			args := []string{"predict", "--arch", tc.arch, "--topk", "1000", "--json"}
			cache := t.TempDir()
			t.Setenv("VEGCLF_CACHE", cache)
			if tc.weights == "" {
				args = append(args, "--weights", filepath.Join(dir, "weights.pth"), "--image-size", strings.TrimPrefix(tc.transform, "squash:"))
			} else {
				k, err := zoo.LookupWeights(tc.weights, tc.arch)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(filepath.Join(dir, "weights.pth"), filepath.Join(cache, k.File)); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--weights", tc.weights)
			}
			code, stdout, stderr := runCLI(t, append(args, images...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			worst, largest := 0.0, 0.0
			for i, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
				var p predict.Prediction
				if err := json.Unmarshal([]byte(line), &p); err != nil || len(p.Top) != 1000 {
					t.Fatalf("line %q: %v", line, err)
				}
				for _, c := range p.Top {
					worst = max(worst, math.Abs(c.Prob-want[i][c.Index]))
					largest = max(largest, want[i][c.Index])
				}
			}
			t.Logf("probabilities differ by up to %.3g (largest %.3g)", worst, largest)
			if largest > 0.99 || largest < 0.01 || worst > 1e-3*largest {
				t.Errorf("probabilities differ from torchvision's by up to %.3g (largest %.3g)", worst, largest)
			}
		})
	}
}
