#!/usr/bin/env bash
# Benchmark (not a test): parse time per mapping key at 1,000, 10,000 and 100,000 keys, through the
# bare YAML tree, the job-file loader (N labels), the spec loader (N http headers) and the spec
# loader reporting N warnings (N unknown fields); see examples/parse-keys.rs. Prints the median time per key and its ratio to the 1,000-key figure:
# flat (≈1×) is the goal (BENCHMARKS.md "linear parse"); a quadratic step shows as ≈10× and ≈100×.
#
#   bench/parse_keys.sh [REPS=5] [SIZES="1000 10000 100000"]     (PATHS="yaml job" for a subset)
set -euo pipefail
REPS=${1:-5}
SIZES=${2:-"1000 10000 100000"}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

echo "building release example parse-keys..." >&2
cargo build --release --quiet --features bench --example parse-keys
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/parse-keys"

printf '%-5s %8s %11s %11s %12s %9s\n' path keys bytes "median s" "µs per key" "× 1k"
for path in ${PATHS:-yaml job spec warn}; do
    base=
    for n in $SIZES; do
        read -r _ _ bytes secs per_key < <("$BIN" "$path" "$n" "$REPS")
        base=${base:-$per_key}
        ratio=$(awk -v a="$per_key" -v b="$base" 'BEGIN {printf "%.2f", a / b}')
        printf '%-5s %8s %11s %11s %12s %9s\n' "$path" "$n" "$bytes" "$secs" "$per_key" "$ratio"
    done
done
echo
echo "medians of $REPS runs each, in one process per size; host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
