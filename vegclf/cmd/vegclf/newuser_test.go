package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/onnxmodel"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/synthveg"
)

// runBinary runs vegclf as a user does, in a process of its own: the test binary, which behaves as the
// built command with VEGCLF_TEST_RUN_MAIN=1 (TestMain). It returns the exit status, stdout and stderr.
func runBinary(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runBinaryIn(t, "", args...)
}

// runBinaryIn is runBinary under a shell's umask (such as "077"; "" keeps the test's own).
func runBinaryIn(t *testing.T, umask string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	if umask != "" {
		cmd = exec.Command("sh", append([]string{"-c", `umask ` + umask + ` && exec "$0" "$@"`, os.Args[0]}, args...)...)
	}
	cmd.Env = append(os.Environ(), "VEGCLF_TEST_RUN_MAIN=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	case err != nil:
		t.Fatal(err)
	}
	return 0, stdout.String(), stderr.String()
}

// TestInvalidValuesAreUsageErrors: every invalid value is a usage error (exit 2) that names its flag and
// the value, said once with a pointer to --help, before anything is created.
func TestInvalidValuesAreUsageErrors(t *testing.T) {
	dataDir := tinyData(t)
	out := filepath.Join(t.TempDir(), "run")
	train := append([]string{"train", "--data", dataDir, "--out", out}, tinyTrainArgs...)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{append(train, "--batch", "0"), "--batch 0: want at least 1"},
		{append(train, "--image-size", "-5"), "--image-size -5: want at least 16"},
		{append(train, "--lr", "-1"), "--lr -1: want a positive learning rate"},
		{append(train, "--finetune-lr", "0"), "--finetune-lr 0: want a positive learning rate"},
		{append(train, "--test-fraction", "1.5"), "--test-fraction 1.5: want between 0 and 1"},
		{append(train, "--frozen-epochs", "0", "--finetune-epochs", "0"), "--frozen-epochs 0 and --finetune-epochs 0: want at least one epoch"},
		{append(train, "--lr-range", "1e-5:1e-4", "--layer-decay", "0.5"), "--lr-range 1e-05:0.0001 and --layer-decay 0.5: want one or the other"},
		{append(train, "--mixup", "-1"), "--mixup -1: want 0 for off"},
		{append(train, "--ema", "1"), "--ema 1: want 0 for off"},
		{[]string{"demo", "--out", out, "--batch", "0"}, "--batch 0: want at least 1"},
		{[]string{"lr-find", "--data", dataDir, "--lr", "-1"}, "--lr -1: want a positive learning rate"},
		{[]string{"sweep", "--data", dataDir, "--out", out, "--grid", "hidden=8,16", "--image-size", "-5"}, "--image-size -5: want at least 16"},
		{[]string{"predict", "--run", out, "--topk", "0", dataDir}, "--topk 0: want a whole number of classes, at least 1"},
		{[]string{"predict", "--run", out, "--topk", "-3", dataDir}, "--topk -3"},
		{[]string{"eval", "--run", out, "--split", dataDir, "--batch", "0"}, "--batch 0: want at least 1"},
		{[]string{"weights", "download", "resnet50-foo"}, `unknown weights "resnet50-foo"`},
		{[]string{"synth", "--out", out, "--classes", "9"}, "--classes 9: want 1 to 6"},
		{[]string{"synth", "--out", out, "--train", "-1"}, "--train -1: want at least 1"},
		{[]string{"demo", "--out", out, "--classes", "1"}, "--classes 1: want 2 to 6"},
		{[]string{"demo", "--out", out, "--images-per-class", "0"}, "--images-per-class 0: want at least 1"},
		{[]string{"bench", "--data", dataDir, "--batch", "0", "--loading-only"}, "--batch 0: want at least 1"},
		{[]string{"lr-find", "--data", dataDir, "--steps", "0"}, "--steps 0: want at least 2"},
		{[]string{"sweep", "--data", dataDir, "--out", out, "--grid", "lr=1e-3", "--trials", "-1"}, "--trials -1"},
		{[]string{"import", "--torch", "x.pth", "--classes", "a,b", "--out", out, "--image-size", "2"}, "--image-size 2: want at least 16"},
		{[]string{"weights", "download", "resnet5-v1"}, `unknown weights "resnet5-v1" (did you mean resnet50-v1?)`},
	} {
		t.Run(strings.Join(tc.args[:1], " ")+" "+tc.want, func(t *testing.T) {
			code, stdout, stderr := runBinary(t, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "--help") {
				t.Errorf("exit %d, want 2 with %q and a pointer to --help; stderr:\n%s", code, tc.want, stderr)
			}
			if strings.Contains(stdout, "Backend:") {
				t.Errorf("work started before the value was checked:\n%s", stdout)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a refused command created %s", out)
			}
		})
	}
}

