package train

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/memlimit"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/step"
)

// memoryPolicy returns the memory-limit policy a run on b follows (memlimit.Policy.Effective). On XLA
// there is no automatic limit: its tensors live in the plugin's memory, not in Go's heap, which the limit
// bounds.
func memoryPolicy(p memlimit.Policy, b compute.Backend) memlimit.Policy {
	p = p.Effective()
	if p.Auto() && backend.IsXLA(b) {
		p.Off = true
	}
	return p
}

// trainStep takes a training step; the run's first fine-tuning step (the first through the backbone) also
// sets the automatic soft memory limit from the memory it uses.
func (r *Run) trainStep(s *step.Stepper, b batchInput) (loss, correct float64, err error) {
	if !r.probeMemory || s.Phase != runfolder.Finetune {
		return stepBatch(s, b)
	}
	r.probeMemory, r.probedSize = false, r.trainSize
	growth := r.imageCacheGrowth()
	limit, err := memoryPolicy(r.Config.MemoryLimit, r.Backend).Apply(func() error {
		loss, correct, err = stepBatch(s, b)
		return err
	}, growth)
	if limit > 0 && err == nil {
		r.report("Memory: soft limit %d MB: the first fine-tuning step's live memory plus %.0f%%, and %d MB for the image cache to fill.\n",
			limit>>20, (memlimit.Margin-1)*100, growth>>20)
	}
	return loss, correct, err
}

// imageCacheGrowth is how many bytes the image cache may still add: the training images it has not
// cached yet, up to its budget.
func (r *Run) imageCacheGrowth() int64 {
	if r.Config.ImageCacheMB <= 0 {
		return 0
	}
	perImage := int64(r.Config.ImageSize) * int64(r.Config.ImageSize) * int64(r.Config.Channels()) * 4
	full := min(int64(r.Config.ImageCacheMB)<<20, int64(len(r.Dataset.Train.Samples))*perImage)
	cached := int64(0)
	if r.images != nil {
		cached = r.images.Bytes()
	}
	return max(full-cached, 0)
}

// imageCache returns the run's cache of transformed images (nil when off), shared by its loaders.
func (r *Run) imageCache() *data.ImageCache {
	if r.Config.ImageCacheMB <= 0 {
		return nil
	}
	if r.images == nil {
		r.images = data.NewImageCache(int64(r.Config.ImageCacheMB) << 20)
	}
	return r.images
}

// reportCaches states the memory the run's caches may take, and what each would hold of this dataset: the
// transformed training images (Config.ImageCacheMB) and the frozen backbone's features
// (Config.FeatureCacheMB; those past it are read from the features file per batch).
func (r *Run) reportCaches() {
	perImage := int64(r.Config.ImageSize) * int64(r.Config.ImageSize) * int64(r.Config.Channels()) * 4
	images := int64(len(r.Dataset.Train.Samples)) * perImage
	what := "off"
	if r.Config.ImageCacheMB > 0 {
		what = fmt.Sprintf("up to %d MB (the %d training images take %s)", r.Config.ImageCacheMB, len(r.Dataset.Train.Samples), megabytes(images))
	}
	features := int64(len(r.Dataset.Train.Samples)+len(r.Dataset.Test.Samples)) * int64(r.Model.FeatureDim()) * 4
	featureWhat := "off"
	if r.Config.CacheFeatures {
		featureWhat = fmt.Sprintf("up to %d MB in memory, the rest read from the features file per batch (the %d train and test images' take %s)",
			r.Config.FeatureCacheMB, len(r.Dataset.Train.Samples)+len(r.Dataset.Test.Samples), megabytes(features))
	}
	r.report("Caches: images %s; features %s.\n", what, featureWhat)
}

// megabytes writes n bytes in MB (2^20), with a decimal under 10.
func megabytes(n int64) string {
	if n < 10<<20 {
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d MB", n>>20)
}

// closeFeatures closes the files the run's feature stores read from.
func (r *Run) closeFeatures() {
	for _, f := range r.openFeatures {
		f.close()
	}
	r.openFeatures = nil
}
