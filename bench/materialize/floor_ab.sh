#!/usr/bin/env bash
# bench/materialize/floor_ab.sh: two `larder materialize` binaries against the absorb floor, paired.
#
# usage: bench/materialize/floor_ab.sh BEFORE AFTER [ROUNDS]   (default 10 rounds)
#   Each round, into redis-server and into `larder serve --threads 2` (the SERVE binary, default
#   BEFORE, so both clients meet the same server): the floor (`redis-cli --pipe` of the
#   `--dump-resp` stream, as run.sh floor), then BEFORE and AFTER in alternating order, each into
#   an empty store. Prints every round and the median wall of each and of each / floor. No Feast:
#   a round takes seconds, so the two clients are measured under the same load, close in time,
#   which a loaded machine (others building) needs; run.sh floor gives the Feast comparison.
# env:   WORK (default ~/.cache/larder/bench-materialize-ab), SERVE, DATA (the 1M-row Parquet
#        file; default ~/.cache/larder/bench-materialize/data/driver_stats_1m.parquet, made by
#        run.sh's gen_data.py).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BEFORE=${1:?usage: floor_ab.sh BEFORE AFTER [ROUNDS]}
AFTER=${2:?usage: floor_ab.sh BEFORE AFTER [ROUNDS]}
ROUNDS=${3:-10}
SERVE=${SERVE:-$BEFORE}
WORK=${WORK:-$HOME/.cache/larder/bench-materialize-ab}
DATA=${DATA:-$HOME/.cache/larder/bench-materialize/data/driver_stats_1m.parquet}
START=2024-12-31T00:00:00
END=2025-01-12T00:00:00
[ -f "$DATA" ] || { echo "no $DATA: run bench/materialize/run.sh floor once (it generates the data)" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
now() { date +%s.%N; }

rm -rf "$WORK" && mkdir -p "$WORK/serve"
cp -r "$HERE/larder_repo" "$WORK/larder_repo"
mkdir -p "$WORK/larder_repo/data"
ln -sf "$DATA" "$WORK/larder_repo/data/source.parquet"
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --save '' --appendonly no > "$WORK/redis.log" 2>&1 &
PIDS+=($!)
LARDER_PORT=$(free_port)
"$SERVE" serve --port "$LARDER_PORT" --threads 2 --no-http --dir "$WORK/serve" > "$WORK/serve.log" 2>&1 &
PIDS+=($!)
until redis-cli -p "$REDIS_PORT" ping > /dev/null 2>&1 && redis-cli -p "$LARDER_PORT" ping > /dev/null 2>&1; do sleep 0.1; done
export FEAST_PERF_PROJECT=perf_1m FEAST_PERF_REDIS_PORT=$REDIS_PORT LARDER_STATE=$WORK/state.db
"$BEFORE" materialize "$WORK/larder_repo" "$START" "$END" --no-progress --dump-resp "$WORK/before.resp" > /dev/null
"$AFTER" materialize "$WORK/larder_repo" "$START" "$END" --no-progress --dump-resp "$WORK/after.resp" > /dev/null
cmp "$WORK/before.resp" "$WORK/after.resp" || { echo "the two clients send different streams" >&2; exit 1; }

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores); $ROUNDS rounds"
echo "before: $("$BEFORE" --version)"
echo "after:  $("$AFTER" --version)"
echo "server: $("$SERVE" --version)"
# Seconds of one run of `$@` into an empty store on port $P (state database removed: a fresh
# run, as run.sh's).
timed() {
  redis-cli -p "$P" flushall > /dev/null; rm -f "$LARDER_STATE"*
  local t0 t1; t0=$(now); "$@" > "$WORK/last.log" 2>&1; t1=$(now)
  [ "$(redis-cli -p "$P" dbsize)" = 100000 ] || { echo "run left $(redis-cli -p "$P" dbsize) keys" >&2; exit 1; }
  echo "$t1 - $t0" | bc
}
for target in redis larder; do
  if [ "$target" = redis ]; then P=$REDIS_PORT; else P=$LARDER_PORT; fi
  : > "$WORK/$target.tsv"
  for i in $(seq "$ROUNDS"); do
    F=$(timed sh -c "redis-cli -p $P --pipe < $WORK/before.resp")
    if [ $((i % 2)) = 1 ]; then
      B=$(timed "$BEFORE" materialize "$WORK/larder_repo" "$START" "$END" --no-progress --target "redis://127.0.0.1:$P")
      A=$(timed "$AFTER" materialize "$WORK/larder_repo" "$START" "$END" --no-progress --target "redis://127.0.0.1:$P")
    else
      A=$(timed "$AFTER" materialize "$WORK/larder_repo" "$START" "$END" --no-progress --target "redis://127.0.0.1:$P")
      B=$(timed "$BEFORE" materialize "$WORK/larder_repo" "$START" "$END" --no-progress --target "redis://127.0.0.1:$P")
    fi
    printf "%s\t%s\t%s\t%s\n" "$i" "$F" "$B" "$A" >> "$WORK/$target.tsv"
    printf "into %-6s round %2d: floor %.3f s | before %.3f s (%.2fx) | after %.3f s (%.2fx)\n" \
      "$target" "$i" "$F" "$B" "$(echo "$B / $F" | bc -l)" "$A" "$(echo "$A / $F" | bc -l)"
  done
  python3 - "$WORK/$target.tsv" "$target" <<'PYEOF'
import statistics, sys
rows = [list(map(float, l.split("\t")[1:])) for l in open(sys.argv[1]) if l.strip()]
f, b, a = zip(*rows)
med = statistics.median
print(f"into {sys.argv[2]}: median floor {med(f):.3f} s | before {med(b):.3f} s, {med([x / y for x, y in zip(b, f)]):.2f}x the floor"
      f" (<= 1.5x in {sum(x / y <= 1.5 for x, y in zip(b, f))}/{len(f)}) | after {med(a):.3f} s,"
      f" {med([x / y for x, y in zip(a, f)]):.2f}x (<= 1.5x in {sum(x / y <= 1.5 for x, y in zip(a, f))}/{len(f)})"
      f" | after/before median {med([x / y for x, y in zip(a, b)]):.2f}")
PYEOF
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
