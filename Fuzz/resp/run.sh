#!/bin/bash
# Builds the RESP parser fuzzer and runs it for SECONDS (default 60) on the seed corpus.
# Usage: Fuzz/resp/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
mkdir -p .build-fuzz/resp-corpus .build-fuzz/resp-artifacts
swiftc -O -sanitize=fuzzer,address -parse-as-library Sources/LarderRESP/*.swift Fuzz/resp/main.swift \
    -o .build-fuzz/resp-fuzz
# New inputs the fuzzer finds go to .build-fuzz/resp-corpus; the seeds stay untouched.
exec .build-fuzz/resp-fuzz -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -artifact_prefix=.build-fuzz/resp-artifacts/ .build-fuzz/resp-corpus Fuzz/resp/corpus
