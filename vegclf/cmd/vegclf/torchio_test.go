package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/predict"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/synthveg"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// readProbs reads the probabilities the reference script wrote, one row per image.
func readProbs(t *testing.T, path string) [][]float64 {
	t.Helper()
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p [][]float64
	if err := json.Unmarshal(content, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// vegclfProbs predicts the images with a run and returns each image's probabilities in class order.
func vegclfProbs(t *testing.T, run string, classes int, images []string) [][]float64 {
	t.Helper()
	args := append([]string{"predict", "--run", run, "--json", "--topk", "99"}, images...)
	code, stdout, stderr := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("predict: exit %d: %s", code, stderr)
	}
	var out [][]float64
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var p predict.Prediction
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatal(err)
		}
		row := make([]float64, classes)
		for _, c := range p.Top {
			row[c.Index] = float64(c.Prob)
		}
		out = append(out, row)
	}
	return out
}

// sameProbs checks that two sets of probabilities agree within 1e-4, relative.
func sameProbs(t *testing.T, what string, got, want [][]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d images, want %d", what, len(got), len(want))
	}
	for i := range want {
		for c := range want[i] {
			if d := math.Abs(got[i][c] - want[i][c]); d > 1e-4*math.Abs(want[i][c]) {
				t.Errorf("%s: image %d class %d: %g, want %g", what, i, c, got[i][c], want[i][c])
			}
		}
	}
}

// TestImportExportWithTorch takes the PyTorch tutorial's checkpoint of a VegetableResnet (random weights,
// non-trivial batch-norm statistics, an Adam step taken) into a run folder, and checks vegclf's class
// probabilities on real photos against torch's; then exports the run in both layouts, which torch loads
// with strict=True into VegetableResnet and into a torchvision resnet50 with a replaced fc, and checks
// torch's probabilities against vegclf's.
func TestImportExportWithTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	photosDir := testenv.SharedData(t, "hymenoptera")
	photos := []string{
		filepath.Join(photosDir, "train", "ants", "0013035.jpg"), filepath.Join(photosDir, "train", "bees", "1092977343_cb42b38d62.jpg"),
		filepath.Join(photosDir, "val", "bees", "1032546534_06907fe3b3.jpg"), filepath.Join(photosDir, "val", "ants", "10308379_1b6c72e180.jpg"),
	}
	dir := t.TempDir()
	testenv.RunPython(t, "tutorial_ckpt.py", append([]string{"save", dir, "3"}, photos...)...)
	ckpt := filepath.Join(dir, "VegetableResnet50.ckpt")
	torchProbs := readProbs(t, filepath.Join(dir, "probs.json"))

	run := filepath.Join(dir, "run")
	code, stdout, stderr := runCLI(t, "import", "--torch", ckpt, "--classes", "ants,bees,wasps", "--out", run)
	if code != 0 {
		t.Fatalf("import: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{`(names prefixed "resnet.")`, "3 classes", "Optimizer: Adam state imported (step 1, learning rate 1e-05)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("import output lacks %q:\n%s", want, stdout)
		}
	}
	got := vegclfProbs(t, run, 3, photos)
	sameProbs(t, "vegclf on the imported checkpoint", got, torchProbs)

	for _, layout := range []string{"tutorial", "torchvision"} {
		file := filepath.Join(dir, layout, "model.pth")
		if code, _, stderr := runCLI(t, "export", "--run", run, "--out", file, "--layout", layout); code != 0 {
			t.Fatalf("export %s: exit %d: %s", layout, code, stderr)
		}
		var classes []string
		content, err := os.ReadFile(filepath.Join(dir, layout, "classes.json"))
		if err != nil || json.Unmarshal(content, &classes) != nil || !slices.Equal(classes, []string{"ants", "bees", "wasps"}) {
			t.Errorf("%s: classes.json %q (%v)", layout, content, err)
		}
		out := filepath.Join(dir, layout, "probs.json")
		testenv.RunPython(t, "tutorial_ckpt.py", append([]string{"load", file, layout, "3", out}, photos...)...)
		sameProbs(t, "torch on the "+layout+" export", readProbs(t, out), got)
	}
}

// TestImportRefusesBadFiles: a truncated or corrupt file, weights of another architecture and a class
// list of the wrong length are errors naming the file and the problem, and --out is not created.
func TestImportRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	testenv.RunPython(t, "tutorial_ckpt.py", "save", dir, "3")
	ckpt := filepath.Join(dir, "VegetableResnet50.ckpt")
	content, err := os.ReadFile(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	truncated, corrupt := filepath.Join(dir, "truncated.ckpt"), filepath.Join(dir, "corrupt.ckpt")
	os.WriteFile(truncated, content[:len(content)/2], 0o644)
	garbled := slices.Clone(content)
	copy(garbled[len(garbled)-4096:], make([]byte, 4096)) // The zip's central directory.
	os.WriteFile(corrupt, garbled, 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"truncated", []string{"--torch", truncated, "--classes", "a,b,c"}, []string{truncated}},
		{"corrupt", []string{"--torch", corrupt, "--classes", "a,b,c"}, []string{corrupt}},
		{"another architecture", []string{"--torch", ckpt, "--classes", "a,b,c", "--arch", "resnet18"}, []string{ckpt, "not in the model", `"layer1.0.conv3.weight"`}},
		{"wrong class count", []string{"--torch", ckpt, "--classes", "a,b"}, []string{ckpt, "the model has 3 outputs, --classes names 2 classes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+strings.ReplaceAll(tc.name, " ", "-"))
			code, _, stderr := runCLI(t, append([]string{"import", "--out", out}, tc.args...)...)
			if code != 1 {
				t.Errorf("exit %d, want 1: %s", code, stderr)
			}
			for _, want := range tc.want {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q: %s", want, stderr)
				}
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("--out was created")
			}
		})
	}
}

