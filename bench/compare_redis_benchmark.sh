#!/usr/bin/env bash
# compare_redis_benchmark.sh: larder vs redis-server side by side with redis-benchmark, 1 core each.
#
# Starts redis-server and larder pinned to the same core (taskset -c 0), runs redis-benchmark on
# the other core (taskset -c 1), alternating redis/larder for every cell and round, and prints one
# table: median rps, median p50, server CPU us per request, and larder/redis ratios (median of the
# per-round paired ratios). Method: /work/shared/specs/performance-anchors.md, Parts B and C.
# Only 127.0.0.1 is used; every run is bounded by its request count.
#
# Environment:
#   LARDER_SERVER_CMD  default ".build/release/larder serve --port {port} --threads 1"
#   REDIS_REF_CMD      default "redis-server --port {port} --save '' --appendonly no"
#   SERVER_CPUS=0 BENCH_CPUS=1 CLIENTS=50 KEYSPACE=100000 N1=50000 NP=200000 PIPES="1 16"
#   ROUNDS=3           paired rounds per cell (>= 5 for claims; 3 keeps a full run near 3-5 min)
#   WORKLOADS="set get hset1 hset10 hmget10 hgetall10"
#   OUT=               also write the table (markdown) to this file
set -euo pipefail
cd "$(dirname "$0")/.."

LARDER_SERVER_CMD=${LARDER_SERVER_CMD:-".build/release/larder serve --port {port} --threads 1"}
REDIS_REF_CMD=${REDIS_REF_CMD:-"redis-server --port {port} --save '' --appendonly no"}
SERVER_CPUS=${SERVER_CPUS:-0}
BENCH_CPUS=${BENCH_CPUS:-1}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
N1=${N1:-50000}
NP=${NP:-200000}
PIPES=${PIPES:-"1 16"}
ROUNDS=${ROUNDS:-3}
WORKLOADS=${WORKLOADS:-"set get hset1 hset10 hmget10 hgetall10"}
OUT=${OUT:-}
HOST=127.0.0.1

for tool in redis-benchmark taskset python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (run scripts/setup.sh)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/larder-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_server() { # $1=label $2=template; sets PORT_<label> and PID_<label>
  local label=$1 port cmd
  port=$(free_port)
  cmd=${2//\{port\}/$port}
  # eval: the template may contain quoted arguments such as --save ''
  (cd "$WORK" && eval "exec taskset -c $SERVER_CPUS $cmd" >"$WORK/$label.log" 2>&1) &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 100); do
    if redis-cli -p "$port" PING 2>/dev/null | grep -q PONG; then
      printf -v "PORT_$label" %s "$port"; printf -v "PID_$label" %s "$pid"; return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "$label did not start: $cmd" >&2; cat "$WORK/$label.log" >&2; exit 1
}

V16=vvvvvvvvvvvvvvvv
HVALS="f1 val01xxx f2 value02xxxxxxxxx f3 value03xxxxxxxxxxxxxxxxxx f4 value04xxxxxxxxxxxxxxxxxxxxxxxxx f5 val05xxx f6 value06xxxxxxxxx f7 value07xxxxxxxxxxxxxxxxxx f8 value08xxxxxxxxxxxxxxxxxxxxxxxxx f9 val09xxxxxxxxxxx f10 value10xxxxxxxxxxxxxxxx"
cmd_for() { # the same command strings as /work/shared/bench/bench_redis_like.sh
  case "$1" in
    set)       echo "SET k:__rand_int__ $V16" ;;
    get)       echo "GET k:__rand_int__" ;;
    hset1)     echo "HSET h:__rand_int__ f1 $V16" ;;
    hset10)    echo "HSET h:__rand_int__ $HVALS" ;;
    hmget10)   echo "HMGET h:__rand_int__ f1 f2 f3 f4 f5 f6 f7 f8 f9 f10" ;;
    hgetall10) echo "HGETALL h:__rand_int__" ;;
    *) echo "unknown workload $1" >&2; return 1 ;;
  esac
}

