package serve

import (
	"context"
	"fmt"
	"time"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/vegclf/vegclf/vegclf/predict"
	"github.com/vegclf/vegclf/vegclf/rgb"
)

// job is one image waiting for the model: its transformed pixels in, its prediction out.
type job struct {
	ctx     context.Context
	pixels  []float32  // Size*Size*C, transformed.
	image   *rgb.Image // The decoded image as the model reads it, for a Grad-CAM map (nil when none was asked for).
	topK    int
	done    chan struct{}
	top     []predict.Class
	gradCAM []byte // PNG.
	err     error
}

// buckets returns the batch sizes the model is compiled for: the powers of two below max, and max. A
// batch of n images runs at the smallest size that holds it, padded with blank images, so that no request
// waits for a compilation.
func buckets(max int) []int {
	var out []int
	for n := 1; n < max; n *= 2 {
		out = append(out, n)
	}
	return append(out, max)
}

// bucketFor returns the smallest bucket that holds n images.
func (s *Server) bucketFor(n int) int {
	for _, b := range s.buckets {
		if b >= n {
			return b
		}
	}
	return s.buckets[len(s.buckets)-1]
}

// warmUp runs the model once at every bucket size (and Grad-CAM at one image), so that each graph is
// compiled before the first request.
func (s *Server) warmUp() error {
	for _, n := range s.buckets {
		if _, err := s.classifier.Probabilities(s.tensorOf(make([]float32, n*s.imageLen()))); err != nil {
			return fmt.Errorf("compiling the model for batches of %d: %w", n, err)
		}
	}
	if s.gradCAM != nil {
		if _, err := s.gradCAM.Maps(s.tensorOf(make([]float32, s.imageLen())), []int32{0}); err != nil {
			return fmt.Errorf("compiling Grad-CAM: %w", err)
		}
	}
	return nil
}

// loop is the one goroutine that runs the model: it takes the first waiting image, gathers more for up
// to MaxWait or until a batch is full, and predicts them together. It returns when the queue is closed
// and drained.
func (s *Server) loop() {
	defer close(s.stopped)
	for first := range s.queue {
		batch := []*job{first}
		timer := time.NewTimer(s.opts.MaxWait)
	gather:
		for len(batch) < s.opts.MaxBatch {
			select {
			case j, ok := <-s.queue:
				if !ok {
					break gather
				}
				batch = append(batch, j)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		s.queued.Add(-int64(len(batch)))
		s.run(batch)
	}
}

// run predicts a batch, leaving out the jobs whose requests have gone (timed out or disconnected).
func (s *Server) run(batch []*job) {
	live := batch[:0]
	for _, j := range batch {
		if j.ctx.Err() != nil {
			j.err = j.ctx.Err()
			close(j.done)
			continue
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return
	}
	imageLen := s.imageLen()
	n := s.bucketFor(len(live))
	flat := make([]float32, n*imageLen)
	for i, j := range live {
		copy(flat[i*imageLen:], j.pixels)
	}
	probs, err := s.classifier.Probabilities(s.tensorOf(flat))
	s.recordBatch(len(live))
	for i, j := range live {
		if err != nil {
			j.err = err
		} else {
			if s.classifier.MultiLabel {
				j.top = s.classifier.AboveThresholds(probs[i])
			} else {
				j.top = predict.TopK(probs[i], s.classifier.Labels, j.topK)
			}
			if j.image != nil && len(j.top) > 0 {
				j.gradCAM, j.err = s.gradCAMPNG(j, flat[i*imageLen:(i+1)*imageLen])
			}
		}
		close(j.done)
	}
}

// imageLen is the length of one transformed image: Size*Size*C.
func (s *Server) imageLen() int {
	tf := s.classifier.Transform
	return tf.Size * tf.Size * tf.NumChannels()
}

// tensorOf makes a batch [n, Size, Size, C] of transformed images laid end to end.
func (s *Server) tensorOf(flat []float32) *tensors.Tensor {
	tf := s.classifier.Transform
	return tensors.FromFlatDataAndDimensions(flat, len(flat)/s.imageLen(), tf.Size, tf.Size, tf.NumChannels())
}
