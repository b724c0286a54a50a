#!/usr/bin/env bash
# bench/materialize: larder materialize / serve --materialize / historical vs Feast 0.67.
#
# usage: bench/materialize/run.sh [SECTION ...]   SECTION: mat embedded hist floor (default: mat embedded hist)
#   floor: the absorb floor. `larder materialize --dump-resp` writes the exact command stream a run
#   sends into an empty store (HMGET + HSET, same batches) once; each run replays it with
#   `redis-cli --pipe` (one connection, everything pipelined, timed from start to the last reply)
#   into redis-server and into `larder serve`, and times `larder materialize` and `feast materialize`
#   into the same server, so materialize/floor and feast/larder come from the same run.
# env:   VENV (default /root/.cache/larder/venv-r7, feast[redis]==0.67.0), RUNS (default 3),
#        LARDER (default .build/release/larder), WORK (default ~/.cache/larder/bench-materialize),
#        LARDER_SERVE (the `larder serve` binary of the floor section, default $LARDER: give one
#        server to a before/after of the client, e.g. LARDER=<main's> then LARDER=<branch's>)
# Data (1M rows x 10 features, 100K drivers; 100K entity rows) is generated once into $WORK/data
# by gen_data.py. Starts its own redis-server on a free port and stops it by PID.
# Prints one line per measurement; bench/results/materialize.md summarizes a run.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=${VENV:-/root/.cache/larder/venv-r7}
RUNS=${RUNS:-3}
LARDER=${LARDER:-$ROOT/.build/release/larder}
LARDER_SERVE=${LARDER_SERVE:-$LARDER}
WORK=${WORK:-$HOME/.cache/larder/bench-materialize}
SECTIONS=${*:-mat embedded hist}
PY=$VENV/bin/python
FEAST=$VENV/bin/feast
START=2024-12-31T00:00:00
END=2025-01-12T00:00:00
export PYTHONDONTWRITEBYTECODE=1 PYTHONWARNINGS=ignore

[ -x "$LARDER" ] || { echo "no $LARDER: swift build -c release" >&2; exit 1; }
mkdir -p "$WORK/data"
if [ ! -f "$WORK/data/driver_stats_1m.parquet" ]; then "$PY" "$HERE/gen_data.py" "$WORK/data"; fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
# wall seconds and peak RSS (MB) from a /usr/bin/time -v file
# wall seconds, CPU seconds (user+sys: fairer than wall on a loaded machine) and peak RSS (MB)
timev() { awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=(n==3)?a[1]*3600+a[2]*60+a[3]:a[1]*60+a[2]} /User time/ {c+=$2} /System time/ {c+=$2} /Maximum resident/ {r=$2/1024} END {printf "wall_s=%.2f cpu_s=%.2f peak_rss_mb=%.0f", s, c, r}' "$1"; }

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --save '' --appendonly no --enable-debug-command yes > "$WORK/redis.log" 2>&1 &
PIDS+=($!)
sleep 0.5
export FEAST_PERF_PROJECT=perf_1m FEAST_PERF_REDIS_PORT=$REDIS_PORT
export FEAST_PERF_REGISTRY=$WORK/registry.db FEAST_PERF_SOURCE=$WORK/data/driver_stats_1m.parquet

