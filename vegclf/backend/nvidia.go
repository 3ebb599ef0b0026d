package backend

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// cudaLibraries are the NVIDIA libraries the XLA CUDA plugin opens by name, as jax loads them before
// the same plugin (jax_plugins/cuda): each is looked for in <nvidia>/<dir>/lib, CUDA 13's wheels
// first (all in cu13/), then CUDA 12's. Dependencies come before what needs them.
var cudaLibraries = []struct{ dir, file string }{
	{"cu13", "libcudart.so.13"},
	{"cu13", "libnvrtc.so.13"},
	{"cu13", "libcublasLt.so.13"},
	{"cu13", "libcublas.so.13"},
	{"cu13", "libcupti.so.13"},
	{"cu13", "libnvJitLink.so.13"},
	{"cu13", "libcusparse.so.12"},
	{"cu13", "libcusolver.so.12"},
	{"cu13", "libcufft.so.12"},
	{"cuda_runtime", "libcudart.so.12"},
	{"cuda_nvrtc", "libnvrtc.so.12"},
	{"cublas", "libcublasLt.so.12"},
	{"cublas", "libcublas.so.12"},
	{"cuda_cupti", "libcupti.so.12"},
	{"nvjitlink", "libnvJitLink.so.12"},
	{"cusparse", "libcusparse.so.12"},
	{"cusolver", "libcusolver.so.11"},
	{"cufft", "libcufft.so.11"},
	{"nccl", "libnccl.so.2"},
	{"nvshmem", "libnvshmem_host.so.3"},
	{"cudnn", "libcudnn.so.9"},
}

// nvidiaDir returns the folder of NVIDIA's Python wheels (nvidia/) that goes with a CUDA plugin, or ""
// when there is none: <site-packages>/nvidia for a plugin in <site-packages>/jax_plugins/<name>/, or
// the plugin's own folder in go-xla's layout (lib/go-xla/nvidia/pjrt_c_api_cuda_plugin.so).
func nvidiaDir(plugin string) string {
	dir := filepath.Dir(plugin)
	candidates := []string{filepath.Join(filepath.Dir(filepath.Dir(dir)), "nvidia")}
	if filepath.Base(dir) == "nvidia" {
		candidates = append(candidates, dir)
	}
	for _, c := range candidates {
		if info, err := os.Stat(c); err == nil && info.IsDir() {
			return c
		}
	}
	return ""
}

// preloadCUDA loads the NVIDIA libraries that go with plugin (see nvidiaDir) into the process, globally,
// so that the plugin's own loading of them by name finds these copies: the wheels put them where
// neither the system's loader nor the plugin's search path looks. It returns the folder used ("" when
// there is none) and fails on a library that is present but does not load.
func preloadCUDA(plugin string) (string, error) {
	nv := nvidiaDir(plugin)
	if nv == "" {
		return "", nil
	}
	var failed []string
	for _, lib := range cudaLibraries {
		path := filepath.Join(nv, lib.dir, "lib", lib.file)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		if err := loadGlobal(path); err != nil {
			failed = append(failed, err.Error())
		}
	}
	if len(failed) > 0 {
		return nv, fmt.Errorf("loading the NVIDIA libraries of %s: %s", nv, strings.Join(failed, "; "))
	}
	return nv, nil
}

// cudaDataDir returns the CUDA toolkit folder among NVIDIA's wheels in nv (the one holding ptxas or
// libdevice: cu13/ for CUDA 13, cuda_nvcc/ for CUDA 12), or "" when there is none.
func cudaDataDir(nv string) string {
	for _, d := range []string{"cu13", "cuda_nvcc"} {
		dir := filepath.Join(nv, d)
		for _, f := range []string{"bin/ptxas", "nvvm/libdevice"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
				return dir
			}
		}
	}
	return ""
}

// setupCUDA prepares the process for the CUDA plugin at plugin, as jax does for the same plugin: it
// preloads the NVIDIA libraries of the wheels installed with it, and points XLA at their CUDA toolkit
// folder (XLA_FLAGS --xla_gpu_cuda_data_dir, unless already set) for ptxas and libdevice. go-xla's own
// check for its install layout is turned off once the libraries are found (GOPJRT_CUDA_CHECKS), since
// it would only warn about a layout it does not know. In go-xla's own layout (the plugin inside the
// nvidia/ folder), go-xla's setup is left as it is. It returns what it did, for the backend's reason.
func setupCUDA(plugin string) (string, error) {
	nv, err := preloadCUDA(plugin)
	if err != nil || nv == "" {
		return "", err
	}
	did := "NVIDIA libraries from " + nv
	if nv == filepath.Dir(plugin) {
		return did, nil
	}
	if data := cudaDataDir(nv); data != "" && !strings.Contains(os.Getenv("XLA_FLAGS"), "--xla_gpu_cuda_data_dir") {
		os.Setenv("XLA_FLAGS", strings.TrimSpace(os.Getenv("XLA_FLAGS")+" --xla_gpu_cuda_data_dir="+data))
		did += ", CUDA tools from " + data
	}
	if os.Getenv("GOPJRT_CUDA_CHECKS") == "" {
		os.Setenv("GOPJRT_CUDA_CHECKS", "0")
	}
	return did, nil
}

// cudaConfigured reports whether the process is ready for the CUDA plugin at plugin as far as the
// environment tells: a plugin without NVIDIA's wheels beside it, or in go-xla's own layout, needs nothing
// of ConfigureProcess; one beside the wheels needs GOPJRT_CUDA_CHECKS, which setupCUDA sets (or the user).
func cudaConfigured(plugin string) bool {
	nv := nvidiaDir(plugin)
	return nv == "" || nv == filepath.Dir(plugin) || os.Getenv("GOPJRT_CUDA_CHECKS") != ""
}
