package main

import (
	"bytes"
	"image"
	"image/jpeg"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/buildinfo"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/synthveg"
)

// tinyData generates a small dataset with train, test and validation splits of classes Bean, Carrot.
func tinyData(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := synthveg.Generate(dir, synthveg.Options{Classes: 2, Train: 6, Test: 2, Validation: 3, Size: 40, Seed: 4}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tinyRun trains a tiny run of dataDir (tinyTrainArgs: a ResNet-18 at 32 px, one epoch a phase) into a new
// folder.
func tinyRun(t *testing.T, dataDir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "run")
	if code, stdout, stderr := runCLI(t, append([]string{"train", "--data", dataDir, "--out", out}, tinyTrainArgs...)...); code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, stdout, stderr)
	}
	return out
}

// snapshot returns every file's content under dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		content, err := os.ReadFile(path)
		files[path] = string(content)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func metricsLines(t *testing.T, run string) int {
	t.Helper()
	m, err := runfolder.ReadMetrics(run)
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

// TestResumeChecksFlags: flags given with --resume that would change what the run means are refused,
// each named, and the run folder is left as it was; raising --finetune-epochs extends the run by that
// many epochs; run settings such as --strict apply.
func TestResumeChecksFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	dataDir := tinyData(t)
	out := tinyRun(t, dataDir)
	other := tinyData(t)
	for _, tc := range []struct {
		name  string
		flags []string
		want  []string
	}{
		{"other data", []string{"--data", other}, []string{"--data: the run has \"" + dataDir + "\", the command line \"" + other + "\""}},
		{"batch and seed", []string{"--batch", "8", "--seed", "5"}, []string{"--batch: the run has 4, the command line 8", "--seed: the run has 0, the command line 5"}},
		{"architecture and size", []string{"--arch", "resnet34", "--image-size", "48"}, []string{"--arch:", "--image-size:"}},
		{"normalization", []string{"--normalize", "imagenet"}, []string{`--normalize: the run has "half", the command line "imagenet"`}},
		{"frozen epochs after the frozen phase", []string{"--frozen-epochs", "2"}, []string{"--frozen-epochs: the run has 1, the command line 2 (the run's frozen phase is over"}},
		{"fewer epochs", []string{"--finetune-epochs", "0"}, []string{"--finetune-epochs: the run has 1, the command line 0 (a run's phases cannot be shortened)"}},
		{"a learning rate", []string{"--finetune-lr", "1e-4"}, []string{"--finetune-lr: the run has 0.001, the command line 0.0001"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, out)
			code, _, stderr := runCLI(t, append([]string{"train", "--out", out, "--resume"}, tc.flags...)...)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr)
			}
			for _, want := range append(tc.want, "cannot resume "+out+" with other settings; nothing was changed there", "give a new --out") {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if !maps.Equal(before, snapshot(t, out)) {
				t.Error("the refused resume changed the run folder")
			}
		})
	}

	// More fine-tuning: one more epoch line, the metrics appended, the config saying so.
	code, stdout, stderr := runCLI(t, "train", "--out", out, "--resume", "--finetune-epochs", "2", "--strict")
	if code != 0 {
		t.Fatalf("extending: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"Extending the run: finetune_epochs 2 (it had 1).", "Resumed with strict true (the run had false)."} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if n := len(regexp.MustCompile(`(?m)^Epoch +\d+ - `).FindAllString(stdout, -1)); n != 1 {
		t.Errorf("%d epoch lines, want 1:\n%s", n, stdout)
	}
	if n := metricsLines(t, out); n != 3 {
		t.Errorf("%d metrics lines, want 3", n)
	}
	if cfg, err := runfolder.ReadConfig(out); err != nil || cfg.FinetuneEpochs != 2 || !cfg.Strict {
		t.Errorf("config after the extension: %+v, %v", cfg, err)
	}
	// Resuming the finished run trains nothing more.
	if code, stdout, stderr := runCLI(t, "train", "--out", out, "--resume"); code != 0 || strings.Contains(stdout, "Epoch ") {
		t.Errorf("resuming a finished run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if n := metricsLines(t, out); n != 3 {
		t.Errorf("%d metrics lines after resuming a finished run, want 3", n)
	}
}

// TestTrainConfigFile: --config takes YAML or a run's config.json; flags beside it override it; an
// unknown key or a bad value is a usage error naming the file.
func TestTrainConfigFile(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	dataDir := tinyData(t)
	dir := t.TempDir()
	yaml := filepath.Join(dir, "veg.yaml")
	content := "data: " + dataDir + "\narch: resnet18\nweights: none\nimage_size: 32\nbatch: 4\nfrozen_epochs: 1\nfinetune_epochs: 0\nlr: 1e-3\n"
	if err := os.WriteFile(yaml, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(dir, "first")
	if code, stdout, stderr := runCLI(t, "train", "--config", yaml, "--out", first, "--batch", "2"); code != 0 {
		t.Fatalf("train --config: exit %d\n%s\n%s", code, stdout, stderr)
	}
	cfg, err := runfolder.ReadConfig(first)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Arch != "resnet18" || cfg.ImageSize != 32 || cfg.Batch != 2 || cfg.FinetuneEpochs != 0 || cfg.LR != 1e-3 || cfg.FinetuneLR != 1e-5 {
		t.Errorf("config from the file, --batch over it, defaults elsewhere: %+v", cfg)
	}
	// A run's config.json starts a run with the same settings.
	second := filepath.Join(dir, "second")
	if code, stdout, stderr := runCLI(t, "train", "--config", filepath.Join(first, runfolder.ConfigFile), "--out", second); code != 0 {
		t.Fatalf("train --config config.json: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if again, err := runfolder.ReadConfig(second); err != nil || again != cfg {
		t.Errorf("the second run's config %+v (%v), want the first's %+v", again, err, cfg)
	}
	for _, tc := range []struct{ content, want string }{
		{"data: x\nlearning_rat: 1\n", `unknown setting "learning_rat" (did you mean "`},
		{"batch: sixteen\n", "cannot unmarshal string"},
	} {
		bad := filepath.Join(dir, "bad.yaml")
		if err := os.WriteFile(bad, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runCLI(t, "train", "--config", bad, "--out", filepath.Join(dir, "never"))
		if code != 2 || !strings.Contains(stderr, bad) || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and the file named", tc.content, code, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "never")); err == nil {
			t.Error("a bad config file created the run folder")
		}
	}
}

// TestPredictAndEvalTakeFoldersAndPatterns: predict and eval take folders (recursively) and glob patterns;
// predict on class folders scores the predictions against the folder names.
func TestPredictAndEvalTakeFoldersAndPatterns(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	dataDir := tinyData(t)
	out := tinyRun(t, dataDir)
	validation := filepath.Join(dataDir, "validation")
	code, stdout, stderr := runCLI(t, "predict", "--run", out, "--topk", "1", validation)
	if code != 0 {
		t.Fatalf("predict a folder: exit %d\n%s", code, stderr)
	}
	if n := strings.Count(stdout, ".jpg\n"); n != 6 {
		t.Errorf("%d images predicted from the folder, want 6:\n%s", n, stdout)
	}
	if !regexp.MustCompile(`Accuracy against the folder names: \d+\.\d\d% \(\d of 6 images`).MatchString(stdout) {
		t.Errorf("no accuracy against the folder names:\n%s", stdout)
	}
	code, stdout, stderr = runCLI(t, "predict", "--run", out, "--topk", "1", filepath.Join(validation, "Carrot", "*.jpg"), filepath.Join(validation, "Bean", "0001.jpg"))
	if code != 0 || strings.Count(stdout, ".jpg\n") != 4 || !strings.Contains(stdout, "of 4 images") {
		t.Errorf("predict a pattern and a file: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, tc := range []struct{ arg, want string }{
		{filepath.Join(validation, "*.png"), "no file matches"},
		{filepath.Join(validation, "Nope"), "no such file"},
	} {
		if code, _, stderr := runCLI(t, "predict", "--run", out, tc.arg); code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("predict %s: exit %d, stderr %q; want 1 and %q", tc.arg, code, stderr, tc.want)
		}
	}
	code, stdout, stderr = runCLI(t, "eval", "--run", out, filepath.Join(validation, "*"))
	if code != 0 || !strings.Contains(stdout, "Accuracy:") || !strings.Contains(stdout, "Confusion matrix") {
		t.Errorf("eval a pattern of class folders: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(t, "eval", "--run", out, filepath.Join(dataDir, "train", "Carrot", "0001.jpg"), dataDir); code != 2 || !strings.Contains(stderr, "is not in a folder named as one of the model's classes") {
		t.Errorf("eval of images outside class folders: exit %d, stderr %q", code, stderr)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		for _, want := range []string{"vegclf ", "Go: go1.27", "GOEXPERIMENT=simd", "Module: github.com/gomlx/gomlx v0.28.16",
			"Module: github.com/gomlx/compute v0.1.14", "Module: github.com/gomlx/compute-onnx v0.1.13", "JPEG decoder: libjpeg-turbo", "Default backend: ", "ONNX Runtime: "} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%v: no %q in\n%s", args, want, stdout)
			}
		}
	}
	if code, _, _ := runCLI(t, "version", "extra"); code != 2 {
		t.Errorf("version with an argument: exit %d, want 2", code)
	}
}

func TestDescribeVersion(t *testing.T) {
	for _, tc := range []struct {
		main     string
		settings map[string]string
		want     string
	}{
		{"v1.2.0", nil, "v1.2.0"},
		{"(devel)", map[string]string{"vcs.revision": "abc123", "vcs.time": "2026-12-02T10:00:00Z"}, "revision abc123 (2026-12-02T10:00:00Z)"},
		{"(devel)", map[string]string{"vcs.revision": "abc123", "vcs.modified": "true"}, "revision abc123, dirty"},
		{"", nil, "(devel), built outside version control"},
	} {
		if got := buildinfo.Describe(tc.main, tc.settings); got != tc.want {
			t.Errorf("Describe(%q, %v) = %q, want %q", tc.main, tc.settings, got, tc.want)
		}
	}
}

// TestExitCodes: 0 for success, 1 for a failure, 2 for a usage mistake, for every command.
func TestExitCodes(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, 2},
		{[]string{"--help"}, 0},
		{[]string{"frobnicate"}, 2},
		{[]string{"train"}, 2},
		{[]string{"train", "--out", missing, "--bogus"}, 2},
		{[]string{"train", "--data", missing, "--out", filepath.Join(t.TempDir(), "run")}, 1},
		{[]string{"train", "--out", missing, "--resume"}, 1},
		{[]string{"predict"}, 2},
		{[]string{"predict", "--run", missing, "x.jpg"}, 1},
		{[]string{"eval"}, 2},
		{[]string{"eval", "--run", missing, "--split", missing}, 1},
		{[]string{"demo", "--bogus"}, 2},
		{[]string{"bench"}, 2},
		{[]string{"bench", "--data", missing, "--loading-only"}, 1},
		{[]string{"lr-find"}, 2},
		{[]string{"lr-find", "--data", missing}, 1},
		{[]string{"synth"}, 2},
		{[]string{"weights", "frobnicate"}, 2},
		{[]string{"weights", "list"}, 0},
		{[]string{"backend", "--backend", "nonesuch"}, 1},
		{[]string{"backend", "extra"}, 2},
		{[]string{"version"}, 0},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			if code, _, stderr := runCLI(t, tc.args...); code != tc.want {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.want, stderr)
			}
		})
	}
}

