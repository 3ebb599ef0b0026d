package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/synthveg"
	"github.com/vegclf/vegclf/vegclf/train"
)

// TestSignalsInsideEpochs stops a run inside its epochs, through the command: SIGKILL right after the
// report of a checkpoint saved inside a frozen epoch run without the feature cache, SIGKILL again after one
// inside a fine-tuning epoch, then SIGTERM between two checkpoints, whose message says what last.ckpt holds.
// Each time --resume continues it, and it ends with the metrics and checkpoints, bit for bit, of the run
// that went straight through.
func TestSignalsInsideEpochs(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	if _, err := synthveg.Generate(dataDir, synthveg.Options{Classes: 2, Train: 10, Test: 2, Size: 40, Seed: 6}); err != nil {
		t.Fatal(err)
	}
	// 20 train images in batches of 2: 10 steps an epoch, a checkpoint every 3.
	args := []string{"--data", dataDir, "--arch", "resnet18", "--weights", "none", "--image-size", "32", "--batch", "2",
		"--frozen-epochs", "1", "--finetune-epochs", "1", "--lr", "1e-3", "--finetune-lr", "1e-3", "--no-feature-cache",
		"--checkpoint-every", "3steps", "--augment"}
	straight := filepath.Join(t.TempDir(), "straight")
	if code, stdout, stderr := runBinary(t, append([]string{"train", "--out", straight}, args...)...); code != 0 {
		t.Fatalf("the straight run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	dir := filepath.Join(t.TempDir(), "stopped")
	for i, stop := range []struct {
		after  string // The report line the signal follows.
		signal syscall.Signal
	}{
		{"Checkpoint saved: frozen epoch 1, step 3 of 10 (last.ckpt).", syscall.SIGKILL},
		{"Checkpoint saved: fine-tuning epoch 1, step 3 of 10 (last.ckpt).", syscall.SIGKILL},
		{"Resuming fine-tuning epoch 1 at step 3 of 10.", syscall.SIGTERM},
	} {
		cmdArgs := append([]string{"train", "--out", dir}, args...)
		if i > 0 {
			cmdArgs = append(cmdArgs, "--resume")
		}
		_, stderr, err := startUntil(t, stop.after, stop.signal, cmdArgs...)
		meta, _, metaErr := checkpoint.ReadMeta(filepath.Join(dir, runfolder.LastFile))
		if metaErr != nil || meta.Position == nil {
			t.Fatalf("after %v, last.ckpt holds no place inside an epoch: %+v, %v", stop.signal, meta, metaErr)
		}
		var exit *exec.ExitError
		if stop.signal == syscall.SIGTERM {
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("SIGTERM: %v\n%s", err, stderr)
			}
			if meta.Phase != string(runfolder.Finetune) || meta.Position.Batches < 3 {
				t.Errorf("after SIGTERM last.ckpt is at %s, position %+v", meta.Phase, *meta.Position)
			}
			if want := "and fine-tuning epoch 1 up to step "; !strings.Contains(stderr, want) || !strings.Contains(stderr, "--resume --out "+dir+" continues at step") {
				t.Errorf("SIGTERM's message does not say what was saved (%q):\n%s", want, stderr)
			}
		}
	}
	if code, stdout, stderr := runBinary(t, append([]string{"train", "--out", dir, "--resume"}, args...)...); code != 0 || !strings.Contains(stdout, "Resuming fine-tuning epoch 1 at step ") {
		t.Fatalf("the last resume: exit %d\n%s\n%s", code, stdout, stderr)
	}
	checkSameRun(t, dir, straight, 2)
}

// checkSameRun checks that the run folder dir ends as straight, whose run went straight through: the same
// epochs of metrics but for their timings, and every variable of the last and best checkpoints bit for bit.
func checkSameRun(t *testing.T, dir, straight string, epochs int) {
	t.Helper()
	state := func(dir string) ([]runfolder.EpochMetrics, map[string][]byte) {
		metrics, err := runfolder.ReadMetrics(dir)
		if err != nil {
			t.Fatal(err)
		}
		for i := range metrics {
			metrics[i].Seconds, metrics[i].ImagesPerSecond = 0, 0
		}
		vars := map[string][]byte{}
		for _, file := range []string{runfolder.LastFile, runfolder.BestFile} {
			store, _, err := checkpoint.Load(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			for v := range store.IterVariables() {
				v.MustValue().ConstBytes(func(b []byte) { vars[file+" "+v.Path()] = bytes.Clone(b) })
			}
		}
		return metrics, vars
	}
	wantMetrics, wantVars := state(straight)
	gotMetrics, gotVars := state(dir)
	if len(wantMetrics) != epochs || !reflect.DeepEqual(gotMetrics, wantMetrics) {
		t.Errorf("metrics of the stopped run:\n%v\nstraight through:\n%v", gotMetrics, wantMetrics)
	}
	if len(gotVars) != len(wantVars) || len(wantVars) == 0 {
		t.Errorf("%d variables, straight through %d", len(gotVars), len(wantVars))
	}
	for name, want := range wantVars {
		if !bytes.Equal(gotVars[name], want) {
			t.Errorf("%s differs from the straight run's", name)
		}
	}
}

// startUntil starts the command and reads its report until a line that begins with prefix, then sends
// it signal and waits for it to end. It returns the report, stderr and the exit error; it fails the test
// when the report has no such line.
func startUntil(t *testing.T, prefix string, signal syscall.Signal, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "VEGCLF_TEST_RUN_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	scanner := bufio.NewScanner(stdout)
	var report strings.Builder
	found := false
	for scanner.Scan() {
		report.WriteString(scanner.Text() + "\n")
		if strings.HasPrefix(scanner.Text(), prefix) {
			found = true
			break
		}
	}
	cmd.Process.Signal(signal)
	for scanner.Scan() {
		report.WriteString(scanner.Text() + "\n")
	}
	err := cmd.Wait()
	if !found {
		t.Fatalf("the run never reported %q:\n%s\n%s", prefix, report.String(), stderr.String())
	}
	return report.String(), stderr.String(), err
}

// TestKilledFeaturePass kills a run (SIGKILL) right after it reported a part of its feature pass saved:
// the same command started again goes on from the parts, and the run ends as one that went straight
// through.
func TestKilledFeaturePass(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	if _, err := synthveg.Generate(dataDir, synthveg.Options{Classes: 2, Train: 8, Test: 2, Size: 40, Seed: 6}); err != nil {
		t.Fatal(err)
	}
	// 16 train images in batches of 2: 8 batches, a part every 2.
	args := []string{"--data", dataDir, "--arch", "resnet18", "--weights", "none", "--image-size", "32", "--batch", "2",
		"--frozen-epochs", "1", "--finetune-epochs", "1", "--lr", "1e-3", "--finetune-lr", "1e-3", "--checkpoint-every", "2steps"}
	straight := filepath.Join(t.TempDir(), "straight")
	if code, stdout, stderr := runBinary(t, append([]string{"train", "--out", straight}, args...)...); code != 0 {
		t.Fatalf("the straight run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	dir := filepath.Join(t.TempDir(), "killed")
	startUntil(t, "Feature pass saved: train images up to batch 4 of 8", syscall.SIGKILL, append([]string{"train", "--out", dir}, args...)...)
	if parts, images := train.FeatureParts(dir); parts < 2 || images < 8 {
		t.Fatalf("after the kill, %d parts of %d images kept, want at least 2 of 8", parts, images)
	}
	code, stdout, stderr := runBinary(t, append([]string{"train", "--out", dir}, args...)...)
	if code != 0 || !strings.Contains(stdout, "Feature pass of the train images resumed from its saved parts at batch ") {
		t.Fatalf("started again: exit %d\n%s\n%s", code, stdout, stderr)
	}
	checkSameRun(t, dir, straight, 2)
}

// TestProgressLine draws the progress bar with its speed and estimates, and erases it before a report
// line (a checkpoint's) is written, and after an epoch's test.
func TestProgressLine(t *testing.T) {
	var bar, report bytes.Buffer
	line := &progressLine{w: &bar}
	out := &clearingWriter{&report, line}
	line.draw(train.Progress{Phase: runfolder.Finetune, Epoch: 2, Epochs: 3, Stage: "train", Done: 30, Total: 60, Elapsed: 95 * time.Second,
		ImagesPerSecond: 4.2, EpochLeft: 190 * time.Second, RunLeft: 2 * time.Hour})
	if want := "\rfinetune epoch 2/3 train [===============               ] 30/60 1m35s (4.2 img/s, epoch 3m10s left, run 2h0m left) \033[K"; bar.String() != want {
		t.Errorf("bar %q, want %q", bar.String(), want)
	}
	bar.Reset()
	fmt.Fprintf(out, "Checkpoint saved: fine-tuning epoch 2, step 30 of 60 (last.ckpt).\n")
	fmt.Fprintf(out, "another line\n")
	if bar.String() != "\r\033[K" || !strings.HasPrefix(report.String(), "Checkpoint saved") {
		t.Errorf("before a report line the bar got %q (want it erased once), the report %q", bar.String(), report.String())
	}
	bar.Reset()
	line.draw(train.Progress{Phase: runfolder.Finetune, Epoch: 2, Epochs: 3, Stage: "test", Done: 5, Total: 5})
	if !strings.HasSuffix(bar.String(), "\r\033[K") || line.drawn {
		t.Errorf("the bar is not erased after the test: %q", bar.String())
	}
}