# Working copies of both repos with data/ pointing at the generated source.
rm -rf "$WORK/feast_repo" "$WORK/larder_repo"
cp -r "$HERE/feast_repo" "$WORK/feast_repo"
cp -r "$HERE/larder_repo" "$WORK/larder_repo"
mkdir -p "$WORK/larder_repo/data"
ln -sf "$WORK/data/driver_stats_1m.parquet" "$WORK/larder_repo/data/source.parquet"
rm -f "$WORK/registry.db"
(cd "$WORK/feast_repo" && "$FEAST" apply > "$WORK/feast_apply.log" 2>&1)

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
if [[ " $SECTIONS " == *" mat "* ]]; then
  for i in $(seq "$RUNS"); do
    redis-cli -p "$REDIS_PORT" flushall > /dev/null
    (cd "$WORK/feast_repo" && /usr/bin/time -v -o "$WORK/feast_mat_$i.time" "$FEAST" materialize "$START" "$END") > "$WORK/feast_mat_$i.log" 2>&1
    echo "feast materialize run $i: $(timev "$WORK/feast_mat_$i.time") keys=$(redis-cli -p "$REDIS_PORT" dbsize)"
    redis-cli -p "$REDIS_PORT" flushall > /dev/null
    rm -f "$WORK/larder_repo/data/larder_state.db"*
    /usr/bin/time -v -o "$WORK/larder_mat_$i.time" "$LARDER" materialize "$WORK/larder_repo" "$START" "$END" --no-progress > "$WORK/larder_mat_$i.log" 2>&1
    echo "larder materialize run $i: $(timev "$WORK/larder_mat_$i.time") keys=$(redis-cli -p "$REDIS_PORT" dbsize) | $(tail -1 "$WORK/larder_mat_$i.log")"
  done
  # Re-run over a full store: every entity is read (HMGET) and skipped.
  /usr/bin/time -v -o "$WORK/larder_rerun.time" "$LARDER" materialize "$WORK/larder_repo" "$START" "$END" --no-progress > "$WORK/larder_rerun.log" 2>&1
  echo "larder materialize re-run (all skipped): $(timev "$WORK/larder_rerun.time") | $(tail -1 "$WORK/larder_rerun.log")"
fi

if [[ " $SECTIONS " == *" embedded "* ]]; then
  rss_mb() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
  PORT=$(free_port)
  "$LARDER" serve --port "$PORT" --threads 2 > "$WORK/serve_empty.log" 2>&1 &
  P=$!; sleep 1; BASE_RSS=$(rss_mb $P); kill -9 $P; wait $P 2>/dev/null || true
  for i in $(seq "$RUNS"); do
    PORT=$(free_port)
    "$LARDER" serve --port "$PORT" --threads 2 --repo "$WORK/larder_repo" --materialize --no-http > "$WORK/serve_$i.log" 2>&1 &
    P=$!
    until grep -q "serving RESP" "$WORK/serve_$i.log" 2>/dev/null; do sleep 0.1; kill -0 $P; done
    RSS=$(rss_mb $P)
    KEYS=$(redis-cli -p "$PORT" dbsize)
    kill -9 $P; wait $P 2>/dev/null || true
    echo "embedded run $i: $(grep 'materialized' "$WORK/serve_$i.log") | rss_after_load_mb=$RSS empty_server_rss_mb=$BASE_RSS keys=$KEYS bytes_per_entity=$(python3 -c "print(round(($RSS-$BASE_RSS)*1048576/$KEYS))")"
  done
fi

if [[ " $SECTIONS " == *" hist "* ]]; then
  for i in $(seq "$RUNS"); do
    (cd "$WORK/feast_repo" && /usr/bin/time -v -o "$WORK/feast_hist_$i.time" "$PY" "$HERE/feast_historical.py" . "$WORK/data/entity_df_100k.parquet" "$i") > "$WORK/feast_hist_$i.log" 2>&1
    echo "feast historical run $i: $(timev "$WORK/feast_hist_$i.time") | $(tail -1 "$WORK/feast_hist_$i.log")"
    /usr/bin/time -v -o "$WORK/larder_hist_$i.time" "$LARDER" historical "$WORK/larder_repo" --entities "$WORK/data/entity_df_100k.parquet" \
      --features driver_stats_service --out "$WORK/larder_hist.parquet" > "$WORK/larder_hist_$i.log" 2>&1
    echo "larder historical run $i: $(timev "$WORK/larder_hist_$i.time") | $(tail -1 "$WORK/larder_hist_$i.log")"
  done
  "$PY" - "$WORK/larder_hist.parquet" <<'PYEOF'
import sys, pandas as pd
df = pd.read_parquet(sys.argv[1])
print(f"larder historical output: {len(df)} rows, {int(df['conv_rate'].notna().sum())} with features")
PYEOF
fi

