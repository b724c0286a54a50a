#!/usr/bin/env bash
# bench/sizing/run.sh: predicted (`larder materialize --plan`) vs measured peak memory of
# `larder materialize` on varied sources and windows (docs/deployment.md, "Sizing batch jobs").
# Makes three repos (20k/200k/1M entities, 0.4M/2M/3M rows), then for each runs windows of
# 100, 10, 50, 25 and 100 days: the first run has no history, later ones predict from it.
# Writes bench/results/sizing.md. ~3 min.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
LARDER=${LARDER:-$ROOT/.build/release/larder}
PY=${PY:-$HOME/.cache/larder/venv-r7/bin/python}
WORK=$(mktemp -d /tmp/larder-sizing.XXXXXX)
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$LARDER" serve --port "$PORT" --threads 1 --log-level warning > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
sleep 1
OUT=${OUT:-$ROOT/bench/results/sizing.md}
{
  echo "# Predicted vs measured peak memory of \`larder materialize\`"
  echo
  echo "\`bench/sizing/run.sh\` on $(date -u +%Y-%m-%d), $("$LARDER" --version). Measured: the run's own peak"
  echo "resident memory (VmHWM, kept across the per-view resets); predicted: \`--plan\` just before the run."
  echo
  echo "| repo | window (days) | row groups read | rows | decoded MiB | history runs | predicted MiB | measured MiB | predicted / measured |"
  echo "|---|---|---|---|---|---|---|---|---|"
} > "$OUT"
for spec in ${SPECS:-"s1:20000:400000:50000" "s2:200000:2000000:100000" "s3:1000000:3000000:250000"}; do
  IFS=: read -r name entities rows group <<<"$spec"
  repo=$WORK/$name
  "$PY" bench/sizing/make_repo.py "$repo" "$entities" "$rows" "$group"
  for days in ${DAYS:-100 10 50 25 100}; do
    end=$(date -u -d "2025-01-01 + $days days" +%Y-%m-%dT%H:%M:%S)
    plan=$("$LARDER" materialize "$repo" 2025-01-01T00:00:00 "$end" --plan --target "redis://127.0.0.1:$PORT")
    predicted=$(sed -n 's/^predicted peak memory: \([0-9.]*\) MiB.*/\1/p' <<<"$plan")
    read -r g nrows dec < <(sed -n 's/.*file(s), \([0-9]*\/[0-9]*\) row group(s), \([0-9]*\) rows, .* MiB on disk, \([0-9.]*\) MiB decoded.*/\1 \2 \3/p' <<<"$plan")
    samples=$(grep -o 'fit of [0-9]*' <<<"$plan" | grep -o '[0-9]*$' || true)
    grep -q '1 earlier run' <<<"$plan" && samples=1
    redis-cli -p "$PORT" FLUSHALL > /dev/null
    run=$("$LARDER" materialize "$repo" 2025-01-01T00:00:00 "$end" --no-progress --target "redis://127.0.0.1:$PORT")
    measured=$(sed -n 's/.*peak memory \([0-9]*\) MiB$/\1/p' <<<"$run")
    ratio=$(awk -v p="$predicted" -v m="$measured" 'BEGIN { printf "%.2f", p / m }')
    echo "| $name ($entities entities) | $days | $g | $nrows | $dec | ${samples:-0} | $predicted | $measured | $ratio |" | tee -a "$OUT"
  done
done
