#!/usr/bin/env bash
# Inference on ONNX Runtime (vegclf's --backend onnx: the exported graph), the Go backend and PyTorch, side
# by side on this machine: ResNet-50 (ARCH), 224x224 (SIZE), batch 16 (BATCH), random images, one
# measurement after another. Prints images/s and the ratios to PyTorch's.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --onnx
. scripts/goenv.sh
arch=${ARCH:-resnet50} size=${SIZE:-224} batch=${BATCH:-16} duration=${DURATION:-15s}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o bin/vegclf ./vegclf/cmd/vegclf
bin/vegclf synth --out "$work/data" --classes 4 --train 8 --test 2 --validation 2 --size 64 >/dev/null
/usr/bin/python3 vegclf/internal/torchref/bench_torch_steps.py "$arch" "$size" "$batch" cpu float32 eager "$work/torch.json" >/dev/null
for b in onnx go; do
  bin/vegclf bench --data "$work/data" --backend "$b" --arch "$arch" --image-size "$size" --batch "$batch" --steps-only \
    --duration "$duration" --json "$work/$b.json" >/dev/null
done
/usr/bin/python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
torch = json.load(open(f"{w}/torch.json"))["inference_images_per_second"]
for name in ("onnx", "go"):
    v = json.load(open(f"{w}/{name}.json"))["inference_images_per_second"]
    print(f"{'ONNX Runtime' if name == 'onnx' else 'Go backend':14s} {v:6.2f} images/s  ({v / torch:.2f}x PyTorch)")
print(f"{'PyTorch':14s} {torch:6.2f} images/s")
PY
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $arch, ${size}x${size}, batch $batch"
