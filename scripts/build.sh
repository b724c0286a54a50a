#!/usr/bin/env bash
# build.sh: the release build every script and benchmark uses.
# -enforce-exclusivity=unchecked also for the dependencies (SwiftNIO): Package.swift can turn
# Swift's run-time exclusivity checks off only for Larder's own modules, and NIO's checks on
# its channel state were ~20% of the user-space instructions of an unpipelined GET under
# callgrind (docs/ARCHITECTURE.md, "Performance"). Plain `swift build -c release` still works.
set -euo pipefail
cd "$(dirname "$0")/.."
exec swift build -c release -Xswiftc -enforce-exclusivity=unchecked "$@"
