#!/usr/bin/env bash
# Benchmark: `validate` and `plan` on a generated jobs directory, against the floor of parsing
# the same files with the YAML crate alone (examples/yaml-floor.rs), in the same run.
#
#   bench/validate_plan.sh [FILES] [RUNS]      (defaults: 10000 files, 7 runs)
#
# Targets (from the issue): each of ours ≤ 1000 ms and ≤ 2× the floor's median.
# The commands are run alternately (floor, validate, plan, plan-unchanged, floor, ...) so drift
# on a shared machine hits all of them alike; the table shows medians. Not a test: it never fails
# on a missed target, it says so.
set -euo pipefail

FILES=${1:-10000}
RUNS=${2:-7}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

echo "building release binaries..." >&2
cargo build --release --quiet --features bench --bin troubleshoot-agent --example yaml-floor --example bench-write-applied
REL="$ROOT/target/release"
AGENT="$REL/troubleshoot-agent"
FLOOR="$REL/examples/yaml-floor"
WRITE_APPLIED="$REL/examples/bench-write-applied"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ta-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
JOBS="$WORK/jobs"
EMPTY_STATE="$WORK/state-empty"
APPLIED_STATE="$WORK/state-applied"
mkdir -p "$EMPTY_STATE" "$APPLIED_STATE"

echo "generating $FILES job files..." >&2
python3 "$ROOT/bench/gen_jobs.py" "$JOBS" "$FILES"
JOB_BYTES=$(find "$JOBS" -maxdepth 1 -name '*.yaml' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
SPEC_BYTES=$(find "$JOBS/specs" -name '*.yaml' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
"$WRITE_APPLIED" "$JOBS" "$APPLIED_STATE" >/dev/null
# A fixed instant keeps the fire times (and so the work) the same from run to run.
FROM=2025-06-01T00:00:00Z

# Peak RSS: GNU time when installed, else the child's rusage read by Python (os.wait4).
if [[ -x /usr/bin/time ]] && /usr/bin/time -v true >/dev/null 2>&1; then
    RSS_SOURCE="GNU time -v"
else
    RSS_SOURCE="getrusage (os.wait4; GNU time not installed)"
fi

# measure NAME CMD...: runs CMD once (output discarded, exit 0 required) and appends
# "wall_ms rss_kb cpu_ms" to $WORK/NAME (cpu = user + system time of the command).
measure() {
    local name=$1
    shift
    local start end rss
    if [[ $RSS_SOURCE == "GNU time -v" ]]; then
        start=$(date +%s%N)
        if ! /usr/bin/time -v -o "$WORK/time.out" "$@" >/dev/null 2>"$WORK/stderr"; then
            echo "error: $name failed:" >&2
            tail -5 "$WORK/stderr" >&2
            exit 1
        fi
        end=$(date +%s%N)
        awk -F': ' -v us="$(((end - start) / 1000))" '
            /Maximum resident set size/ {rss = $2}
            /User time \(seconds\)/ {cpu += $2}
            /System time \(seconds\)/ {cpu += $2}
            END {printf "%.1f %d %.0f\n", us / 1000, rss, cpu * 1000}' "$WORK/time.out" >>"$WORK/$name"
    else
        python3 - "$@" >>"$WORK/$name" <<'EOF' || { echo "error: $name failed" >&2; exit 1; }
import os, subprocess, sys, time
start = time.perf_counter()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(p.pid, 0)
wall = (time.perf_counter() - start) * 1000
if os.waitstatus_to_exitcode(status) != 0:
    sys.exit(1)
print(f"{wall:.1f} {usage.ru_maxrss} {(usage.ru_utime + usage.ru_stime) * 1000:.0f}")
EOF
    fi
}

NAMES=(floor validate plan plan-unchanged)
run_one() {
    case $1 in
    floor) measure floor "$FLOOR" "$JOBS" ;;
    validate) measure validate "$AGENT" --jobs-dir "$JOBS" --state-dir "$EMPTY_STATE" validate "$JOBS" ;;
    plan) measure plan "$AGENT" --jobs-dir "$JOBS" --state-dir "$EMPTY_STATE" plan --from "$FROM" ;;
    plan-unchanged) measure plan-unchanged "$AGENT" --jobs-dir "$JOBS" --state-dir "$APPLIED_STATE" plan --from "$FROM" ;;
    esac
}

echo "warm-up (page cache), then $RUNS alternating rounds..." >&2
for name in "${NAMES[@]}"; do run_one "$name"; done
for name in "${NAMES[@]}"; do : >"$WORK/$name"; done
for ((i = 1; i <= RUNS; i++)); do
    for name in "${NAMES[@]}"; do run_one "$name"; done
    echo "  round $i/$RUNS done" >&2
done

median() { # median of column $2 of file $1
    sort -n -k"$2" "$1" | awk -v c="$2" '{v[NR] = $c} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

floor_ms=$(median "$WORK/floor" 1)
floor_cpu=$(median "$WORK/floor" 3)
echo
echo "input: $FILES job files, $JOB_BYTES bytes (+ 1 shared spec file, $SPEC_BYTES bytes, under specs/)"
echo "runs: $RUNS alternating rounds after one warm-up; single-threaded; peak RSS from $RSS_SOURCE"
echo "host: $(nproc) CPUs, $(uname -sr)"
echo
printf '%-16s %10s %8s %10s %8s %12s  %s\n' "what" "wall ms" "× floor" "CPU ms" "× floor" "peak RSS MB" "targets (wall ≤ 1000 ms, ≤ 2× floor)"
for name in "${NAMES[@]}"; do
    ms=$(median "$WORK/$name" 1)
    rss=$(median "$WORK/$name" 2)
    cpu=$(median "$WORK/$name" 3)
    ratio=$(awk -v a="$ms" -v b="$floor_ms" 'BEGIN {printf "%.2f", a / b}')
    cpu_ratio=$(awk -v a="$cpu" -v b="$floor_cpu" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}')
    rss_mb=$(awk -v k="$rss" 'BEGIN {printf "%.1f", k / 1024}')
    if [[ $name == floor ]]; then
        verdict="(floor)"
    else
        verdict=$(awk -v a="$ms" -v r="$ratio" 'BEGIN {
            t = (a <= 1000) ? "met" : "MISSED"; f = (r <= 2) ? "met" : "MISSED"
            printf "1 s %s, 2× %s", t, f }')
    fi
    printf '%-16s %10s %8s %10s %8s %12s  %s\n' "$name" "$ms" "$ratio" "$cpu" "$cpu_ratio" "$rss_mb" "$verdict"
done
echo
echo "floor          = examples/yaml-floor: serde_saphyr::from_str_multiple into serde_json::Value, every *.yaml in the dir"
echo "validate       = troubleshoot-agent validate DIR"
echo "plan           = troubleshoot-agent plan --from $FROM, empty state dir (all adds)"
echo "plan-unchanged = the same against an applied.json of these jobs (no changes)"
echo "medians of each column separately; CPU = user + system time, steadier than wall time when"
echo "other work shares the machine (check the load average: $(cut -d' ' -f1-3 /proc/loadavg))"
