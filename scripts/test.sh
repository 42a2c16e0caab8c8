#!/usr/bin/env bash
# Everything CI checks, from a fresh Debian 12 machine: dependencies, a
# warning-free build with gcc and clang (-Werror), the whole test suite, and
# the whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer,
# under valgrind (memcheck, zero leaks), each libFuzzer target for a while,
# and the profile-guided build (its lifecycle figure printed, not asserted).
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
echo "== test: valgrind (release build)"; t0=$SECONDS
scripts/valgrind.sh build
echo "valgrind took $((SECONDS - t0)) s"
echo "== fuzz: 60 s per target"; t0=$SECONDS
scripts/fuzz.sh 60
echo "fuzzing took $((SECONDS - t0)) s"
echo "== build: gcc PGO+LTO (trained by scripts/pgo-train.sh)"; t0=$SECONDS
scripts/build.sh pgo
build-pgo/src/cli/synack bench lifecycle --quick --no-lwip --no-linux
echo "PGO build took $((SECONDS - t0)) s"
