#!/usr/bin/env bash
# Everything CI checks, from a fresh Debian 12 machine: dependencies, a
# warning-free build with gcc and clang (-Werror), the whole test suite, and
# the whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
echo "== build: gcc (release)"; scripts/build.sh release
echo "== build: clang";         scripts/build.sh clang
echo "== test: gcc build"
ctest --test-dir build --output-on-failure -j2
echo "== build: ASan+UBSan";    scripts/build.sh asan
echo "== test: ASan+UBSan build"
ctest --test-dir build-asan --output-on-failure -j2
