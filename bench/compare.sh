#!/usr/bin/env bash
# compare.sh: larder vs redis-server side by side with larder-bench, one core for the servers.
#
# Starts redis-server (--save '' --appendonly no), larder (serve --threads 1) and larder-t2
# (serve --threads 2, both shard threads on the same core: half the keys belong to the other
# thread, so its CPU/op next to --threads 1 is the cross-shard cost), all pinned to SERVER_CPUS,
# with larder-bench pinned to BENCH_CPUS. Every server gets the same data (larder-bench
# --preload-only for the k:*, h:* and Feast families). Then for every workload and pipeline it runs
# ROUNDS rounds, rotating which server goes first, and records throughput, p50/p99 (larder-bench
# --csv) and server CPU microseconds per request (all threads' on-CPU time from
# /proc/PID/task/*/schedstat before/after the run, divided by the requests sent, warmup included).
# Method: /work/shared/specs/performance-anchors.md, Parts B and C.
#
# Environment (defaults):
#   LARDER_BIN, LARDER_BENCH_BIN   .build/release/larder, .build/release/larder-bench
#   SERVER_CPUS=0 BENCH_CPUS=1     taskset CPU lists
#   CONFIGS="redis larder larder-t2"   (add "epoll epoll-t2" for the --io epoll engine, "uring uring-t2" for --io uring; "base base-t2" with BASE_BIN=an earlier larder build
#                                       to measure a change before/after in the same run; "base-epoll base-epoll-t2" for
#                                       that build on the epoll engine, "base-uring base-uring-t2" on uring)
#   WORKLOADS="get set hset1 hset10 hmget10 hgetall10 feast-read feast-mix"
#   PIPES="1 16"  CLIENTS=50  ROUNDS=3
#   N1=100000 NP=400000            measured requests at P=1 and at P>1
#   WARMUP_PCT=5                   warmup requests, % of N (discarded by larder-bench, CPU counted)
#   KEYSPACE=100000                keys of the k:* and h:* families
#   FEAST_KEYS=1000000             Feast entities (feast-read, feast-mix)
#   OUT=                           also write the report (markdown) to this file
#   RAW_OUT=                       also keep the raw per-run lines in this file
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

CONFIGS=${CONFIGS:-"redis larder larder-t2"}
WORKLOADS=${WORKLOADS:-"get set hset1 hset10 hmget10 hgetall10 feast-read feast-mix"}
PIPES=${PIPES:-"1 16"}
CLIENTS=${CLIENTS:-50}
ROUNDS=${ROUNDS:-3}
N1=${N1:-100000}
NP=${NP:-400000}
WARMUP_PCT=${WARMUP_PCT:-5}
KEYSPACE=${KEYSPACE:-100000}
FEAST_KEYS=${FEAST_KEYS:-1000000}
OUT=${OUT:-}
lib_need redis-server redis-cli taskset python3 timeout

read -ra CFGS <<<"$CONFIGS"
read -ra WLS <<<"$WORKLOADS"
keys_for() { case "$1" in feast-*) echo "$FEAST_KEYS" ;; *) echo "$KEYSPACE" ;; esac; }

HEADER=$WORK/header.md
{
  echo "## compare.sh: closed-loop throughput, latency and server CPU per request"
  echo
  machine_md
  echo "- knobs: CONFIGS=\"$CONFIGS\" WORKLOADS=\"$WORKLOADS\" PIPES=\"$PIPES\" CLIENTS=$CLIENTS ROUNDS=$ROUNDS N1=$N1 NP=$NP WARMUP_PCT=$WARMUP_PCT KEYSPACE=$KEYSPACE FEAST_KEYS=$FEAST_KEYS"
} >"$HEADER"

t0=$SECONDS
for c in "${CFGS[@]}"; do start_server "$c" "$c"; done
{
  echo
  echo "Servers:"
  echo
  for c in "${CFGS[@]}"; do echo "    $c: ${CMDLINE[$c]}    # $(ls /proc/"${PID[$c]}"/task | wc -l) threads"; done
} >>"$HEADER"

# Preload every family a selected workload needs, identically into every server.
fams=()
for w in "${WLS[@]}"; do
  case "$w" in
    get|set) f="get $KEYSPACE" ;;
    hset1|hset10|hmget10|hgetall10) f="hmget10 $KEYSPACE" ;;
    feast-*) f="feast-write $FEAST_KEYS" ;;
    *) echo "unknown workload $w" >&2; exit 1 ;;
  esac
  [[ " ${fams[*]-} " == *" $f "* ]] || fams+=("$f")
done
{
  echo
  echo "Preload (each server):"
  echo
  for f in "${fams[@]}"; do
    read -r pw pk <<<"$f"
    echo "    $(show_cmd taskset -c "$BENCH_CPUS" "$LARDER_BENCH_BIN" --host $HOST --port PORT --workload "$pw" --keyspace "$pk" --preload-only)"
  done
  echo
  echo "Measured runs (N = N1 at P=1, NP otherwise; W = N x WARMUP_PCT / 100):"
  echo
  echo "    $(show_cmd taskset -c "$BENCH_CPUS" "$LARDER_BENCH_BIN" --host $HOST --port PORT --workload W --keyspace K --pipeline P --connections "$CLIENTS" --requests N --warmup-requests W --timeout 10 --csv)"
} >>"$HEADER"
cat "$HEADER"
echo >&2 "# servers up; preloading"

