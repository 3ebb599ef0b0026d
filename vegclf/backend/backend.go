// Package backend picks the GoMLX compute backend in one place: a flag or GOMLX_BACKEND when given,
// otherwise XLA on CUDA when a GPU and its PJRT plugin are present, then XLA on CPU when its plugin is
// installed, then the pure Go backend, which runs everywhere. It says which it chose and why. For the
// CUDA plugin of a Python install (jax-cuda13-pjrt), ConfigureProcess loads NVIDIA's libraries from the
// wheels beside it first, as jax does. Check tells whether a backend computes.
package backend

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend" // The pure Go backend ("go"); XLA is imported in xla.go.
)

// Choice is the backend configuration picked and the reason.
type Choice struct {
	Config string // A GoMLX backend configuration: "go", "xla:cpu", "xla:/path/to/plugin.so", ...
	Reason string
}

func (c Choice) String() string { return fmt.Sprintf("%s (%s)", c.Config, c.Reason) }

// Environment is what selection looks at; Detect reads it from the machine.
type Environment struct {
	Spec       string   // --backend flag, then $GOMLX_BACKEND; "" or "auto" means choose.
	HasGPU     bool     // An NVIDIA device or nvidia-smi is present.
	PluginDirs []string // Folders searched for PJRT plugins, in order.
}

// Detect reads the environment: flag (may be empty), GOMLX_BACKEND, NVIDIA devices, plugin folders.
func Detect(flag string) Environment {
	env := Environment{Spec: flag}
	if env.Spec == "" {
		env.Spec = os.Getenv("GOMLX_BACKEND")
	}
	if matches, _ := filepath.Glob("/dev/nvidia[0-9]*"); len(matches) > 0 {
		env.HasGPU = true
	} else if _, err := exec.LookPath("nvidia-smi"); err == nil {
		env.HasGPU = true
	}
	env.PluginDirs = PluginDirs()
	return env
}

// PluginDirs returns the folders searched for PJRT plugins, as go-xla searches them:
// $PJRT_PLUGIN_LIBRARY_PATH when set, otherwise ~/.local/lib/go-xla[/nvidia], /usr/local/lib/go-xla[/nvidia]
// and $LD_LIBRARY_PATH; then the jax_plugins folders of Python installs: $VIRTUAL_ENV, the system's, conda's,
// virtual environments under /opt and the home folder, pip's --user folder and pyenv's versions
// (jax-cuda13-pjrt ships the CUDA plugin there as xla_cuda_plugin.so).
func PluginDirs() []string {
	var dirs []string
	if p := os.Getenv("PJRT_PLUGIN_LIBRARY_PATH"); p != "" {
		dirs = append(dirs, filepath.SplitList(p)...)
	} else {
		if home, err := os.UserHomeDir(); err == nil {
			dirs = append(dirs, filepath.Join(home, ".local/lib/go-xla"), filepath.Join(home, ".local/lib/go-xla/nvidia"))
		}
		dirs = append(dirs, "/usr/local/lib/go-xla", "/usr/local/lib/go-xla/nvidia")
		dirs = append(dirs, filepath.SplitList(os.Getenv("LD_LIBRARY_PATH"))...)
	}
	prefixes := []string{
		os.Getenv("VIRTUAL_ENV"), // The active virtual environment first.
		"/usr/local", "/usr",
		"/opt/conda", "/opt/conda/envs/*",
		"/opt/*/.venv", "/opt/*", // A virtual environment such as /opt/venv.
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		prefixes = append(prefixes,
			home+"/.local",            // pip install --user.
			home+"/.pyenv/versions/*", // pyenv.
			home+"/miniconda3", home+"/anaconda3",
			home+"/.venv", home+"/venv")
	}
	for _, prefix := range prefixes {
		if prefix == "" {
			continue
		}
		matches, _ := filepath.Glob(prefix + "/lib/python3*/*-packages/jax_plugins/xla_cuda*")
		for _, m := range matches {
			if !slices.Contains(dirs, m) {
				dirs = append(dirs, m)
			}
		}
	}
	return dirs
}

// findPlugin returns the path of the named PJRT plugin ("cpu", "cuda") in dirs, or "".
func findPlugin(name string, dirs []string) string {
	files := []string{"pjrt_c_api_" + name + "_plugin.so"}
	if name == "cuda" {
		files = append(files, "xla_cuda_plugin.so")
	}
	for _, d := range dirs {
		for _, f := range files {
			p := filepath.Join(d, f)
			if info, err := os.Stat(p); err == nil && !info.IsDir() {
				// The real file: a plugin finds its NVIDIA libraries relative to where it really is.
				if real, err := filepath.EvalSymlinks(p); err == nil {
					return real
				}
				return p
			}
		}
	}
	return ""
}

