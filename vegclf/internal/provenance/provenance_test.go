// Package provenance checks that the repository holds only vegclf's own code: other projects' code comes
// in as a dependency (a Go module, a Debian or npm package), never as a copied file.
package provenance

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/vegclf/vegclf/vegclf/internal/testenv"
)

// foreignHeader matches the notices that copied source carries: a copyright line with a year, a licence
// identifier, a reservation of rights. (Each pattern has a bracketed letter so that this file does not
// match itself.)
var foreignHeader = regexp.MustCompile(`(?i)(copyrigh[t]\s+(\(c\)|©)?\s*\d{4}|SPDX-License-Identifie[r]|all rights reserve[d])`)

// TestNoCopiedSource fails on any file in git (tracked, or new and not ignored) that carries another
// project's copyright or licence header.
func TestNoCopiedSource(t *testing.T) {
	root := testenv.RepoRoot(t)
	out, err := exec.Command("git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard", "-z").Output()
	if err != nil {
		t.Skipf("not a git checkout (%v): nothing to check", err)
	}
	files := bytes.Split(bytes.TrimRight(out, "\x00"), []byte{0})
	if len(files) < 50 {
		t.Fatalf("git lists %d files: not this repository", len(files))
	}
	for _, name := range files {
		path := filepath.Join(root, string(name))
		content, err := os.ReadFile(path)
		if err != nil {
			if os.IsNotExist(err) {
				continue // Deleted in the working tree, not yet in git.
			}
			t.Fatal(err)
		}
		if loc := foreignHeader.FindIndex(content); loc != nil {
			line := bytes.Count(content[:loc[0]], []byte{'\n'}) + 1
			t.Errorf("%s:%d carries another project's header (%q): bring that code in as a dependency", name, line, content[loc[0]:loc[1]])
		}
	}
}
