package main

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/serve"
	"github.com/vegclf/vegclf/vegclf/weights"
)

// optimizerPrefix is the store scope of Adam's moments (package train's).
const optimizerPrefix = "/optimizer/"

// TestLeanBestCheckpoint trains tiny runs (tinyTrainArgs: ResNet-18 at 32 px, one epoch a phase, a few
// seconds each): by default best.ckpt holds the model's variables alone and is smaller than last.ckpt by
// the bytes of last.ckpt's optimizer state, and predict, export and serve read it;
// --best-optimizer-state keeps Adam's moments in best.ckpt.
func TestLeanBestCheckpoint(t *testing.T) {
	dataDir := tinyData(t)
	for _, tc := range []struct {
		name      string
		args      []string
		optimizer bool // best.ckpt keeps the optimizer's state.
	}{
		{"lean", nil, false},
		{"with optimizer state", []string{"--best-optimizer-state"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			args := append(append([]string{"train", "--data", dataDir, "--out", out}, tinyTrainArgs...), tc.args...)
			if code, stdout, stderr := runCLI(t, args...); code != 0 {
				t.Fatalf("train: exit %d\n%s\n%s", code, stdout, stderr)
			}
			best, bestSize := readCheckpoint(t, filepath.Join(out, runfolder.BestFile))
			last, lastSize := readCheckpoint(t, filepath.Join(out, runfolder.LastFile))
			var moments int64 // Bytes of last.ckpt's optimizer state.
			for _, name := range last.Names {
				if strings.HasPrefix(name, optimizerPrefix) {
					moments += int64(4 * len(last.Tensors[name].Float32))
				} else if _, ok := best.Tensors[name]; !ok {
					t.Errorf("best.ckpt lacks the model's variable %s", name)
				}
			}
			if moments == 0 {
				t.Fatal("last.ckpt holds no optimizer state")
			}
			kept := 0
			for _, name := range best.Names {
				if strings.HasPrefix(name, optimizerPrefix) {
					kept++
				}
			}
			if tc.optimizer {
				if kept == 0 {
					t.Errorf("best.ckpt holds no optimizer state with --best-optimizer-state")
				}
				return
			}
			if kept > 0 {
				t.Errorf("best.ckpt holds %d optimizer tensors", kept)
			}
			if d := lastSize - bestSize - moments; d < 0 || d > 64<<10 {
				t.Errorf("best.ckpt takes %d bytes, last.ckpt %d: %d apart, want the optimizer state's %d and a few KB of names", bestSize, lastSize, lastSize-bestSize, moments)
			}

			images, _ := filepath.Glob(filepath.Join(dataDir, "validation", "*", "*.jpg"))
			code, stdout, stderr := runCLI(t, "predict", "--run", out, "--json", images[0])
			if code != 0 || !strings.Contains(stdout, `"top"`) {
				t.Errorf("predict on the lean best.ckpt: exit %d\n%s\n%s", code, stdout, stderr)
			}
			pth := filepath.Join(t.TempDir(), "model.pth")
			if code, stdout, stderr := runCLI(t, "export", "--run", out, "--format", "pth", "--out", pth); code != 0 {
				t.Errorf("export of the lean best.ckpt: exit %d\n%s\n%s", code, stdout, stderr)
			} else if sd, err := weights.Read(pth); err != nil || len(sd.Names) == 0 {
				t.Errorf("the exported model.pth: %v", err)
			}

			b := testenv.Backend(t)
			c, meta, err := runfolder.LoadClassifier(b, out)
			if err != nil {
				t.Fatal(err)
			}
			s, err := serve.New(b, c, serve.Model{Run: "run", Arch: meta.Arch}, serve.Options{MaxBatch: 1, DisableGradCAM: true})
			if err != nil {
				t.Fatal(err)
			}
			hs := httptest.NewServer(s)
			defer func() { hs.Close(); s.Close() }()
			var body bytes.Buffer
			w := multipart.NewWriter(&body)
			part, _ := w.CreateFormFile("image", filepath.Base(images[0]))
			content, err := os.ReadFile(images[0])
			if err != nil {
				t.Fatal(err)
			}
			part.Write(content)
			w.Close()
			resp, err := http.Post(hs.URL+"/predict", w.FormDataContentType(), &body)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got serve.Response
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK || len(got.Predictions) != 1 || len(got.Predictions[0].Top) == 0 {
				t.Errorf("serve on the lean best.ckpt: %s, %+v, %v", resp.Status, got, err)
			}
		})
	}
}

// readCheckpoint reads a checkpoint's tensors and its size on disk.
func readCheckpoint(t *testing.T, path string) (*weights.StateDict, int64) {
	t.Helper()
	sd, err := weights.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return sd, info.Size()
}
