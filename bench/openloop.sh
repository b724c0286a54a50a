#!/usr/bin/env bash
# openloop.sh: latency at a fixed offered load, open loop: 50% of redis-server's peak rate.
#
# For each workload (GET, HMGET10 by default): measure redis-server's peak closed-loop rps at P=1
# with CLIENTS connections (median of PEAK_RUNS runs), then offer R = RATE_FRACTION x that peak with
# `larder-bench --rate R` to redis-server and to larder (serve --threads 1), alternating which goes
# first, ROUNDS times. Latency is measured from each request's intended send time (no coordinated
# omission). Reports p50/p99/p99.9 (medians over the rounds), the achieved rps, server CPU us/op,
# the client's worst send lag (large = the client, not the server, fell behind) and the larder/redis
# p99 ratio (median and range of the per-round paired ratios). Servers on SERVER_CPUS, client on
# BENCH_CPUS, same data in both (larder-bench --preload-only).
#
# Environment (defaults):
#   LARDER_BIN, LARDER_BENCH_BIN   .build/release/larder, .build/release/larder-bench
#   SERVER_CPUS=0 BENCH_CPUS=1 CLIENTS=50 KEYSPACE=100000
#   WORKLOADS="get hmget10"        any larder-bench workload whose family is k:* or h:* or feast
#   CONFIGS="redis larder"         servers compared (redis must be first: it sets the rate)
#   PEAK_RUNS=3 PEAK_N=100000      closed-loop peak measurement on redis (P=1)
#   RATE_FRACTION=0.5              offered load as a fraction of redis' peak
#   ROUNDS=3 DURATION=10           open-loop rounds, seconds each (R x DURATION requests)
#   WARMUP_S=1                     seconds of requests discarded first (R x WARMUP_S)
#   OUT=                           also write the report (markdown) to this file
#   RAW_OUT=                       also keep the raw per-run lines in this file
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
WORKLOADS=${WORKLOADS:-"get hmget10"}
CONFIGS=${CONFIGS:-"redis larder"}
PEAK_RUNS=${PEAK_RUNS:-3}
PEAK_N=${PEAK_N:-100000}
RATE_FRACTION=${RATE_FRACTION:-0.5}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
WARMUP_S=${WARMUP_S:-1}
FEAST_KEYS=${FEAST_KEYS:-$KEYSPACE}
OUT=${OUT:-}
lib_need redis-server redis-cli taskset python3 timeout
read -ra CFGS <<<"$CONFIGS"
read -ra WLS <<<"$WORKLOADS"
[[ "${CFGS[0]}" == redis ]] || { echo "CONFIGS must start with redis (it sets the rate)" >&2; exit 1; }
keys_for() { case "$1" in feast-*) echo "$FEAST_KEYS" ;; *) echo "$KEYSPACE" ;; esac; }
family() {
  case "$1" in get|set) echo get ;; hset1|hset10|hmget10|hgetall10) echo hmget10 ;; feast-*) echo feast-write ;;
    *) echo "unknown workload $1" >&2; return 1 ;; esac
}

t0=$SECONDS
for c in "${CFGS[@]}"; do start_server "$c" "$c"; done
HEADER=$WORK/header.md
{
  echo "## openloop.sh: latency at ${RATE_FRACTION} x redis-server's peak rate (open loop)"
  echo
  machine_md
  echo "- knobs: WORKLOADS=\"$WORKLOADS\" CONFIGS=\"$CONFIGS\" CLIENTS=$CLIENTS KEYSPACE=$KEYSPACE PEAK_RUNS=$PEAK_RUNS PEAK_N=$PEAK_N RATE_FRACTION=$RATE_FRACTION ROUNDS=$ROUNDS DURATION=$DURATION WARMUP_S=$WARMUP_S"
  echo
  echo "Servers:"
  echo
  for c in "${CFGS[@]}"; do echo "    $c: ${CMDLINE[$c]}"; done
  echo
  echo "Peak (redis only, median of PEAK_RUNS), then the open-loop runs:"
  echo
  echo "    $(show_cmd taskset -c "$BENCH_CPUS" "$LARDER_BENCH_BIN" --host $HOST --port PORT --workload W --keyspace K --pipeline 1 --connections "$CLIENTS" --requests "$PEAK_N" --warmup-requests $((PEAK_N / 20)) --csv)"
  echo "    $(show_cmd taskset -c "$BENCH_CPUS" "$LARDER_BENCH_BIN" --host $HOST --port PORT --workload W --keyspace K --connections "$CLIENTS" --rate R --duration "$DURATION" --warmup-requests "R*$WARMUP_S" --timeout 10 --json)"
} >"$HEADER"
cat "$HEADER"

