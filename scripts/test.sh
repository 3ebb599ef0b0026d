#!/usr/bin/env bash
# Sets up and runs every test: formatting, vet, staticcheck, and the Go tests, including the parity tests
# against Debian's torch and torchvision (required here: VEGCLF_REQUIRE_TORCH makes their absence a failure)
# and the real-photo tests on ../shared/data (VEGCLF_REQUIRE_SHARED: CI has ../shared beside its clone).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --test
. scripts/goenv.sh
export VEGCLF_REQUIRE_TORCH=1 VEGCLF_REQUIRE_ONNX=1 VEGCLF_REQUIRE_SHARED=1

# The main command as a new machine runs it (fresh clone, empty Go caches, no HOME, not root): about 5 min.
./scripts/first-run-check.sh

unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt is needed on:"; echo "$unformatted"; exit 1
fi
go vet ./...
# staticcheck, pinned (the module proxy here serves exact versions only); settings in staticcheck.conf.
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
go test -count=1 -timeout 60m ./... 2>&1 | tee /tmp/vegclf-test.log
# The build without cgo (the pure Go backend, Go's image/jpeg): the command builds and says so, and the
# decoder keeps within the stated distance of Pillow's pixels.
CGO_ENABLED=0 go build -o "$(mktemp -d)/vegclf-nocgo" ./vegclf/cmd/vegclf
CGO_ENABLED=0 go test -count=1 -run 'TestDecode|TestSelectWithoutXLA' ./vegclf/rgb ./vegclf/backend

# The notebooks, executed headless with the real GoNB kernel; the executed copies are kept as artifacts.
export PATH="$(go env GOPATH)/bin:$PATH"
/usr/bin/python3 notebooks/run_notebooks.py "${VEGCLF_ARTIFACTS:-/tmp/vegclf-artifacts}"
# The installed kernel specs start GoNB and run Go, with their environment; PATH has neither Go's folder
# nor GOPATH's bin, which the specs give GoNB.
env PATH=/usr/sbin:/usr/bin:/sbin:/bin /usr/bin/python3 -m unittest notebooks/kernel_test.py
# The tutorial in a real browser: all cells run from the page, images and plots checked as rendered.
/usr/bin/python3 notebooks/browser_test.py "${VEGCLF_ARTIFACTS:-/tmp/vegclf-artifacts}"
# vegclf serve's page in a real browser: a real photo chosen, its top class as vegclf predict gives it.
/usr/bin/python3 vegclf/serve/browser_test.py "${VEGCLF_ARTIFACTS:-/tmp/vegclf-artifacts}"

# The GEMM blocking sweep, one round of one iteration of two blockings (about 30 s): it still finds the
# benchmark and prints a line per blocking, the first at 1.000x.
sweep=$(ROUNDS=1 BENCHTIME=1x CONFIGS="0:0:0 0:0:256" scripts/gemm-sweep.sh)
echo "$sweep"
grep -q '^0:0:0 .*forward .*(1.000x) .*train .*(1.000x)' <<<"$sweep"
grep -q '^0:0:256 .*forward .*train' <<<"$sweep"

# The GPU check script, dry run on the CPU (the Go backend against Debian's torch, about 2 minutes): the
# script that a lent GPU machine runs in one call must still build and produce every figure.
scripts/gpu-check.sh build
GPU_CHECK_DEVICE=cpu PYTHON=/usr/bin/python3 OUT="${VEGCLF_ARTIFACTS:-/tmp/vegclf-artifacts}/gpu-check-dry-run" \
  scripts/gpu-check.sh run
# Its CUDA branch, without a GPU: with a fake nvidia-smi (two GPUs) and a fake plugin that only Python knows
# of, every step must fail cleanly and the script reach its summary, having retried with the plugin's
# folder and split across nvidia-smi's GPUs.
fake=$(mktemp -d)
mkdir -p "$fake/bin" "$fake/py/jax_plugins/xla_cuda13"
: >"$fake/py/jax_plugins/xla_cuda13/xla_cuda_plugin.so"
printf '#!/bin/sh\n[ "$1" = -L ] && printf "GPU 0: Fake\\nGPU 1: Fake\\n" || echo Fake\n' >"$fake/bin/nvidia-smi"
chmod +x "$fake/bin/nvidia-smi"
if PATH="$fake/bin:$PATH" PYTHONPATH="$fake/py" PYTHON=/usr/bin/python3 OUT="$fake/out" SIZE=32 BATCH=2 \
  scripts/gpu-check.sh run >"$fake/log" 2>&1; then
  echo "gpu-check.sh succeeded without a GPU"; exit 1
fi
for want in "retrying with PJRT_PLUGIN_LIBRARY_PATH=$fake/py/jax_plugins/xla_cuda13" "data parallel over 2 GPU(s)" \
  "parity: FAILED; timings: incomplete; train: FAILED; data parallel: FAILED"; do
  grep -qF "$want" "$fake/log" || { echo "gpu-check.sh's CUDA branch: no '$want' in its log:"; cat "$fake/log"; exit 1; }
done
rm -rf "$fake"

# Fuzzing, bounded: the image decoder and the weights readers get arbitrary bytes for a while. A crasher
# is kept under the package's testdata/fuzz (commit it: it becomes a regression test). The budgets are
# execution counts, about 20 s each on 2 cores: a duration (-fuzztime 20s) races Go 1.26's fuzzing
# coordinator at its deadline and fails with "context deadline exceeded" and no crasher (go.dev/issue/75804).
for target in "FuzzDecode ./vegclf/rgb 60000" "FuzzReadSafetensors ./vegclf/weights 25000" "FuzzReadPTH ./vegclf/weights 20000"; do
  set -- $target
  go test -run '^$' -fuzz "^$1\$" -fuzztime "${VEGCLF_FUZZTIME:-$3x}" -fuzzminimizetime 10x "$2"
done
