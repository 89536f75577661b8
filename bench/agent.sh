#!/usr/bin/env bash
# Agent benchmark (not a test): idle RSS/CPU with 10,000 jobs beside Debian cron holding the same
# 10,000 schedules, p99 fire lateness of 1,000 jobs due in the same second, and the latency from a
# one-file change in a 10,000-file jobs directory to the applied plan. See bench/README.md "Agent".
#
# Usage: bench/agent.sh [REPS=3] [WINDOW_SECONDS=60]
# Runs as root: it installs Debian `cron` with apt-get when missing, writes (and removes)
# /etc/cron.d/troubleshoot-agent-bench and runs `cron -f` for the idle comparison.
set -euo pipefail

reps=${1:-3}
window=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
  echo "bench/agent.sh runs as root (it installs cron and runs it with a file in /etc/cron.d)" >&2
  exit 1
fi
if ! command -v cron >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cron >/dev/null
fi
if pgrep -x cron >/dev/null; then
  echo "a cron daemon is already running; stop it first (this benchmark runs its own cron -f)" >&2
  exit 1
fi

(cd "$root" && cargo build --release --quiet)
python3 "$here/agent_bench.py" --bin "$root/target/release/troubleshoot-agent" \
  --reps "$reps" --window "$window" --json "${AGENT_BENCH_JSON:-/tmp/agent-bench.json}"