for f in "${fams[@]}"; do
  read -r pw pk <<<"$f"
  for c in "${CFGS[@]}"; do
    echo >&2 "# $c: $(bench --port "${PORT[$c]}" --workload "$pw" --keyspace "$pk" --preload-only --timeout 30)"
  done
done
for c in "${CFGS[@]}"; do
  echo >&2 "# $c: dbsize $(timeout 10 redis-cli -h $HOST -p "${PORT[$c]}" DBSIZE), rss $(($(rss_kb "${PID[$c]}") / 1024)) MiB"
done

RAW=$WORK/raw.txt
: >"$RAW"
run_one() { # CONFIG WORKLOAD P ROUND -> appends "config w p round rps p50 p99 cpu_us_per_op" to RAW
  local c=$1 w=$2 p=$3 r=$4 n warm c0 c1 line
  n=$N1; [[ "$p" != 1 ]] && n=$NP
  warm=$((n * WARMUP_PCT / 100))
  c0=$(cpu_ns "${PID[$c]}")
  if ! line=$(bench --port "${PORT[$c]}" --workload "$w" --keyspace "$(keys_for "$w")" --pipeline "$p" \
                --connections "$CLIENTS" --requests "$n" --warmup-requests "$warm" --timeout 10 --csv | tail -1); then
    echo "larder-bench failed: $c $w P=$p round $r" >&2; return 1
  fi
  c1=$(cpu_ns "${PID[$c]}")
  # csv: workload,pipeline,connections,rate,requests,seconds,rps,p50_us,p99_us,p999_us,max_us,errors
  echo "$line" | awk -F, -v c="$c" -v r="$r" -v c0="$c0" -v c1="$c1" -v n=$((n + warm)) \
    '{printf "%s %s %s %s %s %s %s %.4f\n", c, $1, $2, r, $7, $8, $9, (c1-c0)/1000/n}' >>"$RAW"
}

