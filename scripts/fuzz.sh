#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, -DSYNACK_FUZZ=ON: ASan+UBSan and
# coverage everywhere) into build-fuzz and runs each for SECONDS (default
# 60): scripts/fuzz.sh [SECONDS]. The seeds are fuzz/corpus/<target>/ (read
# only); what the fuzzer learns goes to build-fuzz/fuzz-work/<target>/, and
# a crash, leak, timeout or failed check to build-fuzz/fuzz-artifacts/<target>/.
# Prints the executions of each target; exits non-zero if any target found
# something (the reproducer's path is printed: rerun it with
# build-fuzz/fuzz/<target> FILE).
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
case "$secs" in ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2 ;; esac
command -v clang >/dev/null || { echo "fuzz.sh: clang is not installed (Debian: clang, libclang-rt-dev)" >&2; exit 2; }

CC=clang cmake -S . -B build-fuzz -DSYNACK_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 2
cmake --build build-fuzz -j"$(nproc)" --target fuzz_wire fuzz_track fuzz_stack >/dev/null || {
  echo "fuzz.sh: build failed (cmake --build build-fuzz --target fuzz_wire fuzz_track fuzz_stack)" >&2; exit 2; }

work=build-fuzz/fuzz-work
artifacts=build-fuzz/fuzz-artifacts
rc=0
total=0
for t in fuzz_wire fuzz_track fuzz_stack; do
  mkdir -p "$work/$t" "$artifacts/$t"
  log="$work/$t.log"
  extra=()
  [ "$t" = fuzz_stack ] && extra=(-max_len=1024) # scripts of a few hundred operations
  build-fuzz/fuzz/$t -max_total_time="$secs" -print_final_stats=1 -timeout=30 -rss_limit_mb=2048 \
    "${extra[@]}" -artifact_prefix="$artifacts/$t/" "$work/$t" "fuzz/corpus/$t" >"$log" 2>&1
  status=$?
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log" | tail -1)
  execs=${execs:-$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')}
  execs=${execs:-0}
  total=$((total + execs))
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
  if [ "$status" -eq 0 ]; then
    echo "$t: $execs executions in ${secs} s (${cov:-cov: ?})"
  else
    rc=1
    found=$(grep -oE "(Test unit|artifact) written to [^ ]+" "$log" | tail -1 | sed -E 's/.* written to //')
    echo "$t: $execs executions, then FOUND SOMETHING (exit $status) (${cov:-cov: ?})"
    echo "    reproducer: ${found:-see $log}"
    grep -E "ERROR:|SUMMARY:|check failed|runtime error|still holds|storm" "$log" | head -6 | sed 's/^/    /'
    echo "    log: $log"
  fi
done
echo "total: $total executions"
exit $rc
