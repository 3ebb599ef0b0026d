// Package serve answers predictions of a trained classifier over HTTP: POST /predict with images, a page
// to try images in a browser (GET /), GET /healthz, GET /v1/model and GET /v1/stats. Concurrent requests
// are batched for the model, which one goroutine runs; bodies, image sizes, waiting time and the queue are
// bounded, and every bad input is a 4xx with a JSON reason.
//
// A Server is an http.Handler: a Go program embeds it in its own http.Server or mux.
package serve

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomlx/compute"
	"github.com/vegclf/vegclf/vegclf/interpret"
	"github.com/vegclf/vegclf/vegclf/predict"
	"github.com/vegclf/vegclf/vegclf/rgb"
	"github.com/vegclf/vegclf/vegclf/viz"
)

// Options bound and tune a Server. Zero fields take the defaults of DefaultOptions: Options{} serves as
// DefaultOptions does.
type Options struct {
	MaxBatch     int           // Most images per forward pass (the run's batch size is a good choice).
	MaxWait      time.Duration // How long the first image of a batch waits for others.
	QueueSize    int           // Most images waiting; a request that does not fit is answered 503.
	MaxBodyBytes int64         // Largest request body; larger is answered 413.
	MaxPixels    int           // Largest image (width x height), read from its header before decoding.
	Timeout      time.Duration // Longest a request waits for its predictions; then 504.
	MaxTopK      int           // Largest ?topk=.
	// DisableGradCAM turns off Grad-CAM maps (?gradcam=1), which are on by default, and saves compiling them.
	DisableGradCAM bool
}

// DefaultOptions returns the defaults: batches of 16 gathered for up to 5 ms, 256 images queued, 32 MiB
// bodies, Pillow's decompression-bomb limit, 30 s per request, Grad-CAM on.
func DefaultOptions() Options {
	return Options{MaxBatch: 16, MaxWait: 5 * time.Millisecond, QueueSize: 256, MaxBodyBytes: 32 << 20,
		MaxPixels: rgb.DefaultMaxPixels, Timeout: 30 * time.Second, MaxTopK: 100}
}

// Model describes the served model, as GET /v1/model answers and the page shows, to anyone who reaches
// the server: Run and Backend are names (the run's folder's, "go", "onnx", "xla:cuda"), not the server's
// paths.
type Model struct {
	Run           string   `json:"run"`
	Arch          string   `json:"arch"`
	Classes       []string `json:"classes"`
	ImageSize     int      `json:"image_size"`
	Normalization string   `json:"normalization"`
	TTA           bool     `json:"tta"`
	Backend       string   `json:"backend"`
	MaxBatch      int      `json:"max_batch"`
	Batches       []int    `json:"compiled_batch_sizes"`
	// MultiLabel says the outputs are independent sigmoids: a prediction lists every class above its
	// threshold (Thresholds, one per class), whatever topk asks.
	MultiLabel bool      `json:"multi_label,omitempty"`
	Thresholds []float64 `json:"thresholds,omitempty"`
	// Channels are the model's input channels, and Mode the Pillow mode uploads are read as (1 "L", 2
	// "LA", 3 "RGB", 4 "RGBA"), as vegclf predict reads files.
	Channels int    `json:"channels"`
	Mode     string `json:"mode"`
}

// Response is the answer to POST /predict: a prediction for each image, in the order sent.
type Response struct {
	Run         string       `json:"run"`
	ImageSize   int          `json:"image_size"`
	ElapsedMS   float64      `json:"elapsed_ms"`
	Predictions []Prediction `json:"predictions"`
}

// Prediction is one image's top classes (a multi-label model's: every class above its threshold, possibly
// none), as vegclf predict --json prints them, and its Grad-CAM map of the first of them when asked for (a
// PNG of the image beside the map laid over it, base64; none without a class).
type Prediction struct {
	Image      string          `json:"image"`
	Top        []predict.Class `json:"top"`
	GradCAMPNG string          `json:"gradcam_png,omitempty"`
}

