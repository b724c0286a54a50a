#!/usr/bin/env bash
# cluster.sh: aggregate throughput of a 3-node Larder cluster (--threads 1 each, cluster mode,
# slots split as redis-cli --cluster create) next to one node (--threads 1, no cluster mode),
# both driven by redis-benchmark (the cluster with --cluster: it reads CLUSTER NODES and sends
# each key to its owner). Random keys (-r) so the load spreads over the slots.
#
# Environment (defaults): N=300000 CLIENTS=50 PIPES="1 16" TESTS=set,get KEYSPACE=100000 ROUNDS=2
#   OUT=  also write the report (markdown) to this file
set -euo pipefail
cd "$(dirname "$0")/.."
LARDER_BIN=${LARDER_BIN:-.build/release/larder}
N=${N:-300000}; CLIENTS=${CLIENTS:-50}; PIPES=${PIPES:-"1 16"}; TESTS=${TESTS:-set,get}; KEYSPACE=${KEYSPACE:-100000}; ROUNDS=${ROUNDS:-2}
OUT=${OUT:-}
WORK=$(mktemp -d /tmp/larder-cluster-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_pong() { for _ in $(seq 200); do redis-cli -p "$1" PING 2>/dev/null | grep -q PONG && return 0; sleep 0.05; done; return 1; }

ports=(); for i in 0 1 2; do ports+=("$(free_port)"); done
"$LARDER_BIN" cluster make "${ports[@]/#/127.0.0.1:}" >"$WORK/topology.json"
for i in 0 1 2; do
  id=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))[$i]['master']['id'])" "$WORK/topology.json")
  mkdir -p "$WORK/n$i"
  "$LARDER_BIN" serve --port "${ports[$i]}" --threads 1 --no-pin --dir "$WORK/n$i" \
    --cluster-config "$WORK/topology.json" --cluster-node-id "$id" >"$WORK/n$i.log" 2>&1 &
  PIDS+=($!)
done
single=$(free_port)
"$LARDER_BIN" serve --port "$single" --threads 1 --no-pin --dir "$WORK" >"$WORK/single.log" 2>&1 &
PIDS+=($!)
for p in "${ports[@]}" "$single"; do wait_pong "$p"; done

run() { # label, extra args...
  local label=$1; shift
  redis-benchmark -h 127.0.0.1 "$@" -n "$N" -c "$CLIENTS" -r "$KEYSPACE" -t "$TESTS" -P "$P" -q --csv 2>/dev/null \
    | tr -d '"' | awk -F, -v l="$label" -v p="$P" '$1 ~ /^[A-Z][A-Z0-9_ ]*$/ && $2+0 > 0 {printf "| %s | %s | %s | %.0f | %s |\n", l, $1, p, $2, $5}'
}
{
  echo "## cluster.sh: 3-node cluster vs one node (redis-benchmark)"
  echo
  echo "- $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- N=$N CLIENTS=$CLIENTS KEYSPACE=$KEYSPACE; nodes: --threads 1 --no-pin each"
  echo
  echo "| servers | test | pipeline | requests/s | p50 ms |"
  echo "|---|---|---|---|---|"
  # Alternated, ROUNDS times: on a shared machine the load drifts between runs.
  for round in $(seq "$ROUNDS"); do
    for P in $PIPES; do
      run "1 node" -p "$single"
      run "3-node cluster" -p "${ports[0]}" --cluster
    done
  done
  echo
  echo "keys per node after the run: $(for p in "${ports[@]}"; do redis-cli -p "$p" DBSIZE; done | tr '\n' ' ')"
} | tee "${OUT:-/dev/null}"
