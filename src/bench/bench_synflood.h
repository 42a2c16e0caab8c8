/* bench synflood: the listener under a SYN flood (issue 5), three figures.
 *
 *  (a) In the simulator (sim/flood_lab.h), in virtual time: a spoofed flood
 *      of 1,000,000 SYN/s against listen(128) while 10,000 real clients
 *      connect, send a request on the third segment and wait for its echo;
 *      the percentage served within 2.5 s, with tcp_syncookies 1 (on when
 *      needed, Linux's default), 0 (off: the collapse) and 2 (always).
 *      --quick: 100,000 SYN/s and 1,000 clients over 3 virtual seconds.
 *  (b) CPU cost: SYN-ACKs with cookies answered per CPU-second, synack's
 *      stack fed crafted SYNs with stack_input (output counted, nothing
 *      else), beside the Linux kernel in a network namespace of its own
 *      (raw-socket SYNs to a listener on a dummy address; its cost is the
 *      sender's CPU time plus the softirq time of its CPU).
 *  (c) Memory: bytes per half-open entry (allocator growth over 100,000 of
 *      them, the 4-tuple table's share included, and sizeof(struct
 *      tcp_req)), beside Linux's request_sock_TCP slab object; and bytes
 *      kept per SYN answered with a cookie (0 by design, measured).
 *
 * Figures are printed, never asserted. */
#ifndef SYNACK_BENCH_SYNFLOOD_H
#define SYNACK_BENCH_SYNFLOOD_H

#include "bench/bench.h"

/* Adds the figures of bench "synflood" to r. 0, or -1 if synack itself
 * failed to run (a peer that cannot run is reported and left out). */
int bench_synflood(const struct bench_opts *o, struct bench_results *r);

#endif
