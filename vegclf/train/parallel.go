package train

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/vegclf/vegclf/vegclf/step"
)

// parallelFor returns the data-parallel layout of training on b with batches of batch examples, for a
// requested device count (0: all of b's, as many as divide the batch), with a note for the report; nil
// (and no note) for one device.
func parallelFor(b compute.Backend, requested, batch int) (*step.Parallel, string, error) {
	n, err := step.Devices(b, requested)
	if err != nil {
		return nil, "", err
	}
	if requested == 0 {
		for batch%n != 0 {
			n--
		}
	} else if batch%n != 0 {
		return nil, "", fmt.Errorf("devices: a batch of %d does not split evenly across %d devices; choose a batch that is a multiple of %d", batch, n, n)
	}
	if n == 1 {
		return nil, "", nil
	}
	p, err := step.NewParallel(b, n)
	if err != nil {
		return nil, "", err
	}
	note := fmt.Sprintf("Data parallel: each batch of %d is split across %d devices (%d images each); weights and optimizer state are replicated.", batch, n, batch/n)
	if all := b.NumDevices(); n < all {
		note += fmt.Sprintf(" The backend has %d devices; %d is the most that divide the batch.", all, n)
	}
	return p, note, nil
}
