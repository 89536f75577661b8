#!/usr/bin/env bash
# Bundle archive benchmark (not a test): our streaming tar.gz writer vs `tar | gzip -6` and
# `tar -I pigz`, on ~1 GB of generated logs and Kubernetes JSON (seeded, reproducible).
# Runs each command alternately REPS times and prints medians, sizes, ratios and peak RSS,
# then archives one 2 GiB sparse file to show our memory stays flat.
# When run as root it installs pigz with apt-get if it is missing.
#
#   bench/bundle_archive.sh [MEGABYTES=1000] [REPS=3] [SEED=42]
set -euo pipefail
MB=${1:-1000}
REPS=${2:-3}
SEED=${3:-42}
cd "$(dirname "$0")/.."

if ! command -v pigz >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y pigz >/dev/null; else echo "pigz missing (run as root to install)"; exit 1; fi
fi
[ -x /usr/bin/time ] || { echo "/usr/bin/time missing (apt-get install time)"; exit 1; }

cargo build --release --features bench --example bundle-bench >/dev/null 2>&1
BIN=$PWD/target/release/examples/bundle-bench
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bundle-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
echo "generating ${MB} MB (seed $SEED) in $WORK/src"
"$BIN" gen "$WORK/src" "$MB" "$SEED"
echo "input: $(du -sb "$WORK/src" | cut -f1) bytes in $(find "$WORK/src" -type f | wc -l) files; $(nproc) CPUs"

declare -A CMD=(
  [ours-l6]="$BIN archive $WORK/src $WORK/ours-l6.tar.gz 6 1"
  [ours-l1]="$BIN archive $WORK/src $WORK/ours-l1.tar.gz 1 1"
  [ours-l6-2t]="$BIN archive $WORK/src $WORK/ours-l6-2t.tar.gz 6 2"
  [tar-gzip6]="sh -c 'tar -cf - -C $WORK src | gzip -6 > $WORK/tar-gzip6.tar.gz'"
  [tar-pigz]="tar -I pigz -cf $WORK/tar-pigz.tar.gz -C $WORK src"
)
ORDER=(ours-l6 tar-gzip6 tar-pigz ours-l1 ours-l6-2t)
declare -A TIMES RSS
for ((r = 1; r <= REPS; r++)); do
  for k in "${ORDER[@]}"; do
    sync
    out=$( { /usr/bin/time -f "TIME %e %M" bash -c "${CMD[$k]} >/dev/null"; } 2>&1 | grep '^TIME')
    read -r _ secs rss <<<"$out"
    TIMES[$k]+="$secs "
    RSS[$k]+="$rss "
    echo "rep $r $k: ${secs}s peak RSS ${rss} KiB"
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
base_t=$(echo "${TIMES[tar-gzip6]}" | median)
base_s=$(stat -c %s "$WORK/tar-gzip6.tar.gz")
printf '\n%-11s %10s %8s %14s %8s %12s\n' what median_s vs_gz6 size_bytes size/gz6 peakRSS_KiB
for k in "${ORDER[@]}"; do
  t=$(echo "${TIMES[$k]}" | median)
  s=$(stat -c %s "$WORK/$k.tar.gz")
  m=$(echo "${RSS[$k]}" | median)
  printf '%-11s %10s %8.2f %14s %8.3f %12s\n' "$k" "$t" "$(echo "$t / $base_t" | bc -l)" "$s" "$(echo "$s / $base_s" | bc -l)" "$m"
done

echo
echo "single 2 GiB sparse file (zeros): peak RSS of ours"
rm -rf "$WORK/src" "$WORK"/*.tar.gz
mkdir -p "$WORK/big"
truncate -s 2G "$WORK/big/huge.log"
/usr/bin/time -f "TIME %e s, peak RSS %M KiB" "$BIN" archive "$WORK/big" "$WORK/big.tar.gz" 6 1
echo "single 2 GiB generated log file: peak RSS of ours"
rm -rf "$WORK/big" "$WORK/big.tar.gz"
mkdir -p "$WORK/big2"
python3 - "$WORK/big2/huge.log" <<'PY'
import sys, random
random.seed(7)
line = [f"2025-12-10T17:{m:02d}:{s:02d}.000Z INFO [api] request completed id={random.getrandbits(64):016x} latency_ms={random.randrange(5000)}\n" for m in range(60) for s in range(60)]
blob = "".join(line).encode()
with open(sys.argv[1], "wb") as f:
    n = 0
    while n < 2 * 1024**3:
        f.write(blob); n += len(blob)
PY
/usr/bin/time -f "TIME %e s, peak RSS %M KiB" "$BIN" archive "$WORK/big2" "$WORK/big2.tar.gz" 6 1
