/* Internal to wire/: the Internet checksum (RFC 1071) as a 64-bit
 * one's-complement accumulator of host-order 16-bit lanes.
 *
 * The one's-complement sum is byte-order independent (RFC 1071 §2(B)):
 * summing the data as host-order words gives the byte-swapped sum, and a
 * host-order 16-bit result stored with memcpy lands in network order. The
 * accumulator is a one's-complement number modulo 2^64 - 1; since 2^16 - 1
 * divides 2^64 - 1, folding it gives the 16-bit sum (RFC 1071 §2(C)). It is
 * 0 only when everything added was 0, as with 16-bit words, so "negative
 * zero" (0xffff) comes out exactly as the word-at-a-time sum has it.
 *
 * Values computed as sums of big-endian 16- or 32-bit words (header fields
 * from registers, the pseudo-header length) enter through csum_from_be:
 * on a little-endian host, swapping a word's bytes is multiplying it by
 * 2^8 modulo 2^16 - 1. */
#ifndef SYNACK_WIRE_CSUM_H
#define SYNACK_WIRE_CSUM_H

#include <stdint.h>
#include <string.h>

#include "wire/wire.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define WIRE_BIG_ENDIAN 1
#else
#define WIRE_BIG_ENDIAN 0
#endif

static inline uint64_t csum_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint32_t csum_load32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint16_t csum_load16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* One's-complement addition modulo 2^64 - 1: the carry out wraps around
 * (add + adc on most targets). */
static inline uint64_t csum_add(uint64_t acc, uint64_t v)
{
    acc += v;
    return acc + (acc < v);
}

/* Adds data[0..len) as host-order 16-bit words; an odd last byte is padded
 * with a zero byte (RFC 1071 §1). Pieces chain if all but the last have
 * even length. */
static inline uint64_t csum_bytes(uint64_t acc, const uint8_t *p, size_t len)
{
    if (len < 8) {
        /* 0..7 bytes as one 64-bit value: 4 bytes in lanes 0-1, 2 in lane
         * 2, the odd byte in lane 3 (where in a lane is byte order). */
        uint64_t tail = 0;
        if (len & 4) {
            tail = csum_load32(p);
            p += 4;
        }
        if (len & 2) {
            tail |= (uint64_t)csum_load16(p) << 32;
            p += 2;
        }
        if (len & 1)
            tail |= (uint64_t)p[0] << (WIRE_BIG_ENDIAN ? 56 : 48);
        return csum_add(acc, tail);
    }
    const uint8_t *end = p + len;
    /* In the 32-byte blocks the carries out are counted apart (add + adc
     * $0 a word: no compare to find the next one) and go around once. */
    uint64_t carries = 0;
    for (; len >= 32; p += 32, len -= 32) {
        uint64_t v0 = csum_load64(p), v1 = csum_load64(p + 8), v2 = csum_load64(p + 16),
                 v3 = csum_load64(p + 24);
        acc += v0;
        carries += acc < v0;
        acc += v1;
        carries += acc < v1;
        acc += v2;
        carries += acc < v2;
        acc += v3;
        carries += acc < v3;
    }
    acc = csum_add(acc, carries);
    for (; len >= 8; p += 8, len -= 8)
        acc = csum_add(acc, csum_load64(p));
    if (len) {
        /* The last 1..7 bytes: the 8 ending at end, less the bytes already
         * added; the first byte left lands at the start of lane 0. */
        uint64_t last = csum_load64(end - 8);
        unsigned drop = (unsigned)(8 - len) * 8;
        acc = csum_add(acc, WIRE_BIG_ENDIAN ? last << drop : last >> drop);
    }
    return acc;
}

/* A sum of big-endian words (below 2^56) as host-order lanes. */
static inline uint64_t csum_from_be(uint64_t be_sum)
{
    return WIRE_BIG_ENDIAN ? be_sum : be_sum << 8;
}

/* Folds the accumulator to 16 bits, not complemented, still host order.
 * A word plus itself rotated by half its width holds in its upper half
 * the sum of its halves with the end-around carry (the carry out of the
 * lower half lands there), as Linux's csum_fold does: 64 -> 32 -> 16. */
static inline uint16_t csum_fold16(uint64_t acc)
{
    uint32_t s = (uint32_t)((acc + (acc << 32 | acc >> 32)) >> 32);
    return (uint16_t)((s + (s << 16 | s >> 16)) >> 16);
}

/* The checksum field's bytes (complemented sum) written in network order. */
static inline void csum_store(uint8_t *field, uint64_t acc)
{
    uint16_t c = (uint16_t)~csum_fold16(acc);
    memcpy(field, &c, sizeof c);
}

/* Data that includes its checksum verifies when it sums to 0xffff. */
static inline bool csum_verifies(uint64_t acc)
{
    return csum_fold16(acc) == 0xffffu;
}

/* The pseudo-header's protocol (6, TCP) and length words: 16 bits for
 * IPv4 (RFC 9293 §3.1), 32 for IPv6 (RFC 8200 §8.1). */
static inline uint64_t csum_pseudo_len(size_t tcp_len)
{
    return csum_from_be(6 + (uint64_t)(tcp_len >> 16) + (tcp_len & 0xffffu));
}

/* The pseudo-header's addresses: 4 bytes each when src is IPv4-mapped,
 * else 16 (then their bytes sit at a->b[0..16)). */
static inline uint64_t csum_pseudo_addrs(const struct wire_addr *src, const struct wire_addr *dst)
{
    if (wire_addr_is_v4(src))
        return (uint64_t)csum_load32(src->b + 12) + csum_load32(dst->b + 12);
    uint64_t acc = csum_load64(src->b);
    acc = csum_add(acc, csum_load64(src->b + 8));
    acc = csum_add(acc, csum_load64(dst->b));
    return csum_add(acc, csum_load64(dst->b + 8));
}

#endif
