#!/usr/bin/env bash
# Measures every architecture side by side on this machine: inference and the fine-tune step on the Go
# backend, inference on ONNX Runtime (the exported graph), and PyTorch's (Debian's torch) on the same
# shapes, one measurement after another, and prints a markdown table of images/s with the ratios to
# PyTorch's (BENCHMARKS.md). Environment: ARCHS (all but ResNet-18/34/101/152 and EfficientNet-B1..B3),
# SIZE (224), BATCH (16), DURATION (per measured step, 10s).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --test
. scripts/goenv.sh
archs=${ARCHS:-"resnet50 mobilenet_v3_large mobilenet_v3_small efficientnet_b0 convnext_tiny vit_b_16 vit_b_32"}
size=${SIZE:-224} batch=${BATCH:-16} duration=${DURATION:-10s}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o bin/vegclf ./vegclf/cmd/vegclf
bin/vegclf synth --out "$work/data" --classes 4 --train 8 --test 2 --validation 2 --size 64 >/dev/null
for arch in $archs; do
  echo "== $arch" >&2
  /usr/bin/python3 vegclf/internal/torchref/bench_torch_steps.py "$arch" "$size" "$batch" cpu float32 eager "$work/$arch.torch.json" >/dev/null
  bin/vegclf bench --data "$work/data" --backend go --arch "$arch" --image-size "$size" --batch "$batch" --steps-only \
    --duration "$duration" --json "$work/$arch.go.json" >/dev/null
  bin/vegclf bench --data "$work/data" --backend onnx --arch "$arch" --image-size "$size" --batch "$batch" --steps-only \
    --duration "$duration" --json "$work/$arch.onnx.json" >/dev/null
done
/usr/bin/python3 - "$work" $archs <<'PY'
import json, sys
w, archs = sys.argv[1], sys.argv[2:]
print("| arch | Go inference | ONNX Runtime inference | PyTorch inference | Go fine-tune step | PyTorch fine-tune step |")
print("| --- | --- | --- | --- | --- | --- |")
for a in archs:
    t, g, o = (json.load(open(f"{w}/{a}.{k}.json")) for k in ("torch", "go", "onnx"))
    ti, tf = t["inference_images_per_second"], t["finetune_step_images_per_second"]
    gi, gf, oi = g["inference_images_per_second"], g["finetune_step_images_per_second"], o["inference_images_per_second"]
    print(f"| {a} | {gi:.2f} ({gi / ti:.2f}x) | {oi:.2f} ({oi / ti:.2f}x) | {ti:.2f} | {gf:.2f} ({gf / tf:.2f}x) | {tf:.2f} |")
PY
echo "images/s, ${size}x${size}, batch $batch; (ratio to PyTorch's). machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

# A frozen-phase run through the CLI, as a user starts one: 5 frozen epochs over 48 JPEGs at SIZE with
# weights from a file (torchvision's architecture with random weights, saved by torch), features cached;
# the wall time from the command to its end, start-up included.
bin/vegclf synth --out "$work/frozen" --classes 4 --train 12 --test 3 --validation 3 --size 256 >/dev/null
echo
echo "| arch | frozen-phase run (5 epochs, 48 JPEGs), wall seconds |"
echo "| --- | --- |"
for arch in ${FROZEN_ARCHS:-resnet50 mobilenet_v3_large efficientnet_b0}; do
  /usr/bin/python3 -c "import sys, torch, torchvision; torch.save(getattr(torchvision.models, sys.argv[1])().state_dict(), sys.argv[2])" \
    "$arch" "$work/$arch.pth"
  start=$(date +%s.%N)
  bin/vegclf train --data "$work/frozen" --out "$work/run-$arch" --arch "$arch" --weights "$work/$arch.pth" --image-size "$size" \
    --frozen-epochs 5 --finetune-epochs 0 --backend go >/dev/null
  echo "| $arch | $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') |"
done
