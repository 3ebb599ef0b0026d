package data

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/vegclf/vegclf/vegclf/augment"
	"github.com/vegclf/vegclf/vegclf/rgb"
)

// augmentStream is XORed into the loader's seed for the augmentation's draws, so that they are not the
// shuffle's ("aug" in hex speak).
const augmentStream = 0xa59e

// policyStream and erasingStream are XORed into the loader's seed for the augmentation policy's draws and
// random erasing's, each its own stream, so that turning one on leaves the others' draws as they were.
const (
	policyStream  = 0x9011c7
	erasingStream = 0xe5a5e
)

// Batch is one batch of transformed images, [B, Size, Size, C] float32 (C: Transform.NumChannels), with their labels and files.
type Batch struct {
	Images *tensors.Tensor
	Labels []int32
	// LabelSets are the multi-label samples' classes (Sample.Labels), nil for single-label samples.
	LabelSets [][]int
	Paths     []string
	Pixels    []float32 // The images' flat data, owned by the batch (the same values as Images).
	Index     int       // The batch's place in its epoch's order, from 0 (a batch left empty by skipped images keeps its number).
}

// Loader iterates over a list of samples in batches, decoding and transforming images in parallel.
type Loader struct {
	Samples   []Sample
	Transform Transform
	BatchSize int
	Shuffle   bool   // Shuffle the order every epoch (the permutation depends only on Seed and the epoch).
	Seed      uint64 // Seed of the shuffle.
	Workers   int    // Parallel decoders; 0 means one per CPU core.
	Cache     *ImageCache
	// Skip, when set, is called for each image that cannot be read, and the image is left out of its
	// batch (a batch left empty is not yielded); when nil, such an image is an error.
	Skip func(path string, err error)
	// Augment, when set, randomizes each image of an epoch (seeded by Seed, the epoch and the sample's
	// index). Augmented images bypass Cache.
	Augment *augment.Policy
	// Policy, when enabled, applies an automatic augmentation policy (TrivialAugment or RandAugment) to
	// each image of an epoch after Augment and the resize to Transform.Size, before normalization, as
	// torchvision's transforms after RandomResizedCrop do (seeded like Augment, its own stream). RGB
	// images only; augmented images bypass Cache.
	Policy augment.AutoPolicy
	// Erasing, when its P is above 0, erases a random rectangle of each normalized image with probability
	// P, torchvision's RandomErasing after Normalize (seeded like Augment, its own stream); any channels.
	// Erased images bypass Cache.
	Erasing augment.Erasing
	// Weights, when set (one per sample), makes an epoch as many draws with replacement, each sample with
	// probability proportional to its weight (torch's WeightedRandomSampler), seeded by Seed and the epoch,
	// instead of a permutation.
	Weights []float64
}

// drawStream is XORed into the seed for weighted draws, so that they are not the shuffle's ("draw" in hex
// speak).
const drawStream = 0xd4a3

// BalancedWeights returns a draw weight per sample for Loader.Weights that balances the classes: each
// sample weighs 1 / (its class's count), so every class is drawn as often.
func BalancedWeights(samples []Sample, numClasses int) []float64 {
	counts := make([]int, numClasses)
	for _, s := range samples {
		counts[s.Label]++
	}
	weights := make([]float64, len(samples))
	for i, s := range samples {
		weights[i] = 1 / float64(counts[s.Label])
	}
	return weights
}

// NumBatches returns the number of batches per epoch; the last partial batch is kept.
func (l *Loader) NumBatches() int {
	return (len(l.Samples) + l.BatchSize - 1) / l.BatchSize
}

