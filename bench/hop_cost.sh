#!/usr/bin/env bash
# hop_cost.sh: the shard hop's cost in user-space instructions (callgrind), fitted into a fixed
# part h0 per hop and a part k per command it carries (docs/ARCHITECTURE.md "The shard hop").
#
# A `--threads 2 --io $IO` server runs under callgrind (both threads on SERVER_CPUS, as in
# compare.sh). A small client (Python, below) opens its connections one at a time and keeps
# those on loop 0 (CLIENT ID - 1 mod 2: the epoll listener hands connections to the loops in
# turn and ids are given in accept order; nothing else connects meanwhile). Each cell sends N
# GETs in a closed loop, pipeline P, over C connections, with keys
#   local:  all on shard 0 (the connections' own thread: no hop), or
#   remote: all on shard 1 (every read's commands go to the other thread in one batch and
#           their replies come back: one hop out and back per read).
# Cost per command: remote(P) - local(P) = h0 / P + k, so from P=1 and P=PB:
#   h0 = (d1 - dPB) x PB / (PB - 1),  k = d1 - h0.
# The same cells run for every binary in BINS (e.g. main's build as "base"), in the same run.
# C=1 is the worst case (every hop wakes a sleeping thread, and the reply wakes the first one);
# with more connections one wake-up can carry several batches.
#
# Environment (defaults):
#   LARDER_BIN                     .build/release/larder
#   BINS="new:\$LARDER_BIN"        label:binary pairs, e.g. "base:/tmp/larder-main new:.build/release/larder"
#   PIPES="1 16"  CONNS="1 8"  N=20000 (requests per cell)  KEYS=1000 (per shard)
#   IO=epoll (or uring: run with LARDER_URING_WAIT_POLL=1, as instr_per_op.sh, since valgrind
#   3.19 stalls every thread while one waits in io_uring_enter)
#   SERVER_CPUS=0 (the server under valgrind), OUT= (also write the report here)
set -euo pipefail
cd "$(dirname "$0")/.."
START_TIMEOUT=${START_TIMEOUT:-120}
. bench/lib.sh
PIPES=${PIPES:-"1 16"}
CONNS=${CONNS:-"1 8"}
N=${N:-20000}
KEYS=${KEYS:-1000}
BINS=${BINS:-"new:$LARDER_BIN"}
IO=${IO:-epoll}
[[ $IO == epoll || $IO == uring ]] || { echo "IO must be epoll or uring" >&2; exit 1; }
URING_ENV=(); [[ $IO == uring ]] && URING_ENV=(env LARDER_URING_WAIT_POLL=1)
OUT=${OUT:-}
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null || { echo "missing valgrind" >&2; exit 1; }
read -ra PS <<<"$PIPES"
(( ${#PS[@]} == 2 )) && [[ "${PS[0]}" == 1 ]] || { echo "PIPES must be \"1 PB\" (the fit needs P=1 and one deeper pipeline)" >&2; exit 1; }
pb=${PS[1]}

CLIENT=$WORK/hopclient.py
cat >"$CLIENT" <<'PY'
# hopclient.py PORT THREADS CONNS -- reads commands on stdin, one per line:
#   preload SHARD KEYS | run SHARD KEYS P N   ("ok" on stdout when done)
import socket, sys

M = (1 << 64) - 1
def mix(a, b):
    r = a * b
    return ((r >> 64) ^ r) & M
def load64(b, i): return int.from_bytes(b[i:i + 8], "little")
def byte_hash(b):  # LarderStore/ByteHash.swift
    n = len(b); s0, s1 = 0xa0761d6478bd642f, 0xe7037ed1a0b428db
    if n == 0: return mix(s0, s1)
    h = s0 ^ n; i = 0
    while i + 16 <= n:
        h = mix(load64(b, i) ^ s1, load64(b, i + 8) ^ h); i += 16
    a = bb = 0; rest = n - i
    if rest >= 8: a, bb = load64(b, i), load64(b, n - 8)
    elif rest > 0: a = int.from_bytes(b[i:n], "little")
    return mix(s1 ^ n, mix(a ^ s1, bb ^ h))

port, threads, nconn = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def keys_on(shard, count):
    out, i = [], 0
    while len(out) < count:
        k = b"k:%012d" % i
        if (byte_hash(k) >> 32) % threads == shard: out.append(k)
        i += 1
    return out

def cmd(*args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)

def read_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(max(n - len(buf), 65536))
        if not chunk: raise SystemExit("server closed the connection")
        buf += chunk
    return bytes(buf)

def call(s, *args):
    s.sendall(cmd(*args)); data = b""
    while not data.endswith(b"\r\n") or (data.startswith(b"$") and data.count(b"\r\n") < 2):
        data += s.recv(65536)
    return data

# Connections on loop 0 only (ids are given in accept order; the listener deals them out in turn).
conns, extra = [], []
while len(conns) < nconn:
    s = socket.create_connection(("127.0.0.1", port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    cid = int(call(s, b"CLIENT", b"ID")[1:].strip())
    (conns if (cid - 1) % threads == 0 else extra).append(s)

VALUE = b"v" * 16
REPLY = b"$16\r\n" + VALUE + b"\r\n"
for line in sys.stdin:
    w = line.split()
    if w[0] == "preload":
        ks = keys_on(int(w[1]), int(w[2]))
        s = conns[0]
        s.sendall(b"".join(cmd(b"SET", k, VALUE) for k in ks)); read_exact(s, 5 * len(ks))
    elif w[0] == "run":
        ks = keys_on(int(w[1]), int(w[2])); p, n = int(w[3]), int(w[4])
        batches = [b"".join(cmd(b"GET", ks[(j * p + i) % len(ks)]) for i in range(p)) for j in range(len(ks))]
        sent = j = 0
        while sent < n:
            for s in conns:
                s.sendall(batches[j % len(batches)]); j += 1
            for s in conns:
                if read_exact(s, p * len(REPLY)) != REPLY * p: raise SystemExit("unexpected reply")
            sent += p * len(conns)
        print(sent, flush=True); continue
    print("ok", flush=True)
PY

# Calls to malloc in a callgrind dump (a hop that allocates shows up as remote - local > 0).
MALLOCS=$WORK/mallocs.py
cat >"$MALLOCS" <<'PY'
import re, sys
names, total, callee = {}, 0, None
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?", line)
    if m:
        if m.group(3): names[m.group(2)] = m.group(3).strip()
        callee = names.get(m.group(2)) if m.group(1) == "cfn" else None
        continue
    if line.startswith("calls=") and callee in ("malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc"):
        total += int(line[6:].split()[0])
print(total)
PY

HEADER=$WORK/header.md
RAW=$WORK/raw.txt
: >"$RAW"
t0=$SECONDS
MACHINE=$(machine_md)
{
  echo "## hop_cost.sh: instructions of a shard hop (callgrind, --threads 2 --io $IO)"
  echo
  echo "$MACHINE"
  echo "- $(valgrind --version); knobs: BINS=\"$BINS\" PIPES=\"$PIPES\" CONNS=\"$CONNS\" N=$N KEYS=$KEYS"
  echo
} >"$HEADER"
cat "$HEADER"

newest_dump() { ls -t "$1".* 2>/dev/null | head -1 || true; }
for spec in $BINS; do
  label=${spec%%:*}; bin=$(readlink -f "${spec#*:}")
  [[ -x "$bin" ]] || { echo "$label: $bin is not executable" >&2; exit 1; }
  nodebug=$WORK/larder-$label
  objcopy --strip-debug "$bin" "$nodebug"  # valgrind 3.19 cannot read Swift 6's DWARF5 (instr_per_op.sh)
  port=$(free_port)
  cg=$WORK/$label.cg
  (cd "$WORK" && exec "${URING_ENV[@]}" taskset -c "$SERVER_CPUS" valgrind --tool=callgrind --callgrind-out-file="$cg" \
      "$nodebug" serve --port "$port" --threads 2 --no-pin --io "$IO" >"$WORK/$label.log" 2>&1) &
  pid=$!
  SERVER_PIDS+=("$pid")
  wait_pong "$port" "$pid" "$START_TIMEOUT" || { echo "$label did not start" >&2; cat "$WORK/$label.log" >&2; exit 1; }
  echo "    $label: ${URING_ENV[*]} taskset -c $SERVER_CPUS valgrind --tool=callgrind $bin serve --port $port --threads 2 --no-pin --io $IO" >>"$HEADER"
  for c in $CONNS; do
    coproc HC { exec python3 "$CLIENT" "$port" 2 "$c"; }
    echo "preload 0 $KEYS" >&"${HC[1]}"; read -r _ <&"${HC[0]}"
    echo "preload 1 $KEYS" >&"${HC[1]}"; read -r _ <&"${HC[0]}"
    for p in $PIPES; do
      for where in local remote; do
        shard=0; [[ $where == remote ]] && shard=1
        before=$(newest_dump "$cg")
        timeout 60 callgrind_control -z "$pid" >/dev/null 2>&1 || { echo "callgrind_control -z failed" >&2; exit 1; }
        echo "run $shard $KEYS $p $N" >&"${HC[1]}"
        read -r sent <&"${HC[0]}"
        timeout 60 callgrind_control -d "$pid" >/dev/null 2>&1 || { echo "callgrind_control -d failed" >&2; exit 1; }
        f=""
        for _ in $(seq 100); do
          f=$(newest_dump "$cg"); [[ -n "$f" && "$f" != "$before" ]] && grep -q '^summary:' "$f" && break
          f=""; sleep 0.1
        done
        [[ -n "$f" ]] || { echo "no new callgrind dump for $label" >&2; exit 1; }
        ir=$(awk '/^summary:/{print $2; exit}' "$f")
        mallocs=$(python3 "$MALLOCS" "$f")
        echo "$label $c $p $where $sent $ir $mallocs" >>"$RAW"
        echo >&2 "# $label C=$c P=$p $where: $((ir / sent)) instr/request, $mallocs malloc calls in $sent requests"
      done
    done
    eval "exec ${HC[1]}>&-"
    wait "$HC_PID" 2>/dev/null || true
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
done

TABLE=$WORK/table.md
python3 - "$RAW" >"$TABLE" <<'PY'
import sys
R, A = {}, {}
order = []
for line in open(sys.argv[1]):
    label, c, p, where, sent, ir, mallocs = line.split()
    if (label, c) not in order: order.append((label, c))
    R[(label, c, int(p), where)] = int(ir) / int(sent)
    A[(label, c, int(p), where)] = int(mallocs) / int(sent)
ps = sorted({k[2] for k in R})
pb = ps[-1]
print(f"| build | C | local P=1 | remote P=1 | local P={pb} | remote P={pb} | d P=1 (h0+k) | d P={pb} (h0/{pb}+k) | h0 instr | k instr/command | malloc/GET local / remote P=1 |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for label, c in order:
    g = lambda p, w: R[(label, c, p, w)]
    d1, db = g(1, "remote") - g(1, "local"), g(pb, "remote") - g(pb, "local")
    h0 = (d1 - db) * pb / (pb - 1)
    k = d1 - h0
    print(f"| {label} | {c} | {g(1,'local'):,.0f} | {g(1,'remote'):,.0f} | {g(pb,'local'):,.0f} | {g(pb,'remote'):,.0f} "
          f"| {d1:,.0f} | {db:,.0f} | {h0:,.0f} | {k:,.0f} | {A[(label, c, 1, 'local')]:.3f} / {A[(label, c, 1, 'remote')]:.3f} |")
PY
finish_report \
  "instr = callgrind Ir of the whole server (both threads, user space) between -z and -d, per GET sent." \
  "local: keys on the connections' own shard; remote: all on the other one. d = remote - local;" \
  "h0 = (d1 - d$pb) x $pb / ($pb - 1), k = d1 - h0 (one hop per read of P commands)."
