package data

import (
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/vegclf/vegclf/vegclf/rgb"
)

// Unreadable is a file that cannot be used as an image, and why.
type Unreadable struct {
	Path string
	Err  error
}

// CheckSamples reads the header of every sample's file, in parallel, and returns the files that are not
// images this package can decode (not an image, a corrupt header, too large), in the samples' order.
// Files whose pixel data is damaged past a valid header are found when they are loaded (see Loader.Skip).
func CheckSamples(samples []Sample, maxPixels, workers int) []Unreadable {
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	errs := make([]error, len(samples))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, max(len(samples), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				content, err := os.ReadFile(samples[i].Path)
				if err != nil {
					errs[i] = fmt.Errorf("reading image: %w", err)
				} else if err := rgb.CheckHeader(content, maxPixels); err != nil {
					errs[i] = fmt.Errorf("decoding image %s: %w", samples[i].Path, err)
				}
			}
		}()
	}
	for i := range samples {
		next <- i
	}
	close(next)
	wg.Wait()
	var bad []Unreadable
	for i, err := range errs {
		if err != nil {
			bad = append(bad, Unreadable{Path: samples[i].Path, Err: err})
		}
	}
	return bad
}

// Without returns the split without the given files.
func (s *Split) Without(bad []Unreadable) *Split {
	if len(bad) == 0 {
		return s
	}
	drop := make(map[string]bool, len(bad))
	for _, b := range bad {
		drop[b.Path] = true
	}
	out := &Split{Name: s.Name, Dir: s.Dir}
	for _, sample := range s.Samples {
		if !drop[sample.Path] {
			out.Samples = append(out.Samples, sample)
		}
	}
	return out
}
