#!/usr/bin/env bash
# Kubernetes collection benchmark (not a test): the agent's clusterResources collection against
# `kubectl get <the same resources> -A -o json`, both talking to the test API server
# (examples/kube-test-server.rs) serving a generated cluster. Runs ours and kubectl alternately
# REPS times per cluster size and prints median wall time, the ratio, and median peak RSS
# (/usr/bin/time). With SCALES="0.25 0.5 1" it repeats at smaller clusters, to show how peak RSS
# grows (or does not) with the cluster.
#
#   bench/kube_collect.sh [PODS=10000] [DEPLOYMENTS=2000] [NAMESPACES=200] [REPS=5]
#   SCALES="0.25 1" AGENT_CMD='...' bench/kube_collect.sh
#
# AGENT_CMD is the agent's clusterResources collection command (see the marked place below); in it
# {KUBECONFIG} is replaced by the kubeconfig file of the test server and {OUT} by a fresh output
# directory. Without AGENT_CMD only kubectl and the server are measured.
set -euo pipefail
PODS=${1:-10000}
DEPLOYMENTS=${2:-2000}
NAMESPACES=${3:-200}
REPS=${4:-5}
SCALES=${SCALES:-1}
cd "$(dirname "$0")/.."
ROOT=$PWD

[ -x /usr/bin/time ] || { echo "/usr/bin/time missing (apt-get install time)"; exit 1; }
if [ ! -x .venv/bin/kubectl ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
fi
KUBECTL=$ROOT/.venv/bin/kubectl

echo "building the test API server (release)"
cargo build --release --features bench --example kube-test-server >/dev/null 2>&1
SERVER=$ROOT/target/release/examples/kube-test-server

# ---------------------------------------------------------------------------------------------
# AGENT SIDE (filled in by the Kubernetes collectors' branch): the command that runs the agent's
# clusterResources collection (all namespaces) against {KUBECONFIG}, writing under {OUT}. Build it
# here, e.g.:
#   cargo build --release >/dev/null 2>&1
#   AGENT_CMD=${AGENT_CMD:-"$ROOT/target/release/troubleshoot-agent ... --kubeconfig {KUBECONFIG} ... {OUT}"}
# The agent's collection alone (examples/kube-collect.rs: clusterResources of all namespaces into a
# directory, no archive), the same work as the kubectl command. AGENT_CMD=none measures kubectl only.
if [ "${AGENT_CMD:-}" != none ]; then
  cargo build --release --features bench --example kube-collect >/dev/null 2>&1
  AGENT_CMD=${AGENT_CMD:-"$ROOT/target/release/examples/kube-collect {KUBECONFIG} {OUT}"}
else
  AGENT_CMD=
fi
# ---------------------------------------------------------------------------------------------

# The resources troubleshoot's clusterResources collector lists (pkg/collect/cluster_resources.go),
# as kubectl names them: per-namespace kinds across all namespaces, then the cluster-scoped ones.
RESOURCES=pods,services,deployments.apps,statefulsets.apps,daemonsets.apps,replicasets.apps,\
jobs.batch,cronjobs.batch,ingresses.networking.k8s.io,networkpolicies.networking.k8s.io,\
resourcequotas,limitranges,events,persistentvolumeclaims,roles.rbac.authorization.k8s.io,\
rolebindings.rbac.authorization.k8s.io,endpoints,endpointslices.discovery.k8s.io,serviceaccounts,\
leases.coordination.k8s.io,configmaps,poddisruptionbudgets.policy,namespaces,nodes,\
persistentvolumes,storageclasses.storage.k8s.io,ingressclasses.networking.k8s.io,\
priorityclasses.scheduling.k8s.io,customresourcedefinitions.apiextensions.k8s.io,\
clusterroles.rbac.authorization.k8s.io,clusterrolebindings.rbac.authorization.k8s.io,\
volumeattachments.storage.k8s.io,certificatesigningrequests.certificates.k8s.io,\
validatingwebhookconfigurations.admissionregistration.k8s.io,\
mutatingwebhookconfigurations.admissionregistration.k8s.io

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kube-bench.XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR==0) print "-"; else print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# Runs "$@" under /usr/bin/time; prints "seconds peak_rss_kib".
timed() {
  local out
  out=$( { /usr/bin/time -f "TIME %e %M" "$@" >/dev/null 2>"$WORK/last.err"; } 2>&1 | grep '^TIME' ) || true
  if [ -z "$out" ]; then out=$(grep '^TIME' "$WORK/last.err" | tail -1); fi
  read -r _ secs rss <<<"$out"
  echo "$secs $rss"
}

