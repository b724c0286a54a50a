#!/usr/bin/env bash
# run.sh: the main job. Installs what is missing, builds the release binary, then serves.
#   ./scripts/run.sh                      # larder serve on 127.0.0.1:6379 (in-memory)
#   ./scripts/run.sh --port 6400 --threads 2
# Arguments are passed to `larder serve` after LARDER_SERVE_DEFAULT_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."

# The main job: the server with the example repo's latest features loaded.
LARDER_SERVE_DEFAULT_ARGS=(--repo feature_repo --materialize)

./scripts/setup.sh
./scripts/build.sh
# Crash output without register memory dumps, where a password may sit (docs/security.md).
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-registers=none,images=none}"
exec .build/release/larder serve "${LARDER_SERVE_DEFAULT_ARGS[@]}" "$@"
