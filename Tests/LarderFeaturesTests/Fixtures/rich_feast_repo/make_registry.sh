#!/bin/sh
# Regenerates ../rich_registry.db with the real Feast (no Redis needed: sqlite online store).
# Usage: sh make_registry.sh [python]   (default: /root/.cache/larder/venv-r7/bin/python)
set -eu
PY=${1:-/root/.cache/larder/venv-r7/bin/python}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cp "$HERE/features.py" "$HERE/feature_store.yaml" "$WORK/"
mkdir -p "$WORK/data"
"$PY" - "$WORK/data/trips.parquet" <<'PYEOF'
import sys
import pandas as pd
pd.DataFrame({"drv": [1], "customer_id": ["c1"], "ts": pd.to_datetime(["2025-01-01"], utc=True),
              "distance": [1.0], "rides": [1], "ok": [True]}).to_parquet(sys.argv[1])
PYEOF
cd "$WORK"
FEAST_USAGE=False "$(dirname "$PY")/feast" apply >/dev/null
cp "$WORK/data/registry.db" "$HERE/../rich_registry.db"
echo "wrote $HERE/../rich_registry.db"
