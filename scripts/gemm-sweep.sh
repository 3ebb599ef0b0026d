#!/usr/bin/env bash
# Sweeps the Go backend's AVX-512 GEMM blocking (GOMLX_GO_AVX512_KC, _MC, _NC; compute reads them once, at
# start) on ResNet-50's convolution shapes, forward and fine-tuning (BenchmarkTrainingConv, batch 16):
# one test binary, each blocking in its own process, the blockings interleaved round by round so that a
# noisy machine slows them alike. Prints, per blocking, the sum over the shapes of each one's median
# ms/op (benchstat's, pinned below) and its ratio to the default's. Environment: ROUNDS (3), BENCHTIME
# (3x), CONFIGS (space-separated KC:MC:NC, 0 for the default's value; the first is the reference).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/goenv.sh
rounds=${ROUNDS:-3} benchtime=${BENCHTIME:-3x}
configs=${CONFIGS:-"0:0:0 256:0:0 384:0:0 0:64:0 0:128:0 0:0:256 0:0:1024 0:64:256"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go test -c -o "$work/nn.test" ./vegclf/nn
# benchstat, an exact version (the module proxy here serves exact versions only), built once.
GOBIN="$work" go install golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
for round in $(seq "$rounds"); do
  for c in $configs; do
    IFS=: read -r kc mc nc <<<"$c"
    echo "round $round: KC=$kc MC=$mc NC=$nc" >&2
    GOMLX_GO_AVX512_KC=$kc GOMLX_GO_AVX512_MC=$mc GOMLX_GO_AVX512_NC=$nc \
      "$work/nn.test" -test.run '^$' -test.bench BenchmarkTrainingConv -test.benchtime "$benchtime" |
      grep '^BenchmarkTrainingConv' >>"$work/${c//:/_}.txt"
  done
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "blocking KC:MC:NC (0 = default 192:32:512), sum of per-shape medians (ms): forward, train; ratio to the first"
# benchstat's CSV: a row per shape, its median seconds per op in the second column.
for c in $configs; do
  "$work/benchstat" -format csv "$work/${c//:/_}.txt" 2>/dev/null |
    awk -F, -v c="$c" '$1 ~ /^TrainingConv\// { if ($1 ~ /\/forward/) f += $2; else t += $2 }
      END { printf "%s %.6f %.6f\n", c, f * 1000, t * 1000 }'
done | awk 'NR == 1 { f0 = $2; t0 = $3 }
  { printf "%-16s forward %8.1f (%.3fx)  train %8.1f (%.3fx)\n", $1, $2, $2 / f0, $3, $3 / t0 }'
