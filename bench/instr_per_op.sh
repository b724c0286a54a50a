#!/usr/bin/env bash
# instr_per_op.sh: user-space instructions per request under callgrind, redis-server vs larder.
#
# Method of /work/shared/bench/instr_per_op.sh: each server runs under
# `valgrind --tool=callgrind --callgrind-out-file=...`, is preloaded with KEYSPACE (1000) strings
# and 10-field hashes, then for every command: `callgrind_control -z` (zero the counters), N
# requests from larder-bench (CLIENTS connections, pipeline P, the same for both servers),
# `callgrind_control -d` (dump), and Ir from the `summary:` line of the newest dump / N.
# Kernel work (syscalls, TCP) is not counted: pair with compare.sh's CPU/op. Deterministic to ~2%.
#
# valgrind 3.19 cannot read the DWARF5 debug info of Swift 6 binaries ("Possibly corrupted debuginfo
# file"), so larder runs from a copy without debug info (objcopy --strip-debug).
#
# Environment (defaults):
#   LARDER_BIN, LARDER_BENCH_BIN   .build/release/larder, .build/release/larder-bench
#   SERVER_CPUS=0 BENCH_CPUS=1 CLIENTS=50 KEYSPACE=1000 N=20000
#   WORKLOADS="get set hmget10 hgetall10"  PIPES="1 16"
#   CONFIGS="redis larder"         (larder-t2 also works; so do base, base-epoll, base-uring with BASE_BIN)
#   START_TIMEOUT=120              seconds to wait for PONG from a server under valgrind
#   OUT=                           also write the report (markdown) to this file
#   RAW_OUT=                       also keep the raw per-run lines in this file
set -euo pipefail
cd "$(dirname "$0")/.."
START_TIMEOUT=${START_TIMEOUT:-120}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}
. bench/lib.sh

CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-1000}
N=${N:-20000}
WORKLOADS=${WORKLOADS:-"get set hmget10 hgetall10"}
PIPES=${PIPES:-"1 16"}
CONFIGS=${CONFIGS:-"redis larder"}
OUT=${OUT:-}
lib_need redis-server redis-cli taskset python3 timeout valgrind callgrind_control objcopy
read -ra CFGS <<<"$CONFIGS"
read -ra WLS <<<"$WORKLOADS"

# larder without DWARF (see above); the copy lives in WORK, removed on exit
MACHINE=$(machine_md)
NODEBUG=$WORK/larder-nodebug
objcopy --strip-debug "$LARDER_BIN" "$NODEBUG"
LARDER_BIN_ORIG=$LARDER_BIN
LARDER_BIN=$NODEBUG
# the same for an earlier build (the base* configs: before/after in the same run)
if [[ -n "${BASE_BIN:-}" ]]; then
  objcopy --strip-debug "$BASE_BIN" "$WORK/base-nodebug"
  BASE_BIN=$WORK/base-nodebug
fi
# valgrind 3.19 keeps its big lock through io_uring_enter (it does not know the call blocks), so a
# uring loop asleep in it would stall the process: under valgrind the io_uring engine waits in
# poll(2) on its ring instead (docs/ARCHITECTURE.md "I/O engine"); its user-space path is the same.
export LARDER_URING_WAIT_POLL=1

t0=$SECONDS
for c in "${CFGS[@]}"; do
  start_server "$c" "$c" valgrind --tool=callgrind --callgrind-out-file="$WORK/$c.cg"
done
HEADER=$WORK/header.md
{
  echo "## instr_per_op.sh: user-space instructions per request (callgrind)"
  echo
  echo "$MACHINE"
  echo "- $(valgrind --version); larder run from \`objcopy --strip-debug $LARDER_BIN_ORIG\`"
  echo "- knobs: WORKLOADS=\"$WORKLOADS\" PIPES=\"$PIPES\" CONFIGS=\"$CONFIGS\" CLIENTS=$CLIENTS KEYSPACE=$KEYSPACE N=$N"
  echo
  echo "Servers:"
  echo
  for c in "${CFGS[@]}"; do echo "    $c: ${CMDLINE[$c]}"; done
  echo
  echo "Per cell: \`callgrind_control -z PID\`, then"
  echo
  echo "    $(show_cmd taskset -c "$BENCH_CPUS" "$LARDER_BENCH_BIN" --host $HOST --port PORT --workload W --keyspace "$KEYSPACE" --pipeline P --connections "$CLIENTS" --requests "$N" --timeout 60)"
  echo
  echo "then \`callgrind_control -d PID\` and Ir of the newest dump's \`summary:\` / N."
} >"$HEADER"
cat "$HEADER"

for c in "${CFGS[@]}"; do
  for f in get hmget10; do
    echo >&2 "# $c: $(bench --port "${PORT[$c]}" --workload $f --keyspace "$KEYSPACE" --preload-only --timeout 60)"
  done
done

newest_dump() { ls -t "$WORK/$1.cg".* 2>/dev/null | head -1 || true; }
RAW=$WORK/raw.txt
: >"$RAW"
for w in "${WLS[@]}"; do
  for p in $PIPES; do
    for c in "${CFGS[@]}"; do
      pid=${PID[$c]}
      before=$(newest_dump "$c")
      timeout 60 callgrind_control -z "$pid" >/dev/null 2>&1 || { echo "callgrind_control -z $c failed" >&2; exit 1; }
      bench --port "${PORT[$c]}" --workload "$w" --keyspace "$KEYSPACE" --pipeline "$p" --connections "$CLIENTS" \
        --requests "$N" --timeout 60 >/dev/null
      timeout 60 callgrind_control -d "$pid" >/dev/null 2>&1 || { echo "callgrind_control -d $c failed" >&2; exit 1; }
      f=""
      for _ in $(seq 100); do  # wait until the new dump is complete (summary line written)
        f=$(newest_dump "$c")
        [[ -n "$f" && "$f" != "$before" ]] && grep -q '^summary:' "$f" && break
        f=""; sleep 0.1
      done
      [[ -n "$f" ]] || { echo "no new callgrind dump for $c" >&2; exit 1; }
      ir=$(awk '/^summary:/{print $2; exit}' "$f")
      echo "$c $w $p $ir" >>"$RAW"
      echo >&2 "# $c $w P=$p: $((ir / N)) instr/op"
    done
  done
done

TABLE=$WORK/table.md
python3 - "$RAW" "$N" "${CFGS[@]}" >"$TABLE" <<'PY'
import sys
n = int(sys.argv[2]); cfgs = sys.argv[3:]
rows, order = {}, []
for line in open(sys.argv[1]):
    c, w, p, ir = line.split()
    if (w, p) not in rows: order.append((w, p))
    rows.setdefault((w, p), {})[c] = int(ir) / n
hdr = ["workload", "P"] + [f"{c} instr/op" for c in cfgs] + [f"{c}/redis" for c in cfgs if c != "redis"]
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
for k in order:
    R = rows[k]
    cells = list(k) + [f"{R[c]:,.0f}" if c in R else "-" for c in cfgs]
    cells += [f"{R[c] / R['redis']:.2f}" if c in R and "redis" in R else "-" for c in cfgs if c != "redis"]
    print("| " + " | ".join(cells) + " |")
PY
finish_report \
  "instr/op = callgrind Ir (all threads, user space only) between -z and -d / N requests."
