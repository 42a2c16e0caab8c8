#!/usr/bin/env bash
# The memory checker command of scripts/valgrind.cmake: valgrind with
# ctest's arguments, except that every process (the test and the synack
# children it starts, --trace-children=yes) logs to a file of its own: with
# one --log-file for all, each process truncates it and writes at its own
# offset, so one overwrites another's report. The per-process logs go to a
# directory anyone may write to, then are put together into the file ctest
# reads and counts defects in. A process that drops root before it execs
# (tests/interop/test_interop_demo.c) sets SYNACK_VALGRIND_LOG_TAG: after
# exec its pid, and so its file name, would be that of a root-owned log.
log=
args=()
for a in "$@"; do
  if [ -z "$log" ] && [[ $a == --log-file=* ]]; then
    log=${a#--log-file=}
    dir=$(mktemp -d "$log.XXXXXX") || exit 2
    chmod 1777 "$dir"
    a="--log-file=$dir/%p%q{SYNACK_VALGRIND_LOG_TAG}"
  fi
  args+=("$a")
done
[ -n "$log" ] || exec valgrind "$@"
export SYNACK_VALGRIND_LOG_TAG=
# (setpriv: valgrind and the test die with this script, as when ctest
# kills a test that ran out of time.)
setpriv --pdeathsig KILL valgrind "${args[@]}"
rc=$?
cat "$dir"/* >"$log" 2>/dev/null
rm -rf "$dir"
exit $rc