for w in "${WLS[@]}"; do
  for p in $PIPES; do
    for ((r = 0; r < ROUNDS; r++)); do
      # rotate the order every round, so drift on a shared machine hits every server alike
      k=$((r % ${#CFGS[@]}))
      order=("${CFGS[@]:k}" "${CFGS[@]:0:k}")
      for c in "${order[@]}"; do run_one "$c" "$w" "$p" "$r"; done
    done
    echo >&2 "# done $w P=$p ($((SECONDS - t0)) s)"
  done
done

for c in "${CFGS[@]}"; do check_affinity "$c"; done
TABLE=$WORK/table.md
python3 - "$RAW" >"$TABLE" <<'PY'
import sys, statistics as st
rows = {}
order = []
for line in open(sys.argv[1]):
    c, w, p, r, rps, p50, p99, cpu = line.split()
    key = (w, int(p))
    if key not in rows: order.append(key)
    rows.setdefault(key, {}).setdefault(int(r), {})[c] = dict(rps=float(rps), p50=float(p50), p99=float(p99), cpu=float(cpu))

def med(rounds, c, f):
    v = [x[c][f] for x in rounds.values() if c in x]
    return st.median(v) if v else None

def ratio(rounds, a, b, f):
    v = [x[a][f] / x[b][f] for x in rounds.values() if a in x and b in x and x[b][f] > 0]
    if not v: return "-"
    return f"{st.median(v):.2f} ({min(v):.2f}-{max(v):.2f})" if len(v) > 1 else f"{v[0]:.2f}"

def n(x, fmt):
    return "-" if x is None else format(x, fmt)

print("| workload | P | redis rps | larder rps | larder/redis rps | redis p50/p99 us | larder p50/p99 us "
      "| redis CPU us/op | larder CPU us/op | larder/redis CPU | larder-t2 rps | larder-t2 CPU us/op | t2/t1 CPU | rounds |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for (w, p) in order:
    R = rows[(w, p)]
    lat = lambda c: "-" if med(R, c, "p50") is None else f"{med(R, c, 'p50'):.0f} / {med(R, c, 'p99'):.0f}"
    print(f"| {w} | {p} | {n(med(R,'redis','rps'), ',.0f')} | {n(med(R,'larder','rps'), ',.0f')} | {ratio(R,'larder','redis','rps')} "
          f"| {lat('redis')} | {lat('larder')} | {n(med(R,'redis','cpu'), '.2f')} | {n(med(R,'larder','cpu'), '.2f')} "
          f"| {ratio(R,'larder','redis','cpu')} | {n(med(R,'larder-t2','rps'), ',.0f')} | {n(med(R,'larder-t2','cpu'), '.2f')} "
          f"| {ratio(R,'larder-t2','larder','cpu')} | {len(R)} |")
if any('epoll' in x for R in rows.values() for x in R.values()):
    print()
    print("I/O engines in the same rounds (epoll = larder --io epoll): CPU/op ratios to redis and between engines.")
    print()
    print("| workload | P | epoll rps | epoll p50/p99 us | epoll CPU us/op | nio/redis CPU | epoll/redis CPU | epoll/nio CPU "
          "| epoll-t2 CPU us/op | epoll t2/t1 CPU | epoll/redis rps |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (w, p) in order:
        R = rows[(w, p)]
        lat = "-" if med(R, 'epoll', "p50") is None else f"{med(R, 'epoll', 'p50'):.0f} / {med(R, 'epoll', 'p99'):.0f}"
        print(f"| {w} | {p} | {n(med(R,'epoll','rps'), ',.0f')} | {lat} | {n(med(R,'epoll','cpu'), '.2f')} "
              f"| {ratio(R,'larder','redis','cpu')} | {ratio(R,'epoll','redis','cpu')} | {ratio(R,'epoll','larder','cpu')} "
              f"| {n(med(R,'epoll-t2','cpu'), '.2f')} | {ratio(R,'epoll-t2','epoll','cpu')} | {ratio(R,'epoll','redis','rps')} |")
if any('uring' in x for R in rows.values() for x in R.values()):
    print()
    print("io_uring engine in the same rounds (uring = larder --io uring): CPU/op ratios to redis and to the other engines.")
    print()
    print("| workload | P | uring rps | uring p50/p99 us | uring CPU us/op | uring/redis CPU | uring/epoll CPU | uring/nio CPU "
          "| uring-t2 CPU us/op | uring t2/t1 CPU | uring/redis rps |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (w, p) in order:
        R = rows[(w, p)]
        lat = "-" if med(R, 'uring', "p50") is None else f"{med(R, 'uring', 'p50'):.0f} / {med(R, 'uring', 'p99'):.0f}"
        print(f"| {w} | {p} | {n(med(R,'uring','rps'), ',.0f')} | {lat} | {n(med(R,'uring','cpu'), '.2f')} "
              f"| {ratio(R,'uring','redis','cpu')} | {ratio(R,'uring','epoll','cpu')} | {ratio(R,'uring','larder','cpu')} "
              f"| {n(med(R,'uring-t2','cpu'), '.2f')} | {ratio(R,'uring-t2','uring','cpu')} | {ratio(R,'uring','redis','rps')} |")
if any('base' in x for R in rows.values() for x in R.values()):
    print()
    print("Before/after (base = BASE_BIN, the earlier build, in the same rounds): CPU/op ratios to redis, and after/before.")
    print()
    print("| workload | P | base/redis CPU | larder/redis CPU | larder/base CPU | base-t2/base CPU | t2/t1 CPU | larder/base rps |")
    print("|---|---|---|---|---|---|---|---|")
    for (w, p) in order:
        R = rows[(w, p)]
        print(f"| {w} | {p} | {ratio(R,'base','redis','cpu')} | {ratio(R,'larder','redis','cpu')} | {ratio(R,'larder','base','cpu')} "
              f"| {ratio(R,'base-t2','base','cpu')} | {ratio(R,'larder-t2','larder','cpu')} | {ratio(R,'larder','base','rps')} |")
def before_after(engine):
    """One table per engine: BASE_BIN --io ENGINE (base-ENGINE, -t2) against this build, same rounds."""
    base = f"base-{engine}"
    if not any(base in x for R in rows.values() for x in R.values()):
        return
    print()
    print(f"Before/after on the {engine} engine ({base} = BASE_BIN --io {engine}, in the same rounds): CPU/op ratios.")
    print()
    print(f"| workload | P | {base} CPU us/op | {engine} CPU us/op | {base}/redis CPU | {engine}/redis CPU | {engine}/{base} CPU "
          f"| {engine}/{base} rps | base t2/t1 CPU | {engine} t2/t1 CPU | {engine}-t2/{base}-t2 CPU |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (w, p) in order:
        R = rows[(w, p)]
        print(f"| {w} | {p} | {n(med(R,base,'cpu'), '.2f')} | {n(med(R,engine,'cpu'), '.2f')} "
              f"| {ratio(R,base,'redis','cpu')} | {ratio(R,engine,'redis','cpu')} | {ratio(R,engine,base,'cpu')} "
              f"| {ratio(R,engine,base,'rps')} | {ratio(R,base+'-t2',base,'cpu')} | {ratio(R,engine+'-t2',engine,'cpu')} "
              f"| {ratio(R,engine+'-t2',base+'-t2','cpu')} |")
for engine in ("epoll", "uring"):
    before_after(engine)
PY
finish_report \
  "rps, p50/p99 and CPU/op are medians over the rounds; ratios are the median (range) of the per-round" \
  "paired ratios. CPU us/op = server on-CPU time (all threads, user + kernel) / requests sent (warmup included)." \
  "larder-t2 = larder --threads 2 on the same single core; t2/t1 CPU = its CPU/op over --threads 1's."
