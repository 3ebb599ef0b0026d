#!/usr/bin/env bash
# Sets up what vegclf needs on a Debian machine. With --notebooks, also Jupyter (Debian's packages),
# GoNB and the vegclf kernels. With --onnx, ONNX Runtime (for vegclf export --format onnx). With --test, all
# that and what the tests need: Debian's python3-torch and python3-torchvision, the reference implementation
# the tests compare against, and python3-onnx (ONNX's checker).
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/goenv.sh
if ! command -v go >/dev/null 2>&1; then
  echo "setup: Go is needed (1.21 or later, which fetches vegclf's $GOTOOLCHAIN itself): install it from https://go.dev/dl/ into /usr/local/go" >&2
  exit 1
fi
# GOTOOLCHAIN (scripts/goenv.sh) makes the go command fetch the toolchain from the module proxy. Only the
# version on stdout is compared: the first time, the go command says "go: downloading ..." on stderr.
go_err=$(mktemp)
if ! have_go=$(go env GOVERSION 2>"$go_err") || [ "$have_go" != "$GOTOOLCHAIN" ]; then
  echo "setup: could not get $GOTOOLCHAIN (GOTOOLCHAIN=$GOTOOLCHAIN with $(env -u GOTOOLCHAIN go version 2>&1)): got '${have_go}'; $(cat "$go_err")" >&2
  echo "setup: it needs Go 1.21 or later and the Go module proxy; or install $GOTOOLCHAIN from https://go.dev/dl/" >&2
  rm -f "$go_err"
  exit 1
fi
rm -f "$go_err"

# Debian packages, as root or through sudo. A new machine's package lists may never have been read:
# they are updated before the first install of a run.
apt_updated=""
apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    local why=""
    if ! command -v sudo >/dev/null 2>&1; then
      why="there is no sudo"
    elif ! sudo -n true 2>/dev/null && ! [ -t 0 ]; then
      why="sudo asks for a password and there is no terminal to type it in"
    fi
    if [ -n "$why" ]; then
      echo "setup: these Debian packages are needed: $*; $why" >&2
      echo "setup: install them as root (apt-get update && apt-get install --no-install-recommends $*), or give $(id -un 2>/dev/null || id -u) sudo, then run this again" >&2
      exit 1
    fi
    sudo="sudo"
  fi
  echo "setup: installing Debian packages: $*"
  if [ -z "$apt_updated" ]; then
    $sudo apt-get update -qq || { echo "setup: 'apt-get update' failed: Debian's package lists are needed" >&2; exit 1; }
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
    { echo "setup: 'apt-get install $*' failed" >&2; exit 1; }
}

# JPEG decoding goes through libjpeg-turbo (cgo), the library Pillow decodes with: its TurboJPEG API and the
# headers that give its version; cgo needs a C compiler.
if ! [ -f /usr/include/turbojpeg.h ] || ! compgen -G '/usr/include/*/jconfig.h' >/dev/null || ! command -v gcc >/dev/null 2>&1; then
  apt_install gcc libc6-dev libturbojpeg0-dev libjpeg62-turbo-dev
fi

if [ "${1:-}" = "--test" ]; then
  # jpegtran writes the decoder tests' JPEGs with restart markers.
  command -v jpegtran >/dev/null 2>&1 || apt_install libjpeg-turbo-progs
  if ! /usr/bin/python3 -c "import torch, torchvision" >/dev/null 2>&1; then
    apt_install python3-torch python3-torchvision
  fi
  # scikit-learn: the multi-label metrics' reference (average_precision_score, f1_score).
  if ! /usr/bin/python3 -c "import sklearn" >/dev/null 2>&1; then
    apt_install python3-sklearn
  fi
  # The browser test (headless Chromium driven by Selenium) and the kernel test.
  if ! [ -x /usr/bin/chromedriver ] || ! /usr/bin/python3 -c "import selenium, jupyter_kernel_test" >/dev/null 2>&1; then
    apt_install chromium chromium-driver python3-selenium python3-jupyter-kernel-test
  fi
fi
if [ "${1:-}" = "--test" ] || [ "${1:-}" = "--notebooks" ]; then
  # Jupyter from Debian's packages (no PyPI here), then GoNB and the vegclf kernels. fonts-liberation: the
  # charts' font (gonum's plot sizes their text with Liberation's metrics, and the browser draws it).
  if ! /usr/bin/python3 -c "import nbclient, nbformat, jupyter_client" >/dev/null 2>&1 || ! command -v jupyter >/dev/null 2>&1 ||
    ! [ -d /usr/share/fonts/truetype/liberation ]; then
    apt_install jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel jupyter-notebook fonts-liberation
  fi
  ./kernels/install.sh
fi

if [ "${1:-}" = "--test" ] || [ "${1:-}" = "--onnx" ]; then
  # ONNX Runtime from npm's onnxruntime-node, which ships its CPU library for linux x64 (the package's
  # install script fetches GPU binaries from a host these machines cannot reach: it is not run). vegclf
  # finds the library at this path (backend.DefaultONNXRuntime); the tests run the exported models with
  # the package's Node.js binding, which is not vegclf's code. Its version is written once, as
  # backend.ONNXRuntimeVersion in vegclf/backend/onnx.go, and read from there.
  ort_version=$(sed -n 's/^const ONNXRuntimeVersion = "\([0-9][0-9.]*\)"$/\1/p' vegclf/backend/onnx.go)
  [ -n "$ort_version" ] || { echo "setup: no ONNXRuntimeVersion in vegclf/backend/onnx.go" >&2; exit 1; }
  ort_dir="${XDG_CACHE_HOME:-$HOME/.cache}/vegclf/onnxruntime-$ort_version"
  if ! [ -f "$ort_dir/libonnxruntime.so.1" ] || ! [ -d "$ort_dir/npm/node_modules/onnxruntime-node" ]; then
    if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
      apt_install nodejs npm
    fi
    echo "setup: installing ONNX Runtime $ort_version (npm onnxruntime-node, about 110 MB) into $ort_dir"
    mkdir -p "$ort_dir/npm"
    npm install --prefix "$ort_dir/npm" --ignore-scripts --no-audit --no-fund --loglevel=error "onnxruntime-node@$ort_version" >/dev/null ||
      { echo "setup: 'npm install onnxruntime-node@$ort_version' failed: the npm registry is needed" >&2; exit 1; }
    ln -sf npm/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1 "$ort_dir/libonnxruntime.so.1"
  fi
fi
if [ "${1:-}" = "--test" ] && ! /usr/bin/python3 -c "import onnx" >/dev/null 2>&1; then
  apt_install python3-onnx
fi

go mod download
echo "setup: ready ($(go version))"
