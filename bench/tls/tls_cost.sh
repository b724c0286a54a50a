#!/usr/bin/env bash
# tls_cost.sh: what TLS costs the server, per request: larder and redis-server 7.0 (Debian's, built
# with TLS), each serving the same data on a plaintext port and a TLS port, measured with
# redis-benchmark (`--tls` for the TLS port) at pipeline 1 and 16.
#
# Both servers are pinned to SERVER_CPUS, redis-benchmark to BENCH_CPUS. Each cell (server x
# transport x workload x pipeline) runs ROUNDS rounds, rotating the order; server CPU per request is
# all threads' on-CPU time (/proc/PID/task/*/schedstat) over the run divided by the requests,
# handshakes of the CLIENTS connections included (a new connection per run, as redis-benchmark
# makes them). The handshake cost alone is measured too: HANDSHAKES connections that each do a
# full handshake, one PING and close.
# Certificates: a throwaway CA and an ECDSA P-256 server certificate (tls-auth-clients no).
#
# Environment (defaults):
#   LARDER_BIN=.build/release/larder  SERVER_CPUS=0 BENCH_CPUS=1 CLIENTS=50 KEYSPACE=100000
#   N1=100000 NP=400000 PIPES="1 16" ROUNDS=3 WORKLOADS="get hmget10" HANDSHAKES=500 OUT=
# hmget10 reads 10 fields of a 10-field hash: the shape of a Feast online read (9 features + _ts).
set -euo pipefail
cd "$(dirname "$0")/../.."

LARDER_BIN=$(realpath "${LARDER_BIN:-.build/release/larder}")  # servers start in a scratch directory
SERVER_CPUS=${SERVER_CPUS:-0}
BENCH_CPUS=${BENCH_CPUS:-1}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
N1=${N1:-100000}
NP=${NP:-400000}
PIPES=${PIPES:-"1 16"}
ROUNDS=${ROUNDS:-3}
WORKLOADS=${WORKLOADS:-"get hmget10"}
HANDSHAKES=${HANDSHAKES:-500}
OUT=${OUT:-}
HOST=127.0.0.1

for tool in redis-benchmark redis-server openssl taskset python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (run scripts/setup.sh)" >&2; exit 1; }
done
[[ -x "$LARDER_BIN" ]] || { echo "no $LARDER_BIN (LARDER_NO_INSTALL=1 ./scripts/build.sh)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/larder-tls-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# --- certificates ---------------------------------------------------------------------------
(
  cd "$WORK"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench-ca \
    -keyout ca.key -out ca.crt 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout server.key -out server.csr 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext \
    -out server.crt 2>/dev/null
)
TLS_ARGS="--tls-cert-file $WORK/server.crt --tls-key-file $WORK/server.key --tls-ca-cert-file $WORK/ca.crt --tls-auth-clients no"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_server() { # $1=label $2=command with {port} and {tls}; sets PORT_, TLS_, PID_<label>
  local label=$1 port tls cmd
  port=$(free_port); tls=$(free_port)
  cmd=${2//\{port\}/$port}; cmd=${cmd//\{tls\}/$tls}
  (cd "$WORK" && eval "exec taskset -c $SERVER_CPUS $cmd" >"$WORK/$label.log" 2>&1) &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 100); do
    if redis-cli -p "$port" PING 2>/dev/null | grep -q PONG; then
      printf -v "PORT_$label" %s "$port"; printf -v "TLS_$label" %s "$tls"; printf -v "PID_$label" %s "$pid"; return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "$label did not start: $cmd" >&2; cat "$WORK/$label.log" >&2; exit 1
}

cmd_for() {
  case "$1" in
    get)     echo "GET k:__rand_int__" ;;
    hmget10) echo "HMGET h:__rand_int__ f1 f2 f3 f4 f5 f6 f7 f8 f9 f10" ;;
    *) echo "unknown workload $1" >&2; return 1 ;;
  esac
}

preload() { # $1=port: KEYSPACE strings k:%012d and KEYSPACE 10-field hashes h:%012d
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
            got += sum(1 for line in lines)
        i += m
PY
}

cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s+=$1} END{printf "%.0f\n", s}'; }