// Stats counts what a Server has done, as GET /v1/stats answers.
type Stats struct {
	Requests int64 `json:"requests"` // POST /predict requests answered 200.
	Images   int64 `json:"images"`   // Images predicted.
	Rejected int64 `json:"rejected"` // Requests answered 503 because the queue was full.
	// BadRequests counts POST /predict requests refused for their input (4xx): no image, not an image, too
	// large, a bad topk, a wrong form field.
	BadRequests int64         `json:"bad_requests"`
	Batches     map[int]int64 `json:"batches"` // Forward passes by the number of images in them.
}

// Server serves a classifier. Create it with New; Close it after the http.Server that uses it is shut down.
type Server struct {
	classifier *predict.Classifier
	gradCAM    *interpret.GradCAM
	model      Model
	opts       Options
	buckets    []int
	mux        *http.ServeMux

	queue   chan *job
	queued  atomic.Int64 // Images in the queue.
	stopped chan struct{}
	closing sync.Once

	mu    sync.Mutex
	stats Stats
}

//go:embed page.html
var page []byte

// New compiles the classifier for every batch size it will run (and Grad-CAM, if on) and starts the
// goroutine that runs it. model describes it; its Classes, ImageSize, Channels, Mode, Normalization, TTA,
// MaxBatch and Batches are filled in from the classifier and opts.
// Uploads are read as the classifier's Transform reads files (data.Transform.Decode): a model of 1, 2 or
// 4 input channels takes them as Pillow's "L", "LA" or "RGBA", and its Grad-CAM maps are drawn over the
// image so read (gray for 1 or 2 channels).
// A multi-label classifier (independent sigmoid outputs) answers every class above its threshold.
func New(b compute.Backend, c *predict.Classifier, model Model, opts Options) (*Server, error) {
	def := DefaultOptions()
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = def.MaxBatch
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = def.MaxWait
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = def.QueueSize
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = def.MaxBodyBytes
	}
	if opts.MaxPixels <= 0 {
		opts.MaxPixels = def.MaxPixels
	}
	if opts.Timeout <= 0 {
		opts.Timeout = def.Timeout
	}
	if opts.MaxTopK <= 0 {
		opts.MaxTopK = def.MaxTopK
	}
	s := &Server{classifier: c, opts: opts, buckets: buckets(opts.MaxBatch),
		queue: make(chan *job, opts.QueueSize), stopped: make(chan struct{}), stats: Stats{Batches: map[int]int64{}}}
	if !opts.DisableGradCAM {
		g, err := interpret.NewGradCAM(b, c.Model, c.Store)
		if err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
		s.gradCAM = g
	}
	if err := s.warmUp(); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	model.Classes, model.ImageSize, model.Normalization = c.Labels, c.Transform.Size, c.Transform.Normalization.Name
	model.Channels, model.Mode = c.Transform.NumChannels(), c.Transform.Mode()
	model.TTA, model.MaxBatch, model.Batches = c.TTA, opts.MaxBatch, s.buckets
	model.MultiLabel, model.Thresholds = c.MultiLabel, c.Thresholds
	s.model = model
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /{$}", s.handlePage)
	s.mux.HandleFunc("POST /predict", s.handlePredict)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /v1/model", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Model()) })
	s.mux.HandleFunc("GET /v1/stats", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Stats()) })
	go s.loop()
	return s, nil
}

// ServeHTTP answers the routes above; anything else is a JSON 404 (405 for a known path's wrong method).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		// The mux's own 404 and 405 answers are text: answer in JSON, keeping its Allow header.
		rec := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		if rec.status == http.StatusMethodNotAllowed {
			writeError(w, rec.status, fmt.Sprintf("%s %s is not served (allowed: %s)", r.Method, r.URL.Path, rec.header.Get("Allow")))
			return
		}
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such path %s (served: GET /, POST /predict, GET /healthz, GET /v1/model, GET /v1/stats)", r.URL.Path))
		return
	}
	h.ServeHTTP(w, r)
}

// statusRecorder keeps the status and headers of the mux's fallback answers.
type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(status int)      { r.status = status }

// Close stops taking images and waits until those queued are answered. Call it after the http.Server's
// Shutdown, so that no handler is still sending.
func (s *Server) Close() {
	s.closing.Do(func() { close(s.queue) })
	<-s.stopped
}

// Model describes the served model.
func (s *Server) Model() Model { return s.model }

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.stats
	out.Batches = make(map[int]int64, len(s.stats.Batches))
	for k, v := range s.stats.Batches {
		out.Batches[k] = v
	}
	return out
}

