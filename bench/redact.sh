#!/usr/bin/env bash
# Redaction benchmark (not a test): our engine redacting ~1 GB of generated logs and Kubernetes JSON
# in place, beside `rg -c` searching the same files for the same pattern set (the floor: the time to
# find every match) and beside `sos clean` (sosreport's obfuscator). Seeded and reproducible; the
# generator plants credentials (SECRETS per 10,000 log lines and pods) so there is something to mask.
# Runs the three alternately REPS times on fresh copies (the copies are not timed) and prints medians,
# ratios and peak RSS. As root it installs ripgrep and sosreport with apt-get when missing.
#
#   bench/redact.sh [MEGABYTES=1000] [REPS=3] [SEED=42] [SECRETS=20] [SOS_MB=50]
#
# sos clean runs at well under 1 MB/s here (about 40 minutes per GB), so by default it gets a 50 MB
# tree from the same generator and seed, and the comparison is by throughput (MB/s). SOS_MB=MEGABYTES
# gives it the same input as the others.
set -euo pipefail
MB=${1:-1000}
REPS=${2:-3}
SEED=${3:-42}
SECRETS=${4:-20}
SOS_MB=${5:-50}
cd "$(dirname "$0")/.."

need() { # need CMD PACKAGE
  command -v "$1" >/dev/null && return
  if [ "$(id -u)" = 0 ]; then apt-get install -y "$2" >/dev/null; else echo "$1 missing: apt-get install $2"; exit 1; fi
}
need rg ripgrep
need sos sosreport
[ -x /usr/bin/time ] || { echo "/usr/bin/time missing (apt-get install time)"; exit 1; }

cargo build --release --features bench --example bundle-bench --example redact-bench >/dev/null 2>&1
GEN=$PWD/target/release/examples/bundle-bench
RED=$PWD/target/release/examples/redact-bench
WORK=$(mktemp -d "${TMPDIR:-/tmp}/redact-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

echo "generating ${MB} MB (seed $SEED, $SECRETS secrets per 10k) in $WORK/src"
"$GEN" gen "$WORK/src" "$MB" "$SEED" "$SECRETS"
IN_BYTES=$(du -sb "$WORK/src" | cut -f1)
echo "input: $IN_BYTES bytes in $(find "$WORK/src" -type f | wc -l) files; $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$SOS_MB" != "$MB" ]; then
  "$GEN" gen "$WORK/sos-src" "$SOS_MB" "$SEED" "$SECRETS"
else
  ln -s src "$WORK/sos-src"
fi
SOS_BYTES=$(du -sbL "$WORK/sos-src/" | cut -f1)
# sos clean finds files by splitting paths on the report's directory name, so that name must not
# occur anywhere else in the path; it moves its result into --tmp-dir.
SOS_DIR=sosclean-input
mkdir -p "$WORK/sostmp"

# The same pattern set for rg: every line pattern of our full default chain (64 with the extras),
# translated faithfully (nothing that changes what matches):
# - rg joins all -e patterns into one regex, where the repeated group names (`mask`, `mask_1`, ...)
#   collide; names do not change what matches, so `(?P<name>` becomes `(`;
# - rg 13's older regex syntax refuses escapes of non-meta characters (`\"`, `\/`, `\;`, which the
#   Go patterns are full of and our newer regex accepts): they become the bare character;
# - `(?-u)` in front of each keeps Go's ASCII \w \d \s \b, as our engine compiles them.
mapfile -t PATTERNS < <("$RED" patterns extended |
  perl -pe 's/\(\?P<[A-Za-z0-9_]+>/(/g; s/\\(.)/index(q{"\/;}, $1) >= 0 ? $1 : "\\$1"/ge')
RG_ARGS=()
for p in "${PATTERNS[@]}"; do RG_ARGS+=(-e "(?-u)$p"); done
echo "pattern set: ${#PATTERNS[@]} patterns"
rg -c --no-ignore --hidden "${RG_ARGS[@]}" "$WORK/src" >/dev/null || [ $? = 1 ]

fresh() { # fresh NAME SRC: a private copy to redact in place (untimed)
  rm -rf "${WORK:?}/$1" "$WORK"/sostmp/* 2>/dev/null || true
  mkdir -p "$WORK/$1"
  cp -a "$2/." "$WORK/$1/"
  sync
}

measure() { # measure NAME CMD...: appends seconds and peak RSS
  local secs rss
  /usr/bin/time -o "$WORK/$1.time" -f "%e %M" "${@:2}" >"$WORK/$1.out" 2>"$WORK/$1.err" || true
  read -r secs rss <"$WORK/$1.time"
  [ -n "${secs:-}" ] || { echo "$1 failed:"; tail -5 "$WORK/$1.err"; exit 1; }
  TIMES[$1]+="$secs "
  RSS[$1]+="$rss "
  echo "rep $r $1: ${secs}s peak RSS ${rss} KiB"
}

declare -A TIMES RSS
for ((r = 1; r <= REPS; r++)); do
  fresh ours "$WORK/src"
  measure ours "$RED" redact "$WORK/ours" 4 extended
  measure rg sh -c 'rg -c --no-ignore --hidden "$@" '"$WORK/src"' || [ $? = 1 ]' rg "${RG_ARGS[@]}"
  fresh "$SOS_DIR" "$WORK/sos-src"
  mkdir -p "$WORK/$SOS_DIR/sos_logs"
  measure sos sos clean --batch --tmp-dir "$WORK/sostmp" --keywords hunter2,orders,shop "$WORK/$SOS_DIR"
  grep -q '"ip_map": {}' "$WORK"/sostmp/*private_map && { echo "sos clean obfuscated nothing: check its input"; exit 1; }
done
grep -o ' masks=[0-9]*' "$WORK/ours.out" | sed 's/^/ours: /'
sed 's/^/  /' "$WORK/ours.err" | head -40
echo "rg matching lines: $(rg -c --no-ignore --hidden "${RG_ARGS[@]}" "$WORK/src" | awk -F: '{s+=$NF} END {print s}')"

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
t_ours=$(echo "${TIMES[ours]}" | median)
t_rg=$(echo "${TIMES[rg]}" | median)
t_sos=$(echo "${TIMES[sos]}" | median)
printf '\n%-5s %12s %10s %10s %12s\n' what bytes median_s MB_per_s peakRSS_KiB
for k in ours rg sos; do
  b=$IN_BYTES; [ $k = sos ] && b=$SOS_BYTES
  t=$(echo "${TIMES[$k]}" | median)
  printf '%-5s %12s %10s %10.1f %12s\n' $k "$b" "$t" "$(echo "$b / 1000000 / $t" | bc -l)" "$(echo "${RSS[$k]}" | median)"
done
ours_tp=$(echo "$IN_BYTES / $t_ours" | bc -l)
sos_tp=$(echo "$SOS_BYTES / $t_sos" | bc -l)
printf '\nours / rg time: %.2f (target <= 3)\n' "$(echo "$t_ours / $t_rg" | bc -l)"
printf 'ours vs sos clean throughput: %.1fx faster (target >= 10)\n' "$(echo "$ours_tp / $sos_tp" | bc -l)"
