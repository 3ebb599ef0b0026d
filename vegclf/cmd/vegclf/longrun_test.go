package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/synthveg"
)

// TestSignalsInsideEpochs stops a run inside its epochs, through the command: SIGKILL right after the
// report of a checkpoint saved inside a frozen epoch run without the feature cache, SIGKILL again after one
// inside a fine-tuning epoch, then SIGTERM between two checkpoints, whose message says what last.ckpt holds.
// Each time --resume continues it, and it ends with the metrics and checkpoints, bit for bit, of the run
// that went straight through.
func TestSignalsInsideEpochs(t *testing.T) {
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
		cmd := exec.Command(os.Args[0], cmdArgs...)
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
			if scanner.Text() == stop.after {
				found = true
				break
			}
		}
		cmd.Process.Signal(stop.signal)
		for scanner.Scan() {
			report.WriteString(scanner.Text() + "\n")
		}
		err := cmd.Wait()
		if !found {
			t.Fatalf("run %d never reported %q:\n%s\n%s", i+1, stop.after, report.String(), stderr.String())
		}
		meta, _, metaErr := checkpoint.ReadMeta(filepath.Join(dir, runfolder.LastFile))
		if metaErr != nil || meta.Position == nil {
			t.Fatalf("after %v, last.ckpt holds no place inside an epoch: %+v, %v", stop.signal, meta, metaErr)
		}
		var exit *exec.ExitError
		if stop.signal == syscall.SIGTERM {
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("SIGTERM: %v\n%s", err, stderr.String())
			}
			if meta.Phase != string(runfolder.Finetune) || meta.Position.Batches < 3 {
				t.Errorf("after SIGTERM last.ckpt is at %s, position %+v", meta.Phase, *meta.Position)
			}
			if want := "and fine-tuning epoch 1 up to step "; !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "--resume --out "+dir+" continues at step") {
				t.Errorf("SIGTERM's message does not say what was saved (%q):\n%s", want, stderr.String())
			}
		}
	}
	if code, stdout, stderr := runBinary(t, append([]string{"train", "--out", dir, "--resume"}, args...)...); code != 0 || !strings.Contains(stdout, "Resuming fine-tuning epoch 1 at step ") {
		t.Fatalf("the last resume: exit %d\n%s\n%s", code, stdout, stderr)
	}
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
	if len(wantMetrics) != 2 || !reflect.DeepEqual(gotMetrics, wantMetrics) {
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
