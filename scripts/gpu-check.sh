#!/usr/bin/env bash
# The GPU check: vegclf on the XLA CUDA backend against PyTorch on the same GPU, in one call.
#
#   scripts/gpu-check.sh build       # here, with Go: builds bin/gpu/ (the CLI and the test binaries)
#   scripts/gpu-check.sh run         # on the GPU machine (no Go, no network): checks and timings
#   scripts/gpu-check.sh table DIR   # the table again from the figures a run left in DIR (bin/gpu/vegclf)
#
# 'run' needs python3 with torch, torchvision and jax-cuda13-pjrt (whose xla_cuda_plugin.so vegclf
# loads), and bin/gpu/ carried from 'build'. In order of importance, so that a run cut short by its time
# budget (BUDGET seconds: 480 by default, 900 on the CPU) keeps what matters most:
#   1. the parity tests on CUDA against torchvision on the GPU (float32, TF32 off on both sides; bound
#      1e-3), and the mixed-precision test;
#   2. ResNet-50 at SIZE (224) batch BATCH (64): inference, frozen-phase step, fine-tune step, vegclf (XLA,
#      TF32 at its default) then PyTorch eager, in float32 then bfloat16;
#   3. a short training run through the CLI (train, checkpoint, validation) on generated images;
#   4. data parallel: the fine-tune step split across every GPU against one device (loss agreement within
#      1e-3, speed-up), on CUDA only;
#   5. the timings of step 2 for torch.compile, if the budget leaves time;
#   6. a table of images/s and vegclf/PyTorch ratios, also written to $OUT (or /tmp/gpu-check) with every
#      step's figures (JSON) and log, which come back even when the call is cut off.
# It exits non-zero when a parity test fails, a vegclf or PyTorch eager figure is missing, the
# training run leaves no summary and best checkpoint, or the data-parallel check fails.
# GPU_CHECK_DEVICE=cpu runs the same steps on the CPU (the Go backend, small sizes): a dry run of the
# script's mechanics on a machine without a GPU (scripts/test.sh runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}
python=${PYTHON:-python3}
out=${OUT:-/tmp/gpu-check}

# table DIR prints the comparison of the figures in DIR and fails when a vegclf or PyTorch eager figure
# is missing; torch.compile may be unavailable (PyTorch before 2.0, or no time left) and is reported,
# not required (vegclf bench --table).
table() {
  bin/gpu/vegclf bench --table "$1"
}

case "$mode" in
build)
  . scripts/goenv.sh
  mkdir -p bin/gpu
  # Stripped (-s -w): the binaries travel to the GPU machine, which takes 64 MiB with the working tree.
  go build -ldflags='-s -w' -o bin/gpu/vegclf ./vegclf/cmd/vegclf
  go test -c -ldflags='-s -w' -o bin/gpu/resnet.test ./vegclf/resnet
  echo "built: $(ls bin/gpu | tr '\n' ' '); carry bin/gpu to the GPU machine"
  exit 0 ;;
table)
  [ -n "${2:-}" ] || { echo "usage: $0 table DIR" >&2; exit 2; }
  table "$2"
  exit ;;
run) ;;
*)
  echo "usage: $0 build|run|table DIR" >&2; exit 2 ;;
esac

device=${GPU_CHECK_DEVICE:-cuda}
budget=${BUDGET:-$([ "$device" = cuda ] && echo 480 || echo 900)}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
exec > >(tee "$out/log") 2>&1
export PYTHONUNBUFFERED=1
start=$SECONDS

# step NAME MAX CMD...: runs CMD for at most MAX seconds, and never past the budget; a step with less
# than 20 seconds left is skipped. A step that fails or times out is reported (and its status left in
# step_rc), and the script goes on.
step_rc=0
step() {
  local name=$1 limit=$2
  shift 2
  local left=$((budget - (SECONDS - start)))
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -lt 20 ]; then
    echo "== $name: skipped (budget of ${budget}s spent)"
    step_rc=skipped
    return 0
  fi
  echo "== $name (at $((SECONDS - start))s, limit ${limit}s)"
  step_rc=0
  timeout --kill-after=10 "$limit" "$@" || step_rc=$?
  [ "$step_rc" = 0 ] || echo "== $name: exit status $step_rc$([ "$step_rc" = 124 ] && echo ', timed out')"
  return 0
}

