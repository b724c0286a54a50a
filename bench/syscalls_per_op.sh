#!/usr/bin/env bash
# syscalls_per_op.sh: system calls the server makes per request, by name, redis-server vs larder's
# engines. Each server runs pinned as in compare.sh; per cell, `perf stat -e raw_syscalls:sys_enter`
# (the whole count) and `strace -c -f` (by name; a second, separate run, since strace slows the
# server) are attached to the server while larder-bench sends N requests. Divided by N.
#
# Environment (defaults):
#   LARDER_BIN, LARDER_BENCH_BIN   .build/release/larder, .build/release/larder-bench
#   CONFIGS="redis epoll uring"  WORKLOADS="get set"  PIPES="1 16"  CLIENTS=50  KEYSPACE=1000  N=50000
#   OUT=   also write the report (markdown) to this file
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-1000}
N=${N:-50000}
WORKLOADS=${WORKLOADS:-"get set"}
PIPES=${PIPES:-"1 16"}
CONFIGS=${CONFIGS:-"redis epoll uring"}
OUT=${OUT:-}
lib_need redis-server redis-cli taskset python3 timeout perf strace
read -ra CFGS <<<"$CONFIGS"

for c in "${CFGS[@]}"; do
  start_server "$c" "$c"
  bench --port "${PORT[$c]}" --workload get --keyspace "$KEYSPACE" --preload-only --timeout 60 >/dev/null
done
REPORT=$WORK/report.md
{
  echo "## syscalls_per_op.sh: system calls per request"
  echo
  echo "$(machine_md)"
  echo "- knobs: WORKLOADS=\"$WORKLOADS\" PIPES=\"$PIPES\" CONFIGS=\"$CONFIGS\" CLIENTS=$CLIENTS N=$N; load average at start $(loadavg)"
  echo
  for c in "${CFGS[@]}"; do echo "    $c: ${CMDLINE[$c]}"; done
  echo
  echo "| workload | P | server | syscalls/op (perf) | by name (strace -c -f, per op) |"
  echo "|---|---|---|---|---|"
} >"$REPORT"
for w in $WORKLOADS; do
  for p in $PIPES; do
    for c in "${CFGS[@]}"; do
      pid=${PID[$c]}
      perf stat -x, -e raw_syscalls:sys_enter -p "$pid" -o "$WORK/perf.txt" &
      perfpid=$!
      sleep 0.5
      bench --port "${PORT[$c]}" --workload "$w" --keyspace "$KEYSPACE" --pipeline "$p" --connections "$CLIENTS" \
        --requests "$N" --timeout 60 >/dev/null
      kill -INT "$perfpid"; wait "$perfpid" || true
      total=$(awk -F, '/raw_syscalls/{print $1}' "$WORK/perf.txt")
      strace -c -f -p "$pid" -o "$WORK/strace.txt" &
      stpid=$!
      sleep 1
      bench --port "${PORT[$c]}" --workload "$w" --keyspace "$KEYSPACE" --pipeline "$p" --connections "$CLIENTS" \
        --requests "$N" --timeout 120 >/dev/null
      kill -INT "$stpid"; wait "$stpid" || true
      names=$(awk -v n="$N" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" { printf "%s %.3f, ", $NF, $4 / n }' "$WORK/strace.txt")
      printf '| %s | %s | %s | %.3f | %s |\n' "$w" "$p" "$c" "$(echo "$total / $N" | bc -l)" "${names%, }" >>"$REPORT"
      echo >&2 "# $c $w P=$p: $total syscalls"
    done
  done
done
echo >>"$REPORT"
echo "(perf counts the idle waits between requests too; strace's column is calls per op by name, from a second run.)" >>"$REPORT"
cat "$REPORT"
[[ -z "$OUT" ]] || cp "$REPORT" "$OUT"
