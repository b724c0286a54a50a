#!/bin/sh
# Counts heap allocations on the hash read paths (HashObjectAllocationTests, HashAllocationTests).
# Those tests skip unless this malloc-counting shim is preloaded.
set -e
cd "$(dirname "$0")/../.."
gcc -shared -fPIC -O2 -o .build/libmalloc-count.so bench/hash-alloc/count.c -ldl
swift build --build-tests
LD_PRELOAD=$PWD/.build/libmalloc-count.so .build/debug/LarderPackageTests.xctest LarderStoreTests.HashObjectAllocationTests
LD_PRELOAD=$PWD/.build/libmalloc-count.so .build/debug/LarderPackageTests.xctest LarderServerTests.HashAllocationTests
