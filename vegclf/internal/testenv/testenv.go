// Package testenv finds what the tests need outside the package under test: the repository root,
// the shared test data, and Debian's Python with torch and torchvision (the reference implementation);
// and it holds the helpers that several packages' tests share (RandomBatch, FloatValues, SameValues).
package testenv

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/backend"
)

// RepoRoot returns the repository root (the folder holding go.mod), walking up from the working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// RequireSharedEnv names the environment variable that makes the shared data required: set (as
// scripts/test.sh sets it, CI having ../shared beside its clone), a test that needs or uses the shared data
// fails where it is missing, so that a run cannot pass with the real-photo tests skipped.
const RequireSharedEnv = "VEGCLF_REQUIRE_SHARED"

// sharedDir returns the path of the named data set in ../shared/data beside the repository and whether it
// is there.
func sharedDir(t testing.TB, name string) (string, error) {
	t.Helper()
	dir := filepath.Join(RepoRoot(t), "..", "shared", "data", name)
	_, err := os.Stat(dir)
	return dir, err
}

// missingShared fails the test when the shared data is required (RequireSharedEnv), and else skips it when
// skip is true.
func missingShared(t testing.TB, dir string, err error, skip bool) {
	t.Helper()
	if os.Getenv(RequireSharedEnv) != "" {
		t.Fatalf("shared data %s not present, and %s is set: %v", dir, RequireSharedEnv, err)
	}
	if skip {
		t.Skipf("shared data %s not present: %v", dir, err)
	}
}

// SharedData returns the path of the named data set in ../shared/data beside the repository, and skips
// the test when it is not there (a checkout without the shared data), unless RequireSharedEnv is set: the
// test then fails.
func SharedData(t testing.TB, name string) string {
	t.Helper()
	dir, err := sharedDir(t, name)
	if err != nil {
		missingShared(t, dir, err, true)
	}
	return dir
}

// OptionalSharedData returns the path of the named data set in ../shared/data beside the repository, or
// "" when it is not there, for tests that use it beside data of their own; with RequireSharedEnv set, a
// missing data set fails the test.
func OptionalSharedData(t testing.TB, name string) string {
	t.Helper()
	dir, err := sharedDir(t, name)
	if err != nil {
		missingShared(t, dir, err, false)
		return ""
	}
	return dir
}

// Python returns the Python interpreter that has torch and torchvision (Debian's /usr/bin/python3, or
// $VEGCLF_PYTHON). Without one the test is skipped, unless VEGCLF_REQUIRE_TORCH is set (as CI does),
// in which case it fails.
func Python(t testing.TB) string {
	t.Helper()
	python := os.Getenv("VEGCLF_PYTHON")
	if python == "" {
		python = "/usr/bin/python3"
	}
	cmd := exec.Command(python, "-c", "import torch, torchvision")
	if out, err := cmd.CombinedOutput(); err != nil {
		msg := "reference implementation unavailable (" + python + " with torch and torchvision): " + string(out) + err.Error()
		if os.Getenv("VEGCLF_REQUIRE_TORCH") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return python
}

// RunPython runs a script of vegclf/internal/torchref with the reference Python and returns its output.
func RunPython(t testing.TB, script string, args ...string) []byte {
	t.Helper()
	python := Python(t)
	path := filepath.Join(RepoRoot(t), "vegclf", "internal", "torchref", script)
	cmd := exec.Command(python, append([]string{path}, args...)...)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=2")
	return Output(t, "running "+script, cmd)
}

// Output runs cmd and returns its standard output, failing the test with what, the error and cmd's
// standard error when it fails.
func Output(t testing.TB, what string, cmd *exec.Cmd) []byte {
	t.Helper()
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s: %v\n%s", what, err, stderr)
	}
	return out
}

// Backend returns the compute backend tests run on: $GOMLX_BACKEND when set (so the same tests run on
// XLA), else the pure Go backend, configured as the product configures it (backend.ConfigureProcess,
// then backend.New). The backend is freed when t and its subtests end: what the test built on it must
// not outlive it.
func Backend(t testing.TB) compute.Backend {
	t.Helper()
	if _, err := backend.ConfigureProcess(""); err != nil {
		t.Fatal(err)
	}
	b, _, err := backend.New("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Finalize)
	return b
}

// ParityBound returns the relative error that parity tests against torchvision allow on backend b:
// 1e-4 on CPUs, and the GPU target of 1e-3 on CUDA, whose kernels sum in other orders.
func ParityBound(b compute.Backend) float64 {
	if strings.Contains(b.Description(), "cuda") {
		return 1e-3
	}
	return 1e-4
}

// ReadFloat32s reads a file of little-endian float32 values, as the reference scripts write them.
func ReadFloat32s(t testing.TB, path string) []float32 {
	t.Helper()
	raw := readFile(t, path)
	out := make([]float32, len(raw)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[i*4:]))
	}
	return out
}

// ReadInt32s reads a file of little-endian int32 values.
func ReadInt32s(t testing.TB, path string) []int32 {
	t.Helper()
	raw := readFile(t, path)
	out := make([]int32, len(raw)/4)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(raw[i*4:]))
	}
	return out
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// XLANamed is a backend that answers only Name, as XLA's does, and NumDevices: for tests of code that
// decides by the backend's kind (backend.IsXLA) or its device count where no XLA plugin is installed.
type XLANamed struct {
	compute.Backend
	Devices int // The device count it reports (at least 1).
}

// Name returns XLA's backend name.
func (XLANamed) Name() string { return "xla" }

// NumDevices returns Devices, at least 1.
func (b XLANamed) NumDevices() int { return max(b.Devices, 1) }

// RandomBatch returns n images [n,size,size,3] of seeded noise, and labels cycling over classes.
func RandomBatch(seed uint64, n, size, classes int) (*tensors.Tensor, []int32) {
	rng := rand.New(rand.NewPCG(seed, 0))
	pixels := make([]float32, n*size*size*3)
	for i := range pixels {
		pixels[i] = float32(rng.NormFloat64())
	}
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(i % classes)
	}
	return tensors.FromFlatDataAndDimensions(pixels, n, size, size, 3), labels
}

// FloatValues returns a copy of every float32 variable of store whose path passes keep.
func FloatValues(t testing.TB, store *model.Store, keep func(path string) bool) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for v := range store.IterVariables() {
		if !keep(v.Path()) {
			continue
		}
		value, err := v.Value()
		if err != nil {
			t.Fatalf("%s: %v", v.Path(), err)
		}
		if value.DType() == dtypes.Float32 {
			out[v.Path()] = tensors.MustCopyFlatData[float32](value)
		}
	}
	return out
}

// SameValues checks that the float32 variables of one (trained on one device) and split (split across
// devices) agree within 1e-5, relative.
func SameValues(t testing.TB, one, split *model.Store) {
	t.Helper()
	all := func(string) bool { return true }
	a, b := FloatValues(t, one, all), FloatValues(t, split, all)
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%d variables on one device, %d split", len(a), len(b))
	}
	for path, want := range a {
		got := b[path]
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*(1+math.Abs(float64(want[i]))) {
				t.Errorf("%s[%d] = %v split, %v on one device", path, i, got[i], want[i])
				break
			}
		}
	}
}
