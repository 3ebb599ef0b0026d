package backend

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildLibrary compiles a one-function shared library with soname name at path, with the C compiler
// cgo uses.
func buildLibrary(t *testing.T, path, name string) {
	t.Helper()
	cc := "gcc"
	if out, err := exec.Command("go", "env", "CC").Output(); err == nil && strings.TrimSpace(string(out)) != "" {
		cc = strings.Fields(string(out))[0]
	}
	src := filepath.Join(t.TempDir(), "lib.c")
	if err := os.WriteFile(src, []byte("int vegclf_test_function(void) { return 42; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-Wl,-soname,"+name, "-o", path, src).CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", path, err, out)
	}
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestSetupCUDA lays out a Python install as jax-cuda13-pjrt and NVIDIA's wheels do, with a real shared
// library as libcudart.so.13: the CUDA setup (ConfigureProcess's) must load it globally (so that the
// plugin's loading it by name finds it), point XLA at the wheels' CUDA tools, and say so.
func TestSetupCUDA(t *testing.T) {
	const soname = "libcudart.so.13"
	if isLoaded(soname) {
		t.Skipf("%s is already loaded in this process (a CUDA install): the test could not tell", soname)
	}
	site := t.TempDir()
	plugin := filepath.Join(site, "jax_plugins", "xla_cuda13", "xla_cuda_plugin.so")
	touch(t, plugin)
	buildLibrary(t, filepath.Join(site, "nvidia", "cu13", "lib", soname), soname)
	touch(t, filepath.Join(site, "nvidia", "cu13", "bin", "ptxas"))
	t.Setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
	t.Setenv("GOPJRT_CUDA_CHECKS", "")

	did, err := setupCUDA(plugin)
	if err != nil {
		t.Fatal(err)
	}
	nv := filepath.Join(site, "nvidia")
	if !isLoaded(soname) {
		t.Errorf("%s is not loaded after the setup", soname)
	}
	if !strings.Contains(did, nv) || !strings.Contains(did, filepath.Join(nv, "cu13")) {
		t.Errorf("setup said %q, want the libraries' and tools' folders", did)
	}
	if got, want := os.Getenv("XLA_FLAGS"), "--xla_dump_to=/tmp/x --xla_gpu_cuda_data_dir="+filepath.Join(nv, "cu13"); got != want {
		t.Errorf("XLA_FLAGS = %q, want %q", got, want)
	}
	if got := os.Getenv("GOPJRT_CUDA_CHECKS"); got != "0" {
		t.Errorf("GOPJRT_CUDA_CHECKS = %q, want 0", got)
	}
	// A data dir given by the user stays.
	t.Setenv("XLA_FLAGS", "--xla_gpu_cuda_data_dir=/usr/local/cuda")
	if _, err := setupCUDA(plugin); err != nil || os.Getenv("XLA_FLAGS") != "--xla_gpu_cuda_data_dir=/usr/local/cuda" {
		t.Errorf("with the data dir set: XLA_FLAGS = %q, error %v", os.Getenv("XLA_FLAGS"), err)
	}
}

// TestSetupCUDAGoXLALayout: with the plugin inside the nvidia/ folder, as go-xla's installer puts it,
// go-xla's own setup (its checks and XLA_FLAGS) is left alone.
func TestSetupCUDAGoXLALayout(t *testing.T) {
	nv := filepath.Join(t.TempDir(), "lib", "go-xla", "nvidia")
	plugin := filepath.Join(nv, "pjrt_c_api_cuda_plugin.so")
	touch(t, plugin)
	touch(t, filepath.Join(nv, "cu13", "bin", "ptxas"))
	t.Setenv("XLA_FLAGS", "")
	t.Setenv("GOPJRT_CUDA_CHECKS", "")
	did, err := setupCUDA(plugin)
	if err != nil || did != "NVIDIA libraries from "+nv {
		t.Errorf("setupCUDA = %q, %v; want only the libraries' folder", did, err)
	}
	if os.Getenv("XLA_FLAGS") != "" || os.Getenv("GOPJRT_CUDA_CHECKS") != "" {
		t.Errorf("go-xla's layout: XLA_FLAGS %q, GOPJRT_CUDA_CHECKS %q; want both left unset",
			os.Getenv("XLA_FLAGS"), os.Getenv("GOPJRT_CUDA_CHECKS"))
	}
}

func TestSetupCUDAErrors(t *testing.T) {
	// No wheels beside the plugin: nothing to do.
	alone := filepath.Join(t.TempDir(), "cuda", "pjrt_c_api_cuda_plugin.so")
	touch(t, alone)
	if did, err := setupCUDA(alone); did != "" || err != nil {
		t.Errorf("plugin without NVIDIA wheels: %q, %v; want nothing done", did, err)
	}
	// A library that is there but is not one: the error names it.
	site := t.TempDir()
	plugin := filepath.Join(site, "jax_plugins", "xla_cuda13", "xla_cuda_plugin.so")
	touch(t, plugin)
	broken := filepath.Join(site, "nvidia", "cudnn", "lib", "libcudnn.so.9")
	if err := os.MkdirAll(filepath.Dir(broken), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := setupCUDA(plugin); err == nil || !strings.Contains(err.Error(), broken) {
		t.Errorf("broken library: error %v, want one naming %s", err, broken)
	}
	// ConfigureProcess sets CUDA up, so it fails on the library, not on the empty plugin.
	if _, err := ConfigureProcess("xla:" + plugin); err == nil || !strings.Contains(err.Error(), broken) {
		t.Errorf("ConfigureProcess with a broken library: error %v, want one naming %s", err, broken)
	}
}

// TestConfigureProcess: the process is changed for a backend by ConfigureProcess alone. For a CUDA plugin
// beside NVIDIA's wheels (laid out as in TestSetupCUDA, without libraries, so nothing is loaded), New
// refuses to start before ConfigureProcess and names it; ConfigureProcess sets XLA_FLAGS and
// GOPJRT_CUDA_CHECKS and says so; for the Go backend neither changes the environment.
func TestConfigureProcess(t *testing.T) {
	if !xlaBuilt {
		t.Skip("built without cgo: no XLA backend to configure")
	}
	site := t.TempDir()
	plugin := filepath.Join(site, "jax_plugins", "xla_cuda13", "xla_cuda_plugin.so")
	touch(t, plugin)
	touch(t, filepath.Join(site, "nvidia", "cu13", "bin", "ptxas"))
	vars := []string{"XLA_FLAGS", "GOPJRT_CUDA_CHECKS", "GOMLX_NO_AUTO_INSTALL"}
	for _, v := range vars {
		t.Setenv(v, "")
	}
	env := func() string {
		var parts []string
		for _, v := range vars {
			parts = append(parts, v+"="+os.Getenv(v))
		}
		return strings.Join(parts, " ")
	}
	unset := env()

	if b, _, err := New("go"); err != nil {
		t.Fatal(err)
	} else {
		b.Finalize()
	}
	if did, err := ConfigureProcess("go"); did != "" || err != nil || env() != unset {
		t.Errorf("go backend: ConfigureProcess = %q, %v; environment %s, want it unchanged", did, err, env())
	}
	if _, _, err := New("xla:" + plugin); err == nil || !strings.Contains(err.Error(), "ConfigureProcess") || env() != unset {
		t.Errorf("New before ConfigureProcess: error %v, environment %s; want a refusal naming ConfigureProcess and no change", err, env())
	}
	did, err := ConfigureProcess("xla:" + plugin)
	if err != nil || !strings.Contains(did, filepath.Join(site, "nvidia", "cu13")) {
		t.Errorf("ConfigureProcess = %q, %v; want the CUDA tools' folder", did, err)
	}
	if !strings.Contains(os.Getenv("XLA_FLAGS"), "--xla_gpu_cuda_data_dir=") || os.Getenv("GOPJRT_CUDA_CHECKS") != "0" {
		t.Errorf("after ConfigureProcess: %s", env())
	}
	if !cudaConfigured(plugin) {
		t.Errorf("after ConfigureProcess the plugin is not configured for New")
	}
}

func TestNvidiaDir(t *testing.T) {
	root := t.TempDir()
	pip := filepath.Join(root, "site-packages")
	os.MkdirAll(filepath.Join(pip, "nvidia"), 0o755)
	goxla := filepath.Join(root, "lib", "go-xla", "nvidia")
	os.MkdirAll(goxla, 0o755)
	for _, tc := range []struct{ plugin, want string }{
		{filepath.Join(pip, "jax_plugins", "xla_cuda13", "xla_cuda_plugin.so"), filepath.Join(pip, "nvidia")},
		{filepath.Join(goxla, "pjrt_c_api_cuda_plugin.so"), goxla},
		{filepath.Join(root, "elsewhere", "pjrt_c_api_cuda_plugin.so"), ""},
	} {
		if got := nvidiaDir(tc.plugin); got != tc.want {
			t.Errorf("nvidiaDir(%s) = %q, want %q", tc.plugin, got, tc.want)
		}
	}
}

func TestCudaPlugin(t *testing.T) {
	for _, tc := range []struct{ config, want string }{
		{"xla:/opt/site/jax_plugins/xla_cuda13/xla_cuda_plugin.so", "/opt/site/jax_plugins/xla_cuda13/xla_cuda_plugin.so"},
		{"xla:/usr/local/lib/go-xla/pjrt_c_api_cuda_plugin.so,tf32=false", "/usr/local/lib/go-xla/pjrt_c_api_cuda_plugin.so"},
		{"xla:/usr/local/lib/go-xla/pjrt_c_api_cpu_plugin.so", ""},
		{"xla:cuda", ""},
		{"go", ""},
	} {
		if got := cudaPlugin(tc.config); got != tc.want {
			t.Errorf("cudaPlugin(%q) = %q, want %q", tc.config, got, tc.want)
		}
	}
}

// TestSelectResolvesLinks: a plugin reached through a symbolic link (as an image may install it) is
// loaded from its real place, where its NVIDIA libraries are found relative to it.
func TestSelectResolvesLinks(t *testing.T) {
	root := t.TempDir()
	real := filepath.Join(root, "site-packages", "jax_plugins", "xla_cuda13", "xla_cuda_plugin.so")
	touch(t, real)
	links := filepath.Join(root, "go-xla", "nvidia")
	os.MkdirAll(links, 0o755)
	if err := os.Symlink(real, filepath.Join(links, "pjrt_c_api_cuda_plugin.so")); err != nil {
		t.Fatal(err)
	}
	c, err := Select(Environment{Spec: "xla:cuda", PluginDirs: []string{links}})
	if err != nil || c.Config != "xla:"+real {
		t.Errorf("Select = %+v, %v; want the link's target %s", c, err, real)
	}
}
