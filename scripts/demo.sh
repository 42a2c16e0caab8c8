#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs the tour: `synack demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh release
exec build/src/cli/synack demo "$@"
