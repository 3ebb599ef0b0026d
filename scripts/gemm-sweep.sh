#!/usr/bin/env bash
# Sweeps the Go backend's AVX-512 GEMM blocking (GOMLX_GO_AVX512_KC, _MC, _NC; compute reads them once, at
# start) on ResNet-50's convolution shapes, forward and fine-tuning (BenchmarkTrainingConv, batch 16):
# one test binary, each blocking in its own process, the blockings interleaved round by round so that a
# noisy machine slows them alike. Prints, per blocking, the sum over the shapes of each one's median
# ms/op and its ratio to the default's. Environment: ROUNDS (3), BENCHTIME (3x), CONFIGS (space-separated
# KC:MC:NC, 0 for the default's value; the first is the reference).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/goenv.sh
rounds=${ROUNDS:-3} benchtime=${BENCHTIME:-3x}
configs=${CONFIGS:-"0:0:0 256:0:0 384:0:0 0:64:0 0:128:0 0:0:256 0:0:1024 0:64:256"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go test -c -o "$work/nn.test" ./vegclf/nn
for round in $(seq "$rounds"); do
  for c in $configs; do
    IFS=: read -r kc mc nc <<<"$c"
    echo "round $round: KC=$kc MC=$mc NC=$nc" >&2
    GOMLX_GO_AVX512_KC=$kc GOMLX_GO_AVX512_MC=$mc GOMLX_GO_AVX512_NC=$nc \
      "$work/nn.test" -test.run '^$' -test.bench BenchmarkTrainingConv -test.benchtime "$benchtime" |
      awk -v c="$c" '/^BenchmarkTrainingConv/ {print c, $1, $3}' >>"$work/results"
  done
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "blocking KC:MC:NC (0 = default 192:32:512), sum of per-shape medians (ms): forward, train; ratio to the first"
awk -v configs="$configs" '
  { key = $1 SUBSEP $2; n[key]++; t[key, n[key]] = $3 / 1e6; names[$2] = 1 }
  function median(key,   i, j, v, m, a) {
    m = n[key]
    for (i = 1; i <= m; i++) a[i] = t[key, i]
    for (i = 2; i <= m; i++) { v = a[i]; for (j = i - 1; j >= 1 && a[j] > v; j--) a[j + 1] = a[j]; a[j + 1] = v }
    return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
  }
  END {
    split(configs, cs, " ")
    for (i = 1; i in cs; i++) {
      fwd = 0; tr = 0
      for (name in names) {
        if (!((cs[i], name) in n)) continue
        if (name ~ /\/forward/) fwd += median(cs[i] SUBSEP name); else tr += median(cs[i] SUBSEP name)
      }
      if (i == 1) { f0 = fwd; t0 = tr }
      printf "%-16s forward %8.1f (%.3fx)  train %8.1f (%.3fx)\n", cs[i], fwd, fwd / f0, tr, tr / t0
    }
  }' "$work/results"
