package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/synthveg"
)

func encoded(t *testing.T, encode func(*bytes.Buffer) error) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := encode(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bombJPEG returns a valid small JPEG whose header claims w x h pixels.
func bombJPEG(t *testing.T, w, h uint16) []byte {
	b := encoded(t, func(buf *bytes.Buffer) error {
		return jpeg.Encode(buf, image.NewGray(image.Rect(0, 0, 8, 8)), nil)
	})
	for i := 2; i+9 < len(b); i++ {
		if b[i] == 0xFF && b[i+1] == 0xC0 { // SOF0: length(2) precision(1) height(2) width(2).
			binary.BigEndian.PutUint16(b[i+5:], h)
			binary.BigEndian.PutUint16(b[i+7:], w)
			return b
		}
	}
	t.Fatal("no SOF0 marker")
	return nil
}

// hostileData writes a small synthveg dataset and adds files of every troublesome kind to it. It returns
// the data folder, the files that must be skipped, and the odd files that must be used.
func hostileData(t *testing.T) (string, []string, []string) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := synthveg.Generate(dir, synthveg.Options{Classes: 2, Train: 8, Test: 3, Validation: 3, Size: 40, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, "train", "Bean", "0001.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	gray := image.NewGray16(image.Rect(0, 0, 30, 20))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 7)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 30, 20), color.Palette{color.NRGBA{10, 200, 10, 255}, color.NRGBA{0, 0, 0, 0}})
	alpha := image.NewNRGBA(image.Rect(0, 0, 30, 20))
	for i := range alpha.Pix {
		alpha.Pix[i] = uint8(i)
	}
	bean := filepath.Join(dir, "train", "Bean")
	bad := map[string][]byte{
		"not an image.jpg": []byte("this is a text file named like a photo"),
		"empty.png":        nil,
		"truncated.jpg":    good[:len(good)*9/10], // A valid header, pixel data cut off.
		"bomb.jpg":         bombJPEG(t, 10000, 10000),
	}
	odd := map[string][]byte{
		"gif named.jpg":            encoded(t, func(b *bytes.Buffer) error { return gif.Encode(b, pal, nil) }),
		"16-bit gray.png":          encoded(t, func(b *bytes.Buffer) error { return png.Encode(b, gray) }),
		"paletted.png":             encoded(t, func(b *bytes.Buffer) error { return png.Encode(b, pal) }),
		"alpha.png":                encoded(t, func(b *bytes.Buffer) error { return png.Encode(b, alpha) }),
		`it's a "bean" (1).jpg`:    good,
		"caf\xe9 latin-1 name.jpg": good, // Not valid UTF-8.
		".DS_Store":                []byte("hidden"),
		"._0001.jpg":               []byte("AppleDouble resource fork"),
	}
	var badPaths, oddPaths []string
	for name, content := range bad {
		p := filepath.Join(bean, name)
		os.WriteFile(p, content, 0o644)
		badPaths = append(badPaths, p)
	}
	for name, content := range odd {
		p := filepath.Join(bean, name)
		os.WriteFile(p, content, 0o644)
		if !strings.HasPrefix(name, ".") {
			oddPaths = append(oddPaths, p)
		}
	}
	link := filepath.Join(bean, "link to 0002.jpg")
	os.Symlink(filepath.Join(bean, "0002.jpg"), link)
	oddPaths = append(oddPaths, link)
	os.Symlink(filepath.Join(bean, "missing.jpg"), filepath.Join(bean, "dangling.jpg"))
	return dir, badPaths, oddPaths
}

var tinyTrainArgs = []string{"--arch", "resnet18", "--weights", "none", "--image-size", "32", "--batch", "4",
	"--frozen-epochs", "1", "--finetune-epochs", "1", "--lr", "1e-3", "--finetune-lr", "1e-3"}

func TestHostileImageFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	dataDir, bad, odd := hostileData(t)
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := runCLI(t, append([]string{"train", "--data", dataDir, "--out", out}, tinyTrainArgs...)...)
	if code != 0 {
		t.Fatalf("train on hostile data: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// Bean: 8 generated, 7 odd but decodable files, and the truncated one, whose header is valid (it is
	// skipped when its pixels fail to decode); Carrot: 8.
	if !strings.Contains(stdout, "2 classes, 24 train, 6 test, 6 validation images") {
		t.Errorf("counts:\n%s", stdout)
	}
	if !strings.Contains(stdout, "Skipped 3 unreadable files") {
		t.Errorf("no skip report:\n%s", stdout)
	}
	for _, p := range bad {
		if !strings.Contains(stdout, p) {
			t.Errorf("the report does not name %s:\n%s", p, stdout)
		}
	}
	for _, want := range []string{"unknown image format", "over the limit of 89478485 pixels", "warning: skipping unreadable image", "corrupt or truncated jpeg"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the report lacks %q:\n%s", want, stdout)
		}
	}
	var summary runfolder.Summary
	raw, _ := os.ReadFile(filepath.Join(out, runfolder.SummaryFile))
	if err := json.Unmarshal(raw, &summary); err != nil || len(summary.SkippedFiles) != 4 {
		t.Errorf("summary skipped files = %v (%v), want the 4 bad files", summary.SkippedFiles, err)
	}
	// Every odd but valid file can be predicted, its name printed as given.
	code, stdout, stderr = runCLI(t, append([]string{"predict", "--run", out, "--topk", "1"}, odd...)...)
	if code != 0 {
		t.Fatalf("predict odd files: exit %d: %s", code, stderr)
	}
	for _, p := range odd {
		if !strings.Contains(stdout, p+"\n") {
			t.Errorf("prediction output lacks %q", p)
		}
	}
	// --strict refuses the data, naming the files, before writing anything.
	strictOut := filepath.Join(t.TempDir(), "strict")
	code, _, stderr = runCLI(t, append([]string{"train", "--strict", "--data", dataDir, "--out", strictOut}, tinyTrainArgs...)...)
	if code != 1 || !strings.Contains(stderr, "3 unreadable image files") || !strings.Contains(stderr, "not an image.jpg") {
		t.Errorf("--strict: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(strictOut, runfolder.ConfigFile)); err == nil {
		t.Error("--strict wrote a config for a refused run")
	}
	// A class folder with no readable image is an error naming the class.
	os.MkdirAll(filepath.Join(dataDir, "train", "Ghost"), 0o755)
	os.WriteFile(filepath.Join(dataDir, "train", "Ghost", "x.jpg"), []byte("nope"), 0o644)
	for _, split := range []string{"test", "validation"} {
		os.MkdirAll(filepath.Join(dataDir, split, "Ghost"), 0o755)
	}
	code, _, stderr = runCLI(t, append([]string{"train", "--data", dataDir, "--out", filepath.Join(t.TempDir(), "ghost")}, tinyTrainArgs...)...)
	if code != 1 || !strings.Contains(stderr, `no readable training images for classes "Ghost"`) {
		t.Errorf("empty class: exit %d, stderr %q", code, stderr)
	}
}

// child starts the vegclf command in a child process (the test binary, see TestMain).
func child(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "VEGCLF_TEST_RUN_MAIN=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

// checkRunFolder verifies that whatever a killed run left is whole: checkpoints load, metrics parse.
func checkRunFolder(t *testing.T, dir string) {
	t.Helper()
	for _, f := range []string{runfolder.BestFile, runfolder.LastFile} {
		p := filepath.Join(dir, f)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if _, _, err := checkpoint.Load(p); err != nil {
			t.Fatalf("after a kill, %s is broken: %v", f, err)
		}
	}
	if _, err := runfolder.ReadMetrics(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after a kill, metrics are broken: %v", err)
	}
}

// TestKilledRunsResume kills a training process (SIGKILL) at random points, again and again, resuming
// each time, and checks that nothing is left half-written and that the run ends exactly as an
// uninterrupted one.
func TestKilledRunsResume(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	if _, err := synthveg.Generate(dataDir, synthveg.Options{Classes: 2, Train: 8, Test: 3, Size: 40, Seed: 6}); err != nil {
		t.Fatal(err)
	}
	args := []string{"--data", dataDir, "--arch", "resnet18", "--weights", "none", "--image-size", "32", "--batch", "4",
		"--frozen-epochs", "3", "--finetune-epochs", "3", "--lr", "1e-3", "--finetune-lr", "1e-3"}
	refDir := filepath.Join(t.TempDir(), "ref")
	if code, stdout, stderr := runCLI(t, append([]string{"train", "--out", refDir}, args...)...); code != 0 {
		t.Fatalf("reference run: %s %s", stdout, stderr)
	}
	want, _ := runfolder.ReadMetrics(refDir)

	dir := filepath.Join(t.TempDir(), "killed")
	rng := rand.New(rand.NewPCG(7, 7))
	kills, resumes := 0, 0
	const killPoints = 15
	for finished := false; !finished; {
		cmdArgs := append([]string{"train", "--out", dir}, args...)
		if _, err := os.Stat(filepath.Join(dir, runfolder.LastFile)); err == nil {
			cmdArgs = append(cmdArgs, "--resume")
			resumes++
		}
		cmd, out := child(t, cmdArgs...)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var deadline <-chan time.Time // After the kill points, the run is left to finish.
		if kills < killPoints {
			deadline = time.After(time.Duration(200+rng.IntN(2500)) * time.Millisecond)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run failed: %v\n%s", err, out)
			}
			finished = true
		case <-deadline:
			cmd.Process.Kill()
			<-done
			kills++
			checkRunFolder(t, dir)
		}
	}
	got, err := runfolder.ReadMetrics(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d kill points, %d resumes", kills, resumes)
	if len(got) != len(want) {
		t.Fatalf("killed and resumed run has %d epochs, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].String() != want[i].String() {
			t.Errorf("epoch %d: %s, uninterrupted: %s", i+1, got[i], want[i])
		}
	}
}

// TestInterruptStopsCleanly sends SIGINT after the first epoch: the process stops, says how to resume,
// and leaves the completed epoch's checkpoint.
func TestInterruptStopsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	synthveg.Generate(dataDir, synthveg.Options{Classes: 2, Train: 8, Test: 3, Size: 40, Seed: 6})
	dir := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(os.Args[0], "train", "--out", dir, "--data", dataDir, "--arch", "resnet18", "--weights", "none",
		"--image-size", "32", "--batch", "4", "--frozen-epochs", "2", "--finetune-epochs", "20")
	cmd.Env = append(os.Environ(), "VEGCLF_TEST_RUN_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	scanner := bufio.NewScanner(stdout)
	for scanner.Scan() {
		if strings.HasPrefix(scanner.Text(), "Epoch  1") {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	start := time.Now()
	for scanner.Scan() {
	}
	err := cmd.Wait()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
		t.Fatalf("interrupted run: %v", err)
	}
	if !strings.Contains(stderr.String(), "interrupted; completed epochs are saved") || !strings.Contains(stderr.String(), "--resume") {
		t.Errorf("stderr = %q", stderr.String())
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("stopping took %v", time.Since(start))
	}
	meta, _, err := checkpoint.ReadMeta(filepath.Join(dir, runfolder.LastFile))
	if err != nil || meta.Epoch < 1 {
		t.Errorf("last checkpoint after SIGINT: %+v, %v", meta, err)
	}
}

// TestUnwritableRunFolder fails before training when the run folder is read-only or its disk is full.
func TestUnwritableRunFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	synthveg.Generate(dataDir, synthveg.Options{Classes: 2, Train: 4, Test: 2, Size: 32, Seed: 6})
	for _, tc := range []struct {
		name  string
		mount []string
		want  string
	}{
		{"read-only", []string{"-o", "bind,ro", t.TempDir()}, "is not writable"},
		{"disk full", []string{"-t", "tmpfs", "-o", "size=48k", "tmpfs"}, "cannot be written (disk full?)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mnt := t.TempDir()
			if out, err := exec.Command("mount", append(tc.mount, mnt)...).CombinedOutput(); err != nil {
				t.Skipf("cannot mount a test file system here (needs root): %v %s", err, out)
			}
			defer exec.Command("umount", mnt).Run()
			code, _, stderr := runCLI(t, append([]string{"train", "--data", dataDir, "--out", mnt}, tinyTrainArgs...)...)
			if code != 1 || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, mnt) {
				t.Errorf("exit %d, stderr %q; want %q", code, stderr, tc.want)
			}
		})
	}
}