// TestFailedTrainCreatesNothing: a train that fails on its data, its weights or its values leaves no --out
// folder behind; missing weights are named with their architecture's download command and --weights none.
func TestFailedTrainCreatesNothing(t *testing.T) {
	t.Setenv("VEGCLF_CACHE", t.TempDir()) // No weights cached.
	oneClass := filepath.Join(t.TempDir(), "one")
	if _, err := synthveg.Generate(oneClass, synthveg.Options{Classes: 1, Train: 6, Size: 40, Seed: 4}); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	out := filepath.Join(t.TempDir(), "nested", "run")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"missing data", []string{"--data", missing, "--weights", "none"}, 1, []string{missing}},
		{"one class", []string{"--data", oneClass, "--weights", "none"}, 1, []string{"classification needs at least two classes", filepath.Join(oneClass, "train") + " has 1 (Bean)"}},
		{"resnet18's weights not cached", []string{"--data", tinyData(t), "--arch", "resnet18"}, 1,
			[]string{"resnet18-v1", "vegclf weights download resnet18-v1", "--weights none"}},
		{"mobilenet's weights not cached", []string{"--data", tinyData(t), "--arch", "mobilenet_v3_small"}, 1,
			[]string{"vegclf weights download mobilenet_v3_small-v1", "--weights none"}},
		{"bad value", []string{"--data", tinyData(t), "--batch", "0"}, 2, []string{"--batch 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runBinary(t, append([]string{"train", "--out", out}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, "resnet50") {
				t.Errorf("the message speaks of another architecture's weights:\n%s", stderr)
			}
			if _, err := os.Stat(filepath.Dir(out)); err == nil {
				t.Errorf("the failed train created %s", filepath.Dir(out))
			}
		})
	}
}

// TestMistypedFlag: an unknown flag is said once, with the flag it was likely meant to be and a pointer to
// --help, not the whole help between two copies of the error; --help itself prints the help.
func TestMistypedFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--finetune-epoch", "3"}, "unknown flag --finetune-epoch (did you mean --finetune-epochs?)"},
		{[]string{"predict", "-top", "3", "x.jpg"}, "unknown flag --top (did you mean --topk?)"},
		{[]string{"serve", "--max-batc", "3"}, "unknown flag --max-batc (did you mean --max-batch?)"},
		{[]string{"train", "--finetune", "3"}, "unknown flag --finetune\n"}, // Two flags start so: no guess.
		{[]string{"trian"}, `unknown command "trian" (did you mean train?)`},
	} {
		code, stdout, stderr := runBinary(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "unknown") != 1 || stdout != "" {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant exit 2 and %q, once", tc.args, code, stderr, tc.want)
		}
		if tc.args[0] != "trian" && (strings.Count(stderr, "\n") > 2 || !strings.Contains(stderr, "Run 'vegclf "+tc.args[0]+" --help'")) {
			t.Errorf("%v: want the error and a pointer to --help, no more:\n%s", tc.args, stderr)
		}
	}
	code, _, stderr := runBinary(t, "train", "--help")
	if code != 0 || !strings.Contains(stderr, "usage: vegclf train") || !strings.Contains(stderr, "-finetune-epochs int") || strings.Contains(stderr, "vegclf train: ") {
		t.Errorf("train --help: exit %d\n%s", code, stderr)
	}
}

