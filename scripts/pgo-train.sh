#!/usr/bin/env bash
# The training workloads of a profile-guided build (scripts/build.sh pgo):
# what a busy synack does most, in memory and without root. Connection
# lifecycles with 1k to 1M connections held (handshakes, a request and a
# response, closes, TIME-WAIT) and bulk transfers through loss and
# reordering (the byte stream, SACK recovery, timers).
#   scripts/pgo-train.sh BUILD_DIR
set -euo pipefail
bin=${1:?usage: scripts/pgo-train.sh BUILD_DIR}/src/cli/synack
"$bin" bench lifecycle scale --quick --no-lwip --no-linux >/dev/null
"$bin" soak stream --quick >/dev/null
