package testenv

import (
	"runtime"
	"testing"
)

// TestBackendFreedAfterTest: the backend Backend gives a test is freed when that test ends, not before.
func TestBackendFreedAfterTest(t *testing.T) {
	var b interface{ IsFinalized() bool }
	t.Run("user", func(t *testing.T) {
		b = Backend(t)
		if b.IsFinalized() {
			t.Error("the backend is freed while its test runs")
		}
	})
	if !b.IsFinalized() {
		t.Error("the backend outlives its test")
	}
}

// TestMissingSharedData: a data set that is not in ../shared/data skips the test (SharedData) or reads
// as absent (OptionalSharedData), unless RequireSharedEnv is set: then both fail the test.
func TestMissingSharedData(t *testing.T) {
	const missing = "no-such-data-set"
	for _, tc := range []struct {
		name    string
		require string
		use     func(testing.TB) string
		want    string // "skipped", "failed" or "passed"
	}{
		{"SharedData", "", func(t testing.TB) string { return SharedData(t, missing) }, "skipped"},
		{"SharedData required", "1", func(t testing.TB) string { return SharedData(t, missing) }, "failed"},
		{"OptionalSharedData", "", func(t testing.TB) string { return OptionalSharedData(t, missing) }, "passed"},
		{"OptionalSharedData required", "1", func(t testing.TB) string { return OptionalSharedData(t, missing) }, "failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(RequireSharedEnv, tc.require)
			got := "passed"
			r := &recorder{TB: t}
			done := make(chan struct{})
			go func() { // Fatal and Skip end the goroutine they run in, as in a test.
				defer close(done)
				if path := tc.use(r); path != "" {
					t.Errorf("%s returned %q for a missing data set", tc.name, path)
				}
			}()
			<-done
			if r.failed {
				got = "failed"
			} else if r.skipped {
				got = "skipped"
			}
			if got != tc.want {
				t.Errorf("%s with %s=%q: %s, want %s", tc.name, RequireSharedEnv, tc.require, got, tc.want)
			}
		})
	}
}

// recorder is a testing.TB that records Fatal and Skip instead of acting on the real test.
type recorder struct {
	testing.TB
	failed, skipped bool
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(string, ...any) {
	r.failed = true
	runtime.Goexit()
}

func (r *recorder) Skipf(string, ...any) {
	r.skipped = true
	runtime.Goexit()
}
