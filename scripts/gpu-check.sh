#!/usr/bin/env bash
# The GPU check: vegclf on the XLA CUDA backend against PyTorch on the same GPU, in one call.
#
#   scripts/gpu-check.sh build   # here, with Go: builds bin/gpu/ (the CLI and the test binaries)
#   scripts/gpu-check.sh run     # on the GPU machine (no Go, no network): checks and timings
#
# 'run' needs python3 with torch, torchvision and jax-cuda13-pjrt (whose xla_cuda_plugin.so vegclf
# loads), and bin/gpu/ carried from 'build'. It runs:
#   1. the parity tests on CUDA against torchvision on the GPU (float32, TF32 off on both sides; bound
#      1e-3), and the mixed-precision test;
#   2. ResNet-50 at SIZE (224) batch BATCH (64): inference, frozen-phase step, fine-tune step, in float32
#      and bfloat16, for vegclf (XLA, TF32 at its default) and PyTorch eager and torch.compile;
#   3. a table of images/s and vegclf/PyTorch ratios, written to $OUT (or /tmp/gpu-check) as well.
# It exits non-zero when a parity test fails or a vegclf or PyTorch eager figure is missing.
# GPU_CHECK_DEVICE=cpu runs the same steps on the CPU (the Go backend, small sizes): a dry run of the
# script's mechanics on a machine without a GPU (scripts/test.sh runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}

if [ "$mode" = build ]; then
  [ -x /usr/local/go/bin/go ] && export PATH="/usr/local/go/bin:$PATH"
  export GOEXPERIMENT=simd
  mkdir -p bin/gpu
  go build -o bin/gpu/vegclf ./vegclf/cmd/vegclf
  go test -c -o bin/gpu/resnet.test ./vegclf/resnet
  echo "built: $(ls bin/gpu | tr '\n' ' '); carry bin/gpu to the GPU machine"
  exit 0
fi
[ "$mode" = run ] || { echo "usage: $0 build|run" >&2; exit 2; }

device=${GPU_CHECK_DEVICE:-cuda}
python=${PYTHON:-python3}
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "$device" = cuda ]; then
  size=${SIZE:-224} batch=${BATCH:-64} duration=${DURATION:-5s}
  backend="xla:cuda"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
else
  size=${SIZE:-64} batch=${BATCH:-4} duration=${DURATION:-1s}
  backend="go"
fi
echo "== $(date -u +%FT%TZ) device $device, backend $backend, resnet50 ${size}px batch $batch"
"$python" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)'

# 1. Parity against torchvision on the same device, exact float32 on both sides.
echo "== parity (resnet parity and mixed-precision tests on $backend)"
parity=ok
(cd vegclf/resnet && VEGCLF_PYTHON="$python" VEGCLF_TORCH_DEVICE="$device" VEGCLF_REQUIRE_TORCH=1 \
  GOMLX_BACKEND="$backend$([ "$device" = cuda ] && echo ,tf32=false)" \
  ../../bin/gpu/resnet.test -test.run 'TestParityWithTorchvision|TestMixedPrecision' -test.v 2>&1) \
  | tee "$out/parity.log" | grep -E '^(=== RUN|--- |\s+\S+_test.go|PASS|FAIL|ok)' || true
grep -q '^PASS' "$out/parity.log" || parity=FAILED
echo "parity: $parity"

# 2. Timings, side by side.
bin/gpu/vegclf synth --out "$work/data" --classes 4 --train 8 --test 2 --validation 2 --size 64 >/dev/null
for precision in float32 bfloat16; do
  for mode in eager compile; do
    echo "== PyTorch $mode $precision"
    "$python" vegclf/internal/torchref/bench_torch_steps.py resnet50 "$size" "$batch" "$device" "$precision" "$mode" \
      "$out/torch_${mode}_${precision}.json" 2>&1 | tail -3 || true
    cat "$out/torch_${mode}_${precision}.json" 2>/dev/null || echo "(no figures)"
  done
  echo "== vegclf $precision"
  bin/gpu/vegclf bench --backend "$backend" --data "$work/data" --arch resnet50 --image-size "$size" --batch "$batch" \
    --steps-only --precision "$precision" --duration "$duration" --json "$out/vegclf_${precision}.json" \
    --compare "$out/torch_eager_${precision}.json" 2>&1 | grep -v '^\s*$' | tail -12 || true
done

# 3. The table.
# It fails (and the script with it) when a vegclf or PyTorch eager figure is missing; torch.compile may
# be unavailable (PyTorch before 2.0) and is reported, not required.
table=ok
"$python" - "$out" >"$out/table.md" <<'EOF' || table=incomplete
import json, os, sys
out = sys.argv[1]
def load(name):
    try:
        return json.load(open(os.path.join(out, name)))
    except (OSError, ValueError):
        return {}
rows = [("inference_images_per_second", "inference"), ("frozen_step_images_per_second", "frozen step"),
        ("finetune_step_images_per_second", "fine-tune step")]
print("| precision | measure | vegclf img/s | PyTorch eager | torch.compile | vegclf/eager | vegclf/compile |")
print("|---|---|---|---|---|---|---|")
for p in ("float32", "bfloat16"):
    ours, eager, comp = load(f"vegclf_{p}.json"), load(f"torch_eager_{p}.json"), load(f"torch_compile_{p}.json")
    for key, name in rows:
        o, e, c = ours.get(key), eager.get(key), comp.get(key)
        f = lambda v: f"{v:.1f}" if v else "-"
        r = lambda a, b: f"{a / b:.2f}" if a and b else "-"
        print(f"| {p} | {name} | {f(o)} | {f(e)} | {f(c)} | {r(o, e)} | {r(o, c)} |")
missing = []
for p in ("float32", "bfloat16"):
    for side in ("vegclf", "torch_eager"):
        got = load(f"{side}_{p}.json")
        missing += [f"{side} {p} {name}" for key, name in rows if not got.get(key)]
for name in ("torch_compile_float32.json", "torch_compile_bfloat16.json"):
    if "error" in load(name):
        print(f"\n{name}: {load(name)['error'][:300]}")
if missing:
    print("\nmissing figures: " + ", ".join(missing))
    sys.exit(1)
EOF
cat "$out/table.md"
echo "parity: $parity; timings: $table"
[ "$parity" = ok ] && [ "$table" = ok ]
