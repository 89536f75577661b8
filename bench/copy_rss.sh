#!/usr/bin/env bash
# Peak RSS of the agent producing a bundle from a `copy` collector of 0.5, 1 and 2 GB files
# (issue target: <= 64 MB and flat as the input grows). Runs `trigger` in the foreground (no agent
# running) under GNU time. Not a test: figures go to bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin troubleshoot-agent
bin="$PWD/target/release/troubleshoot-agent"
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time; Debian package 'time')" >&2; exit 1; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
printf '%-8s %-12s %-12s %-10s\n' size "peak RSS" "wall" bundle
for mb in 512 1024 2048; do
  data="$work/data-$mb.log"
  # Real, compressible log text (not a sparse file), so reading and compressing both do work.
  python3 - "$data" "$mb" <<'PY'
import sys
path, mb = sys.argv[1], int(sys.argv[2])
line = b"2026-11-27T01:02:03.456Z INFO  request handled method=GET path=/api/v1/items status=200 duration_ms=12 user=4242\n"
chunk = line * (1 << 20 // len(line) + 1)
with open(path, "wb") as f:
    left = mb << 20
    while left > 0:
        part = chunk[:left]
        f.write(part)
        left -= len(part)
PY
  jobs="$work/jobs-$mb"; state="$work/state-$mb"; mkdir -p "$jobs"
  cat > "$jobs/copy.yaml" <<YAML
apiVersion: troubleshoot.sh/v1beta3
kind: SupportBundleSchedule
metadata: {name: copy-bench}
spec:
  schedule: "0 3 * * *"
  timeout: 30m
  collect:
    supportBundle:
      hostCollectors:
        - copy: {collectorName: big, path: $data}
YAML
  cfg="$work/agent-$mb.yaml"
  printf 'minFreeDisk: 0\nlisten: 127.0.0.1:1\n' > "$cfg"
  /usr/bin/time -v "$bin" --config "$cfg" --jobs-dir "$jobs" --state-dir "$state" --output json trigger copy-bench \
    > "$work/out-$mb.json" 2> "$work/time-$mb.txt" || { cat "$work/time-$mb.txt" >&2; exit 1; }
  rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}' "$work/time-$mb.txt")
  wall=$(awk '/Elapsed \(wall clock\)/ {print $NF}' "$work/time-$mb.txt")
  size=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bundle"]["size"])' "$work/out-$mb.json")
  printf '%-8s %-12s %-12s %-10s\n' "${mb}MiB" "$((rss / 1024)) MiB" "$wall" "$size"
  rm -rf "$data" "$state"
done