preload() { # $1=port: KEYSPACE strings k:%012d and KEYSPACE 10-field hashes h:%012d, pipelined
python3 - "$HOST" "$1" "$KEYSPACE" <<'PY'
import socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def resp(*args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in (x.encode() for x in args))
s = socket.create_connection((host, port))
for mode in ("strings", "hashes"):
    i = 0
    while i < n:
        m = min(1000, n - i); cmds = []
        for j in range(i, i + m):
            if mode == "strings":
                cmds.append(resp("SET", "k:%012d" % j, "v%015d" % j))
            else:
                fv = []
                for f in range(1, 11):
                    ln = 8 + (j * 7 + f * 13) % 25
                    fv += ["f%d" % f, ("v%d.%d." % (j, f)).ljust(ln, "x")[:ln]]
                cmds.append(resp("HSET", "h:%012d" % j, *fv))
        s.sendall(b"".join(cmds))
        got, buf = 0, b""
        while got < m:
            d = s.recv(1 << 20)
            if not d: sys.exit("server closed the connection during preload")
            buf += d
            lines = buf.split(b"\r\n"); buf = lines.pop()
            for line in lines:
                got += 1
                if line.startswith(b"-"): sys.exit("preload error reply: %r" % line)
        i += m
PY
}

cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s+=$1} END{printf "%.0f\n", s}'; }

run_one() { # $1=label $2=workload $3=pipeline -> prints "rps p50_ms cpu_us_per_op"
  local label=$1 w=$2 p=$3 port pid n c0 c1 line
  port=$(eval echo "\$PORT_$label"); pid=$(eval echo "\$PID_$label")
  n=$N1; [[ "$p" != 1 ]] && n=$NP
  c0=$(cpu_ns "$pid")
  # shellcheck disable=SC2046
  line=$(taskset -c "$BENCH_CPUS" redis-benchmark -h "$HOST" -p "$port" -c "$CLIENTS" -n "$n" -r "$KEYSPACE" \
         -P "$p" --csv $(cmd_for "$w") | tail -1 | tr -d '"')
  c1=$(cpu_ns "$pid")
  # csv: test,rps,avg_latency_ms,min_latency_ms,p50_latency_ms,p95_latency_ms,p99_latency_ms,max_latency_ms
  echo "$line" | awk -F, -v c0="$c0" -v c1="$c1" -v n="$n" '{printf "%s %s %.3f\n", $(NF-6), $(NF-3), (c1-c0)/1000/n}'
}

start_server redis "$REDIS_REF_CMD"
start_server larder "$LARDER_SERVER_CMD"
echo "# $(date -u +%FT%TZ) redis=[$REDIS_REF_CMD] larder=[$LARDER_SERVER_CMD] server_cpus=$SERVER_CPUS bench_cpus=$BENCH_CPUS clients=$CLIENTS keyspace=$KEYSPACE n1=$N1 np=$NP rounds=$ROUNDS" >&2
t0=$SECONDS
preload "$PORT_redis"; preload "$PORT_larder"
echo "# preloaded $KEYSPACE strings + $KEYSPACE 10-field hashes into each server in $((SECONDS - t0)) s" >&2

RAW=$WORK/raw.txt
for w in $WORKLOADS; do
  for p in $PIPES; do
    for ((r = 0; r < ROUNDS; r++)); do
      # Alternate which server goes first, so drift on a shared machine hits both alike.
      order="redis larder"; ((r % 2)) && order="larder redis"
      for label in $order; do
        echo "$w $p $r $label $(run_one "$label" "$w" "$p")" >> "$RAW"
      done
    done
    echo "# done $w P=$p" >&2
  done
done

table() {
python3 - "$RAW" <<'PY'
import sys, statistics as st
rows = {}
for line in open(sys.argv[1]):
    w, p, r, label, rps, p50, cpu = line.split()
    rows.setdefault((w, int(p)), {}).setdefault(int(r), {})[label] = (float(rps), float(p50), float(cpu))
print("| workload | P | redis rps | larder rps | larder/redis rps | redis p50 ms | larder p50 ms | redis CPU us/op | larder CPU us/op | larder/redis CPU | rounds |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for (w, p), rounds in rows.items():
    pairs = [v for v in rounds.values() if "redis" in v and "larder" in v]
    med = lambda label, i: st.median(v[label][i] for v in pairs)
    rps_ratio = st.median(v["larder"][0] / v["redis"][0] for v in pairs)
    cpu_ratio = st.median(v["larder"][2] / v["redis"][2] for v in pairs if v["redis"][2] > 0)
    lo = min(v["larder"][0] / v["redis"][0] for v in pairs); hi = max(v["larder"][0] / v["redis"][0] for v in pairs)
    print(f"| {w} | {p} | {med('redis',0):,.0f} | {med('larder',0):,.0f} | {rps_ratio:.2f} ({lo:.2f}-{hi:.2f}) | "
          f"{med('redis',1):.3f} | {med('larder',1):.3f} | {med('redis',2):.2f} | {med('larder',2):.2f} | {cpu_ratio:.2f} | {len(pairs)} |")
PY
}
table
[[ -n "$OUT" ]] && table > "$OUT"
echo "# total $((SECONDS - t0)) s" >&2