func (s *Server) recordBatch(n int) {
	s.mu.Lock()
	s.stats.Batches[n]++
	s.stats.Images += int64(n)
	s.mu.Unlock()
}

func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(page)
}

// requestError is an answer other than 200, with its reason.
type requestError struct {
	status int
	reason string
}

func (e *requestError) Error() string { return e.reason }

func badRequest(format string, args ...any) error {
	return &requestError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// upload is one image of a request, as sent.
type upload struct {
	name    string
	content []byte
}

func (s *Server) handlePredict(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	resp, err := s.predict(r)
	if err != nil {
		var re *requestError
		if !errors.As(err, &re) {
			re = &requestError{http.StatusInternalServerError, err.Error()}
		}
		if re.status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		if re.status >= 400 && re.status < 500 && re.status != 499 { // 499: the client went away.
			s.mu.Lock()
			s.stats.BadRequests++
			s.mu.Unlock()
		}
		writeError(w, re.status, re.reason)
		return
	}
	resp.ElapsedMS = float64(time.Since(start).Microseconds()) / 1000
	s.mu.Lock()
	s.stats.Requests++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

// predict reads, checks and decodes a request's images, queues them and waits for their predictions.
func (s *Server) predict(r *http.Request) (*Response, error) {
	topK, gradCAM, err := s.query(r)
	if err != nil {
		return nil, err
	}
	uploads, err := s.read(r)
	if err != nil {
		return nil, err
	}
	jobs := make([]*job, len(uploads))
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Timeout)
	defer cancel()
	tf := s.classifier.Transform
	tf.MaxPixels = s.opts.MaxPixels
	for i, u := range uploads {
		j := &job{ctx: ctx, pixels: make([]float32, s.imageLen()), topK: topK, done: make(chan struct{})}
		if gradCAM {
			j.image, err = tf.DecodeShown(u.content, j.pixels)
		} else {
			err = tf.Decode(u.content, j.pixels)
		}
		if err != nil {
			status := http.StatusBadRequest
			if _, ok := errors.AsType[*rgb.PixelLimitError](err); ok {
				status = http.StatusRequestEntityTooLarge
			}
			return nil, &requestError{status, fmt.Sprintf("%s: %v", u.name, err)}
		}
		jobs[i] = j
	}
	if err := s.enqueue(jobs); err != nil {
		return nil, err
	}
	resp := &Response{Run: s.model.Run, ImageSize: s.classifier.Transform.Size, Predictions: make([]Prediction, len(jobs))}
	for i, j := range jobs {
		select {
		case <-j.done:
		case <-ctx.Done():
			return nil, s.waitError(r)
		}
		if j.err != nil && ctx.Err() != nil { // The batcher left it out: its wait had run out.
			return nil, s.waitError(r)
		}
		if j.err != nil {
			return nil, fmt.Errorf("predicting %s: %w", uploads[i].name, j.err)
		}
		resp.Predictions[i] = Prediction{Image: uploads[i].name, Top: j.top}
		if j.gradCAM != nil {
			resp.Predictions[i].GradCAMPNG = base64.StdEncoding.EncodeToString(j.gradCAM)
		}
	}
	return resp, nil
}

// waitError says why a request stopped waiting for its predictions: its client went away, or its time ran out.
func (s *Server) waitError(r *http.Request) error {
	if r.Context().Err() != nil {
		return &requestError{499, "the client went away"}
	}
	return &requestError{http.StatusGatewayTimeout, fmt.Sprintf("no prediction within %v (the server is overloaded)", s.opts.Timeout)}
}

// query reads ?topk= (default 5) and ?gradcam=.
func (s *Server) query(r *http.Request) (topK int, gradCAM bool, err error) {
	q := r.URL.Query()
	topK = 5
	if v := q.Get("topk"); v != "" {
		if topK, err = strconv.Atoi(v); err != nil || topK < 1 || topK > s.opts.MaxTopK {
			return 0, false, badRequest("topk=%q: want a whole number from 1 to %d", v, s.opts.MaxTopK)
		}
	}
	if v := q.Get("gradcam"); v != "" {
		if gradCAM, err = strconv.ParseBool(v); err != nil {
			return 0, false, badRequest("gradcam=%q: want 1 or 0", v)
		}
		if gradCAM && s.gradCAM == nil {
			return 0, false, badRequest("gradcam: Grad-CAM maps are turned off on this server")
		}
	}
	return topK, gradCAM, nil
}

// formFields are the multipart fields that carry images.
var formFields = map[string]bool{"image": true, "images": true, "file": true, "files": true}

// read returns the images of a request: its raw body, or each file of a multipart form.
func (s *Server) read(r *http.Request) ([]upload, error) {
	body := http.MaxBytesReader(nil, r.Body, s.opts.MaxBodyBytes)
	mediaType, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType != "multipart/form-data" {
		content, err := io.ReadAll(body)
		if err != nil {
			return nil, bodyError(err, s.opts.MaxBodyBytes)
		}
		if len(content) == 0 {
			return nil, badRequest("empty body: send an image as the body, or as files of a multipart form field named \"image\"")
		}
		name := r.URL.Query().Get("name")
		if name == "" {
			name = "body"
		}
		return []upload{{name, content}}, nil
	}
	if params["boundary"] == "" {
		return nil, badRequest("multipart form without a boundary")
	}
	r.Body = body
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, badRequest("reading the multipart form: %v", err)
	}
	var uploads []upload
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, bodyError(err, s.opts.MaxBodyBytes)
		}
		if !formFields[part.FormName()] {
			return nil, badRequest("unexpected form field %q: send images as files of a field named \"image\" (or images, file, files)", part.FormName())
		}
		content, err := io.ReadAll(part)
		if err != nil {
			return nil, bodyError(err, s.opts.MaxBodyBytes)
		}
		name := part.FileName()
		if name == "" {
			name = fmt.Sprintf("%s[%d]", part.FormName(), len(uploads))
		}
		if len(content) == 0 {
			return nil, badRequest("%s: empty file", name)
		}
		uploads = append(uploads, upload{name, content})
	}
	if len(uploads) == 0 {
		return nil, badRequest("the multipart form has no image: send files in a field named \"image\"")
	}
	return uploads, nil
}

