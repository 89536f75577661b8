#!/usr/bin/env bash
# Fleet spread (issue 19, item 4): 1,000 agents in node mode, each seeding jitter with its own node
# name, run the same `0 2 * * *` job; peak requests per second against the API server and the
# upload endpoint with `jitter: 10m`, against the peer: the same fleet with `jitter: 0s`.
# Target: the jittered peak <= 5 % of the unjittered one. examples/fleet-sim.rs loads the job
# file with the agent's library and takes each agent's fire time from `plan::upcoming` (the
# daemon's jitter); the run model (API requests over the collection, one upload at its end) is
# described there and in bench/README.md. A simulation: deterministic, so one run per model, no
# medians. Not a test: figures go to bench/README.md.
#
#   bench/fleet.sh [AGENTS=1000] [API_REQUESTS=4]
set -euo pipefail
cd "$(dirname "$0")/.."
agents="${1:-1000}"; api="${2:-4}"
# Arithmetic only: the debug build is as good as a release one here and builds faster.
cargo build --quiet --features bench --example fleet-sim
sim="${CARGO_TARGET_DIR:-$PWD/target}/debug/examples/fleet-sim"
# Collection time per node, in seconds: identical nodes first, then wider spreads.
for range in "45 45" "40 50" "30 60" "20 120"; do
  read -r lo hi <<<"$range"
  "$sim" "$agents" "$lo" "$hi" "$api"
  echo
done
