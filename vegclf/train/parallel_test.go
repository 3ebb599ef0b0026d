package train

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/internal/multidevice"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/synthveg"
)

func TestParallelFor(t *testing.T) {
	for _, tc := range []struct {
		name               string
		devices, requested int
		batch              int
		want               int // Devices split across; 0: no data parallel.
		wantNote, wantErr  string
	}{
		{"all four", 4, 0, 16, 4, "each batch of 16 is split across 4 devices (4 images each)", ""},
		{"the most that divide", 4, 0, 6, 3, "The backend has 4 devices; 3 is the most that divide the batch.", ""},
		{"a prime batch", 4, 0, 7, 0, "", ""},
		{"one device", 1, 0, 16, 0, "", ""},
		{"asked for one", 4, 1, 16, 0, "", ""},
		{"asked for two", 4, 2, 16, 2, "split across 2 devices (8 images each)", ""},
		{"uneven", 4, 3, 16, 0, "", "a batch of 16 does not split evenly across 3 devices"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, note, err := parallelFor(testenv.XLANamed{Devices: tc.devices}, tc.requested, tc.batch)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.want == 0 && (p != nil || note != ""):
				t.Fatalf("got a layout over %d devices (%q), want none", p.Devices(), note)
			case tc.want > 0 && (p == nil || p.Devices() != tc.want):
				t.Fatalf("layout %v, want %d devices", p, tc.want)
			case !strings.Contains(note, tc.wantNote):
				t.Fatalf("note %q, want %q", note, tc.wantNote)
			}
		})
	}
}

// TestRunSplitAcrossDevices runs the recipe (the frozen backbone's features, a frozen epoch on them,
// fine-tuning, checkpoints, validation) on two presented devices, each batch split across them, and on
// one: the report says how batches are split, and the runs end with the same metrics and weights. The
// epochs end with batches that do not split.
func TestRunSplitAcrossDevices(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a run: not in the -short loop")
	}
	dataDir := generate(t, synthveg.Options{Classes: 3, Train: 3, Test: 2, Validation: 2, Size: 32, Seed: 5})
	b := multidevice.New(testenv.Backend(t), 2)
	var runs [2]*Run
	var reports [2]string
	var splits [2]int64                   // Executions across both devices.
	for i, devices := range []int{1, 0} { // 0: all, two.
		before := b.SplitExecutions()
		cfg := smallConfig(dataDir)
		cfg.FinetuneEpochs, cfg.Batch, cfg.Devices = 1, 4, devices
		r, err := Create(cfg, b, filepath.Join(t.TempDir(), "run"))
		if err != nil {
			t.Fatal(err)
		}
		var report strings.Builder
		r.Report = &report
		if err := r.Train(context.Background()); err != nil {
			t.Fatalf("devices %d: %v", devices, err)
		}
		if _, err := r.EvaluateBest(); err != nil {
			t.Fatalf("devices %d: validation: %v", devices, err)
		}
		runs[i], reports[i], splits[i] = r, report.String(), b.SplitExecutions()-before
	}
	// 9 training images in batches of 4: two split steps and a one-device one per epoch; the features of
	// those and of the 6 test images, in two split batches each.
	if splits[0] != 0 || splits[1] != 8 {
		t.Errorf("executions across both devices: %d on one device, %d split; want 0 and 8", splits[0], splits[1])
	}
	const note = "Data parallel: each batch of 4 is split across 2 devices (2 images each)"
	if strings.Contains(reports[0], "Data parallel") || !strings.Contains(reports[1], note) {
		t.Errorf("reports:\n%s\n---\n%s", reports[0], reports[1])
	}
	lines := func(report string) []string {
		var out []string
		for _, l := range strings.Split(report, "\n") {
			if strings.HasPrefix(l, "Epoch") {
				out = append(out, l)
			}
		}
		return out
	}
	if one, split := lines(reports[0]), lines(reports[1]); len(one) != 2 || !slices.Equal(one, split) {
		t.Errorf("epochs on one device:\n%s\nsplit:\n%s", strings.Join(one, "\n"), strings.Join(split, "\n"))
	}
	testenv.SameValues(t, runs[0].Store, runs[1].Store)
}
