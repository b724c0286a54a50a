#!/usr/bin/env bash
# test.sh: THE test command. Runs every stage, even after a failure, and exits non-zero if any failed.
#   1. scripts/setup.sh                 Debian packages + cached Python venvs
#   2. scripts/build.sh (release)       the conformance tests drive .build/release/larder
#   2b. scripts/static-build.sh         docker/Dockerfile's binary (static Swift runtime) in .build-static/,
#                                       ~1.5-2 min; Tests/conformance/deploy runs the smoke on it (SKIP_STATIC=1 skips)
#   3. swift test                       unit tests of all modules
#   4. Fuzz/*/run.sh 30                 fuzz smoke runs (30 s each), when present
#   5. pytest Tests/conformance         real clients (redis-cli, redis-py 7, hiredis) vs redis-server, venv-r7
#   6. pytest -m redis_py8              the redis-py 8 subset, venv-r8
#   7. pytest Tests/conformance again   with LARDER_IO=epoll: the suite on the epoll I/O engine
#   8. pytest, transport subset         with LARDER_IO=uring: the io_uring engine (whole suite: locally)
# Environment:
#   LARDER_SERVER_CMD   server under test, {port} is replaced (default: .build/release/larder serve --port {port})
#                       e.g. "redis-server --port {port} --save '' --appendonly no" to self-check the harness
#   PYTEST_ARGS         extra pytest arguments (e.g. "-x -k cli")
#   SKIP_SWIFT=1        skip stages 2-4 (harness work only; stage 5 then needs an existing binary or a stand-in)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${LARDER_CACHE:-$HOME/.cache/larder}
DEFAULT_LARDER_SERVER_CMD='.build/release/larder serve --port {port}'
export LARDER_SERVER_CMD=${LARDER_SERVER_CMD:-$DEFAULT_LARDER_SERVER_CMD}
read -r -a EXTRA <<< "${PYTEST_ARGS:-}"

declare -a RESULTS=()
passed=0; failed=0; skipped=0
T_START=$SECONDS

stage() { # stage NAME CMD...: runs CMD, records status and duration
  local name=$1; shift
  local t0=$SECONDS rc
  echo "=== [$name] $*"
  "$@"; rc=$?
  local dt=$((SECONDS - t0))
  if ((rc == 0)); then
    RESULTS+=("$(printf '%-22s ok      %4ds' "$name" "$dt")"); passed=$((passed + 1))
  else
    RESULTS+=("$(printf '%-22s FAILED  %4ds (exit %d)' "$name" "$dt" "$rc")"); failed=$((failed + 1))
  fi
  return "$rc"
}
# swift test's output is long; CI shows only its tail, so the failing tests are printed
# again after the summary.
SWIFT_TEST_LOG=$(mktemp /tmp/larder-swift-test.XXXXXX)
run_swift_test() {
  swift test 2>&1 | tee "$SWIFT_TEST_LOG"
  return "${PIPESTATUS[0]}"
}
skip() { RESULTS+=("$(printf '%-22s skipped (%s)' "$1" "$2")"); skipped=$((skipped + 1)); }

run_fuzz_smoke() {
  local r rc=0 any=0
  for r in Fuzz/*/run.sh; do
    [[ -f "$r" ]] || continue
    any=1
    echo "--- $r 30"
    bash "$r" 30 || { echo "fuzz smoke FAILED: $r"; rc=1; }
  done
  ((any)) || echo "no Fuzz/*/run.sh yet"
  return "$rc"
}

echo "test.sh: LARDER_SERVER_CMD=$LARDER_SERVER_CMD"
stage setup ./scripts/setup.sh || { echo "setup failed: cannot continue"; exit 1; }

# The Parquet writer's XCTest writes its round-trip files here during `swift test`; the
# conformance suite reads them back with pyarrow/polars/DuckDB (no second `swift test` run).
export LARDER_PARQUET_CONFORMANCE_DIR=${LARDER_PARQUET_CONFORMANCE_DIR:-$(mktemp -d /tmp/larder-parquet-rt.XXXXXX)}

build_ok=1
if [[ "${SKIP_SWIFT:-0}" == 1 ]]; then
  skip "swift build release" "SKIP_SWIFT=1"; skip "swift test" "SKIP_SWIFT=1"; skip "fuzz smoke" "SKIP_SWIFT=1"
else
  stage "swift build release" ./scripts/build.sh || build_ok=0
  if [[ "${SKIP_STATIC:-0}" == 1 ]]; then skip "static build" "SKIP_STATIC=1"; else stage "static build" ./scripts/static-build.sh; fi
  stage "swift test" run_swift_test
  stage "fuzz smoke" run_fuzz_smoke
fi

# The conformance suite needs the release binary unless a stand-in server is configured.
if ((build_ok)) || [[ "$LARDER_SERVER_CMD" != .build/* ]]; then
  stage "conformance redis-py7" "$CACHE/venv-r7/bin/python" -m pytest Tests/conformance \
      -p no:cacheprovider -q -rs "${EXTRA[@]}"
  stage "conformance redis-py8" "$CACHE/venv-r8/bin/python" -m pytest Tests/conformance -m redis_py8 \
      -p no:cacheprovider -q -rs "${EXTRA[@]}"
  # The same suite on the epoll I/O engine (`--io epoll`, docs/ARCHITECTURE.md "I/O engine"): every
  # engine that can be selected is tested. The harness and `larder serve` both read LARDER_IO.
  stage "conformance epoll" env LARDER_IO=epoll "$CACHE/venv-r7/bin/python" -m pytest Tests/conformance \
      -p no:cacheprovider -q -rs "${EXTRA[@]}"
  # The io_uring engine (`--io uring`): the transport-facing part of the suite. Its whole-suite
  # run is local (bench/results/engine.md): a third full suite would take CI past its 45 minutes.
  # Until NIO is retired from the RESP path (then the two full runs are uring and epoll).
  stage "conformance uring" env LARDER_IO=uring "$CACHE/venv-r7/bin/python" -m pytest \
      Tests/conformance/test_io_engine.py Tests/conformance/test_sessions_raw.py Tests/conformance/test_bad_input.py \
      Tests/conformance/test_client_pause.py Tests/conformance/pubsub Tests/conformance/test_redispy_server.py \
      Tests/conformance/test_redispy_data.py Tests/conformance/test_hiredis_client.py Tests/conformance/test_redis_cli.py \
      Tests/conformance/durability Tests/conformance/serving/test_http_wire.py \
      -p no:cacheprovider -q -rs "${EXTRA[@]}"
else
  echo "release build failed: conformance suites not run"
  RESULTS+=("conformance            FAILED (no release binary)"); failed=$((failed + 1))
fi

echo
echo "=== test.sh summary (LARDER_SERVER_CMD=$LARDER_SERVER_CMD, total $((SECONDS - T_START))s)"
printf '  %s\n' "${RESULTS[@]}"
echo "stages: $passed passed, $failed failed, $skipped skipped"
swift_failures=$(grep -E '(: error:|failed \(|recorded an issue|Test .* failed)' "$SWIFT_TEST_LOG" 2>/dev/null | grep -v ' passed' | head -40)
if [[ -n "$swift_failures" ]]; then
  echo "swift test failures (from $SWIFT_TEST_LOG):"
  sed 's/^/  /' <<< "$swift_failures"
fi
((failed == 0))
