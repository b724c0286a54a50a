#!/usr/bin/env bash
# memory.sh: resident memory per key, redis-server vs larder, one fresh server process per dataset.
#
# For every dataset and server: start a fresh server pinned to SERVER_CPUS, read VmRSS
# (/proc/PID/status), load MEM_KEYS keys with `larder-bench --preload-only` (pinned to BENCH_CPUS),
# wait SETTLE_S seconds, read VmRSS (and VmHWM, the peak) again, stop the server. Bytes per key =
# RSS delta / MEM_KEYS. For reference also redis' INFO used_memory delta (what its allocator says is
# in use) and larder's own INFO used_memory if it reports one.
#   hashes  --workload hmget10     h:%012d, 10 fields f1..f10, values 8-32 B
#   feast   --workload feast-write Feast entity keys (47 B), 9 features + _ts (Value protobufs)
#   strings --workload get         k:%012d = 16-byte values
#   lists   bench/gen_types.py     MEM_KEYS elements: 1000 16-byte elements per list (RPUSH)
#   intsets bench/gen_types.py     MEM_KEYS members: 100 integers per set (intset, 4 bytes wide)
#   sets    bench/gen_types.py     MEM_KEYS members: 100 16-byte strings per set (hashtable)
#   zsets   bench/gen_types.py     MEM_KEYS members: 100 16-byte members per sorted set (listpack)
#   bigzsets bench/gen_types.py    MEM_KEYS members: 1000 16-byte members per sorted set (skiplist)
# For lists/intsets/sets/zsets the per-key columns are per *element* (MEM_KEYS counts elements).
#
# Environment (defaults):
#   LARDER_BIN, LARDER_BENCH_BIN   .build/release/larder, .build/release/larder-bench
#   SERVER_CPUS=0 BENCH_CPUS=1 MEM_KEYS=1000000 SETTLE_S=2
#   DATASETS="hashes feast strings"  CONFIGS="redis larder" (larder-t2 also works)
#   OUT=                           also write the report (markdown) to this file
#   RAW_OUT=                       also keep the raw per-run lines in this file
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

MEM_KEYS=${MEM_KEYS:-1000000}
SETTLE_S=${SETTLE_S:-2}
DATASETS=${DATASETS:-"hashes feast strings"}
CONFIGS=${CONFIGS:-"redis larder"}
OUT=${OUT:-}
lib_need redis-server redis-cli taskset python3 timeout
read -ra CFGS <<<"$CONFIGS"
read -ra DSS <<<"$DATASETS"
workload_of() { case "$1" in hashes) echo hmget10 ;; feast) echo feast-write ;; strings) echo get ;;
  lists|intsets|sets|zsets|bigzsets) echo "types:$1" ;;
  *) echo "unknown dataset $1" >&2; return 1 ;; esac; }
# Keys a dataset of MEM_KEYS elements makes (the DBSIZE check).
keys_of() { case "$1" in lists|bigzsets) echo $((MEM_KEYS / 1000)) ;; intsets|sets|zsets) echo $((MEM_KEYS / 100)) ;; *) echo "$MEM_KEYS" ;; esac; }
used_memory() { timeout 10 redis-cli -h $HOST -p "$1" INFO memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}'; }

t0=$SECONDS
HEADER=$WORK/header.md
{
  echo "## memory.sh: resident memory per key ($MEM_KEYS keys, fresh server per dataset)"
  echo
  machine_md
  echo "- knobs: MEM_KEYS=$MEM_KEYS DATASETS=\"$DATASETS\" CONFIGS=\"$CONFIGS\" SETTLE_S=$SETTLE_S"
  echo
  echo "Servers (fresh process per dataset; PORT varies):"
  echo
  for c in "${CFGS[@]}"; do
    mapfile -t cmd < <(server_cmd "$c" PORT)
    echo "    $c: taskset -c $SERVER_CPUS $(show_cmd "${cmd[@]}")"
  done
  echo
  echo "Load:"
  echo
  echo "    $(show_cmd taskset -c "$BENCH_CPUS" "$LARDER_BENCH_BIN" --host $HOST --port PORT --workload W --keyspace "$MEM_KEYS" --preload-only --timeout 60)   # W: hashes=hmget10, feast=feast-write, strings=get"
} >"$HEADER"
cat "$HEADER"

