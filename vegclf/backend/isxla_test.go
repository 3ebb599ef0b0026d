package backend_test

import (
	"testing"

	"github.com/gomlx/compute"
	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
)

func TestIsXLA(t *testing.T) {
	goBackend, _, err := backend.New("go")
	if err != nil {
		t.Fatal(err)
	}
	defer goBackend.Finalize()
	for _, tc := range []struct {
		b    compute.Backend
		want bool
	}{{goBackend, false}, {testenv.XLANamed{}, true}} {
		if got := backend.IsXLA(tc.b); got != tc.want {
			t.Errorf("IsXLA(%s) = %v, want %v", tc.b.Name(), got, tc.want)
		}
	}
}
