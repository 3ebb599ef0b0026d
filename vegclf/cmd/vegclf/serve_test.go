package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vegclf/vegclf/vegclf/predict"
	"github.com/vegclf/vegclf/vegclf/serve"
)

// TestServeCommand starts vegclf serve on a trained run in a child process: its answers equal vegclf
// predict --json's for the same images, and SIGTERM with a request in flight answers it and exits 0.
func TestServeCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	dataDir := tinyData(t)
	runDir := tinyRun(t, dataDir)
	images, _ := filepath.Glob(filepath.Join(dataDir, "validation", "*", "*.jpg"))
	code, stdout, stderr := runCLI(t, append([]string{"predict", "--run", runDir, "--json", "--topk", "2"}, images...)...)
	if code != 0 {
		t.Fatalf("predict: %d %s", code, stderr)
	}
	var want []predict.Prediction
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var p predict.Prediction
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatalf("predict --json line %q: %v", line, err)
		}
		want = append(want, p)
	}

	// A long batch wait keeps the request below in flight when SIGTERM comes.
	cmd := exec.Command(os.Args[0], "serve", "--run", runDir, "--addr", "127.0.0.1:0", "--max-wait", "1s", "--max-batch", "64")
	cmd.Env = append(os.Environ(), "VEGCLF_TEST_RUN_MAIN=1")
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	scanner := bufio.NewScanner(out)
	var base string
	for scanner.Scan() {
		if m := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+)/`).FindStringSubmatch(scanner.Text()); m != nil {
			base = m[1]
			break
		}
	}
	if base == "" {
		t.Fatalf("serve did not say where it listens: %s", errOut.String())
	}
	go io.Copy(io.Discard, out)
	// What anyone who reaches the server sees names the run and the backend, not this machine's paths.
	if resp, err := http.Get(base + "/v1/model"); err != nil {
		t.Error(err)
	} else {
		var m serve.Model
		json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if m.Run != filepath.Base(runDir) || m.Backend == "" || strings.ContainsAny(m.Backend+m.Run, "/\\") {
			t.Errorf("/v1/model names run %q and backend %q, want names without paths", m.Run, m.Backend)
		}
	}

	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for _, p := range images {
		content, _ := os.ReadFile(p)
		part, _ := w.CreateFormFile("image", p)
		part.Write(content)
	}
	w.Close()
	answered := make(chan error, 1)
	var got serve.Response
	go func() {
		resp, err := http.Post(base+"/predict?topk=2", w.FormDataContentType(), &body)
		if err == nil {
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				raw, _ := io.ReadAll(resp.Body)
				err = errors.New(resp.Status + ": " + string(raw))
			} else {
				err = json.NewDecoder(resp.Body).Decode(&got)
			}
		}
		answered <- err
	}()
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := <-answered; err != nil {
		t.Fatalf("the request in flight at SIGTERM: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(errOut.String(), "stopped: 1 requests") {
		t.Errorf("stderr = %s", errOut.String())
	}
	if len(got.Predictions) != len(want) {
		t.Fatalf("%d predictions, want %d", len(got.Predictions), len(want))
	}
	for i, p := range got.Predictions {
		if p.Image != filepath.Base(want[i].Image) || len(p.Top) != 2 { // Forms send file names without folders.
			t.Fatalf("prediction %d: %+v, want %+v", i, p, want[i])
		}
		for k := range p.Top {
			if p.Top[k].Label != want[i].Top[k].Label || abs(p.Top[k].Prob-want[i].Top[k].Prob) > 1e-6 {
				t.Errorf("%s: %+v, predict --json says %+v", p.Image, p.Top, want[i].Top)
			}
		}
	}
	if code, _, stderr = runCLI(t, "serve", "--run", filepath.Join(t.TempDir(), "none"), "--addr", "127.0.0.1:0"); code != 1 || !strings.Contains(stderr, "none") {
		t.Errorf("serve of a missing run: exit %d, %s", code, stderr)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
