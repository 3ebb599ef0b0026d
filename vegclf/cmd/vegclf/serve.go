package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/serve"
)

func runServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "--run RUNDIR [--addr 127.0.0.1:8080] [flags]", stderr)
	runDir := fs.String("run", "", "the training run folder (its best checkpoint) or checkpoint file to serve")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on; the default takes connections from this machine only (there is no authentication)")
	def := serve.DefaultOptions()
	maxBatch := fs.Int("max-batch", 0, "most images per forward pass (default: the run's batch size)")
	maxWait := fs.Duration("max-wait", def.MaxWait, "how long the first image of a batch waits for others")
	queue := fs.Int("queue", def.QueueSize, "most images waiting for the model; more are answered 503")
	maxBody := fs.Int64("max-body", def.MaxBodyBytes, "largest request body in bytes; larger is answered 413")
	maxPixels := fs.Int("max-pixels", def.MaxPixels, "largest image (width x height), read from its header; larger is answered 413")
	timeout := fs.Duration("timeout", def.Timeout, "longest a request waits for its predictions; then 504")
	noGradCAM := fs.Bool("no-gradcam", false, "turn off Grad-CAM maps (?gradcam=1)")
	tta := fs.Bool("tta", false, "test-time augmentation: average each image's probabilities with its mirror image's")
	backendSpec := backendFlag(fs)
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	if *runDir == "" {
		return usagef("--run is required")
	}
	for name, v := range map[string]int64{"max-batch": int64(*maxBatch), "queue": int64(*queue), "max-body": *maxBody, "max-pixels": int64(*maxPixels)} {
		if v < 0 || v == 0 && name != "max-batch" {
			return usagef("--%s %d: want a positive number", name, v)
		}
	}
	if *maxWait <= 0 || *timeout <= 0 {
		return usagef("--max-wait and --timeout must be positive")
	}
	batch := *maxBatch
	if batch == 0 {
		batch = 16
		if cfg, err := runfolder.ReadConfig(*runDir); err == nil && cfg.Batch > 0 {
			batch = cfg.Batch
		}
	}
	// Listen first: a taken port is reported before the model is compiled.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *addr, err)
	}
	defer ln.Close()
	b, choice, err := newInferenceBackend(*backendSpec)
	if err != nil {
		return err
	}
	defer b.Finalize()
	c, meta, err := runfolder.LoadClassifier(b, *runDir, ttaOption(*tta)...)
	if err != nil {
		return err
	}
	start := time.Now()
	// The page and /v1/model show names, not this machine's paths, to whoever reaches the server.
	s, err := serve.New(b, c, serve.Model{Run: runName(*runDir), Arch: meta.Arch, Backend: backendName(choice.Config)},
		serve.Options{MaxBatch: batch, MaxWait: *maxWait, QueueSize: *queue, MaxBodyBytes: *maxBody, MaxPixels: *maxPixels,
			Timeout: *timeout, DisableGradCAM: *noGradCAM})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "backend: %s\n", choice)
	fmt.Fprintf(stderr, "compiled %s for batches of %v in %.1f s\n", meta.Arch, s.Model().Batches, time.Since(start).Seconds())
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: *timeout, WriteTimeout: 2 * *timeout}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "Serving %s (%d classes) on http://%s/ (POST /predict, GET /v1/model, GET /healthz); Ctrl-C or SIGTERM stops\n",
		*runDir, len(c.Labels), ln.Addr())
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	// Stop accepting, finish the requests in flight, then the model's queue.
	fmt.Fprintln(stderr, "stopping: finishing the requests in flight")
	shutdown, cancel := context.WithTimeout(context.Background(), *timeout+5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdown)
	s.Close()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("stopping: %w", err)
	}
	st := s.Stats()
	fmt.Fprintf(stderr, "stopped: %d requests, %d images answered; %d bad requests, %d refused as busy\n", st.Requests, st.Images, st.BadRequests, st.Rejected)
	return nil
}

// runName names a run folder (or a checkpoint file, by its folder and name) without the path to it:
// "demo" for runs/demo, "demo/best.ckpt" for runs/demo/best.ckpt.
func runName(runOrCheckpoint string) string {
	abs, err := filepath.Abs(runOrCheckpoint)
	if err != nil {
		abs = filepath.Clean(runOrCheckpoint)
	}
	if info, err := os.Stat(abs); err == nil && !info.IsDir() {
		return filepath.Base(filepath.Dir(abs)) + "/" + filepath.Base(abs)
	}
	return filepath.Base(abs)
}

// backendName is a backend configuration without its library's path: "onnx" for
// onnx:/home/me/.cache/vegclf/onnxruntime-1.30.0/libonnxruntime.so.1, "xla" for xla:/opt/plugin.so,
// "xla:cuda" as it is.
func backendName(config string) string {
	kind, rest, _ := strings.Cut(config, ":")
	if strings.ContainsAny(rest, `/\`) {
		return kind
	}
	return config
}