if [ "$device" = cuda ]; then
  size=${SIZE:-224} batch=${BATCH:-64} duration=${DURATION:-5s}
  backend="xla:cuda"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  nvlibs=$("$python" -c 'import glob, os, nvidia; print(":".join(sorted(d for p in nvidia.__path__ for d in glob.glob(os.path.join(p, "*", "lib")))))' 2>/dev/null || true)
  echo "NVIDIA libraries of the Python install: ${nvlibs:-none found}"
  pjrtdir=$("$python" -c 'import glob, os, jax_plugins; print(([os.path.dirname(f) for p in jax_plugins.__path__ for f in sorted(glob.glob(os.path.join(p, "xla_cuda*", "xla_cuda_plugin.so")))] + [""])[0])' 2>/dev/null || true)
  echo "CUDA plugin of the Python install: ${pjrtdir:-none found}"
else
  size=${SIZE:-64} batch=${BATCH:-4} duration=${DURATION:-1s}
  backend="go"
fi
echo "== $(date -u +%FT%TZ) device $device, backend $backend, resnet50 ${size}px batch $batch, budget ${budget}s"
"$python" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)'

# 0. The backend starts and computes. vegclf finds the plugin of a Python install in the usual places;
# should this one be elsewhere, the folder Python names is given to it (PJRT_PLUGIN_LIBRARY_PATH). It
# preloads the NVIDIA libraries of the wheels installed with the plugin, as jax does; should that not be
# enough, the loader's path gets them too. The log says which of these it took.
#
# check_backend NAME: step NAME starts the backend and checks it computes; its report (with its device
# count) is kept in $work/backend.txt.
check_backend() {
  step "$1" 90 bash -c 'set -o pipefail; bin/gpu/vegclf backend --backend "$0" | tee "$1"' "$backend" "$work/backend.txt"
}
check_backend "backend"
if [ "$step_rc" != 0 ] && [ -n "${pjrtdir:-}" ] && [ -z "${PJRT_PLUGIN_LIBRARY_PATH:-}" ]; then
  export PJRT_PLUGIN_LIBRARY_PATH="$pjrtdir"
  echo "== backend: retrying with PJRT_PLUGIN_LIBRARY_PATH=$pjrtdir"
  check_backend "backend (PJRT_PLUGIN_LIBRARY_PATH)"
fi
if [ "$step_rc" != 0 ] && [ -n "${nvlibs:-}" ]; then
  export LD_LIBRARY_PATH="$nvlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "== backend: retrying with LD_LIBRARY_PATH set to the NVIDIA libraries"
  check_backend "backend (LD_LIBRARY_PATH)"
fi
# The devices the backend sees, for the data-parallel step.
devices=""
[ "$step_rc" = 0 ] && devices=$(sed -n 's/^Devices: \([0-9][0-9]*\).*/\1/p' "$work/backend.txt" | head -1)
# What vegclf picks on its own on this machine (reported only; it should say xla:cuda and why).
[ "$device" = cuda ] && step "backend (automatic choice)" 60 env -u GOMLX_BACKEND bin/gpu/vegclf backend

# 1. Parity against torchvision on the same device, exact float32 on both sides.
# tf32=false makes XLA's float32 matrix products exact; XLA leaves convolutions at the default precision,
# where cuDNN may use TF32: NVIDIA_TF32_OVERRIDE=0 turns that off in cuDNN and cuBLAS, on both sides.
step "parity (resnet parity and mixed-precision tests on $backend)" 150 env -C vegclf/resnet \
  NVIDIA_TF32_OVERRIDE=0 VEGCLF_PYTHON="$python" VEGCLF_TORCH_DEVICE="$device" VEGCLF_REQUIRE_TORCH=1 \
  GOMLX_BACKEND="$backend$([ "$device" = cuda ] && echo ,tf32=false)" \
  ../../bin/gpu/resnet.test -test.run 'TestParityWithTorchvision|TestMixedPrecision' -test.v 2>&1 \
  | tee "$out/parity.log" | grep -E '^(== |=== RUN|--- |\s+\S+_test.go|PASS|FAIL|ok)' || true
