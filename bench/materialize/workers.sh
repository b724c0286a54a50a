#!/usr/bin/env bash
# bench/materialize/workers.sh: `larder materialize` as 1 process vs N workers (--workers N), and
# into a 3-node redis-server cluster vs one redis-server.
#
# usage: bench/materialize/workers.sh        env: RUNS (2), WORKERS (2), LARDER, WORK, VENV as run.sh
# Same data as run.sh (1M rows x 10 features, 100K drivers, gen_data.py). For each run it measures:
#   single       one process, the whole window, into redis-server A
#   workers-seq  each worker alone, one after the other (what each machine does when the workers
#                run on separate machines): per-worker wall/CPU/RSS
#   workers-par  the N workers at the same time on this machine (they share its cores)
#   cluster      one process into a 3-node cluster (redis_type: redis_cluster routing)
# and checks that the workers' union equals the single run (DEBUG DIGEST of the dataset).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=${VENV:-/root/.cache/larder/venv-r7}
RUNS=${RUNS:-2}
N=${WORKERS:-2}
LARDER=${LARDER:-$ROOT/.build/release/larder}
WORK=${WORK:-$HOME/.cache/larder/bench-materialize}
START=2024-12-31T00:00:00
END=2025-01-12T00:00:00
[ -x "$LARDER" ] || { echo "no $LARDER: scripts/build.sh" >&2; exit 1; }
mkdir -p "$WORK/data"
if [ ! -f "$WORK/data/driver_stats_1m.parquet" ]; then "$VENV/bin/python" "$HERE/gen_data.py" "$WORK/data"; fi

free_port() { python3 -c 'import socket
while True:
    s=socket.socket(); s.bind(("127.0.0.1", 0)); p=s.getsockname()[1]
    if p < 55000: print(p); break'; }
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
timev() { awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=(n==3)?a[1]*3600+a[2]*60+a[3]:a[1]*60+a[2]} /User time/ {c+=$2} /System time/ {c+=$2} /Maximum resident/ {r=$2/1024} END {printf "wall_s=%.2f cpu_s=%.2f peak_rss_mb=%.0f", s, c, r}' "$1"; }

start_redis() {  # port extra-args...
  local port=$1; shift
  mkdir -p "$WORK/node-$port"
  (cd "$WORK/node-$port" && exec redis-server --port "$port" --save '' --appendonly no --enable-debug-command yes "$@") > "$WORK/node-$port/log" 2>&1 &
  PIDS+=($!)
  until redis-cli -p "$port" ping > /dev/null 2>&1; do sleep 0.05; done
}
A=$(free_port); start_redis "$A"
C=(); for i in 1 2 3; do p=$(free_port); C+=("$p"); start_redis "$p" --cluster-enabled yes --cluster-config-file nodes.conf; done
redis-cli --cluster create "127.0.0.1:${C[0]}" "127.0.0.1:${C[1]}" "127.0.0.1:${C[2]}" --cluster-replicas 0 --cluster-yes > "$WORK/cluster-create.log"
until redis-cli -p "${C[0]}" cluster info | grep -q cluster_state:ok; do sleep 0.1; done

export FEAST_PERF_PROJECT=perf_1m FEAST_PERF_REDIS_PORT=$A
rm -rf "$WORK/larder_repo"; cp -r "$HERE/larder_repo" "$WORK/larder_repo"; mkdir -p "$WORK/larder_repo/data"
ln -sf "$WORK/data/driver_stats_1m.parquet" "$WORK/larder_repo/data/source.parquet"
export LARDER_STATE=$WORK/workers_state.db
M=("$LARDER" materialize "$WORK/larder_repo" "$START" "$END" --no-progress --target "redis://127.0.0.1:$A")

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores); workers: $N"
for r in $(seq "$RUNS"); do
  redis-cli -p "$A" flushall > /dev/null; rm -f "$LARDER_STATE"*
  /usr/bin/time -v -o "$WORK/w_single.time" "${M[@]}" > "$WORK/w_single.log" 2>&1
  DIGEST=$(redis-cli -p "$A" debug digest); KEYS=$(redis-cli -p "$A" dbsize)
  echo "run $r single: $(timev "$WORK/w_single.time") keys=$KEYS | $(grep -m1 'rows read' "$WORK/w_single.log")"

  redis-cli -p "$A" flushall > /dev/null; rm -f "$LARDER_STATE"*
  for i in $(seq 0 $((N - 1))); do
    /usr/bin/time -v -o "$WORK/w_seq_$i.time" "${M[@]}" --workers "$N" --worker "$i" > "$WORK/w_seq_$i.log" 2>&1
    echo "run $r worker $i/$N alone: $(timev "$WORK/w_seq_$i.time") | $(grep -m1 'rows read' "$WORK/w_seq_$i.log")"
  done
  [ "$(redis-cli -p "$A" debug digest)" = "$DIGEST" ] && echo "run $r workers-seq union == single run (DEBUG DIGEST $DIGEST, $KEYS keys)" || { echo "DIGEST MISMATCH"; exit 1; }

  redis-cli -p "$A" flushall > /dev/null; rm -f "$LARDER_STATE"*
  T0=$(date +%s.%N)
  WPIDS=()
  for i in $(seq 0 $((N - 1))); do "${M[@]}" --workers "$N" --worker "$i" > "$WORK/w_par_$i.log" 2>&1 & WPIDS+=($!); done
  for p in "${WPIDS[@]}"; do wait "$p"; done
  echo "run $r $N workers in parallel on this machine: wall_s=$(echo "$(date +%s.%N) - $T0" | bc)"
  [ "$(redis-cli -p "$A" debug digest)" = "$DIGEST" ] && echo "run $r workers-par union == single run" || { echo "DIGEST MISMATCH"; exit 1; }

  for p in "${C[@]}"; do redis-cli -p "$p" flushall > /dev/null; done; rm -f "$LARDER_STATE"*
  /usr/bin/time -v -o "$WORK/w_cluster.time" "$LARDER" materialize "$WORK/larder_repo" "$START" "$END" --no-progress \
    --target "redis-cluster://127.0.0.1:${C[0]}" > "$WORK/w_cluster.log" 2>&1
  K=0; for p in "${C[@]}"; do K=$((K + $(redis-cli -p "$p" dbsize))); done
  echo "run $r cluster (3 nodes): $(timev "$WORK/w_cluster.time") keys=$K | $(grep -m1 'rows read' "$WORK/w_cluster.log")"
done