// bodyError says why a body could not be read: too large (413), or broken off.
func bodyError(err error, limit int64) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return &requestError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over the limit of %d bytes", limit)}
	}
	return badRequest("reading the request: %v", err)
}

// enqueue queues all of a request's images, or none: when the queue cannot take them all, 503.
func (s *Server) enqueue(jobs []*job) error {
	n := int64(len(jobs))
	if n > int64(s.opts.QueueSize) {
		return &requestError{http.StatusRequestEntityTooLarge, fmt.Sprintf("%d images in one request, over the queue's %d", n, s.opts.QueueSize)}
	}
	for {
		q := s.queued.Load()
		if q+n > int64(s.opts.QueueSize) {
			s.mu.Lock()
			s.stats.Rejected++
			s.mu.Unlock()
			return &requestError{http.StatusServiceUnavailable, fmt.Sprintf("busy: %d images queued (the limit is %d); try again", q, s.opts.QueueSize)}
		}
		if s.queued.CompareAndSwap(q, q+n) {
			break
		}
	}
	for _, j := range jobs {
		s.queue <- j // Never blocks: the channel holds QueueSize and at most that many are counted in.
	}
	return nil
}

// gradCAMPNG draws the Grad-CAM map of the job's top class over its image.
func (s *Server) gradCAMPNG(j *job, pixels []float32) ([]byte, error) {
	maps, err := s.gradCAM.Maps(s.tensorOf(pixels), []int32{int32(j.top[0].Index)})
	if err != nil {
		return nil, err
	}
	caption := fmt.Sprintf("Grad-CAM of %s (%.1f%%)", j.top[0].Label, 100*j.top[0].Prob)
	return viz.PNG(viz.SaliencyOf(j.image, maps[0], 224, caption)), nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	body := []byte(`{"error":"encoding the answer failed"}` + "\n")
	if err := enc.Encode(v); err == nil {
		body = buf.Bytes()
	} else {
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// writeError answers {"error": reason, "status": status}.
func writeError(w http.ResponseWriter, status int, reason string) {
	writeJSON(w, status, map[string]any{"error": reason, "status": status})
}