// TestImportedRunFinetunes imports the tutorial's checkpoint with a dataset's classes and trains it one
// more fine-tuning epoch on that data, continuing its Adam state from the imported step.
func TestImportedRunFinetunes(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	dir := t.TempDir()
	testenv.RunPython(t, "tutorial_ckpt.py", "save", dir, "3")
	data := filepath.Join(dir, "data")
	if _, err := synthveg.Generate(data, synthveg.Options{Classes: 3, Train: 2, Test: 1, Size: 48, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	if code, stdout, stderr := runCLI(t, "import", "--torch", filepath.Join(dir, "VegetableResnet50.ckpt"), "--classes", data, "--out", run); code != 0 {
		t.Fatalf("import: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, _, stderr := runCLI(t, "train", "--out", run, "--resume", "--finetune-epochs", "1", "--batch", "4")
	if code == 0 || !strings.Contains(stderr, "--batch") {
		t.Errorf("a resume changing the batch: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, "train", "--out", run, "--resume", "--finetune-epochs", "1")
	if code != 0 {
		t.Fatalf("fine-tuning the imported run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "Resuming from") || !strings.Contains(stdout, "Extending the run: finetune_epochs 1 (it had 0).") {
		t.Errorf("fine-tuning output:\n%s", stdout)
	}
	if m, err := runfolder.ReadMetrics(run); err != nil || len(m) != 1 || m[0].Phase != runfolder.Finetune {
		t.Errorf("metrics %v (%v), want one fine-tuning epoch", m, err)
	}
	meta, _, err := checkpoint.ReadMeta(filepath.Join(run, runfolder.LastFile))
	if err != nil {
		t.Fatal(err)
	}
	if meta.Step != 2 { // The imported step, and this epoch's one batch.
		t.Errorf("Adam's step after one more batch: %d, want 2", meta.Step)
	}
}

// TestImportExportOtherArchitectures takes torchvision's MobileNetV3, EfficientNet-B0, ConvNeXt-Tiny and
// ViT-B/32 models with the tutorial's head in place of their last Linear (classifier.3, classifier.1,
// classifier.2, heads.head; random weights, trained-looking batch norms, LayerNorms and layer scales; the
// ViT's position embeddings for 224, run at 96)
// into run folders, checks vegclf's class
// probabilities on real photos against torch's, then exports each run (torchvision's layout, the default for
// architectures other than ResNet), which torch loads with strict=True, and checks torch's probabilities
// against vegclf's; the tutorial's layout (a ResNet under resnet.) is refused.
func TestImportExportOtherArchitectures(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	photosDir := testenv.SharedData(t, "hymenoptera")
	photos := []string{
		filepath.Join(photosDir, "train", "ants", "0013035.jpg"), filepath.Join(photosDir, "train", "bees", "1092977343_cb42b38d62.jpg"),
		filepath.Join(photosDir, "val", "bees", "1032546534_06907fe3b3.jpg"),
	}
	for _, arch := range []string{"mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0", "convnext_tiny", "vit_b_32"} {
		t.Run(arch, func(t *testing.T) {
			dir := t.TempDir()
			head := zoo.MustNew(arch, nn.ImageNetHead()).Backbone.HeadName() // classifier.3, classifier.1, classifier.2, heads.head.
			testenv.RunPython(t, "torchvision_ckpt.py", append([]string{"save", arch, head, dir, "3", "96"}, photos...)...)
			run := filepath.Join(dir, "run")
			code, stdout, stderr := runCLI(t, "import", "--torch", filepath.Join(dir, "model.pth"), "--arch", arch, "--classes", "ants,bees,wasps",
				"--normalize", "imagenet", "--image-size", "96", "--out", run)
			if code != 0 {
				t.Fatalf("import: exit %d\n%s\n%s", code, stdout, stderr)
			}
			got := vegclfProbs(t, run, 3, photos)
			sameProbs(t, "vegclf on the imported model", got, readProbs(t, filepath.Join(dir, "probs.json")))
			file := filepath.Join(dir, "export", "model.pth")
			if code, _, stderr := runCLI(t, "export", "--run", run, "--out", file); code != 0 {
				t.Fatalf("export: exit %d: %s", code, stderr)
			}
			out := filepath.Join(dir, "export", "probs.json")
			testenv.RunPython(t, "torchvision_ckpt.py", append([]string{"load", arch, head, file, "3", "96", out}, photos...)...)
			sameProbs(t, "torch on the export", readProbs(t, out), got)
			if code, _, stderr := runCLI(t, "export", "--run", run, "--out", filepath.Join(dir, "tutorial", "model.pth"), "--layout", "tutorial"); code != 2 ||
				!strings.Contains(stderr, "--layout torchvision") {
				t.Errorf("export --layout tutorial of %s: exit %d: %s", arch, code, stderr)
			}
		})
	}
}