// cudaPlugin returns the path of the CUDA plugin a configuration loads ("xla:/path/plugin.so,options"),
// or "" when it loads none.
func cudaPlugin(config string) string {
	path, ok := strings.CutPrefix(config, "xla:")
	path, _, _ = strings.Cut(path, ",")
	if !ok || !filepath.IsAbs(path) || !strings.Contains(strings.ToLower(filepath.Base(path)), "cuda") {
		return ""
	}
	return path
}

// ErrNoPlugin is returned (wrapped) when an XLA backend is asked for and its plugin is not installed.
var ErrNoPlugin = errors.New("XLA PJRT plugin not found")

// Select picks the backend configuration for env. Options after the backend's name (as in
// "xla:cuda,tf32=false") are kept after the plugin found for it.
func Select(env Environment) (Choice, error) {
	c, err := selectBase(env)
	if _, opts, ok := strings.Cut(strings.TrimSpace(env.Spec), ","); ok && err == nil && !strings.Contains(c.Config, ",") {
		c.Config += "," + opts
	}
	return c, err
}

func selectBase(env Environment) (Choice, error) {
	spec := strings.TrimSpace(env.Spec)
	spec, _, _ = strings.Cut(spec, ",")
	if !xlaBuilt {
		switch {
		case spec == "" || spec == "auto":
			return Choice{"go", "this vegclf was built without cgo, so without XLA; the pure Go backend runs everywhere"}, nil
		case spec == "cuda" || strings.HasPrefix(spec, "xla"):
			return Choice{}, fmt.Errorf("%s needs XLA, which this vegclf was built without (CGO_ENABLED=0): build it with cgo, or use the go backend", spec)
		case strings.HasPrefix(spec, "onnx"):
			return Choice{}, fmt.Errorf("%s needs ONNX Runtime, which this vegclf (built without cgo) cannot load: build it with cgo, or use the go backend", spec)
		}
	}
	if spec == "onnx" || strings.HasPrefix(spec, "onnx:") {
		lib, given := strings.CutPrefix(spec, "onnx:")
		if !given {
			var err error
			if lib, err = ONNXRuntime(); err != nil {
				return Choice{}, err
			}
		} else if _, err := os.Stat(lib); err != nil {
			return Choice{}, fmt.Errorf("ONNX Runtime's library: %w", err)
		}
		return Choice{"onnx:" + lib, "asked for ONNX Runtime (inference only)"}, nil
	}
	switch spec {
	case "", "auto":
		if env.HasGPU {
			if p := findPlugin("cuda", env.PluginDirs); p != "" {
				return Choice{"xla:" + p, "a GPU and the XLA CUDA plugin are present"}, nil
			}
		}
		if p := findPlugin("cpu", env.PluginDirs); p != "" {
			reason := "the XLA CPU plugin is installed"
			if env.HasGPU {
				reason = "a GPU is present but no XLA CUDA plugin was found; " + reason
			}
			return Choice{"xla:" + p, reason}, nil
		}
		reason := "no XLA plugin is installed; the pure Go backend runs everywhere"
		if env.HasGPU {
			reason = "a GPU is present but no XLA CUDA plugin was found (" + cudaHelp + "); the pure Go backend runs everywhere"
		}
		return Choice{"go", reason}, nil
	case "xla:cuda", "cuda":
		if p := findPlugin("cuda", env.PluginDirs); p != "" {
			return Choice{"xla:" + p, "asked for xla:cuda"}, nil
		}
		return Choice{}, fmt.Errorf("%w: xla:cuda needs the CUDA plugin; %s; searched %s", ErrNoPlugin, cudaHelp, strings.Join(env.PluginDirs, ", "))
	case "xla:cpu", "xla":
		if p := findPlugin("cpu", env.PluginDirs); p != "" {
			return Choice{"xla:" + p, "asked for xla:cpu"}, nil
		}
		return Choice{}, fmt.Errorf("%w: xla:cpu needs pjrt_c_api_cpu_plugin.so in one of %s (go-xla's installer downloads it "+
			"when the machine has internet access); or use the go backend", ErrNoPlugin, strings.Join(env.PluginDirs, ", "))
	}
	return Choice{strings.TrimSpace(env.Spec), "asked for " + spec}, nil
}

const cudaHelp = "install the jax-cuda13-pjrt Python package (its xla_cuda_plugin.so is found in jax_plugins), " +
	"or link that file (ln -s) as ~/.local/lib/go-xla/nvidia/pjrt_c_api_cuda_plugin.so, or give its path as the backend: GOMLX_BACKEND=xla:/path/to/xla_cuda_plugin.so"

