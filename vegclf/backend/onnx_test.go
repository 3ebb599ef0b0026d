package backend_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
)

// TestONNXRuntimeVersionWrittenOnce: scripts/setup.sh takes ONNX Runtime's version from ONNXRuntimeVersion
// (its own line, run here, gives the same version), and neither the scripts, the README nor the Docker
// image write it again. (Reads files only, under a second.)
func TestONNXRuntimeVersionWrittenOnce(t *testing.T) {
	root := testenv.RepoRoot(t)
	setup, err := os.ReadFile(filepath.Join(root, "scripts", "setup.sh"))
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^\s*(ort_version=.*)$`).FindSubmatch(setup)
	if line == nil {
		t.Fatal("scripts/setup.sh has no ort_version= line")
	}
	cmd := exec.Command("bash", "-c", string(line[1])+`; printf %s "$ort_version"`)
	cmd.Dir = root
	if got := string(testenv.Output(t, "setup.sh's version line", cmd)); got != backend.ONNXRuntimeVersion {
		t.Errorf("setup.sh reads version %q, want ONNXRuntimeVersion %q", got, backend.ONNXRuntimeVersion)
	}
	files, _ := filepath.Glob(filepath.Join(root, "scripts", "*.sh"))
	files = append(files, filepath.Join(root, "README.md"), filepath.Join(root, "docker", "Dockerfile"))
	for _, f := range files {
		content, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(content), backend.ONNXRuntimeVersion) {
			t.Errorf("%s writes ONNX Runtime's version %s again", f, backend.ONNXRuntimeVersion)
		}
	}
}
