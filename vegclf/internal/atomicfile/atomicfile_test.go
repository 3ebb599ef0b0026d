//go:build unix

package atomicfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestModeFollowsUmask: files get 0666 less the umask, as os.Create gives, not os.CreateTemp's 0600.
func TestModeFollowsUmask(t *testing.T) {
	for _, tc := range []struct{ umask, want os.FileMode }{{0o022, 0o644}, {0o077, 0o600}, {0o002, 0o664}} {
		old := syscall.Umask(int(tc.umask))
		dir := t.TempDir()
		path := filepath.Join(dir, "f.json")
		err := Write(path, []byte("{}"))
		tmp, tmpErr := CreateTemp(dir, ".x")
		syscall.Umask(old)
		if err != nil || tmpErr != nil {
			t.Fatal(err, tmpErr)
		}
		tmp.Close()
		for _, p := range []string{path, tmp.Name()} {
			if info, err := os.Stat(p); err != nil || info.Mode().Perm() != tc.want {
				t.Errorf("umask %03o: %s has mode %v (%v), want %v", tc.umask, filepath.Base(p), info.Mode().Perm(), err, tc.want)
			}
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 2 {
			t.Errorf("umask %03o: %d files, want the written one and the temporary one", tc.umask, len(entries))
		}
	}
}