parity=ok
grep -q '^PASS' "$out/parity.log" || parity=FAILED
echo "parity: $parity"

# 2. Timings, side by side.
bin/gpu/vegclf synth --out "$work/data" --classes 4 --train 8 --test 2 --validation 2 --size 64 >/dev/null
ours() {
  step "vegclf $1" 150 bin/gpu/vegclf bench --backend "$backend" --data "$work/data" --arch resnet50 \
    --image-size "$size" --batch "$batch" --steps-only --precision "$1" --duration "$duration" \
    --json "$out/vegclf_$1.json" --compare "$out/torch_eager_$1.json"
}
theirs() {
  step "PyTorch $2 $1" "$3" "$python" vegclf/internal/torchref/bench_torch_steps.py resnet50 "$size" "$batch" \
    "$device" "$1" "$2" "$out/torch_$2_$1.json"
  cat "$out/torch_$2_$1.json" 2>/dev/null && echo || echo "(no figures)"
}
for precision in float32 bfloat16; do
  theirs "$precision" eager 90
  ours "$precision"
done

# 3. The recipe's path through the CLI on the same backend: train (frozen, then fine-tuning), the best
# checkpoint, validation.
step "vegclf train (resnet18, 2+1 epochs on generated images)" 120 bin/gpu/vegclf train --backend "$backend" \
  --data "$work/data" --out "$work/run" --arch resnet18 --weights none --image-size 64 --batch 8 \
  --frozen-epochs 2 --finetune-epochs 1 --lr 1e-3 --finetune-lr 1e-4
trained=FAILED
if [ -f "$work/run/summary.json" ] && [ -f "$work/run/best.ckpt" ]; then
  trained=ok
  cp "$work/run/summary.json" "$out/train_summary.json"
fi
echo "train: $trained"

# 4. Data parallel: the fine-tune step split across every GPU (XLA's automatic sharding; with one GPU, the
# sharded step compiled for one device), against the same steps on one device: their losses must agree
# (relative difference under 1e-3), and the speed-up is reported. The Go backend cannot split a step.
parallel="not run (the Go backend runs on one device)"
if [ "$device" = cuda ]; then
  # The devices the backend reported in step 0, else the GPUs nvidia-smi lists.
  gpus=${devices:-0}
  [ "$gpus" -ge 1 ] || gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
  [ "${gpus:-0}" -ge 1 ] || gpus=1
  # vegclf bench judges it (its exit status) and prints its verdict as "data parallel: ...".
  step "vegclf data parallel over $gpus GPU(s)" 150 bash -c 'set -o pipefail; "$@" | tee "'"$work/parallel.txt"'"' \
    bench bin/gpu/vegclf bench --backend "$backend" --data "$work/data" --arch resnet50 --image-size "$size" \
    --batch "$batch" --devices "$gpus" --duration "$duration" --json "$out/parallel.json"
  if [ "$step_rc" = skipped ]; then
    parallel="skipped (budget spent)"
  else
    parallel=$(sed -n 's/^data parallel: //p' "$work/parallel.txt" 2>/dev/null | tail -1)
    if [ "$step_rc" != 0 ] || [ -z "$parallel" ]; then
      case "$parallel" in FAILED*) ;; *) parallel="FAILED (exit status $step_rc)" ;; esac
    fi
  fi
fi
echo "data parallel: $parallel"

# 5. torch.compile, last: it may not work, and it compiles for minutes.
for precision in float32 bfloat16; do
  theirs "$precision" compile 150
done

# 6. The table.
echo "== results (after $((SECONDS - start))s)"
timings=ok
table "$out" >"$out/table.md" || timings=incomplete
cat "$out/table.md"
echo "parity: $parity; timings: $timings; train: $trained; data parallel: $parallel"
[ "$parity" = ok ] && [ "$timings" = ok ] && [ "$trained" = ok ] && [ "${parallel%% *}" != FAILED ]
