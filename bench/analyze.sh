#!/usr/bin/env bash
# Analysis and diff benchmark (not a test). Collects the Kubernetes benchmark's bundle (the test API
# server's generated cluster through the agent's clusterResources collection, as
# bench/kube_collect.sh does), writes a vendor-style analyzer spec for it (every pod's status,
# every deployment by name, node resources, a regex over every collected log, an event) and a
# copy of the bundle with six planted changes, then runs examples/analyze-bench.rs: a warm-up and
# REPS alternating rounds of
#   floor        every JSON file of the bundle parsed once with serde_json
#   analyze      the library's analyze entry point (what `analyze BUNDLE --spec SPEC` runs)
#   floor (both) the same over both bundles
#   diff         `changes::diff_paths` of the two bundles (what `diff A B` runs)
# each in its own process, and prints median wall and CPU times, their ratios to the floors and
# peak RSS (VmHWM). Targets (issue 17): analyze <= 1.5x the floor, peak RSS <= 64 MB plus the
# largest file; diff <= 2x the floor of both bundles.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/analyze.sh [options]
  --pods N          pods in the generated cluster (default 10000)
  --deployments N   deployments (default 2000)
  --namespaces N    namespaces (default 200)
  --reps N          alternating rounds after the warm-up (default 5)
  --bundle DIR      use this bundle directory instead of collecting one (no server)
  --keep DIR        collect into DIR (bundle/, changed/, spec.yaml) and keep it
  -h, --help        this text
EOF
}

PODS=10000 DEPLOYMENTS=2000 NAMESPACES=200 REPS=5 BUNDLE= KEEP=
while (($#)); do
  case $1 in
    --pods) PODS=${2:?--pods needs a number}; shift 2 ;;
    --deployments) DEPLOYMENTS=${2:?--deployments needs a number}; shift 2 ;;
    --namespaces) NAMESPACES=${2:?--namespaces needs a number}; shift 2 ;;
    --reps) REPS=${2:?--reps needs a number}; shift 2 ;;
    --bundle) BUNDLE=${2:?--bundle needs a directory}; shift 2 ;;
    --keep) KEEP=${2:?--keep needs a directory}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench/analyze.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
for n in "$PODS" "$DEPLOYMENTS" "$NAMESPACES" "$REPS"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "bench/analyze.sh: not a number: $n" >&2; exit 2; }
done

cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples
echo "building the examples (release)" >&2
cargo build --release --quiet --features bench \
  --example kube-test-server --example kube-collect --example analyze-bench

if [ -n "$KEEP" ]; then
  mkdir -p "$KEEP"; WORK=$(cd "$KEEP" && pwd)
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/analyze-bench.XXXXXX")
fi
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  [ -n "$KEEP" ] || rm -rf "$WORK"
}
trap cleanup EXIT

if [ -n "$BUNDLE" ]; then
  BUNDLE=$(cd "$BUNDLE" && pwd)
else
  BUNDLE=$WORK/bundle
  rm -rf "$BUNDLE"; mkdir -p "$BUNDLE"
  spec="generated:pods=$PODS,deployments=$DEPLOYMENTS,namespaces=$NAMESPACES"
  "$BIN/kube-test-server" --port 0 --cluster "$spec" --kubeconfig "$WORK/kubeconfig" \
    >"$WORK/url" 2>"$WORK/server.err" &
  SERVER_PID=$!
  for _ in $(seq 1 600); do [ -s "$WORK/url" ] && break; sleep 0.1; done
  [ -s "$WORK/url" ] || { echo "the server did not start:"; cat "$WORK/server.err"; exit 1; }
  echo "collecting $spec" >&2
  "$BIN/kube-collect" "$WORK/kubeconfig" "$BUNDLE" 2>"$WORK/collect.err" ||
    { cat "$WORK/collect.err"; exit 1; }
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
fi
rm -rf "$WORK/changed"
"$BIN/analyze-bench" prepare "$BUNDLE" "$WORK/spec.yaml"
"$BIN/analyze-bench" plant "$BUNDLE" "$WORK/changed"

echo "bundle: $(find "$BUNDLE" -type f | wc -l) files, $(du -sb "$BUNDLE" | cut -f1) bytes;" \
  "largest: $(find "$BUNDLE" -type f -printf '%s %P\n' | sort -n | tail -1)"
echo "$(nproc) CPUs; commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' (modified)')"
"$BIN/analyze-bench" run "$BUNDLE" "$WORK/spec.yaml" "$WORK/changed" "$REPS"