// TestExportFormatFollowsExtension: export without --format writes the format --out's extension names, so
// m.onnx is an ONNX file that ONNX Runtime loads and m.pt a PyTorch zip; --format contradicting the
// extension, or an extension export does not write, is a usage error that writes nothing.
func TestExportFormatFollowsExtension(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	run := tinyRun(t, tinyData(t))
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--format", "pth", "--out", filepath.Join(dir, "a.onnx")}, 2, "--format pth and --out " + filepath.Join(dir, "a.onnx") + " disagree"},
		{[]string{"--format", "onnx", "--out", filepath.Join(dir, "a.pth")}, 2, "--format onnx and --out " + filepath.Join(dir, "a.pth") + " disagree"},
		{[]string{"--out", filepath.Join(dir, "a.safetensors")}, 2, "not safetensors"},
		{[]string{"--out", filepath.Join(dir, "a.onnx"), "--layout", "torchvision"}, 2, "--layout is for the pth format"},
	} {
		code, _, stderr := runBinary(t, append([]string{"export", "--run", run}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused exports wrote %v", entries)
	}
	pt := filepath.Join(dir, "m.pt")
	if code, _, stderr := runBinary(t, "export", "--run", run, "--out", pt); code != 0 {
		t.Fatalf("export to .pt: exit %d: %s", code, stderr)
	}
	if raw, err := os.ReadFile(pt); err != nil || !bytes.HasPrefix(raw, []byte("PK")) {
		t.Errorf("m.pt is not a torch.save zip: %v", err)
	}
	if !onnxmodel.Available {
		t.Skip("built without cgo: no ONNX export")
	}
	lib, err := backend.ONNXRuntime()
	if err != nil {
		if os.Getenv("VEGCLF_REQUIRE_ONNX") != "" {
			t.Fatal(err)
		}
		t.Skipf("ONNX Runtime is not installed: %v", err)
	}
	path := filepath.Join(dir, "m.onnx")
	code, stdout, stderr := runBinary(t, "export", "--run", run, "--out", path)
	if code != 0 || !strings.Contains(stdout, "Wrote "+path+" (ONNX: ") {
		t.Fatalf("export to .onnx: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// ONNX Runtime itself (its Node.js binding, as the onnxmodel tests run it) loads and runs the file.
	nodeModules := filepath.Join(filepath.Dir(lib), "npm", "node_modules")
	if _, err := exec.LookPath("node"); err != nil {
		t.Skipf("no node to run ONNX Runtime's binding: %v", err)
	}
	input := filepath.Join(t.TempDir(), "zeros.bin")
	if err := os.WriteFile(input, make([]byte, 4*3*32*32), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join(testenv.RepoRoot(t), "vegclf", "onnxmodel", "testdata", "run.js"), path, input, "1", "3", "32", "32")
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodeModules)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"outputs":["logits"]`) {
		t.Errorf("ONNX Runtime on m.onnx: %v\n%s", err, out)
	}
}

// TestZeroAccuracyRunHasABestCheckpoint trains a run whose test accuracy is 0% in every epoch (the test
// split's red and green images are filed under each other's class): its first epoch is its best
// checkpoint, and the run ends with its validation, where it used to fail for want of best.ckpt.
func TestZeroAccuracyRunHasABestCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	red, green := color.NRGBA{220, 30, 30, 255}, color.NRGBA{30, 220, 30, 255}
	for split, colors := range map[string][2]color.Color{"train": {red, green}, "test": {green, red}, "validation": {red, green}} {
		for i := range 8 {
			if split != "train" && i >= 3 {
				break
			}
			for c, class := range []string{"Red", "Green"} {
				dir := filepath.Join(dataDir, split, class)
				os.MkdirAll(dir, 0o755)
				writeImage(t, filepath.Join(dir, fmt.Sprintf("%d.png", i)), colors[c])
			}
		}
	}
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := runBinary(t, "train", "--data", dataDir, "--out", out, "--arch", "resnet18", "--weights", "none",
		"--image-size", "32", "--batch", "4", "--frozen-epochs", "2", "--finetune-epochs", "0", "--lr", "1e-2")
	metrics, _ := runfolder.ReadMetrics(out)
	for _, m := range metrics {
		if m.TestAccuracy != 0 {
			t.Fatalf("the test's premise: every epoch at 0%% test accuracy, got %s", m)
		}
	}
	if code != 0 || !strings.Contains(stdout, "Best checkpoint: frozen epoch 1, test accuracy 0.00%") || !strings.Contains(stdout, "Validation: ") {
		t.Fatalf("train: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if len(metrics) != 2 || !metrics[0].Best || metrics[1].Best {
		t.Errorf("metrics %+v: want the first epoch best, the second (no better) not", metrics)
	}
	// The last line names every file of the run folder and the disk they take.
	line := regexp.MustCompile(`(?m)^Run folder: .*$`).FindString(stdout)
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if !strings.Contains(line, e.Name()) {
			t.Errorf("%q does not name %s", line, e.Name())
		}
	}
	if len(entries) < 9 || !regexp.MustCompile(`; \d+ MB\)$`).MatchString(line) {
		t.Errorf("%d files in the run folder; %q", len(entries), line)
	}
}

// TestResumeReports: resuming says what it does (the optimizer continued, the epochs left), resuming a
// finished run says there is nothing left to train, and so does the demo run a second time.
func TestResumeReports(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	out := tinyRun(t, tinyData(t))
	code, stdout, stderr := runBinary(t, "train", "--out", out, "--resume", "--finetune-epochs", "3")
	if code != 0 {
		t.Fatalf("extending: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{out + " already holds a run: continuing it, 2 epochs left.",
		"Fine-tuning: all layers trained, Adam lr 0.001 continuing from its saved state (3 steps taken), 2 epochs of 3 left (resumed after epoch 1)."} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "fresh Adam") {
		t.Errorf("a resumed phase announced a fresh optimizer:\n%s", stdout)
	}
	code, stdout, stderr = runBinary(t, "train", "--out", out, "--resume")
	if code != 0 || strings.Contains(stdout, "Epoch ") || !strings.Contains(stdout, out+" already holds a finished run: nothing is trained") ||
		!strings.Contains(stdout, "Nothing left to train: the run's 1 frozen epoch and 3 fine-tuning epochs are done.") {
		t.Errorf("resuming the finished run: exit %d\n%s\n%s", code, stdout, stderr)
	}

	demo := filepath.Join(t.TempDir(), "demo")
	args := []string{"demo", "--out", demo, "--classes", "2", "--images-per-class", "6", "--weights", "none", "--arch", "resnet18",
		"--image-size", "32", "--batch", "4", "--frozen-epochs", "1", "--finetune-epochs", "1"}
	if code, stdout, stderr := runBinary(t, args...); code != 0 || strings.Contains(stdout, "already holds") {
		t.Fatalf("demo: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = runBinary(t, args...)
	if code != 0 || strings.Contains(stdout, "Epoch ") || !strings.Contains(stdout, demo+" already holds a finished run: nothing is trained; its best checkpoint is validated again") {
		t.Errorf("the demo again: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// TestInterruptBeforeTheFirstEpoch: Ctrl-C before an epoch is completed says that nothing was saved to
// resume (which --resume then confirms) and to start again; the same command then starts the run again.
func TestInterruptBeforeTheFirstEpoch(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	if _, err := synthveg.Generate(dataDir, synthveg.Options{Classes: 2, Train: 24, Test: 4, Size: 96, Seed: 6}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "--out", dir, "--data", dataDir, "--arch", "resnet18", "--weights", "none", "--image-size", "96",
		"--batch", "4", "--frozen-epochs", "1", "--finetune-epochs", "0"}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "VEGCLF_TEST_RUN_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	scanner := bufio.NewScanner(stdout)
	for scanner.Scan() {
		if strings.HasPrefix(scanner.Text(), "No pretrained weights") { // Train's first report: Ctrl-C is handled.
			break
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	var rest strings.Builder
	for scanner.Scan() {
		rest.WriteString(scanner.Text() + "\n")
	}
	var exit *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("interrupted run: %v\n%s\n%s", err, rest.String(), stderr.String())
	}
	if strings.Contains(rest.String(), "Epoch  1") {
		t.Fatalf("the test's premise: the interrupt before the first epoch's end; it ended:\n%s", rest.String())
	}
	msg := stderr.String()
	if !strings.Contains(msg, "interrupted before the first epoch was completed: nothing is saved to resume in "+dir+"; start again with the same command") ||
		strings.Contains(msg, "--resume") {
		t.Errorf("stderr = %q", msg)
	}
	if code, _, stderr := runBinary(t, "train", "--out", dir, "--resume"); code != 1 || !strings.Contains(stderr, "nothing to resume") {
		t.Errorf("--resume after the interrupt: exit %d, %s", code, stderr)
	}
	if code, stdout, stderr := runBinary(t, args...); code != 0 || !strings.Contains(stdout, "Epoch  1") {
		t.Errorf("the same command again: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// TestUnreadableImagesOneRule: predict and eval answer the readable images, name each unreadable one
// with its reason ("empty file", "truncated JPEG") as their other errors are named ("vegclf predict:"), give
// the count, and exit 1.
func TestUnreadableImagesOneRule(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	dataDir := tinyData(t)
	out := tinyRun(t, dataDir)
	folder := filepath.Join(dataDir, "validation")
	good, err := os.ReadFile(filepath.Join(folder, "Bean", "0001.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	empty, truncated := filepath.Join(folder, "Bean", "empty.jpg"), filepath.Join(folder, "Carrot", "cut.jpg")
	os.WriteFile(empty, nil, 0o644)
	os.WriteFile(truncated, good[:100], 0o644) // Cut inside its header.
	for _, command := range []string{"predict", "eval"} {
		args := []string{command, "--run", out, folder}
		if command == "eval" {
			args = []string{command, "--run", out, "--split", folder}
		}
		code, stdout, stderr := runBinary(t, args...)
		for _, want := range []string{"vegclf " + command + ": decoding image " + empty + ": empty file",
			"vegclf " + command + ": decoding image " + truncated + ": not a valid jpeg file: truncated JPEG",
			"vegclf " + command + ": 2 of 8 images could not be read"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", command, want, stderr)
			}
		}
		if code != 1 || strings.Contains(stderr, "error:") {
			t.Errorf("%s: exit %d, want 1; stderr:\n%s", command, code, stderr)
		}
		answered := strings.Count(stdout, ".jpg\n")
		if command == "eval" {
			answered = 0
			if regexp.MustCompile(`Accuracy: [\d.]+% \(\d of 6\)`).MatchString(stdout) {
				answered = 6
			}
			if !strings.Contains(stdout, "Skipped 2 unreadable images") {
				t.Errorf("eval: the report does not count the unreadable images:\n%s", stdout)
			}
		}
		if answered != 6 {
			t.Errorf("%s: the 6 readable images were not all answered:\n%s", command, stdout)
		}
	}
}

func TestBackendName(t *testing.T) {
	for config, want := range map[string]string{"go": "go", "xla:cuda": "xla:cuda", "xla:cuda,tf32=false": "xla:cuda,tf32=false",
		"xla:/opt/pjrt/xla_cuda_plugin.so": "xla", "onnx:/home/me/.cache/vegclf/onnxruntime-1.30.0/libonnxruntime.so.1": "onnx"} {
		if got := backendName(config); got != want {
			t.Errorf("backendName(%q) = %q, want %q", config, got, want)
		}
	}
}

// TestFileModesFollowUmask: every file train and export write gets 0666 less the umask, as os.Create
// gives: 0644 under umask 022 (so a server running as another user can read a model), 0600 under 077.
func TestFileModesFollowUmask(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	dataDir := tinyData(t)
	for _, tc := range []struct {
		umask string
		want  os.FileMode
	}{{"022", 0o644}, {"077", 0o600}} {
		t.Run(tc.umask, func(t *testing.T) {
			dir := t.TempDir()
			run := filepath.Join(dir, "run")
			if code, stdout, stderr := runBinaryIn(t, tc.umask, append([]string{"train", "--data", dataDir, "--out", run}, tinyTrainArgs...)...); code != 0 {
				t.Fatalf("train: exit %d\n%s\n%s", code, stdout, stderr)
			}
			exports := filepath.Join(dir, "exports")
			outs := []string{filepath.Join(exports, "model.pth")}
			if _, err := backend.ONNXRuntime(); err == nil && onnxmodel.Available {
				outs = append(outs, filepath.Join(exports, "model.onnx"))
			}
			for _, out := range outs {
				if code, _, stderr := runBinaryIn(t, tc.umask, "export", "--run", run, "--out", out); code != 0 {
					t.Fatalf("export %s: exit %d\n%s", out, code, stderr)
				}
			}
			files := 0
			for _, folder := range []string{run, exports} {
				entries, _ := os.ReadDir(folder)
				for _, e := range entries {
					info, err := e.Info()
					if err != nil || !info.Mode().IsRegular() {
						continue
					}
					files++
					if info.Mode().Perm() != tc.want {
						t.Errorf("umask %s: %s has mode %v, want %v", tc.umask, filepath.Join(filepath.Base(folder), e.Name()), info.Mode().Perm(), tc.want)
					}
				}
			}
			if files < 10 {
				t.Errorf("umask %s: %d files checked, want the run's 9 and the exports", tc.umask, files)
			}
		})
	}
}
