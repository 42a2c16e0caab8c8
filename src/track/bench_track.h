/* track/bench — `synack bench track` (issue 7, "Done means"): generates a
 * large capture of realistic TCP traffic (many concurrent connections,
 * handshakes, data, closes, resets, refusals, retransmissions) with the
 * codec and the pcap writer, times the tracker on it in-process, and times
 * `tshark -r FILE -q -z conv,tcp` and `tcptrace -n FILE` on the same file.
 * Prints packets per second for each, the ratios, and the tracker's memory
 * as the capture grows. */
#ifndef SYNACK_TRACK_BENCH_H
#define SYNACK_TRACK_BENCH_H

/* argv[0] is the bench's name ("track"). Options: --quick, --packets N,
 * --file PCAP, --keep, --no-peers, --seed N, --json, --help. Returns 0, 1 on
 * failure (a one-line message on stderr), 2 on bad usage. */
int track_bench_run(int argc, char **argv);

#endif
