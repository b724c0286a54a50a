#!/usr/bin/env bash
# Builds the Parquet libFuzzer target with plain swiftc and runs it for SECONDS seconds
# (default 60) with the reader fixtures as seed corpus. Crashes land in fuzz-out/parquet/.
set -euo pipefail
SECONDS_TO_RUN="${1:-60}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
mkdir -p .build-fuzz fuzz-out/parquet/corpus
swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name LarderParquetFuzz \
    -I Sources/CZstd -I Sources/CSnappy -I Sources/CZlib -I Sources/CLZ4 \
    Sources/LarderParquet/*.swift Fuzz/parquet/main.swift -o .build-fuzz/parquet-fuzz
cp -n Tests/LarderParquetTests/Fixtures/*.parquet fuzz-out/parquet/corpus/ 2>/dev/null || true
# -rss_limit_mb bounds memory; the target lowers the reader's own limits to match.
.build-fuzz/parquet-fuzz fuzz-out/parquet/corpus \
    -max_total_time="$SECONDS_TO_RUN" -rss_limit_mb=2560 -max_len=65536 -timeout=20 \
    -artifact_prefix=fuzz-out/parquet/ -print_final_stats=1