// TestReproduce: a run trained again from its record gives identical figures; after one training image
// changes, the reproduction differs and names the data, and that file, as the reason.
func TestReproduce(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	dataDir := tinyData(t)
	out := tinyRun(t, dataDir)
	p, err := runfolder.ReadProvenance(out)
	if err != nil || len(p.Data) != 22 || p.DataSHA256 == "" || p.Build.Modules["github.com/gomlx/gomlx"] == "" || !strings.HasPrefix(p.Backend, "Go Backend") {
		t.Fatalf("provenance %+v (%v)", p, err)
	}
	again := filepath.Join(t.TempDir(), "again")
	code, stdout, stderr := runCLI(t, "reproduce", out, "--out", again)
	if code != 0 || !strings.Contains(stdout, "Reproduced: all 2 epochs have identical losses and accuracies.") {
		t.Fatalf("reproduce: exit %d\n%s\n%s", code, stdout, stderr)
	}
	changed := filepath.Join(dataDir, "train", "Bean", "0001.jpg")
	if err := os.WriteFile(changed, encodeJPEGFile(t), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI(t, "reproduce", out, "--out", filepath.Join(t.TempDir(), "changed"))
	if code != 1 || !strings.Contains(stdout, "Reason: the data differs") || !strings.Contains(stdout, "1 changed: train/Bean/0001.jpg") ||
		!strings.Contains(stderr, "not reproduced: the data differs") {
		t.Errorf("reproduce after changing an image: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// encodeJPEGFile returns a small JPEG of a flat color.
func encodeJPEGFile(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 40))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSweepCLI: a sweep of two points trains both, ranks them, and run again skips both; a bad space is a
// usage error.
func TestSweepCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	dataDir := tinyData(t)
	out := filepath.Join(t.TempDir(), "sweep")
	args := append([]string{"sweep", "--data", dataDir, "--out", out, "--grid", "lr=1e-3,1e-2"}, tinyTrainArgs...)
	code, stdout, stderr := runCLI(t, args...)
	if code != 0 || !strings.Contains(stdout, "Sweep of 2 runs") || !strings.Contains(stdout, "run (by validation accuracy)") ||
		!strings.Contains(stdout, "lr=1e-3 ") || !strings.Contains(stdout, "lr=1e-2 ") {
		t.Fatalf("sweep: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, args...)
	if code != 0 || strings.Count(stdout, "finished before, skipped") != 2 || strings.Contains(stdout, "Epoch ") {
		t.Errorf("the sweep again: exit %d\n%s", code, stdout)
	}
	for _, grid := range []string{"lr=1e-5:1e-2", "nope=1,2"} {
		if code, _, stderr := runCLI(t, "sweep", "--data", dataDir, "--out", out, "--grid", grid); code != 2 {
			t.Errorf("--grid %s: exit %d, want 2: %s", grid, code, stderr)
		}
	}
}

// TestPluginHint: the library's missing-plugin error says what is missing; the command line adds its flags.
func TestPluginHint(t *testing.T) {
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir()) // No plugin, whatever the machine has installed.
	code, _, stderr := runCLI(t, "backend", "--backend", "xla:cpu")
	for _, want := range []string{"xla:cpu needs pjrt_c_api_cpu_plugin.so", "(on the command line: --backend go, or --backend xla:/path/to/the/plugin.so)"} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, want)
		}
	}
}

