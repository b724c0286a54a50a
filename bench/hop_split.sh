#!/usr/bin/env bash
# hop_split.sh: where the extra CPU of `--threads 2` goes on one core: user vs kernel time and
# context switches per request, --threads 1 against --threads 2, under a compare.sh-like load
# (server on SERVER_CPUS, load generator on the other core). User and system time come from
# /proc/PID/stat (utime, stime: all threads) before and after the run, context switches from
# `perf stat -e context-switches` on the server for the run.
#
# Environment (defaults):
#   BINS="new:.build/release/larder"   label:binary pairs (e.g. "base:/work/main/.build/release/larder new:...")
#   BENCH=.build/release/larder-bench  IO=uring  WORKLOADS="get"  PIPES="1 16"  CONNS=50
#   N1=100000 (requests at P=1)  NP=400000 (at P>1)  KEYSPACE=100000  ROUNDS=1  SERVER_CPUS=0  CLIENT_CPUS=1
set -euo pipefail
cd "$(dirname "$0")/.."
BINS=${BINS:-"new:.build/release/larder"}
BENCH=${BENCH:-.build/release/larder-bench}
IO=${IO:-uring}; WORKLOADS=${WORKLOADS:-get}; PIPES=${PIPES:-"1 16"}; CONNS=${CONNS:-50}
N1=${N1:-100000}; NP=${NP:-400000}; KEYSPACE=${KEYSPACE:-100000}; ROUNDS=${ROUNDS:-1}
SERVER_CPUS=${SERVER_CPUS:-0}; CLIENT_CPUS=${CLIENT_CPUS:-1}
TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d /tmp/hop-split.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }  # utime stime (all threads)

echo "| build | threads | workload | P | rps | user us/op | sys us/op | CPU us/op | sys share | ctx switches/op |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for round in $(seq "$ROUNDS"); do
for spec in $BINS; do
  label=${spec%%:*}; bin=${spec#*:}
  for t in 1 2; do
    port=$(free_port)
    taskset -c "$SERVER_CPUS" "$bin" serve --port "$port" --threads "$t" --no-pin --io "$IO" >"$WORK/$label-$t.log" 2>&1 &
    pid=$!; PIDS+=("$pid")
    for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    for w in $WORKLOADS; do
      taskset -c "$CLIENT_CPUS" "$BENCH" --host 127.0.0.1 --port "$port" --workload "$w" --keyspace "$KEYSPACE" --preload-only >/dev/null
      for p in $PIPES; do
        n=$N1; (( p > 1 )) && n=$NP
        read -r u0 s0 < <(cpu_ticks "$pid")
        perf stat -x, -e context-switches -p "$pid" -o "$WORK/perf.txt" &
        perfpid=$!
        sleep 0.3
        out=$(taskset -c "$CLIENT_CPUS" "$BENCH" --host 127.0.0.1 --port "$port" --workload "$w" --keyspace "$KEYSPACE" \
              --pipeline "$p" --connections "$CONNS" --requests "$n" --timeout 30 --csv | tail -1)
        kill -INT "$perfpid"; wait "$perfpid" 2>/dev/null || true
        read -r u1 s1 < <(cpu_ticks "$pid")
        cs=$(awk -F, '/context-switches/{print $1}' "$WORK/perf.txt")
        python3 - "$label" "$t" "$w" "$p" "$n" "$u0" "$s0" "$u1" "$s1" "$TCK" "$cs" "$out" <<'PY'
import sys
label, t, w, p, n, u0, s0, u1, s1, tck, cs, out = sys.argv[1:]
n = int(n); tck = int(tck)
user = (int(u1) - int(u0)) / tck * 1e6 / n; sys_ = (int(s1) - int(s0)) / tck * 1e6 / n
rps = out.split(",")[6] if out.count(",") >= 6 else "?"
try: rps = f"{float(rps):,.0f}"
except ValueError: pass
print(f"| {label} | {t} | {w} | {p} | {rps} | {user:.2f} | {sys_:.2f} | {user + sys_:.2f} | {sys_ / (user + sys_):.2f} | {int(cs) / n:.3f} |")
PY
      done
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
done
