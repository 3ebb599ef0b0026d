package backend

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSelect(t *testing.T) {
	dir := t.TempDir()
	cpuDir, cudaDir := filepath.Join(dir, "cpu"), filepath.Join(dir, "jax_plugins", "xla_cuda13")
	os.MkdirAll(cpuDir, 0o755)
	os.MkdirAll(cudaDir, 0o755)
	cpuPlugin := filepath.Join(cpuDir, "pjrt_c_api_cpu_plugin.so")
	cudaPlugin := filepath.Join(cudaDir, "xla_cuda_plugin.so")
	os.WriteFile(cpuPlugin, nil, 0o644)
	os.WriteFile(cudaPlugin, nil, 0o644)
	empty := []string{filepath.Join(dir, "nothing")}
	both := []string{cpuDir, cudaDir}
	for _, tc := range []struct {
		name       string
		env        Environment
		wantConfig string
		wantReason string
		wantErr    string
	}{
		{"auto, nothing installed", Environment{PluginDirs: empty}, "go", "no XLA plugin", ""},
		{"auto, GPU and CUDA plugin", Environment{HasGPU: true, PluginDirs: both}, "xla:" + cudaPlugin, "GPU", ""},
		{"auto, GPU without CUDA plugin", Environment{HasGPU: true, PluginDirs: []string{cpuDir}}, "xla:" + cpuPlugin, "no XLA CUDA plugin", ""},
		{"auto, GPU and nothing", Environment{HasGPU: true, PluginDirs: empty}, "go", "jax-cuda13-pjrt", ""},
		{"auto, CPU plugin, no GPU", Environment{PluginDirs: both}, "xla:" + cpuPlugin, "XLA CPU plugin", ""},
		{"explicit go", Environment{Spec: "go", HasGPU: true, PluginDirs: both}, "go", "asked for go", ""},
		{"explicit go options", Environment{Spec: "go:parallelism=2"}, "go:parallelism=2", "asked", ""},
		{"explicit cuda", Environment{Spec: "xla:cuda", PluginDirs: both}, "xla:" + cudaPlugin, "asked", ""},
		{"explicit cuda missing", Environment{Spec: "xla:cuda", PluginDirs: empty}, "", "", "xla_cuda_plugin.so"},
		{"explicit cpu missing", Environment{Spec: "xla:cpu", PluginDirs: empty}, "", "", "pjrt_c_api_cpu_plugin.so"},
		{"plugin path", Environment{Spec: "xla:/opt/x.so"}, "xla:/opt/x.so", "asked", ""},
		{"cuda with options", Environment{Spec: "xla:cuda,tf32=false", PluginDirs: both}, "xla:" + cudaPlugin + ",tf32=false", "asked", ""},
		{"plugin path with options", Environment{Spec: "xla:/opt/x.so,tf32=false"}, "xla:/opt/x.so,tf32=false", "asked", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Select(tc.env)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrNoPlugin) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want ErrNoPlugin mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || c.Config != tc.wantConfig || !strings.Contains(c.Reason, tc.wantReason) {
				t.Errorf("Select = %+v, %v; want %s because of %q", c, err, tc.wantConfig, tc.wantReason)
			}
		})
	}
}

func TestNewGoBackend(t *testing.T) {
	b, c, err := New("go")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	if c.Config != "go" || !strings.Contains(strings.ToLower(b.Name()), "go") {
		t.Errorf("New(go) = %s, %+v", b.Name(), c)
	}
	if !strings.Contains(b.Description(), "parallelism=-1") {
		t.Errorf("the Go backend's worker pool should be unlimited: %s", b.Description())
	}
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	if _, _, err := New("xla:cpu"); !errors.Is(err, ErrNoPlugin) {
		t.Errorf("New(xla:cpu) without a plugin = %v, want ErrNoPlugin", err)
	}
}

func TestPluginDirsHonoursEnv(t *testing.T) {
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", "/a:/b")
	dirs := PluginDirs()
	if len(dirs) < 2 || dirs[0] != "/a" || dirs[1] != "/b" {
		t.Errorf("PluginDirs = %v", dirs)
	}
	for _, d := range dirs {
		if strings.Contains(d, "go-xla") {
			t.Errorf("PJRT_PLUGIN_LIBRARY_PATH should replace the default folders, got %v", dirs)
		}
	}
}

func TestCheck(t *testing.T) {
	b, _, err := New("go")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	if err := Check(b); err != nil {
		t.Fatal(err)
	}
}

func TestPluginDirsFindsPythonInstalls(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prefix string // Under the temporary home folder.
		venv   bool   // The prefix is $VIRTUAL_ENV.
	}{
		{"pip --user", ".local", false},
		{"pyenv", ".pyenv/versions/3.11.7", false},
		{"conda in home", "miniconda3", false},
		{"venv in home", ".venv", false},
		{"active virtual environment", "envs/project", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			t.Setenv("HOME", home)
			t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", filepath.Join(home, "none"))
			t.Setenv("VIRTUAL_ENV", "")
			if tc.venv {
				t.Setenv("VIRTUAL_ENV", filepath.Join(home, tc.prefix))
			}
			dir := filepath.Join(home, tc.prefix, "lib", "python3.11", "site-packages", "jax_plugins", "xla_cuda13")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			plugin := filepath.Join(dir, "xla_cuda_plugin.so")
			if err := os.WriteFile(plugin, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			dirs := PluginDirs()
			if n := strings.Count(strings.Join(dirs, "\n"), dir); n != 1 {
				t.Fatalf("PluginDirs lists %s %d times: %v", dir, n, dirs)
			}
			if got := findPlugin("cuda", dirs); got != plugin {
				t.Errorf("findPlugin(cuda) = %q, want %q", got, plugin)
			}
		})
	}
}

// TestNewForInference checks the automatic choice for inference: ONNX Runtime where it is installed and the
// automatic choice is the Go backend, the Go backend without it, and what is asked for when asked.
func TestNewForInference(t *testing.T) {
	t.Setenv("GOMLX_BACKEND", "")
	t.Setenv(ONNXRuntimeEnv, filepath.Join(t.TempDir(), "none.so"))
	if _, err := ONNXRuntime(); err == nil || !strings.Contains(err.Error(), "none.so") || !strings.Contains(err.Error(), "setup.sh --onnx") {
		t.Errorf("a missing library: %v", err)
	}
	if c, err := Select(Detect("onnx")); err == nil {
		t.Errorf("onnx without its library: %v", c)
	}
	b, c, err := NewForInference("go")
	if err != nil || c.Config != "go" || IsONNX(b) {
		t.Fatalf("asked for go: %v, %v", c, err)
	}
	b.Finalize()
	if c, err := Select(Detect("")); err != nil || c.Config != "go" {
		t.Skipf("the automatic choice here is %v (%v): nothing more to check", c, err)
	}
	b, c, err = NewForInference("")
	if err != nil || c.Config != "go" || IsONNX(b) {
		t.Fatalf("no ONNX Runtime: %v", err)
	}
	b.Finalize()
	t.Setenv(ONNXRuntimeEnv, "")
	if _, err := ONNXRuntime(); err != nil {
		if os.Getenv("VEGCLF_REQUIRE_ONNX") != "" {
			t.Fatal(err)
		}
		t.Skipf("ONNX Runtime is not installed: %v", err)
	}
	b, c, err = NewForInference("")
	if err != nil || !IsONNX(b) || !strings.Contains(c.Reason, "ONNX Runtime is installed") {
		t.Fatalf("with ONNX Runtime installed: %v, %v", c, err)
	}
	b.Finalize()
}