// ConfigureProcess prepares this process for the backend that flag (the --backend value, possibly empty)
// selects, and returns what it did ("" when nothing). It is the one place vegclf changes the process for
// a backend, so programs call it once, where they configure themselves, before New: vegclf's commands,
// notebook.Backend (and so notebook.Open) and the tests' testenv.Backend do. For XLA's CUDA plugin of a Python install
// (jax-cuda13-pjrt) it loads NVIDIA's libraries from the wheels beside it, globally, and sets XLA_FLAGS
// (--xla_gpu_cuda_data_dir, unless given) and GOPJRT_CUDA_CHECKS in the environment, as jax does for the
// same plugin (setupCUDA); for every other backend it does nothing. A flag that selects nothing is left
// for New to report.
func ConfigureProcess(flag string) (string, error) {
	choice, err := Select(Detect(flag))
	if err != nil {
		return "", nil
	}
	plugin := cudaPlugin(choice.Config)
	if plugin == "" {
		return "", nil
	}
	did, err := setupCUDA(plugin)
	if err != nil {
		return "", fmt.Errorf("preparing the process for backend %s: %w", choice, err)
	}
	return did, nil
}

// New selects (see Select) and creates the backend. flag is the --backend value, possibly empty. It
// changes nothing in the process's environment: a CUDA plugin from a Python install needs
// ConfigureProcess(flag) first, and New says so when it was not called. XLA and ONNX Runtime are told not
// to download plugins (a missing one fails with Select's message instead of a network error).
func New(flag string) (compute.Backend, Choice, error) {
	choice, err := Select(Detect(flag))
	if err != nil {
		return nil, choice, err
	}
	if strings.HasPrefix(choice.Config, "xla") || strings.HasPrefix(choice.Config, "onnx") {
		disableAutoInstall()
	}
	if plugin := cudaPlugin(choice.Config); plugin != "" && !cudaConfigured(plugin) {
		return nil, choice, fmt.Errorf("starting backend %s: the CUDA plugin needs NVIDIA's libraries from %s loaded "+
			"first: call backend.ConfigureProcess with the same backend before New", choice, nvidiaDir(plugin))
	}
	// compute.NewWithConfig panics on a name it does not know.
	if name, _, _ := strings.Cut(choice.Config, ":"); !slices.Contains(compute.List(), name) {
		return nil, choice, fmt.Errorf("unknown backend %q: this vegclf has %s", name, strings.Join(compute.List(), ", "))
	}
	b, err := compute.NewWithConfig(choice.Config)
	if err != nil {
		return nil, choice, fmt.Errorf("starting backend %s: %w", choice, err)
	}
	if choice.Config == "go" {
		unlimitGoWorkers(b)
	}
	return b, choice, nil
}

// NewForInference is New for commands that only run inference (predict, eval, serve): where the automatic
// choice is the pure Go backend and ONNX Runtime is installed (ONNXRuntime), it takes ONNX Runtime instead,
// which runs inference faster than the Go backend on CPUs: it runs the exported graph's native
// convolutions with its own kernels (figures in BENCHMARKS.md, "inference on ONNX Runtime").
func NewForInference(flag string) (compute.Backend, Choice, error) {
	env := Detect(flag)
	if spec := strings.TrimSpace(env.Spec); (spec == "" || spec == "auto") && xlaBuilt {
		if c, err := Select(env); err == nil && c.Config == "go" {
			if lib, err := ONNXRuntime(); err == nil {
				b, choice, err := New("onnx:" + lib)
				choice.Reason = "inference, and ONNX Runtime is installed: it runs inference faster than the pure Go backend (" + c.Reason + ")"
				return b, choice, err
			}
		}
	}
	return New(flag)
}

// unlimitGoWorkers sets the Go backend's worker pool to unlimited parallelism, which is what the
// configuration "go:parallelism=-1" does, without that option's print to stdout (which would corrupt
// JSON output). The bounded default pool (2 goroutines per core) can deadlock: its condition-variable
// wake-ups go to one waiter, which may be another operation's (seen on 2 cores: a training test hung).
// Unlimited parallelism was also the fastest setting measured (BENCHMARKS.md, "Measured in code comments
// before").
// compute v0.1.14 offers no other way: the pool is in an internal package. TestNewGoBackend fails when
// this stops taking effect (the backend's Description then shows a bounded parallelism).
func unlimitGoWorkers(b compute.Backend) {
	v := reflect.ValueOf(b)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return
	}
	workers := v.Elem().FieldByName("Workers")
	if !workers.IsValid() {
		return
	}
	if set := workers.MethodByName("SetMaxParallelism"); set.IsValid() {
		set.Call([]reflect.Value{reflect.ValueOf(-1)})
	}
}

// IsXLA reports whether b runs through XLA: its tensors then live in the plugin's memory (a GPU's, or
// its own allocations), not in Go's heap, so the Go runtime's memory limit does not bound them.
func IsXLA(b compute.Backend) bool { return b.Name() == "xla" }