RAW=$WORK/raw.txt
: >"$RAW"
for d in "${DSS[@]}"; do
  w=$(workload_of "$d")
  for c in "${CFGS[@]}"; do
    start_server "$c" "$c"
    pid=${PID[$c]} port=${PORT[$c]}
    sleep 0.5
    r0=$(rss_kb "$pid"); u0=$(used_memory "$port"); u0=${u0:-0}
    if [[ "$w" == types:* ]]; then
      msg=$(python3 bench/gen_types.py "${w#types:}" "$MEM_KEYS" | timeout 300 redis-cli -h $HOST -p "$port" --pipe | tail -1)
    else
      msg=$(bench --port "$port" --workload "$w" --keyspace "$MEM_KEYS" --preload-only --timeout 60)
    fi
    sleep "$SETTLE_S"
    r1=$(rss_kb "$pid"); h1=$(hwm_kb "$pid"); u1=$(used_memory "$port"); u1=${u1:-0}
    n=$(timeout 10 redis-cli -h $HOST -p "$port" DBSIZE)
    [[ "$n" == "$(keys_of "$d")" ]] || { echo "$c $d: DBSIZE $n, expected $(keys_of "$d")" >&2; exit 1; }
    echo "$c $d $r0 $r1 $h1 $u0 $u1" >>"$RAW"
    echo >&2 "# $c $d: $msg; RSS $((r0 / 1024)) -> $((r1 / 1024)) MiB (peak $((h1 / 1024)) MiB)"
    stop_server "$c"
  done
done

TABLE=$WORK/table.md
python3 - "$RAW" "$MEM_KEYS" "${CFGS[@]}" >"$TABLE" <<'PY'
import sys
n = int(sys.argv[2]); cfgs = sys.argv[3:]
rows, order = {}, []
for line in open(sys.argv[1]):
    c, d, r0, r1, h1, u0, u1 = line.split()
    if d not in order: order.append(d)
    rows.setdefault(d, {})[c] = dict(r0=int(r0) * 1024, r1=int(r1) * 1024, h1=int(h1) * 1024, u0=int(u0), u1=int(u1))
hdr = ["dataset", "keys"]
for c in cfgs:
    hdr += [f"{c} RSS before / after MiB", f"{c} RSS B/key", f"{c} peak RSS B/key"]
hdr += [f"{c}/redis RSS B/key" for c in cfgs if c != "redis"]
hdr += [f"{c} INFO used_memory B/key" for c in cfgs]
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
per = lambda x: (x["r1"] - x["r0"]) / n
for d in order:
    R = rows[d]
    cells = [d, f"{n:,}"]
    for c in cfgs:
        x = R.get(c)
        cells += ["-"] * 3 if x is None else [f"{x['r0'] / 2**20:.1f} / {x['r1'] / 2**20:.1f}", f"{per(x):.1f}", f"{(x['h1'] - x['r0']) / n:.1f}"]
    cells += [f"{per(R[c]) / per(R['redis']):.2f}" if c in R and "redis" in R and per(R["redis"]) > 0 else "-"
              for c in cfgs if c != "redis"]
    cells += [f"{(R[c]['u1'] - R[c]['u0']) / n:.1f}" if c in R and R[c]["u1"] > 0 else "-" for c in cfgs]
    print("| " + " | ".join(cells) + " |")
PY
finish_report \
  "RSS B/key = (VmRSS after load - VmRSS of the fresh server) / keys; peak uses VmHWM (highest RSS" \
  "during the load). INFO used_memory B/key is each server's own used_memory delta (redis: jemalloc's" \
  "allocated bytes; larder: whatever its INFO memory reports) and is for reference only."