// Order returns the order in which the samples are visited in the given epoch.
func (l *Loader) Order(epoch int) []int {
	order := make([]int, len(l.Samples))
	if l.Weights != nil {
		return weightedDraws(l.Weights, rand.New(rand.NewPCG(l.Seed^drawStream, uint64(epoch))))
	}
	for i := range order {
		order[i] = i
	}
	if l.Shuffle {
		rng := rand.New(rand.NewPCG(l.Seed, uint64(epoch)))
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	return order
}

// Epoch yields the batches of one epoch. Batches are prepared ahead, in parallel, while the previous
// one is consumed. The first error stops the iteration.
func (l *Loader) Epoch(epoch int) iter.Seq2[*Batch, error] {
	return l.EpochFrom(epoch, 0)
}

// EpochFrom yields the batches of one epoch from its batch first on (Batch.Index), as Epoch would yield
// them: the batches before it are neither loaded nor drawn, for a run resumed inside an epoch.
func (l *Loader) EpochFrom(epoch, first int) iter.Seq2[*Batch, error] {
	return func(yield func(*Batch, error) bool) {
		if l.BatchSize <= 0 {
			yield(nil, fmt.Errorf("loader: batch size must be positive, got %d", l.BatchSize))
			return
		}
		order := l.Order(epoch)
		type result struct {
			batch *Batch
			err   error
		}
		results := make(chan result, 2)
		done := make(chan struct{})
		defer close(done)
		go func() {
			defer close(results)
			for start := max(first, 0) * l.BatchSize; start < len(order); start += l.BatchSize {
				idx := order[start:min(start+l.BatchSize, len(order))]
				b, err := l.load(idx, epoch)
				if b != nil {
					b.Index = start / l.BatchSize
				}
				select {
				case results <- result{b, err}:
				case <-done:
					return
				}
				if err != nil {
					return
				}
			}
		}()
		for r := range results {
			if r.err == nil && len(r.batch.Labels) == 0 {
				continue // Every image of the batch was skipped.
			}
			if !yield(r.batch, r.err) || r.err != nil {
				return
			}
		}
	}
}

// Batch loads the samples at the given indices as one batch.
func (l *Loader) Batch(indices []int) (*Batch, error) {
	return l.load(indices, 0)
}

func (l *Loader) load(indices []int, epoch int) (*Batch, error) {
	size := l.Transform.Size
	channels := l.Transform.NumChannels()
	imgLen := size * size * channels
	b := &Batch{
		Labels: make([]int32, len(indices)),
		Paths:  make([]string, len(indices)),
		Pixels: make([]float32, len(indices)*imgLen),
	}
	for i, idx := range indices {
		b.Labels[i] = int32(l.Samples[idx].Label)
		b.Paths[i] = l.Samples[idx].Path
		if sets := l.Samples[idx].Labels; sets != nil {
			if b.LabelSets == nil {
				b.LabelSets = make([][]int, len(indices))
			}
			b.LabelSets[i] = sets
		}
	}
	workers := l.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	errs := make([]error, len(indices))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, len(indices)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = l.loadInto(b.Paths[i], b.Pixels[i*imgLen:(i+1)*imgLen], epoch, indices[i])
			}
		}()
	}
	for i := range indices {
		next <- i
	}
	close(next)
	wg.Wait()
	kept := 0
	for i, err := range errs {
		if err != nil {
			if l.Skip == nil {
				return nil, err
			}
			l.Skip(b.Paths[i], err)
			continue
		}
		if kept != i {
			b.Labels[kept], b.Paths[kept] = b.Labels[i], b.Paths[i]
			if b.LabelSets != nil {
				b.LabelSets[kept] = b.LabelSets[i]
			}
			copy(b.Pixels[kept*imgLen:(kept+1)*imgLen], b.Pixels[i*imgLen:(i+1)*imgLen])
		}
		kept++
	}
	b.Labels, b.Paths, b.Pixels = b.Labels[:kept], b.Paths[:kept], b.Pixels[:kept*imgLen]
	if b.LabelSets != nil {
		b.LabelSets = b.LabelSets[:kept]
	}
	if kept > 0 {
		b.Images = tensors.FromFlatDataAndDimensions(b.Pixels, kept, size, size, channels)
	}
	return b, nil
}

// augmenting returns whether the loader randomizes its images.
func (l *Loader) augmenting() bool {
	return l.Augment != nil || l.Policy.Enabled() || l.Erasing.P > 0
}

func (l *Loader) loadInto(path string, dst []float32, epoch, index int) error {
	cache := l.Cache
	if l.augmenting() {
		cache = nil
	}
	if cache != nil && cache.get(path, dst) {
		return nil
	}
	// Each image's draws come from the seed, the epoch and the image's index, one stream per augmentation.
	rng := func(stream uint64) *rand.Rand {
		return rand.New(rand.NewPCG(l.Seed^stream, uint64(epoch)<<32|uint64(index)))
	}
	c := l.Transform.NumChannels()
	switch {
	case l.Augment == nil && !l.Policy.Enabled():
		// As Transform.Decode reads an image of any channels: what serve does with an upload.
		if err := l.Transform.LoadInto(path, dst); err != nil {
			return err
		}
	case c != 3:
		return fmt.Errorf("augmenting %s: augmentation takes RGB images, not %d channels", path, c)
	default:
		img, err := rgb.DecodeFile(path, l.Transform.MaxPixels)
		if err != nil {
			return err
		}
		if l.Augment != nil {
			img = l.Augment.Apply(img, rng(augmentStream))
		}
		if l.Policy.Enabled() {
			l.Transform.applyResized(l.Policy.Apply(l.Transform.Resized(img), rng(policyStream)), dst)
		} else {
			l.Transform.Apply(img, dst)
		}
	}
	if l.Erasing.P > 0 {
		size := l.Transform.Size
		l.Erasing.Apply(dst, size, size, c, rng(erasingStream))
	}
	if cache != nil {
		cache.put(path, dst)
	}
	return nil
}

// ImageCache keeps transformed images in memory, so that epochs after the first skip decoding and
// resizing. It is worth it for small image sizes: 224x224 images take 602 KB each.
// It is safe for concurrent use, and must only be shared by loaders with the same Transform.
type ImageCache struct {
	mu       sync.RWMutex
	images   map[string][]float32
	maxBytes int64
	bytes    int64
}

// NewImageCache returns a cache holding at most maxBytes of transformed images.
func NewImageCache(maxBytes int64) *ImageCache {
	return &ImageCache{images: map[string][]float32{}, maxBytes: maxBytes}
}

func (c *ImageCache) get(path string, dst []float32) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.images[path]
	if ok {
		copy(dst, v)
	}
	return ok
}

func (c *ImageCache) put(path string, v []float32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	size := int64(len(v)) * 4
	if _, ok := c.images[path]; ok || c.bytes+size > c.maxBytes {
		return
	}
	c.images[path] = append([]float32(nil), v...)
	c.bytes += size
}

// Len returns the number of images cached.
func (c *ImageCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.images)
}

// Bytes returns the size of the images cached.
func (c *ImageCache) Bytes() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.bytes
}

// weightedDraws returns len(weights) indices drawn with replacement, each with probability proportional to
// its weight.
func weightedDraws(weights []float64, rng *rand.Rand) []int {
	cumulative := make([]float64, len(weights))
	total := 0.0
	for i, w := range weights {
		total += w
		cumulative[i] = total
	}
	draws := make([]int, len(weights))
	for i := range draws {
		u := rng.Float64() * total
		j, _ := slices.BinarySearch(cumulative, u)
		draws[i] = min(j, len(weights)-1)
	}
	return draws
}
