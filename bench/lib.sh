# bench/lib.sh: helpers shared by compare.sh, openloop.sh, instr_per_op.sh and memory.sh (sourced).
#
# Binaries:   LARDER_BIN (default .build/release/larder), LARDER_BENCH_BIN (.build/release/larder-bench)
# Pinning:    SERVER_CPUS (0) for every server, BENCH_CPUS (1) for the load generator.
# Servers:    "configs" named redis, larder (serve --threads 1), larder-t2 (serve --threads 2) and
#             larder-cluster (--threads 1, cluster mode owning every slot), all
#             pinned to SERVER_CPUS. larder pins its shard threads to cores itself unless --no-pin, which
#             would move shard 1 of larder-t2 off SERVER_CPUS, so every larder command line has --no-pin
#             (start_server checks each thread's Cpus_allowed_list afterwards).
# Quiet:      QUIET_LOAD=L waits (up to QUIET_WAIT=300 s) for the 1-min load average < L before starting.
# Only 127.0.0.1; every server started here is killed on EXIT (lib_cleanup).

LARDER_BIN=${LARDER_BIN:-.build/release/larder}
LARDER_BENCH_BIN=${LARDER_BENCH_BIN:-.build/release/larder-bench}
SERVER_CPUS=${SERVER_CPUS:-0}
BENCH_CPUS=${BENCH_CPUS:-1}
HOST=127.0.0.1
START_TIMEOUT=${START_TIMEOUT:-30}   # seconds to wait for a server's PONG

lib_need() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || { echo "missing $t (run scripts/setup.sh)" >&2; exit 1; }
  done
  [[ -x "$LARDER_BIN" ]] || { echo "LARDER_BIN=$LARDER_BIN is not executable (swift build -c release)" >&2; exit 1; }
  [[ -x "$LARDER_BENCH_BIN" ]] || { echo "LARDER_BENCH_BIN=$LARDER_BENCH_BIN is not executable" >&2; exit 1; }
  LARDER_BIN=$(readlink -f "$LARDER_BIN"); LARDER_BENCH_BIN=$(readlink -f "$LARDER_BENCH_BIN")
  wait_quiet
}

WORK=$(mktemp -d /tmp/larder-bench-suite.XXXXXX)
declare -A PORT=() PID=()
SERVER_PIDS=()
lib_cleanup() {
  local p
  for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${SERVER_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap lib_cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# server_cmd CONFIG PORT -> the command line (one word per line, for mapfile)
server_cmd() {
  case "$1" in
    redis)     printf '%s\n' redis-server --port "$2" --bind 127.0.0.1 --save '' --appendonly no --daemonize no ;;
    larder)    printf '%s\n' "$LARDER_BIN" serve --port "$2" --threads 1 --no-pin ;;
    larder-t2) printf '%s\n' "$LARDER_BIN" serve --port "$2" --threads 2 --no-pin ;;
    # the epoll I/O engine (docs/ARCHITECTURE.md "I/O engine"), same binary
    epoll)     printf '%s\n' "$LARDER_BIN" serve --port "$2" --threads 1 --no-pin --io epoll ;;
    epoll-t2)  printf '%s\n' "$LARDER_BIN" serve --port "$2" --threads 2 --no-pin --io epoll ;;
    # the io_uring I/O engine (falls back to epoll, saying so in its log, where the kernel refuses io_uring)
    uring)     printf '%s\n' "$LARDER_BIN" serve --port "$2" --threads 1 --no-pin --io uring ;;
    uring-t2)  printf '%s\n' "$LARDER_BIN" serve --port "$2" --threads 2 --no-pin --io uring ;;
    # Cluster mode with a one-node topology owning every slot: the cost of the slot check.
    larder-cluster)
      printf '[{"slot_ranges": [{"start": 0, "end": 16383}], "master": {"id": "bench", "ip": "127.0.0.1", "port": %s}, "replicas": []}]' "$2" >"$WORK/cluster-$2.json"
      printf '%s\n' "$LARDER_BIN" serve --port "$2" --threads 1 --no-pin --cluster-config "$WORK/cluster-$2.json" --cluster-node-id bench ;;
    # An earlier build (BASE_BIN) in the same run, for before/after comparisons of a change.
    base)      printf '%s\n' "${BASE_BIN:?set BASE_BIN to the earlier larder binary}" serve --port "$2" --threads 1 --no-pin ;;
    base-t2)   printf '%s\n' "${BASE_BIN:?set BASE_BIN to the earlier larder binary}" serve --port "$2" --threads 2 --no-pin ;;
    base-epoll)    printf '%s\n' "${BASE_BIN:?set BASE_BIN to the earlier larder binary}" serve --port "$2" --threads 1 --no-pin --io epoll ;;
    base-epoll-t2) printf '%s\n' "${BASE_BIN:?set BASE_BIN to the earlier larder binary}" serve --port "$2" --threads 2 --no-pin --io epoll ;;
    base-uring)    printf '%s\n' "${BASE_BIN:?set BASE_BIN to the earlier larder binary}" serve --port "$2" --threads 1 --no-pin --io uring ;;
    base-uring-t2) printf '%s\n' "${BASE_BIN:?set BASE_BIN to the earlier larder binary}" serve --port "$2" --threads 2 --no-pin --io uring ;;
    *) echo "unknown server config $1" >&2; return 1 ;;
  esac
}

# quoted command line for the report
show_cmd() { local a out=""; for a in "$@"; do if [[ -z "$a" || "$a" =~ [^A-Za-z0-9_./:=,-] ]]; then out+=" '$a'"; else out+=" $a"; fi; done; echo "${out# }"; }

