/* Shared by the wire/ tests: packets captured from Linux, a reference
 * checksum written independently of wire_csum.c, a fixed-seed PRNG. */
#ifndef SYNACK_WIRE_TEST_UTIL_H
#define SYNACK_WIRE_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Real segments of one connection over loopback (Linux 6.x, Python
 * sockets, captured with an AF_PACKET socket): 127.0.0.1:57804 ->
 * 127.0.0.1:51125 and [::1]:59512 -> [::1]:45241. Loopback leaves the TCP
 * checksum partial (CHECKSUM_PARTIAL), so the TCP checksum field was filled
 * by an independent RFC 1071 implementation (Python); all other bytes,
 * including the IPv4 header checksums, are as Linux sent them. */
extern const uint8_t linux_v4_syn[60];    /* [S] mss 65495,sackOK,TS,nop,wscale 10 */
extern const uint8_t linux_v4_synack[60]; /* [S.] IP ID 0 */
extern const uint8_t linux_v4_data[67];   /* [P.] "hello, synack!\n" (15 bytes) */
extern const uint8_t linux_v6_syn[80];
extern const uint8_t linux_v6_synack[80];
extern const uint8_t linux_v6_data[87];
extern const size_t linux_v4_syn_len, linux_v4_synack_len, linux_v4_data_len;
extern const size_t linux_v6_syn_len, linux_v6_synack_len, linux_v6_data_len;

/* RFC 1071 checksum, one big-endian 16-bit word at a time: the oracle. */
uint16_t ref_checksum(const uint8_t *data, size_t len, uint32_t initial);
/* Reference TCP checksum of the segment at pkt[tcp_off..tcp_off+tcp_len)
 * with the pseudo-header taken from the IPv4 or IPv6 header at pkt[0]. */
uint16_t ref_tcp_checksum(const uint8_t *pkt, size_t tcp_off, size_t tcp_len);
/* Recomputes the IPv4 header checksum and the TCP checksum of a packet
 * whose structure is sound enough to find them; leaves the rest alone.
 * Never reads or writes past len. */
void fix_checksums(uint8_t *pkt, size_t len);

/* xorshift64* (Vigna), fixed seed: reproducible "random" tests. */
struct xorshift {
    uint64_t s;
};
uint64_t xorshift_next(struct xorshift *x);

#endif