run_one() { # $1=label $2=plain|tls $3=workload $4=pipeline -> "rps p50_ms cpu_us_per_op"
  local label=$1 t=$2 w=$3 p=$4 port pid n c0 c1 line extra=()
  pid=$(eval echo "\$PID_$label")
  if [[ $t == tls ]]; then port=$(eval echo "\$TLS_$label"); extra=(--tls --cacert "$WORK/ca.crt"); else port=$(eval echo "\$PORT_$label"); fi
  n=$N1; [[ "$p" != 1 ]] && n=$NP
  c0=$(cpu_ns "$pid")
  # shellcheck disable=SC2046
  line=$(taskset -c "$BENCH_CPUS" redis-benchmark -h "$HOST" -p "$port" "${extra[@]}" -c "$CLIENTS" -n "$n" -r "$KEYSPACE" \
         -P "$p" --csv $(cmd_for "$w") | tail -1 | tr -d '"')
  c1=$(cpu_ns "$pid")
  echo "$line" | awk -F, -v c0="$c0" -v c1="$c1" -v n="$n" '{printf "%s %s %.3f\n", $(NF-6), $(NF-3), (c1-c0)/1000/n}'
}

handshake_cost() { # $1=label -> server CPU us per TLS connection (handshake + PING + close)
  local label=$1 pid port c0 c1
  pid=$(eval echo "\$PID_$label"); port=$(eval echo "\$TLS_$label")
  c0=$(cpu_ns "$pid")
  taskset -c "$BENCH_CPUS" python3 - "$port" "$WORK/ca.crt" "$HANDSHAKES" <<'PY'
import socket, ssl, sys
port, ca, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(cafile=ca)
for _ in range(n):
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1") as s:
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        assert s.recv(16) == b"+PONG\r\n"
PY
  c1=$(cpu_ns "$pid")
  awk -v c0="$c0" -v c1="$c1" -v n="$HANDSHAKES" 'BEGIN{printf "%.1f\n", (c1-c0)/1000/n}'
}

start_server redis "redis-server --port {port} --tls-port {tls} $TLS_ARGS --save '' --appendonly no"
start_server larder "$LARDER_BIN serve --port {port} --tls-port {tls} $TLS_ARGS --threads 1 --no-pin"
echo "# $(date -u +%FT%TZ) server_cpus=$SERVER_CPUS bench_cpus=$BENCH_CPUS clients=$CLIENTS keyspace=$KEYSPACE n1=$N1 np=$NP rounds=$ROUNDS" >&2
t0=$SECONDS
preload "$PORT_redis"; preload "$PORT_larder"

RAW=$WORK/raw.txt
for w in $WORKLOADS; do
  for p in $PIPES; do
    for ((r = 0; r < ROUNDS; r++)); do
      order="redis larder"; ((r % 2)) && order="larder redis"
      for label in $order; do
        for t in plain tls; do
          echo "$w $p $r $label $t $(run_one "$label" "$t" "$w" "$p")" >> "$RAW"
        done
      done
    done
    echo "# done $w P=$p" >&2
  done
done
HS_redis=$(handshake_cost redis); HS_larder=$(handshake_cost larder)

table() {
python3 - "$RAW" "$HS_redis" "$HS_larder" "$HANDSHAKES" <<'PY'
import sys, statistics as st
rows = {}
for line in open(sys.argv[1]):
    w, p, r, label, t, rps, p50, cpu = line.split()
    rows.setdefault((w, int(p)), {}).setdefault(f"{label}-{t}", []).append((float(rps), float(p50), float(cpu)))
med = lambda xs, i: st.median(x[i] for x in xs)
print("Server CPU per request (us, median of rounds) and throughput; TLS cost = TLS - plaintext.")
print()
print("| workload | P | redis plain us | redis TLS us | redis TLS cost | larder plain us | larder TLS us | larder TLS cost | larder/redis TLS us | redis TLS rps | larder TLS rps |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for (w, p), c in rows.items():
    rp, rt, lp, lt = (med(c[k], 2) for k in ("redis-plain", "redis-tls", "larder-plain", "larder-tls"))
    print(f"| {w} | {p} | {rp:.2f} | {rt:.2f} | +{rt - rp:.2f} ({rt / rp:.2f}x) | {lp:.2f} | {lt:.2f} | +{lt - lp:.2f} ({lt / lp:.2f}x) "
          f"| {lt / rt:.2f} | {med(c['redis-tls'], 0):,.0f} | {med(c['larder-tls'], 0):,.0f} |")
print()
print(f"Handshake (new TLS connection, ECDSA P-256, TLSv1.3, + PING + close), server CPU per connection over {sys.argv[4]}: "
      f"redis {sys.argv[2]} us, larder {sys.argv[3]} us.")
PY
}
table
[[ -n "$OUT" ]] && table > "$OUT"
echo "# total $((SECONDS - t0)) s" >&2
