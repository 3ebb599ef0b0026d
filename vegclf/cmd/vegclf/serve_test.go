package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"image/color"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
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
	want := predictJSON(t, runDir, 2, images)

	// A long batch wait keeps the request below in flight when SIGTERM comes.
	cmd, base, errOut := startServe(t, "--run", runDir, "--max-wait", "1s", "--max-batch", "64")
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

	answered := make(chan error, 1)
	var got *serve.Response
	go func() {
		var err error
		got, err = postImages(base+"/predict?topk=2", images)
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
	samePredictions(t, got, want, 2)
	if code, _, stderr := runCLI(t, "serve", "--run", filepath.Join(t.TempDir(), "none"), "--addr", "127.0.0.1:0"); code != 1 || !strings.Contains(stderr, "none") {
		t.Errorf("serve of a missing run: exit %d, %s", code, stderr)
	}
}

// TestServeChannels: vegclf serve takes runs trained with --in-channels 1 (grayscale) and 4 (RGBA): its
// answers equal vegclf predict --json's for the same files (JPEGs, a half-transparent PNG, a gray PNG),
// probabilities within 1e-6, with a Grad-CAM map each; /v1/model says the channels; SIGTERM exits 0.
func TestServeChannels(t *testing.T) {
	if testing.Short() {
		t.Skip("a CLI training (or a command on a trained run): not in the -short loop")
	}
	dataDir := tinyData(t)
	images, _ := filepath.Glob(filepath.Join(dataDir, "validation", "*", "*.jpg"))
	pngs := t.TempDir()
	translucent, gray := filepath.Join(pngs, "translucent.png"), filepath.Join(pngs, "gray.png")
	writeImage(t, translucent, color.NRGBA{200, 80, 40, 120})
	writeImage(t, gray, color.Gray{90})
	images = append(images[:2], translucent, gray)
	for _, tc := range []struct {
		channels int
		mode     string
	}{{1, "L"}, {4, "RGBA"}} {
		t.Run(tc.mode, func(t *testing.T) {
			runDir := filepath.Join(t.TempDir(), "run")
			// One epoch, fine-tuning: the answers need a trained run, not a good one.
			args := append(append([]string{"train", "--data", dataDir, "--out", runDir, "--in-channels", strconv.Itoa(tc.channels)}, tinyTrainArgs...), "--frozen-epochs", "0")
			if code, stdout, stderr := runCLI(t, args...); code != 0 {
				t.Fatalf("train: exit %d\n%s\n%s", code, stdout, stderr)
			}
			want := predictJSON(t, runDir, 2, images)
			cmd, base, errOut := startServe(t, "--run", runDir, "--max-batch", "2") // Two graphs to compile, not three.
			resp, err := http.Get(base + "/v1/model")
			if err != nil {
				t.Fatal(err)
			}
			var m serve.Model
			json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
			if m.Channels != tc.channels || m.Mode != tc.mode {
				t.Errorf("/v1/model says %d channels, mode %q; want %d, %q", m.Channels, m.Mode, tc.channels, tc.mode)
			}
			got, err := postImages(base+"/predict?topk=2&gradcam=1", images)
			if err != nil {
				t.Fatal(err)
			}
			samePredictions(t, got, want, 2)
			for _, p := range got.Predictions {
				if !strings.HasPrefix(p.GradCAMPNG, "iVBORw0KGgo") {
					t.Errorf("%s: no Grad-CAM map", p.Image)
				}
			}
			cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("serve after SIGTERM: %v\n%s", err, errOut.String())
			}
		})
	}
}

// predictJSON runs vegclf predict --json on the run and returns its predictions of images.
func predictJSON(t *testing.T, runDir string, topK int, images []string) []predict.Prediction {
	t.Helper()
	code, stdout, stderr := runCLI(t, append([]string{"predict", "--run", runDir, "--json", "--topk", strconv.Itoa(topK)}, images...)...)
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
	return want
}

// startServe starts vegclf serve with args on a free port of 127.0.0.1 in a child process (killed when the
// test ends) and returns it, its address and its stderr.
func startServe(t *testing.T, args ...string) (*exec.Cmd, string, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "VEGCLF_TEST_RUN_MAIN=1")
	errOut := &bytes.Buffer{}
	cmd.Stderr = errOut
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
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
	return cmd, base, errOut
}

// postImages sends the images as one multipart form to url and decodes the answer.
func postImages(url string, images []string) (*serve.Response, error) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for _, p := range images {
		content, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		part, _ := w.CreateFormFile("image", p)
		part.Write(content)
	}
	w.Close()
	resp, err := http.Post(url, w.FormDataContentType(), &body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		raw, _ := io.ReadAll(resp.Body)
		return nil, errors.New(resp.Status + ": " + string(raw))
	}
	var got serve.Response
	return &got, json.NewDecoder(resp.Body).Decode(&got)
}

// samePredictions checks that served predictions are predict --json's: the same images in order (forms
// send file names without folders), the same topK classes, probabilities within 1e-6.
func samePredictions(t *testing.T, got *serve.Response, want []predict.Prediction, topK int) {
	t.Helper()
	if len(got.Predictions) != len(want) {
		t.Fatalf("%d predictions, want %d", len(got.Predictions), len(want))
	}
	for i, p := range got.Predictions {
		if p.Image != filepath.Base(want[i].Image) || len(p.Top) != topK {
			t.Fatalf("prediction %d: %+v, want %+v", i, p, want[i])
		}
		for k := range p.Top {
			if p.Top[k].Label != want[i].Top[k].Label || abs(p.Top[k].Prob-want[i].Top[k].Prob) > 1e-6 {
				t.Errorf("%s: %+v, predict --json says %+v", p.Image, p.Top, want[i].Top)
			}
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
