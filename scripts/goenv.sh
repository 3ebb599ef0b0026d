# Sourced by every script (and by the Dockerfile's build): the Go that vegclf builds with. vegclf needs
# Go 1.27 (GoMLX v0.28.16); a machine's own Go (1.21 or later, e.g. Debian's or /usr/local/go 1.26)
# fetches the toolchain named by go.mod's 'toolchain' line from the Go module proxy on first use (about
# 10 s) when GOTOOLCHAIN names it. The cgo build needs GOEXPERIMENT=simd for the Go backend's fast kernels.
[ -x /usr/local/go/bin/go ] && export PATH="/usr/local/go/bin:$PATH"
GOTOOLCHAIN=$(awk '$1 == "toolchain" {print $2}' "$(dirname "${BASH_SOURCE[0]}")/../go.mod")
export GOTOOLCHAIN GOEXPERIMENT=simd

# Go keeps its module cache (the toolchain too) under GOPATH, by default ~/go, and its build cache in
# ~/.cache/go-build. With HOME unset or not writable (a service account, a read-only container) and
# neither set, Go would have nowhere to put them: they go to a folder of this user's under TMPDIR instead.
if [ -z "${HOME:-}" ] || ! [ -w "$HOME" ]; then
  vegclf_home="${TMPDIR:-/tmp}/vegclf-$(id -u)"
  if [ -z "${GOPATH:-}" ] || [ -z "${GOCACHE:-}" ] || [ -z "${VEGCLF_CACHE:-}" ]; then
    mkdir -p "$vegclf_home" || { echo "goenv: HOME ('${HOME:-}') is unset or not writable and $vegclf_home cannot be made: set HOME, or GOPATH, GOCACHE and VEGCLF_CACHE, to writable folders" >&2; return 1; }
    echo "goenv: HOME ('${HOME:-}') is unset or not writable: Go's and vegclf's caches go to $vegclf_home (set GOPATH, GOCACHE and VEGCLF_CACHE to choose)" >&2
  fi
  export GOPATH="${GOPATH:-$vegclf_home/go}" GOCACHE="${GOCACHE:-$vegclf_home/go-build}" VEGCLF_CACHE="${VEGCLF_CACHE:-$vegclf_home/weights}"
fi
