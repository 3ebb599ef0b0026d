package serve

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/predict"
	"github.com/vegclf/vegclf/vegclf/synthveg"
	"github.com/vegclf/vegclf/vegclf/zoo"
)

// testClassifier is a randomly initialized ResNet-18 with 3 classes at 32x32, and images to classify:
// generated ones, then the real photos of the shared data where they are.
func testClassifier(t *testing.T) (*predict.Classifier, []string, compute.Backend) {
	t.Helper()
	b := testenv.Backend(t)
	m := zoo.MustNew("resnet18", nn.Head{Hidden: []int{16}, NumClasses: 3})
	store := model.NewStore()
	if err := m.Init(store, 7, nil); err != nil {
		t.Fatal(err)
	}
	c, err := predict.New(b, m, store, []string{"Bean", "Carrot", "Eggplant"},
		data.Transform{Size: 32, Normalization: data.HalfNormalization})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := synthveg.Generate(dir, synthveg.Options{Classes: 3, Train: 4, Size: 48, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	images, _ := filepath.Glob(filepath.Join(dir, "train", "*", "*.jpg"))
	if real := testenv.OptionalSharedData(t, "hymenoptera"); real != "" {
		photos, _ := filepath.Glob(filepath.Join(real, "val", "*", "*.jpg"))
		images = append(images, photos[:min(len(photos), 6)]...)
	}
	return c, images, b
}

func newTestServer(t *testing.T, b compute.Backend, c *predict.Classifier, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	s, err := New(b, c, Model{Run: "test-run", Arch: "resnet18", Backend: "go"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() { hs.Close(); s.Close() })
	return s, hs
}

// post sends a request and decodes its JSON answer.
func post(t *testing.T, url, contentType string, body []byte) (int, map[string]any, *Response) {
	t.Helper()
	resp, err := http.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: Content-Type %q, body %s", url, ct, raw)
	}
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatalf("%s: not JSON: %s", url, raw)
	}
	var typed Response
	json.Unmarshal(raw, &typed)
	return resp.StatusCode, generic, &typed
}

func multipartBody(t *testing.T, field string, paths ...string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range paths {
		content, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		part, _ := w.CreateFormFile(field, filepath.Base(p))
		part.Write(content)
	}
	w.Close()
	return w.FormDataContentType(), buf.Bytes()
}

// sameTop checks that a served prediction equals the classifier's (what vegclf predict --json prints):
// the same classes in order, probabilities within float rounding of a different batch.
func sameTop(t *testing.T, what string, got, want []predict.Class) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d classes, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i].Label != want[i].Label || got[i].Index != want[i].Index || math.Abs(got[i].Prob-want[i].Prob) > 1e-6 {
			t.Errorf("%s: class %d = %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

// TestPredictMatchesFiles: raw bodies and multipart forms get the predictions of Classifier.Files, the
// code behind vegclf predict --json, for generated images and real photos.
func TestPredictMatchesFiles(t *testing.T) {
	c, images, b := testClassifier(t)
	want, err := c.Files(images, 3)
	if err != nil {
		t.Fatal(err)
	}
	_, hs := newTestServer(t, b, c, Options{MaxBatch: 4})
	for i, p := range images {
		content, _ := os.ReadFile(p)
		status, raw, resp := post(t, hs.URL+"/predict?topk=3&name="+filepath.Base(p), "image/jpeg", content)
		if status != http.StatusOK || len(resp.Predictions) != 1 {
			t.Fatalf("%s: %d %v", p, status, raw)
		}
		if resp.Run != "test-run" || resp.ImageSize != 32 || resp.Predictions[0].Image != filepath.Base(p) || resp.ElapsedMS <= 0 {
			t.Errorf("%s: answer %+v", p, resp)
		}
		sameTop(t, p, resp.Predictions[0].Top, want[i].Top)
	}
	ct, body := multipartBody(t, "image", images...)
	status, raw, resp := post(t, hs.URL+"/predict?topk=3", ct, body)
	if status != http.StatusOK || len(resp.Predictions) != len(images) {
		t.Fatalf("multipart: %d %v", status, raw)
	}
	for i, p := range resp.Predictions {
		if p.Image != filepath.Base(images[i]) {
			t.Errorf("multipart answer %d is for %s, want %s", i, p.Image, filepath.Base(images[i]))
		}
		sameTop(t, "multipart "+p.Image, p.Top, want[i].Top)
	}
	// The default top-k is 5, cut to the number of classes; Grad-CAM comes back as a PNG when asked for.
	content, _ := os.ReadFile(images[0])
	_, _, resp = post(t, hs.URL+"/predict?gradcam=1", "application/octet-stream", content)
	if len(resp.Predictions) != 1 || len(resp.Predictions[0].Top) != 3 || !strings.HasPrefix(resp.Predictions[0].GradCAMPNG, "iVBORw0KGgo") {
		t.Errorf("gradcam answer: %+v", resp)
	}
}

// hugePNG is a PNG header declaring width x height pixels (valid chunk CRC), and no pixels.
func hugePNG(width, height uint32) []byte {
	ihdr := make([]byte, 17)
	copy(ihdr, "IHDR")
	binary.BigEndian.PutUint32(ihdr[4:], width)
	binary.BigEndian.PutUint32(ihdr[8:], height)
	ihdr[12], ihdr[13] = 8, 2 // 8-bit RGB.
	out := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0d")
	out = append(out, ihdr...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(ihdr))
}

// TestBadInputs: each bad request gets its 4xx with a JSON reason that names the problem, and the
// server goes on answering.
func TestBadInputs(t *testing.T) {
	c, images, b := testClassifier(t)
	_, hs := newTestServer(t, b, c, Options{MaxBatch: 2, MaxBodyBytes: 200_000, DisableGradCAM: true})
	good, _ := os.ReadFile(images[0])
	wrongField, wrongBody := multipartBody(t, "photo", images[0])
	noBoundary := "multipart/form-data"
	for _, tc := range []struct {
		name, url, contentType string
		body                   []byte
		status                 int
		reason                 string
	}{
		{"empty body", "/predict", "image/jpeg", nil, 400, "empty body"},
		{"text", "/predict", "text/plain", []byte("hello, not an image"), 400, "unknown image format"},
		{"truncated JPEG", "/predict?name=cut.jpg", "image/jpeg", good[:len(good)/2], 400, "cut.jpg: corrupt or truncated jpeg"},
		{"huge declared size", "/predict", "image/png", hugePNG(60000, 60000), 413, "png image is 60000x60000, over the limit of 89478485 pixels"},
		{"body over the limit", "/predict", "image/jpeg", make([]byte, 300_000), 413, "over the limit of 200000 bytes"},
		{"wrong form field", "/predict", wrongField, wrongBody, 400, `unexpected form field "photo"`},
		{"form without boundary", "/predict", noBoundary, []byte("x"), 400, "without a boundary"},
		{"bad topk", "/predict?topk=zero", "image/jpeg", good, 400, `topk="zero"`},
		{"gradcam off", "/predict?gradcam=1", "image/jpeg", good, 400, "Grad-CAM maps are turned off"},
		{"unknown path", "/classify", "image/jpeg", good, 404, "no such path /classify"},
		{"wrong method", "/healthz", "image/jpeg", good, 405, "POST /healthz is not served"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, raw, _ := post(t, hs.URL+tc.url, tc.contentType, tc.body)
			if status != tc.status || !strings.Contains(fmt.Sprint(raw["error"]), tc.reason) {
				t.Errorf("answer %d %v, want %d with %q", status, raw, tc.status, tc.reason)
			}
			if status, raw, _ := post(t, hs.URL+"/predict", "image/jpeg", good); status != 200 {
				t.Errorf("the good request after it: %d %v", status, raw)
			}
		})
	}
}

// TestQueueFullAndTimeout: a full queue answers 503 with Retry-After, a request over the queue's size
// 413, and a request whose wait runs out 504.
func TestQueueFullAndTimeout(t *testing.T) {
	c, images, b := testClassifier(t)
	s, hs := newTestServer(t, b, c, Options{MaxBatch: 2, QueueSize: 3})
	good, _ := os.ReadFile(images[0])
	s.queued.Store(3) // As if three images were waiting.
	resp, err := http.Post(hs.URL+"/predict", "image/jpeg", bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || s.Stats().Rejected != 1 {
		t.Errorf("full queue: %d, Retry-After %q, stats %+v", resp.StatusCode, resp.Header.Get("Retry-After"), s.Stats())
	}
	s.queued.Store(0)
	ct, body := multipartBody(t, "images", images[:4]...)
	if status, raw, _ := post(t, hs.URL+"/predict", ct, body); status != 413 || !strings.Contains(fmt.Sprint(raw["error"]), "over the queue's 3") {
		t.Errorf("request over the queue: %d %v", status, raw)
	}
	s.opts.Timeout = time.Nanosecond
	if status, raw, _ := post(t, hs.URL+"/predict", "image/jpeg", good); status != 504 || !strings.Contains(fmt.Sprint(raw["error"]), "no prediction within") {
		t.Errorf("timed out request: %d %v", status, raw)
	}
}

// TestRoutes: the page, health, the model's description.
func TestRoutes(t *testing.T) {
	c, _, b := testClassifier(t)
	_, hs := newTestServer(t, b, c, Options{MaxBatch: 8})
	resp, err := http.Get(hs.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !bytes.Contains(page, []byte(`fetch("predict?topk=3"`)) {
		t.Errorf("page: %s %.200s", resp.Header.Get("Content-Type"), page)
	}
	var m Model
	resp, _ = http.Get(hs.URL + "/v1/model")
	json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if m.Run != "test-run" || strings.Join(m.Classes, ",") != "Bean,Carrot,Eggplant" || m.ImageSize != 32 || m.Channels != 3 || m.Mode != "RGB" || m.Normalization != "half" ||
		fmt.Sprint(m.Batches) != "[1 2 4 8]" {
		t.Errorf("/v1/model = %+v", m)
	}
	resp, _ = http.Get(hs.URL + "/healthz")
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}
}

// TestLoad is the load test: 16 concurrent clients send 500 requests to a real server on loopback; every
// answer must be the image's prediction, and concurrent requests must share forward passes. It logs
// images/s, latencies and the batch sizes formed at 1, 4 and 16 clients.
func TestLoad(t *testing.T) {
	c, images, b := testClassifier(t)
	want, err := c.Files(images, 1)
	if err != nil {
		t.Fatal(err)
	}
	s, hs := newTestServer(t, b, c, Options{MaxBatch: 16, MaxWait: 5 * time.Millisecond})
	var uploads []testImage
	for _, p := range images {
		content, _ := os.ReadFile(p)
		uploads = append(uploads, testImage{Name: filepath.Base(p), Content: content})
	}
	for _, clients := range []int{1, 4, 16} {
		requests := 100
		if clients == 16 {
			requests = 500
		}
		var mu sync.Mutex
		wrong := 0
		check := func(i int, p Prediction) error {
			if p.Top[0].Label != want[i].Top[0].Label {
				mu.Lock()
				wrong++
				mu.Unlock()
				return fmt.Errorf("%s: %s, want %s", p.Image, p.Top[0].Label, want[i].Top[0].Label)
			}
			return nil
		}
		before := s.Stats()
		res, err := loadTest(t.Context(), hs.URL, uploads, clients, requests, 2*time.Minute, check)
		if err != nil {
			t.Fatal(err)
		}
		after := s.Stats()
		formed := map[int]int64{}
		largest := 0
		for k, v := range after.Batches {
			if d := v - before.Batches[k]; d > 0 {
				formed[k] = d
				largest = max(largest, k)
			}
		}
		t.Logf("%2d clients: %d requests, %.1f images/s, p50 %.1f ms, p99 %.1f ms, batches formed %v",
			clients, res.Requests, res.ImagesPerSecond, res.P50MS, res.P99MS, sortedCounts(formed))
		if res.Failed != 0 || wrong != 0 || res.Requests != requests {
			t.Errorf("%d clients: %d of %d requests failed (%d wrong): %v", clients, res.Failed, res.Requests, wrong, res.FirstError)
		}
		if clients == 16 && largest < 2 {
			t.Errorf("16 clients formed no batch of more than one image: %v", formed)
		}
	}
}

func sortedCounts(m map[int]int64) string {
	var keys []int
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d:%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// TestLoadRefusesOtherHosts: the load generator sends traffic to this machine only.
func TestLoadRefusesOtherHosts(t *testing.T) {
	for _, url := range []string{"http://192.168.1.10:8080", "http://example.com", "ftp://127.0.0.1"} {
		if _, err := loadTest(t.Context(), url, []testImage{{"x", []byte("x")}}, 1, 1, time.Second, nil); err == nil {
			t.Errorf("loadTest(%s) was not refused", url)
		}
	}
}

// TestZeroOptionsAndBadRequestStats: Options{} serves as DefaultOptions does (Grad-CAM on), and
// /v1/stats counts the requests refused for their input beside those answered.
func TestZeroOptionsAndBadRequestStats(t *testing.T) {
	c, images, b := testClassifier(t)
	_, hs := newTestServer(t, b, c, Options{})
	good, _ := os.ReadFile(images[0])
	for i, body := range [][]byte{good, []byte("not an image"), good, nil, good} {
		url := hs.URL + "/predict"
		if i == 0 {
			url += "?gradcam=1"
		}
		status, raw, resp := post(t, url, "image/jpeg", body)
		if (status == 200) != (len(body) > 20) {
			t.Errorf("request %d: %d %v", i, status, raw)
		}
		if i == 0 && (len(resp.Predictions) != 1 || resp.Predictions[0].GradCAMPNG == "") {
			t.Errorf("Options{}: no Grad-CAM map: %v", raw)
		}
	}
	resp, err := http.Get(hs.URL + "/v1/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stats map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	if stats["requests"] != 3.0 || stats["bad_requests"] != 2.0 || stats["rejected"] != 0.0 {
		t.Errorf("stats after 3 good and 2 bad requests: %v", stats)
	}
}

// TestMultiLabel: a multi-label classifier's answers list every class above its threshold, as
// Classifier.Files does (thresholds 0, 1 and 0.5: the first class always, the second never), whatever topk
// asks; /v1/model says so; Grad-CAM maps the first class listed.
func TestMultiLabel(t *testing.T) {
	single, images, b := testClassifier(t)
	c, err := predict.New(b, single.Model, single.Store, single.Labels, single.Transform, predict.WithMultiLabel([]float64{0, 1, 0.5}))
	if err != nil {
		t.Fatal(err)
	}
	want, err := c.Files(images, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, hs := newTestServer(t, b, c, Options{MaxBatch: 4})
	for i, p := range images[:3] {
		content, _ := os.ReadFile(p)
		status, raw, resp := post(t, hs.URL+"/predict?topk=1&gradcam=1", "image/jpeg", content)
		if status != http.StatusOK || len(resp.Predictions) != 1 {
			t.Fatalf("%s: %d %v", p, status, raw)
		}
		got := resp.Predictions[0]
		sameTop(t, p, got.Top, want[i].Top)
		has := func(label string) bool {
			return slices.ContainsFunc(got.Top, func(c predict.Class) bool { return c.Label == label })
		}
		if !has("Bean") || has("Carrot") {
			t.Errorf("%s: %+v, want Bean, never Carrot", p, got.Top)
		}
		if !strings.HasPrefix(got.GradCAMPNG, "iVBORw0KGgo") {
			t.Errorf("%s: no Grad-CAM map", p)
		}
	}
	resp, err := http.Get(hs.URL + "/v1/model")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m Model
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || !m.MultiLabel || !slices.Equal(m.Thresholds, []float64{0, 1, 0.5}) {
		t.Errorf("/v1/model: %+v, %v", m, err)
	}
}

// channelImages writes images that read differently as "L", "LA" and "RGBA": a coloured PNG whose alpha
// runs from 0 to 255 and a grayscale PNG, beside generated JPEGs.
func channelImages(t *testing.T, jpegs []string) []string {
	t.Helper()
	dir := t.TempDir()
	colour := image.NewNRGBA(image.Rect(0, 0, 40, 30))
	gray := image.NewGray(image.Rect(0, 0, 40, 30))
	for y := range 30 {
		for x := range 40 {
			colour.SetNRGBA(x, y, color.NRGBA{uint8(6 * x), uint8(255 - 8*y), uint8(3 * (x + y)), uint8(255 * x / 39)})
			gray.SetGray(x, y, color.Gray{uint8(5*x + 2*y)})
		}
	}
	paths := slices.Clone(jpegs)
	for name, img := range map[string]image.Image{"alpha.png": colour, "gray.png": gray} {
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	sort.Strings(paths[len(jpegs):])
	return paths
}

// TestChannels: a model of 1, 2 or 4 input channels is served, its uploads read as vegclf predict reads
// files (Pillow's "L", "LA", "RGBA": the same probabilities as Classifier.Files, within 1e-6, for JPEGs,
// an RGBA PNG with graded alpha and a gray PNG); /v1/model says the channels; Grad-CAM maps are drawn over
// the image as the model reads it: gray for 1 and 2 channels, in colour for 4.
func TestChannels(t *testing.T) {
	rgbClassifier, jpegs, b := testClassifier(t)
	images := channelImages(t, jpegs[:2])
	for _, tc := range []struct {
		channels int
		mode     string
	}{{1, "L"}, {2, "LA"}, {4, "RGBA"}} {
		t.Run(tc.mode, func(t *testing.T) {
			m := zoo.MustNew("resnet18", nn.Head{Hidden: []int{16}, NumClasses: 3})
			m.InChannels = tc.channels
			store := model.NewStore()
			if err := m.Init(store, 7, nil); err != nil {
				t.Fatal(err)
			}
			tf := rgbClassifier.Transform
			tf.Channels = tc.channels
			c, err := predict.New(b, m, store, rgbClassifier.Labels, tf)
			if err != nil {
				t.Fatal(err)
			}
			want, err := c.Files(images, 3)
			if err != nil {
				t.Fatal(err)
			}
			_, hs := newTestServer(t, b, c, Options{MaxBatch: 2})
			for i, p := range images {
				content, _ := os.ReadFile(p)
				status, raw, resp := post(t, hs.URL+"/predict?topk=3&gradcam=1&name="+filepath.Base(p), "application/octet-stream", content)
				if status != http.StatusOK || len(resp.Predictions) != 1 || want[i].Err != nil {
					t.Fatalf("%s: %d %v (predict: %v)", p, status, raw, want[i].Err)
				}
				got := resp.Predictions[0]
				sameTop(t, p, got.Top, want[i].Top)
				mapPNG, err := base64.StdEncoding.DecodeString(got.GradCAMPNG)
				if err != nil {
					t.Fatalf("%s: Grad-CAM map: %v", p, err)
				}
				if gray := shownGray(t, mapPNG); gray != (tc.channels < 3) && filepath.Base(p) != "gray.png" {
					t.Errorf("%s: the Grad-CAM map's image is gray: %v, want %v for %s", p, gray, tc.channels < 3, tc.mode)
				}
			}
			resp, err := http.Get(hs.URL + "/v1/model")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var desc Model
			if err := json.NewDecoder(resp.Body).Decode(&desc); err != nil || desc.Channels != tc.channels || desc.Mode != tc.mode {
				t.Errorf("/v1/model: %+v, %v; want %d channels, mode %s", desc, err, tc.channels, tc.mode)
			}
		})
	}
}

// shownGray decodes a Grad-CAM PNG and says whether its plain image (the left panel, viz.SaliencyOf's)
// is gray: R = G = B everywhere.
func shownGray(t *testing.T, content []byte) bool {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	for y := 4; y < 4+224; y++ {
		for x := 4; x < 4+224; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if r != g || g != b {
				return false
			}
		}
	}
	return true
}