// TestBadSettingValues gives each typed setting a value that does not parse: a usage error (exit 2) naming
// the flag and the value, before any work.
func TestBadSettingValues(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	out := filepath.Join(t.TempDir(), "run")
	for _, tc := range []struct {
		args       []string
		flag, word string
	}{
		{[]string{"train", "--data", missing, "--out", out, "--arch", "vgg16"}, "-arch", "vgg16"},
		{[]string{"train", "--data", missing, "--out", out, "--normalize", "zscore"}, "-normalize", "zscore"},
		{[]string{"train", "--data", missing, "--out", out, "--schedule", "zigzag"}, "-schedule", "zigzag"},
		{[]string{"train", "--data", missing, "--out", out, "--lr-range", "1e-4:1e-6"}, "-lr-range", "1e-4:1e-6"},
		{[]string{"train", "--data", missing, "--out", out, "--memory-limit", "lots"}, "-memory-limit", "lots"},
		{[]string{"train", "--data", missing, "--out", out, "--checkpoint-every", "soon"}, "-checkpoint-every", "soon"},
		{[]string{"train", "--data", missing, "--out", out, "--checkpoint-every", "0steps"}, "-checkpoint-every", "0steps"},
		{[]string{"train", "--data", missing, "--out", out, "--precision", "int8"}, "-precision", "int8"},
		{[]string{"train", "--data", missing, "--out", out, "--threshold", "1.5"}, "-threshold", "1.5"},
		{[]string{"train", "--data", missing, "--out", out, "--threshold", "tuned"}, "-threshold", "tuned"},
		{[]string{"train", "--data", missing, "--out", out, "--augment-policy", "autoaugment"}, "-augment-policy", "autoaugment"},
		{[]string{"train", "--data", missing, "--out", out, "--augment-policy", "randaugment:2:31"}, "-augment-policy", "randaugment:2:31"},
		{[]string{"bench", "--data", missing, "--precision", "int8"}, "-precision", "int8"},
		{[]string{"lr-find", "--data", missing, "--arch", "vgg16"}, "-arch", "vgg16"},
		{[]string{"import", "--torch", missing, "--classes", "a,b", "--out", out, "--normalize", "zscore"}, "-normalize", "zscore"},
	} {
		t.Run(strings.Join(tc.args[:1], " ")+" "+tc.flag, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.flag) || !strings.Contains(stderr, tc.word) {
				t.Errorf("exit %d, want 2 with an error naming %s and %q; stderr:\n%s", code, tc.flag, tc.word, stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a refused command created %s", out)
			}
		})
	}
}
