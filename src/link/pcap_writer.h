/* link/pcap_writer — records IP packets in a pcap file (LINKTYPE_RAW: each
 * record starts at the IP header, IPv4 or IPv6) through libpcap, with
 * timestamps taken from the caller's clock (virtual time in the simulator,
 * the monotonic clock on a TUN device). */
#ifndef SYNACK_PCAP_WRITER_H
#define SYNACK_PCAP_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "tcp/tcp_types.h"

struct pcap_writer;

/* Creates (truncates) path; "-" writes to stdout. On failure returns NULL
 * and puts a one-line reason in err. */
struct pcap_writer *pcap_writer_open(const char *path, char *err, size_t errlen);
/* Appends one packet stamped t microseconds (since the epoch of the
 * caller's clock). Returns 0, or -1 if the packet is empty. */
int pcap_writer_write(struct pcap_writer *w, tcp_time_t t, const uint8_t *pkt, size_t len);
/* Flushes; returns 0 or -1 on a write error. */
int pcap_writer_flush(struct pcap_writer *w);
/* Flushes and closes; NULL is fine. */
void pcap_writer_close(struct pcap_writer *w);
size_t pcap_writer_count(const struct pcap_writer *w);

#endif
