package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/onnxmodel"
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
