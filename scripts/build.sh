#!/usr/bin/env bash
# Configures and builds one flavour: scripts/build.sh [release|clang|asan|pgo]
# pgo: gcc with link-time and profile-guided optimization, trained by
# scripts/pgo-train.sh (two builds in build-pgo; the fastest synack).
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
  pgo)     cmake -S . -B build-pgo -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNACK_PGO=generate >/dev/null
           rm -rf build-pgo/pgo-profile
           cmake --build build-pgo -j"$jobs" --target synack
           scripts/pgo-train.sh build-pgo
           cmake -S . -B build-pgo -DSYNACK_PGO=use >/dev/null
           cmake --build build-pgo -j"$jobs" --target synack ;;
  *) echo "build.sh: unknown flavour '$flavour' (release|clang|asan|pgo)" >&2; exit 2 ;;
esac
