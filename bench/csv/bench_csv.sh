#!/usr/bin/env bash
# CSV reader throughput: Larder (`larder cat FILE --format none`, release build) against
# pyarrow.csv.read_csv with use_threads=False, on a generated file of ROWS rows (default
# 1,000,000). Prints rows/s of each and the ratio. Needs the `cat` subcommand registered.
#   ROWS=1000000 REPEATS=3 PYTHON=/path/to/python bench/csv/bench_csv.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ROWS="${ROWS:-1000000}"
WORKDIR="${WORKDIR:-/tmp/larder-csv-bench}"
PYTHON="${PYTHON:-/root/.cache/larder/venv-r7/bin/python}"

"$PYTHON" -c "import pyarrow" 2>/dev/null || { echo "bench_csv: $PYTHON has no pyarrow (set PYTHON=...)" >&2; exit 1; }
(cd "$ROOT" && swift build -c release --product larder >/dev/null)
LARDER="$(cd "$ROOT" && swift build -c release --show-bin-path)/larder"
"$LARDER" cat --help >/dev/null 2>&1 || { echo "bench_csv: 'larder cat' is not registered in the root command" >&2; exit 1; }
exec "$PYTHON" "$ROOT/bench/csv/bench_csv.py" "$LARDER" "$ROWS" "$WORKDIR"
