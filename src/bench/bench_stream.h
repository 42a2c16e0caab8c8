/* bench stream: bulk throughput of one connection (issue 6), three rows.
 *
 *  tun_send_MiB_per_s  synack sends, the Linux kernel receives, over a TUN
 *                      device (MTU 1500, its offloads on: TSO/GSO packets
 *                      of up to 64 KiB, rt_config.offload) in a network
 *                      namespace of the bench's own; linux: kernel to
 *                      kernel over a veth pair between two namespaces (MTU
 *                      1500, the kernel's offloads as they come: GSO/GRO).
 *  tun_recv_MiB_per_s  the kernel sends, synack receives; linux: the veth
 *                      pair again, the other way.
 *  tun_*_plain_...     the same without offloads (one MTU-sized packet per
 *                      read or write, the runtime's default); linux: the
 *                      veth figures above.
 *  memory_MiB_per_s    synack to synack, two sans-I/O stacks back to back
 *                      in memory (no device, no syscalls, virtual time);
 *                      linux: kernel to kernel over loopback.
 *
 * Every byte is checked against a deterministic pattern by the receiver,
 * and the count too. Megabytes per second of wall time, everything pinned
 * to one CPU (bench_pin_self) unless --no-pin. --quick moves 64-256 MiB per
 * row (seconds); the full run 1 GiB per row. Printed, never asserted. */
#ifndef SYNACK_BENCH_STREAM_H
#define SYNACK_BENCH_STREAM_H

#include "bench/bench.h"

/* Adds the figures of bench "stream" to r. 0, or -1 if synack itself
 * failed (a peer that cannot run, e.g. no root for the namespaces, is
 * reported and left out). */
int bench_stream(const struct bench_opts *o, struct bench_results *r);

#endif
