#!/usr/bin/env bash
# Configures and builds one flavour: scripts/build.sh [release|clang|asan]
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
jobs=$(nproc)
case "$flavour" in
  release) cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
           cmake --build build -j"$jobs" ;;
  clang)   CC=clang cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
           cmake --build build-clang -j"$jobs" ;;
  asan)    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSYNACK_SANITIZE=ON >/dev/null
           cmake --build build-asan -j"$jobs" ;;
  *) echo "build.sh: unknown flavour '$flavour' (release|clang|asan)" >&2; exit 2 ;;
esac
