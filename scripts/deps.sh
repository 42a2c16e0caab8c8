#!/usr/bin/env bash
# Installs the Debian 12 packages synack builds and tests with (once).
set -euo pipefail
PACKAGES=(build-essential cmake clang pkg-config libsodium-dev libpcap-dev libcmocka-dev
          iproute2 curl procps liblwip-dev hping3 tshark tcptrace
          libclang-rt-14-dev valgrind nftables) # libFuzzer runtime (fuzz.sh), valgrind.sh, drops in tests/diff
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
