# Sourced by every script (and by the Dockerfile's build): the Go that vegclf builds with. vegclf needs
# Go 1.27 (GoMLX v0.28.16); a machine's own Go (1.21 or later, e.g. Debian's or /usr/local/go 1.26)
# fetches the toolchain named by go.mod's 'toolchain' line from the Go module proxy on first use (about
# 10 s) when GOTOOLCHAIN names it. The cgo build needs GOEXPERIMENT=simd for the Go backend's fast kernels.
[ -x /usr/local/go/bin/go ] && export PATH="/usr/local/go/bin:$PATH"
GOTOOLCHAIN=$(awk '$1 == "toolchain" {print $2}' "$(dirname "${BASH_SOURCE[0]}")/../go.mod")
export GOTOOLCHAIN GOEXPERIMENT=simd
