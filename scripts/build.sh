#!/usr/bin/env bash
# build.sh: the release build every script and benchmark uses.
# -enforce-exclusivity=unchecked also for the dependencies (SwiftNIO): Package.swift can turn
# Swift's run-time exclusivity checks off only for Larder's own modules, and NIO's checks on
# its channel state were ~20% of the user-space instructions of an unpipelined GET under
# callgrind (docs/ARCHITECTURE.md, "Performance"). Plain `swift build -c release` still works.
# Then links /usr/local/bin/larder to the binary (scripts/install.sh; LARDER_NO_INSTALL=1 skips).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release -Xswiftc -enforce-exclusivity=unchecked "$@"
# Puts `larder` on PATH (a symlink in /usr/local/bin to .build/release/larder, see install.sh);
# only for the default build (extra arguments may build another product or configuration).
if (($# == 0)) && [[ "${LARDER_NO_INSTALL:-0}" != 1 ]]; then
  ./scripts/install.sh || true
fi
