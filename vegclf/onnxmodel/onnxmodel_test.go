//go:build cgo

package onnxmodel

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/internal/paritytest"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/predict"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/synthveg"
	"github.com/vegclf/vegclf/vegclf/train"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// runtimeOrSkip returns ONNX Runtime's library and the folder of its npm package's node_modules, skipping
// the test where setup has not installed them (failing instead with VEGCLF_REQUIRE_ONNX set, as test.sh
// sets it).
func runtimeOrSkip(t *testing.T) (lib, nodeModules string) {
	t.Helper()
	lib, err := backend.ONNXRuntime()
	if err == nil {
		nodeModules = filepath.Join(filepath.Dir(lib), "npm", "node_modules")
		if _, err = os.Stat(filepath.Join(nodeModules, "onnxruntime-node")); err == nil {
			_, err = exec.LookPath("node")
		}
	}
	if err != nil {
		if os.Getenv("VEGCLF_REQUIRE_ONNX") != "" {
			t.Fatal(err)
		}
		t.Skipf("ONNX Runtime or its Node.js binding is not installed (./scripts/setup.sh --onnx): %v", err)
	}
	return lib, nodeModules
}

// images returns real photos where the shared data has them (else generated images), 5 of them.
func images(t *testing.T) []string {
	t.Helper()
	if real := testenv.OptionalSharedData(t, "hymenoptera"); real != "" {
		photos, _ := filepath.Glob(filepath.Join(real, "val", "*", "*.jpg"))
		if len(photos) >= 5 {
			return []string{photos[0], photos[1], photos[len(photos)/2], photos[len(photos)-2], photos[len(photos)-1]}
		}
	}
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := synthveg.Generate(dir, synthveg.Options{Classes: 3, Train: 2, Size: 80, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	photos, _ := filepath.Glob(filepath.Join(dir, "train", "*", "*.jpg"))
	return photos[:5]
}

// TestExportRunsInONNXRuntime exports a ResNet-18 and a ResNet-50 classifier and runs the files with ONNX
// Runtime's Node.js binding, at batch sizes 1 and 5: the class probabilities equal vegclf predict's on the
// same images within 1e-4. ONNX's checker accepts the files, whose metadata names the classes in order and
// whose batch axis is symbolic.
func TestExportRunsInONNXRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("exports and runs full models: not in the -short loop")
	}
	_, nodeModules := runtimeOrSkip(t)
	b := testenv.Backend(t)
	photos := images(t)
	for _, tc := range []struct {
		arch  string
		size  int
		norm  data.Normalization
		scale float32 // Of the last layer's weights: probabilities away from 0 and 1, so that they compare.
	}{{"resnet18", 96, data.HalfNormalization, 1}, {"resnet50", 64, data.ImageNetNormalization, 0.02},
		{"mobilenet_v3_small", 96, data.ImageNetNormalization, 30}, {"mobilenet_v3_large", 64, data.HalfNormalization, 30},
		{"vit_b_32", 64, data.ImageNetNormalization, 5},
		{"efficientnet_b0", 96, data.ImageNetNormalization, 30},
		{"convnext_tiny", 64, data.ImageNetNormalization, 1}} {
		t.Run(tc.arch, func(t *testing.T) {
			classes := []string{"ants", "bees", "wasps & <others>"}
			m := zoo.MustNew(tc.arch, nn.TutorialHead(len(classes)))
			store := model.NewStore()
			if err := m.Init(store, 7, nil); err != nil {
				t.Fatal(err)
			}
			paritytest.TrainedBatchNorms(t, m, store, 11)
			names := m.Head.LinearNames(m.Backbone.HeadName())
			last := store.GetVariable(nn.VariablePath(names[len(names)-1] + ".weight"))
			w, err := last.Value()
			if err != nil {
				t.Fatal(err)
			}
			scaled := tensors.MustCopyFlatData[float32](w)
			for i := range scaled {
				scaled[i] *= tc.scale
			}
			if err := last.SetValue(tensors.FromFlatDataAndDimensions(scaled, w.Shape().Dimensions...)); err != nil {
				t.Fatal(err)
			}
			transform := data.Transform{Size: tc.size, Normalization: tc.norm}
			c, err := predict.New(b, m, store, classes, transform)
			if err != nil {
				t.Fatal(err)
			}
			want, err := c.Files(photos, len(classes))
			if err != nil {
				t.Fatal(err)
			}
			if top := want[0].Top[0].Prob; top > 0.99 {
				t.Fatalf("the first image's top probability is %g: saturated probabilities would compare at any logits", top)
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "model.onnx")
			meta := Metadata{Classes: classes, ImageSize: tc.size, Normalization: tc.norm, Source: "a test"}
			if err := Export(m, store, meta, path); err != nil {
				t.Fatal(err)
			}
			// The images as the model takes them: transformed (NHWC), then channels first.
			batch, err := (&data.Loader{Samples: samples(photos), Transform: transform, BatchSize: len(photos)}).Batch([]int{0, 1, 2, 3, 4})
			if err != nil {
				t.Fatal(err)
			}
			nchw := make([]byte, 0, 4*len(batch.Pixels))
			s := tc.size
			for n := range len(photos) {
				for ch := range 3 {
					for y := range s {
						for x := range s {
							nchw = binary.LittleEndian.AppendUint32(nchw, math.Float32bits(batch.Pixels[((n*s+y)*s+x)*3+ch]))
						}
					}
				}
			}
			input := filepath.Join(dir, "pixels.bin")
			if err := os.WriteFile(input, nchw, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("node", filepath.Join(testenv.RepoRoot(t), "vegclf", "onnxmodel", "testdata", "run.js"), path, input,
				"1", "3", itoa(s), itoa(s), "1", "1", "1", "1", // Five batches of 1,
				"5") // then one of 5.
			cmd.Env = append(os.Environ(), "NODE_PATH="+nodeModules)
			out := testenv.Output(t, "node run.js", cmd)
			var ran struct {
				Inputs, Outputs []string
				Probabilities   [][]float64
			}
			if err := json.Unmarshal(out, &ran); err != nil {
				t.Fatalf("node run.js printed %q: %v", out, err)
			}
			if !slices.Equal(ran.Inputs, []string{"pixel_values"}) || !slices.Equal(ran.Outputs, []string{"logits"}) || len(ran.Probabilities) != 10 {
				t.Fatalf("ONNX Runtime: inputs %v, outputs %v, %d rows", ran.Inputs, ran.Outputs, len(ran.Probabilities))
			}
			worst := 0.0
			for i, row := range ran.Probabilities {
				if len(row) != len(classes) {
					t.Fatalf("ONNX Runtime's row %d has %d classes, want %d", i, len(row), len(classes))
				}
				for _, cl := range want[i%5].Top {
					worst = max(worst, math.Abs(row[cl.Index]-cl.Prob))
				}
			}
			t.Logf("ONNX Runtime's probabilities differ from vegclf predict's by up to %.3g", worst)
			if worst > 1e-4 {
				t.Errorf("ONNX Runtime's probabilities differ from vegclf predict's by up to %.3g: %v, want %v", worst, ran.Probabilities, want)
			}
			checkWithONNX(t, path, classes, tc.size, strings.HasPrefix(tc.arch, "vit"))
		})
	}
}

func samples(paths []string) []data.Sample {
	out := make([]data.Sample, len(paths))
	for i, p := range paths {
		out[i] = data.Sample{Path: p}
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

// checkWithONNX runs ONNX's checker (Debian's python3-onnx) on the model and checks its metadata, names,
// shapes and operators: a CNN's or, for a transformer, attention's.
func checkWithONNX(t *testing.T, path string, classes []string, size int, transformer bool) {
	t.Helper()
	python := "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import onnx").Run(); err != nil {
		if os.Getenv("VEGCLF_REQUIRE_ONNX") != "" {
			t.Fatalf("python3-onnx is not installed (./scripts/setup.sh --test): %v", err)
		}
		t.Logf("python3-onnx is not installed: not checking with ONNX's checker")
		return
	}
	out := testenv.Output(t, "onnx.checker", exec.Command(python, filepath.Join(testenv.RepoRoot(t), "vegclf", "onnxmodel", "testdata", "check.py"), path))
	var got struct {
		Metadata        map[string]string
		Inputs, Outputs map[string][]any
		Ops             []string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := json.Unmarshal([]byte(got.Metadata["classes"]), &names); err != nil || !slices.Equal(names, classes) {
		t.Errorf("metadata classes %q (%v), want %q", got.Metadata["classes"], err, classes)
	}
	if got.Metadata["image_size"] != itoa(size) || got.Metadata["normalization"] == "" {
		t.Errorf("metadata %v", got.Metadata)
	}
	if in := got.Inputs["pixel_values"]; len(in) != 4 || in[0] != "batch" || in[1] != 3.0 || in[2] != float64(size) {
		t.Errorf("input pixel_values %v, want [batch 3 %d %d]", in, size, size)
	}
	if o := got.Outputs["logits"]; len(o) != 2 || o[0] != "batch" || o[1] != float64(len(classes)) {
		t.Errorf("output logits %v", o)
	}
	if transformer {
		if !slices.Contains(got.Ops, "MatMul") || !slices.Contains(got.Ops, "Softmax") || !slices.Contains(got.Ops, "Erf") || slices.Contains(got.Ops, "Conv") {
			t.Errorf("operators %v: want attention as MatMul and Softmax, GELU as an Erf subgraph, the patches as a product", got.Ops)
		}
	} else if !slices.Contains(got.Ops, "Conv") || slices.Contains(got.Ops, "BatchNormalization") || slices.Contains(got.Ops, "Transpose") {
		t.Errorf("operators %v: want native Conv nodes, the batch norms folded, no transposes", got.Ops)
	}
	t.Logf("operators: %v", got.Ops)
}

// TestBackendONNXMatchesGo classifies the same images with a classifier on ONNX Runtime (--backend onnx,
// which runs the exported graph) and on the Go backend: the same probabilities within 1e-4. Training on
// ONNX Runtime is refused before any work.
func TestBackendONNXMatchesGo(t *testing.T) {
	runtimeOrSkip(t)
	ort, choice, err := backend.New("onnx")
	if err != nil {
		t.Fatal(err)
	}
	defer ort.Finalize()
	if !backend.IsONNX(ort) || !strings.Contains(ort.Description(), "ONNX Runtime v"+backend.ONNXRuntimeVersion) {
		t.Fatalf("backend %s (%s): %s", ort.Name(), choice, ort.Description())
	}
	classes := []string{"ants", "bees"}
	m := zoo.MustNew("resnet18", nn.TutorialHead(len(classes)))
	store := model.NewStore()
	if err := m.Init(store, 9, nil); err != nil {
		t.Fatal(err)
	}
	paritytest.TrainedBatchNorms(t, m, store, 11)
	transform := data.Transform{Size: 64, Normalization: data.ImageNetNormalization}
	photos := images(t)
	probs := func(b compute.Backend) []predict.Prediction {
		c, err := predict.New(b, m, store, classes, transform)
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.Files(photos, len(classes))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	got, want := probs(ort), probs(testenv.Backend(t))
	worst := 0.0
	for i := range want {
		for j, cl := range want[i].Top {
			if got[i].Top[j].Index != cl.Index {
				t.Errorf("%s: ONNX Runtime ranks %v, the Go backend %v", photos[i], got[i].Top, want[i].Top)
			}
			worst = max(worst, math.Abs(got[i].Top[j].Prob-cl.Prob))
		}
	}
	t.Logf("probabilities differ by up to %.3g", worst)
	if worst > 1e-4 {
		t.Errorf("ONNX Runtime's probabilities differ from the Go backend's by up to %.3g", worst)
	}
	cfg := recipe.Default()
	cfg.Data, cfg.Weights = t.TempDir(), "none"
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := train.Create(cfg, ort, dir); err == nil || !strings.Contains(err.Error(), "training on ONNX Runtime: not supported") {
		t.Errorf("training on ONNX Runtime: %v", err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("the refused run left a folder")
	}
}
