#!/usr/bin/env bash
# Runs the test suite of a release build under valgrind's memcheck:
# scripts/valgrind.sh [BUILD_DIR [TEST_REGEX]] (default build, all tests;
# scripts/test.sh builds it). A test fails on any memory error or on a
# definite or indirect leak (--errors-for-leak-kinds=definite,indirect
# --error-exitcode=1), in the test or in a child it starts: the synack CLI
# is traced (--trace-children=yes, one log per process: valgrind-run.sh);
# third-party programs the tests run (tshark, curl, hping3, ip, nft...) are
# not (--trace-children-skip, valgrind.cmake).
#
# SYNACK_VALGRIND=1 puts the real-time suites (labels interop and diff:
# synack against the Linux kernel over TUN devices) in their light mode
# (tests/interop/interop.h): smaller transfers, fewer connections and diff
# scripts, a gentler SYN flood, and every "within N ms" bound of their
# harness stretched for a synack 20-50x slower than native.
#
# Excluded: test_bench (benchmarks measure speed: meaningless here).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
tests=${2:-.}
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed (Debian: valgrind)" >&2; exit 2; }
[ -f "$build/CTestTestfile.cmake" ] || { echo "valgrind.sh: no tests in $build (build it first: scripts/build.sh release)" >&2; exit 2; }
build=$(cd "$build" && pwd)
tmp=$build/Testing/Temporary
rm -f "$tmp"/MemoryChecker.*.log "$tmp"/LastTestsFailed*.log "$tmp"/LastDynamicAnalysis*.log
rc=0
SYNACK_VALGRIND=1 ctest -S scripts/valgrind.cmake -DBUILD="$build" -DJOBS="$(nproc)" -DTESTS="$tests" || rc=1
log=$(ls "$tmp"/LastDynamicAnalysis*.log 2>/dev/null | head -1)
passed=$(grep -c '^Test Passed' "$log" 2>/dev/null || true)
failed=$(grep -c '^Test Failed' "$log" 2>/dev/null || true)
for f in "$tmp"/LastTestsFailed*.log; do
  [ -f "$f" ] || continue
  while IFS=: read -r num name; do
    echo "valgrind: FAILED $name (valgrind log: $tmp/MemoryChecker.$num.log)"
    { grep -E "definitely lost: [1-9]|indirectly lost: [1-9]|Invalid|uninitialised|ERROR SUMMARY: [1-9]" "$tmp/MemoryChecker.$num.log" || true; } | head -8 | sed 's/^/    /'
  done <"$f"
done
echo "valgrind: ${passed:-0} passed, ${failed:-0} failed"
exit $rc
