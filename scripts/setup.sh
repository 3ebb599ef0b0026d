#!/usr/bin/env bash
# Sets up what vegclf needs on a Debian machine. With --notebooks, also Jupyter (Debian's packages),
# GoNB and the vegclf kernels. With --test, all that and what the tests need: Debian's python3-torch and
# python3-torchvision, the reference implementation the tests compare against.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/goenv.sh
if ! command -v go >/dev/null 2>&1; then
  echo "setup: Go is needed (1.21 or later, which fetches vegclf's $GOTOOLCHAIN itself): install it from https://go.dev/dl/ into /usr/local/go" >&2
  exit 1
fi
# GOTOOLCHAIN (scripts/goenv.sh) makes the go command fetch the toolchain from the module proxy.
if ! have_go=$(go env GOVERSION 2>&1) || [ "$have_go" != "$GOTOOLCHAIN" ]; then
  echo "setup: could not get $GOTOOLCHAIN (GOTOOLCHAIN=$GOTOOLCHAIN with $(env -u GOTOOLCHAIN go version 2>&1)): $have_go" >&2
  echo "setup: it needs Go 1.21 or later and the Go module proxy; or install $GOTOOLCHAIN from https://go.dev/dl/" >&2
  exit 1
fi

apt_install() {
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing Debian packages: $*"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# JPEG decoding goes through libjpeg-turbo (cgo), the library Pillow decodes with: its TurboJPEG API and the
# headers that give its version.
if ! [ -f /usr/include/turbojpeg.h ] || ! compgen -G '/usr/include/*/jconfig.h' >/dev/null; then
  apt_install gcc libc6-dev libturbojpeg0-dev libjpeg62-turbo-dev
fi

if [ "${1:-}" = "--test" ]; then
  # jpegtran writes the decoder tests' JPEGs with restart markers.
  command -v jpegtran >/dev/null 2>&1 || apt_install libjpeg-turbo-progs
  if ! /usr/bin/python3 -c "import torch, torchvision" >/dev/null 2>&1; then
    apt_install python3-torch python3-torchvision
  fi
  # The browser test (headless Chromium driven by Selenium) and the kernel test.
  # fonts-liberation: the charts' font (gonum's plot sizes their text with Liberation's metrics).
  if ! [ -x /usr/bin/chromedriver ] || ! /usr/bin/python3 -c "import selenium, jupyter_kernel_test" >/dev/null 2>&1 ||
    ! [ -d /usr/share/fonts/truetype/liberation ]; then
    apt_install chromium chromium-driver python3-selenium python3-jupyter-kernel-test fonts-liberation
  fi
fi
if [ "${1:-}" = "--test" ] || [ "${1:-}" = "--notebooks" ]; then
  # Jupyter from Debian's packages (no PyPI here), then GoNB and the vegclf kernels.
  if ! /usr/bin/python3 -c "import nbclient, nbformat, jupyter_client" >/dev/null 2>&1 || ! command -v jupyter >/dev/null 2>&1; then
    apt_install jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel jupyter-notebook
  fi
  ./kernels/install.sh
fi

go mod download
echo "setup: ready ($(go version))"