loaded=" "
for w in "${WLS[@]}"; do
  f=$(family "$w")
  [[ "$loaded" == *" $f "* ]] && continue
  for c in "${CFGS[@]}"; do
    echo >&2 "# $c: $(bench --port "${PORT[$c]}" --workload "$f" --keyspace "$(keys_for "$w")" --preload-only --timeout 30)"
  done
  loaded+="$f "
done

RAW=$WORK/raw.txt
: >"$RAW"
for w in "${WLS[@]}"; do
  k=$(keys_for "$w")
  peaks=()
  for ((i = 0; i < PEAK_RUNS; i++)); do
    line=$(bench --port "${PORT[redis]}" --workload "$w" --keyspace "$k" --pipeline 1 --connections "$CLIENTS" \
             --requests "$PEAK_N" --warmup-requests $((PEAK_N / 20)) --timeout 10 --csv | tail -1)
    peaks+=("$(echo "$line" | cut -d, -f7)")
  done
  peak=$(printf '%s\n' "${peaks[@]}" | sort -g | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
  rate=$(awk -v p="$peak" -v f="$RATE_FRACTION" 'BEGIN{printf "%.0f", p*f}')
  warm=$(awk -v r="$rate" -v s="$WARMUP_S" 'BEGIN{printf "%.0f", r*s}')
  echo >&2 "# $w: redis peak runs ${peaks[*]} -> median $peak rps; offering $rate req/s"
  for ((r = 0; r < ROUNDS; r++)); do
    j=$((r % ${#CFGS[@]}))
    order=("${CFGS[@]:j}" "${CFGS[@]:0:j}")
    for c in "${order[@]}"; do
      c0=$(cpu_ns "${PID[$c]}")
      if ! js=$(bench --port "${PORT[$c]}" --workload "$w" --keyspace "$k" --connections "$CLIENTS" --rate "$rate" \
                  --duration "$DURATION" --warmup-requests "$warm" --timeout 10 --json | tail -1); then
        echo "larder-bench failed: $c $w round $r" >&2; exit 1
      fi
      c1=$(cpu_ns "${PID[$c]}")
      echo "$c $w $r $peak $rate $c0 $c1 $warm $js" >>"$RAW"
    done
  done
  echo >&2 "# done $w ($((SECONDS - t0)) s)"
done

for c in "${CFGS[@]}"; do check_affinity "$c"; done
TABLE=$WORK/table.md
python3 - "$RAW" "${CFGS[@]}" >"$TABLE" <<'PY'
import sys, json, statistics as st
cfgs = sys.argv[2:]
rows, order = {}, []
for line in open(sys.argv[1]):
    c, w, r, peak, rate, c0, c1, warm, js = line.split(" ", 8)
    d = json.loads(js)
    d["cpu"] = (int(c1) - int(c0)) / 1000 / (d["requests"] + int(warm))
    if w not in rows: order.append(w)
    rows.setdefault(w, {"peak": float(peak), "rate": float(rate), "r": {}})["r"].setdefault(int(r), {})[c] = d
med = lambda R, c, f: st.median(x[c][f] for x in R.values() if c in x)
hdr = ["workload", "redis peak rps (P=1)", "offered req/s"]
for c in cfgs:
    hdr += [f"{c} achieved rps", f"{c} p50 / p99 / p99.9 us", f"{c} CPU us/op", f"{c} client send lag mean / max us"]
for c in cfgs[1:]:
    hdr += [f"{c}/redis p99"]
hdr += ["rounds"]
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
for w in order:
    R = rows[w]["r"]
    cells = [w, f"{rows[w]['peak']:,.0f}", f"{rows[w]['rate']:,.0f}"]
    for c in cfgs:
        cells += [f"{med(R,c,'rps'):,.0f}", f"{med(R,c,'p50_us'):.0f} / {med(R,c,'p99_us'):.0f} / {med(R,c,'p999_us'):.0f}",
                  f"{med(R,c,'cpu'):.2f}",
                  f"{med(R,c,'send_lag_mean_us'):,.0f} / {max(x[c]['send_lag_max_us'] for x in R.values() if c in x):,.0f}"]
    for c in cfgs[1:]:
        v = [x[c]["p99_us"] / x["redis"]["p99_us"] for x in R.values() if c in x and "redis" in x and x["redis"]["p99_us"] > 0]
        cells += [f"{st.median(v):.2f} ({min(v):.2f}-{max(v):.2f})" if len(v) > 1 else f"{v[0]:.2f}"]
    cells += [str(len(R))]
    print("| " + " | ".join(cells) + " |")
PY
finish_report \
  "Latencies are medians over the rounds, from the intended send time (open loop); the p99 ratio is the" \
  "median (range) of the per-round paired ratios. Client send lag = how late larder-bench itself sent" \
  "(mean: median over the rounds; max: worst over all rounds): if it is large next to p99, the client" \
  "(or another job on its core), not the server, made the tail."