echo "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '\n%-52s %9s %10s %9s %12s %14s\n' cluster what median_s vs_kubectl peakRSS_KiB server_RSS_KiB
for scale in $SCALES; do
  pods=$(awk -v n="$PODS" -v s="$scale" 'BEGIN {printf "%d", n*s}')
  deps=$(awk -v n="$DEPLOYMENTS" -v s="$scale" 'BEGIN {printf "%d", n*s}')
  nss=$(awk -v n="$NAMESPACES" -v s="$scale" 'BEGIN {n=int(n*s); if (n<1) n=1; print n}')
  spec="generated:pods=$pods,deployments=$deps,namespaces=$nss"
  kubeconfig=$WORK/kubeconfig
  "$SERVER" --port 0 --cluster "$spec" --kubeconfig "$kubeconfig" >"$WORK/url" 2>"$WORK/server.err" &
  SERVER_PID=$!
  for _ in $(seq 1 600); do [ -s "$WORK/url" ] && break; sleep 0.1; done
  [ -s "$WORK/url" ] || { echo "the server did not start:"; cat "$WORK/server.err"; exit 1; }
  url=$(head -1 "$WORK/url")
  echo "server $url: $(grep loaded "$WORK/server.err")" >&2
  # How fast the server alone hands out every pod (one unpaginated GET, bytes discarded): the
  # share of the figures below that is the test server's, not the client's.
  curl -s -o /dev/null -w "server alone: GET /api/v1/pods, %{size_download} bytes in %{time_total}s\n" "$url/api/v1/pods" >&2

  # Warm-up (kubectl discovery cache, page cache) and a sanity check of what kubectl receives.
  "$KUBECTL" --kubeconfig "$kubeconfig" --cache-dir "$WORK/cache" get "$RESOURCES" -A -o json >"$WORK/kubectl.json"
  items=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["items"]))' "$WORK/kubectl.json")
  echo "kubectl receives $items objects ($(stat -c %s "$WORK/kubectl.json") bytes of JSON)" >&2

  K_T=; K_M=; A_T=; A_M=
  for ((r = 1; r <= REPS; r++)); do
    read -r t m < <(timed "$KUBECTL" --kubeconfig "$kubeconfig" --cache-dir "$WORK/cache" get "$RESOURCES" -A -o json)
    K_T+="$t "; K_M+="$m "
    echo "rep $r kubectl: ${t}s ${m} KiB" >&2
    if [ -n "$AGENT_CMD" ]; then
      out=$WORK/agent-out-$r
      rm -rf "$out"; mkdir -p "$out"
      cmd=${AGENT_CMD//\{KUBECONFIG\}/$kubeconfig}
      cmd=${cmd//\{OUT\}/$out}
      read -r t m < <(timed bash -c "$cmd")
      A_T+="$t "; A_M+="$m "
      echo "rep $r agent: ${t}s ${m} KiB" >&2
      rm -rf "$out"
    fi
  done
  server_rss=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
  kt=$(echo "$K_T" | median)
  printf '%-52s %9s %10s %9s %12s %14s\n' "$spec" kubectl "$kt" 1.00 "$(echo "$K_M" | median)" "$server_rss"
  if [ -n "$AGENT_CMD" ]; then
    at=$(echo "$A_T" | median)
    printf '%-52s %9s %10s %9.2f %12s %14s\n' "$spec" agent "$at" "$(echo "$at / $kt" | bc -l)" "$(echo "$A_M" | median)" "$server_rss"
  else
    printf '%-52s %9s %10s\n' "$spec" agent "not configured (set AGENT_CMD)"
  fi
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
done