wait_pong() { # PORT PID TIMEOUT_S
  local deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    if timeout 2 redis-cli -h "$HOST" -p "$1" PING 2>/dev/null | grep -q PONG; then return 0; fi
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# start_server LABEL CONFIG [PREFIX...]: runs `taskset -c SERVER_CPUS [PREFIX...] <config command>`,
# sets PORT[LABEL], PID[LABEL] and CMDLINE[LABEL]. PREFIX is e.g. a valgrind command.
declare -A CMDLINE=()
start_server() {
  local label=$1 config=$2; shift 2
  local port pid cmd
  port=$(free_port)
  mapfile -t cmd < <(server_cmd "$config" "$port")
  (cd "$WORK" && exec taskset -c "$SERVER_CPUS" "$@" "${cmd[@]}" >"$WORK/$label.log" 2>&1) &
  pid=$!
  SERVER_PIDS+=("$pid")
  if ! wait_pong "$port" "$pid" "$START_TIMEOUT"; then
    echo "$label did not answer PING within ${START_TIMEOUT}s: $(show_cmd "$@" "${cmd[@]}")" >&2
    cat "$WORK/$label.log" >&2; exit 1
  fi
  PORT[$label]=$port; PID[$label]=$pid
  CMDLINE[$label]="taskset -c $SERVER_CPUS $(show_cmd "$@" "${cmd[@]}")"
  SERVER_CPUSET[$label]=$(taskset -cp "$pid" | sed 's/.*: //')
  check_affinity "$label"
}

# check_affinity LABEL: every thread of the server must still be confined to the CPUs it was started
# on (larder runs with --no-pin; valgrind keeps the mask too). Call again after the runs.
declare -A SERVER_CPUSET=()
check_affinity() {
  local want=${SERVER_CPUSET[$1]} bad
  bad=$(grep -H Cpus_allowed_list /proc/"${PID[$1]}"/task/*/status 2>/dev/null | awk -v w="$want" '$2 != w' || true)
  if [[ -n "$bad" ]]; then echo "$1: threads escaped CPU(s) $want:" >&2; echo "$bad" >&2; exit 1; fi
}

stop_server() { # LABEL
  local pid=${PID[$1]}
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "PID[$1]" "PORT[$1]"
}

# on-CPU time of all threads of PID in ns (user + kernel), from schedstat
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s+=$1} END{printf "%.0f\n", s}'; }

rss_kb() { awk '/^VmRSS:/{print $2}' /proc/"$1"/status; }
hwm_kb() { awk '/^VmHWM:/{print $2}' /proc/"$1"/status; }

# bench ARGS...: larder-bench pinned to BENCH_CPUS, bounded by BENCH_TIMEOUT seconds
BENCH_TIMEOUT=${BENCH_TIMEOUT:-300}
bench() { timeout "$BENCH_TIMEOUT" taskset -c "$BENCH_CPUS" "$LARDER_BENCH_BIN" --host "$HOST" "$@"; }

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# wait_quiet: if QUIET_LOAD is set, wait up to QUIET_WAIT (300) s for the 1-minute load average to
# drop below it (a shared box); goes on either way, saying so on stderr.
wait_quiet() {
  [[ -n "${QUIET_LOAD:-}" ]] || return 0
  local deadline=$((SECONDS + ${QUIET_WAIT:-300}))
  while ((SECONDS < deadline)); do
    awk -v q="$QUIET_LOAD" '{exit !($1 < q)}' /proc/loadavg && return 0
    sleep 5
  done
  echo "# load average still $(loadavg) after ${QUIET_WAIT:-300} s (QUIET_LOAD=$QUIET_LOAD); going on" >&2
}

machine_md() { # markdown lines describing the machine and the build
  local model commit
  model=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
  commit=$(git -C "$(dirname "$LARDER_BIN")" rev-parse --short HEAD 2>/dev/null || git rev-parse --short HEAD 2>/dev/null || echo "?")
  local dirty=""
  git diff --quiet HEAD -- Sources 2>/dev/null || dirty=" (working tree has uncommitted changes under Sources/)"
  echo "- date: $(date -u +%FT%TZ)"
  echo "- machine: nproc $(nproc), CPU \"${model:-unknown}\", kernel $(uname -r), $(awk '/MemTotal/{printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo)"
  echo "- $(redis-server --version)"
  echo "- larder: $LARDER_BIN (built $(date -u -r "$LARDER_BIN" +%FT%TZ)), larder-bench: $LARDER_BENCH_BIN, git HEAD $commit$dirty"
  echo "- pinning: servers on CPU(s) $SERVER_CPUS, load generator on CPU(s) $BENCH_CPUS"
  echo "- load average at start: $(loadavg)"
}

# finish_report LINE...: appends the footnote LINEs and the closing load/wall-time line to $TABLE,
# prints the table, and writes $HEADER + $TABLE to $OUT and the raw lines to $RAW_OUT when set.
finish_report() {
  { echo; printf '%s\n' "$@"; echo; echo "- load average at end: $(loadavg); wall time $((SECONDS - t0)) s"; } >>"$TABLE"
  echo
  cat "$TABLE"
  if [[ -n "$OUT" ]]; then { cat "$HEADER"; echo; cat "$TABLE"; } >"$OUT"; fi
  if [[ -n "${RAW_OUT:-}" ]]; then cp "$RAW" "$RAW_OUT"; fi
  echo >&2 "# total $((SECONDS - t0)) s"
}