if [[ " $SECTIONS " == *" floor "* ]]; then
  now() { date +%s.%N; }
  # The server's own CPU seconds (user + sys, INFO cpu): steadier than wall on a loaded machine.
  server_cpu() { redis-cli -p "$1" info cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/ {s+=$2} END {printf "%.3f", s}'; }
  LARDER_PORT=$(free_port)
  mkdir -p "$WORK/serve-floor"
  echo "client: $("$LARDER" --version) | server: $("$LARDER_SERVE" --version)"
  "$LARDER_SERVE" serve --port "$LARDER_PORT" --threads 2 --no-http --dir "$WORK/serve-floor" > "$WORK/serve-floor.log" 2>&1 &
  PIDS+=($!)
  until redis-cli -p "$LARDER_PORT" ping > /dev/null 2>&1; do sleep 0.1; done
  export LARDER_STATE=$WORK/floor_state.db
  "$LARDER" materialize "$WORK/larder_repo" "$START" "$END" --no-progress --dump-resp "$WORK/materialize.resp" > "$WORK/dump.log" 2>&1
  echo "dumped stream: $(stat -c %s "$WORK/materialize.resp") bytes | $(tail -1 "$WORK/dump.log")"
  for i in $(seq "$RUNS"); do
    for target in redis larder; do
      if [ "$target" = redis ]; then P=$REDIS_PORT; else P=$LARDER_PORT; fi
      redis-cli -p "$P" flushall > /dev/null
      C0=$(server_cpu "$P"); T0=$(now); redis-cli -p "$P" --pipe < "$WORK/materialize.resp" > "$WORK/pipe_$target.log" 2>&1; T1=$(now)
      FLOOR=$(echo "$T1 - $T0" | bc); FLOOR_CPU=$(echo "$(server_cpu "$P") - $C0" | bc)
      FLOOR_KEYS=$(redis-cli -p "$P" dbsize)
      FLOOR_DIGEST=$([ "$target" = redis ] && redis-cli -p "$P" debug digest || echo -)
      redis-cli -p "$P" flushall > /dev/null; rm -f "$LARDER_STATE"*
      C0=$(server_cpu "$P")
      /usr/bin/time -v -o "$WORK/floor_mat_$target.time" "$LARDER" materialize "$WORK/larder_repo" "$START" "$END" --no-progress \
        --target "redis://127.0.0.1:$P" > "$WORK/floor_mat_$target.log" 2>&1
      MAT=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); print (n==3)?a[1]*3600+a[2]*60+a[3]:a[1]*60+a[2]}' "$WORK/floor_mat_$target.time")
      MAT_CPU=$(echo "$(server_cpu "$P") - $C0" | bc)
      MAT_KEYS=$(redis-cli -p "$P" dbsize)
      MAT_DIGEST=$([ "$target" = redis ] && redis-cli -p "$P" debug digest || echo -)
      [ "$FLOOR_KEYS" = "$MAT_KEYS" ] && [ "$FLOOR_DIGEST" = "$MAT_DIGEST" ] || { echo "floor replay and materialize disagree: $FLOOR_KEYS/$MAT_KEYS keys, digest $FLOOR_DIGEST/$MAT_DIGEST"; exit 1; }
      redis-cli -p "$P" flushall > /dev/null
      (cd "$WORK/feast_repo" && FEAST_PERF_REDIS_PORT=$P /usr/bin/time -v -o "$WORK/floor_feast_$target.time" "$FEAST" materialize "$START" "$END") > "$WORK/floor_feast_$target.log" 2>&1
      FEAST_S=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); print (n==3)?a[1]*3600+a[2]*60+a[3]:a[1]*60+a[2]}' "$WORK/floor_feast_$target.time")
      echo "floor run $i into $target: floor (redis-cli --pipe) ${FLOOR} s, server cpu ${FLOOR_CPU} s, keys=$FLOOR_KEYS" \
        "| larder materialize $(timev "$WORK/floor_mat_$target.time") server_cpu_s=$MAT_CPU keys=$MAT_KEYS" \
        "| feast materialize $(timev "$WORK/floor_feast_$target.time") keys=$(redis-cli -p "$P" dbsize)" \
        "| larder/floor=$(echo "scale=2; $MAT / $FLOOR" | bc) feast/larder=$(echo "scale=1; $FEAST_S / $MAT" | bc)" \
        "| $(grep -m1 'rows read' "$WORK/floor_mat_$target.log" || tail -1 "$WORK/floor_mat_$target.log")"
    done
  done
fi
