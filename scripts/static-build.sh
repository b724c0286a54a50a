#!/usr/bin/env bash
# static-build.sh: the binary docker/Dockerfile builds, built outside Docker (CI cannot run Docker):
# release, Swift runtime linked statically (--static-swift-stdlib), stripped, at .build-static/larder.
# Its own scratch path (.build-static/), so .build/release/larder (dynamic, what the conformance
# suite and benchmarks run) is left alone: switching one scratch path between static and dynamic
# links recompiles most modules each way (measured 97 s + 148 s), a separate one costs one build.
# Then checks with ldd that no Swift runtime library is loaded dynamically; only the C libraries
# the runtime image installs (docker/Dockerfile) may remain.
#   ./scripts/static-build.sh          # prints the binary's path, version and shared libraries
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH=${LARDER_STATIC_SCRATCH:-.build-static}
swift build -c release --product larder --static-swift-stdlib -Xswiftc -enforce-exclusivity=unchecked \
  --scratch-path "$SCRATCH" "$@"
BIN=$(swift build -c release --static-swift-stdlib --scratch-path "$SCRATCH" --show-bin-path)/larder
install -s -m 0755 "$BIN" "$SCRATCH/larder"
libs=$(ldd "$SCRATCH/larder" | awk '{print $1}')
if grep -q swift <<<"$libs"; then
  echo "static-build: $SCRATCH/larder still loads Swift libraries dynamically:" >&2
  grep swift <<<"$libs" >&2
  exit 1
fi
# The runtime image (debian:bookworm-slim + docker/Dockerfile's apt list) has exactly these.
allowed='^(linux-vdso\.so\.1|/lib64/ld-linux-x86-64\.so\.2|lib(sqlite3|zstd|snappy|lz4|z|ssl|crypto|uring|m|stdc\+\+|gcc_s|c)\.so\.[0-9]+)$'
if unexpected=$(grep -Ev "$allowed" <<<"$libs"); then
  echo "static-build: $SCRATCH/larder needs libraries docker/Dockerfile does not install: $unexpected" >&2
  exit 1
fi
echo "static-build: $SCRATCH/larder ($(du -h "$SCRATCH/larder" | cut -f1)): $("$SCRATCH/larder" --version)"
echo "static-build: shared libraries: $(tr '\n' ' ' <<<"$libs")"
