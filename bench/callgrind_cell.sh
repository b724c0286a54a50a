#!/usr/bin/env bash
# callgrind_cell.sh: one cell of instr_per_op.sh (one larder build, one workload, one pipeline) with
# the callgrind dump kept, for per-function and per-call-site before/after of a hot-path change.
#
#   bench/callgrind_cell.sh BIN TAG WORKLOAD P      -> $OUTDIR/TAG-WORKLOAD-P.dump, prints instr/op
#
# As instr_per_op.sh: larder (--threads 1, --io uring, LARDER_URING_WAIT_POLL=1) under
# `valgrind --tool=callgrind` from a copy without DWARF, preloaded with KEYSPACE strings and hashes;
# `callgrind_control -z`, N requests of larder-bench, `callgrind_control -d`. The dump has
# per-instruction costs (--dump-instr=yes): `callgrind_annotate --inclusive=yes DUMP` for functions,
# `--tree=caller` for who calls swift_retain/swift_release; addresses map to source lines with
# `objdump -d -l` on BIN (which keeps its debug info).
# Environment: LARDER_BENCH_BIN (.build/release/larder-bench), OUTDIR (/tmp/callgrind-cells),
# N=20000 CLIENTS=50 KEYSPACE=1000.
set -euo pipefail
BIN=$1 TAG=$2 W=$3 P=$4
N=${N:-20000} CLIENTS=${CLIENTS:-50} KEYSPACE=${KEYSPACE:-1000}
BB=${LARDER_BENCH_BIN:-.build/release/larder-bench}
OUTDIR=${OUTDIR:-/tmp/callgrind-cells}
mkdir -p "$OUTDIR"
objcopy --strip-debug "$BIN" "$OUTDIR/$TAG-nodebug"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
OUTF=$OUTDIR/$TAG-$W-$P.cg
rm -f "$OUTF".*
LARDER_URING_WAIT_POLL=1 valgrind --tool=callgrind --dump-instr=yes --compress-strings=no --compress-pos=no \
  --callgrind-out-file="$OUTF" "$OUTDIR/$TAG-nodebug" serve --port "$PORT" --threads 1 --no-pin --io uring \
  >"$OUTDIR/$TAG.log" 2>&1 &
VP=$!
trap 'kill $VP 2>/dev/null || true' EXIT
for _ in $(seq 240); do redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.5; done
for f in get hmget10; do
  "$BB" --host 127.0.0.1 --port "$PORT" --workload $f --keyspace "$KEYSPACE" --preload-only --timeout 60 >/dev/null
done
callgrind_control -z $VP >/dev/null
"$BB" --host 127.0.0.1 --port "$PORT" --workload "$W" --keyspace "$KEYSPACE" --pipeline "$P" --connections "$CLIENTS" \
  --requests "$N" --timeout 60 >/dev/null
callgrind_control -d $VP >/dev/null
sleep 1
kill $VP; wait $VP || true
F=$(ls -t "$OUTF".* | head -1)
mv "$F" "$OUTDIR/$TAG-$W-$P.dump"
rm -f "$OUTF".*
IR=$(awk '/^summary:/{print $2; exit}' "$OUTDIR/$TAG-$W-$P.dump")
echo "$TAG $W P=$P: $((IR / N)) instr/op ($OUTDIR/$TAG-$W-$P.dump)"
