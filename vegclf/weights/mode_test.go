//go:build unix

package weights

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
)

// TestDownloadModeFollowsUmask: a downloaded file (and its recorded digest) gets 0666 less the umask, as
// os.Create gives, so that other users can read the cache when the umask lets them.
func TestDownloadModeFollowsUmask(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("weights")) }))
	defer server.Close()
	for _, tc := range []struct{ umask, want os.FileMode }{{0o022, 0o644}, {0o077, 0o600}} {
		dir := t.TempDir()
		old := syscall.Umask(int(tc.umask))
		path, err := Download(context.Background(), server.Client(), Known{Name: "w", URL: server.URL + "/w.pth", File: "w.pth"}, dir, nil)
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, path + ".sha256"} {
			if info, err := os.Stat(p); err != nil || info.Mode().Perm() != tc.want {
				t.Errorf("umask %03o: %s has mode %v (%v), want %v", tc.umask, p, info.Mode().Perm(), err, tc.want)
			}
		}
	}
}
