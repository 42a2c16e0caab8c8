/* Internet checksum (RFC 1071) and the TCP pseudo-header (RFC 9293 §3.1,
 * RFC 8200 §8.1). The sum is kept as 16-bit big-endian words folded into 32
 * bits; the inner loop reads 8 bytes at a time in host order, which is sound
 * because the one's-complement sum is byte-order independent
 * (RFC 1071 §2(B)): the folded result only needs one byte swap at the end. */
#include <string.h>

#include "wire/wire.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define WIRE_CSUM_BIG_ENDIAN 1
#else
#define WIRE_CSUM_BIG_ENDIAN 0
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

/* Folds a 64-bit one's-complement accumulator to 16 bits. */
static inline uint32_t csum_fold64(uint64_t acc)
{
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffu) + (acc >> 16);
    acc = (acc & 0xffffu) + (acc >> 16);
    acc = (acc & 0xffffu) + (acc >> 16);
    return (uint32_t)acc;
}

/* Sum of data as host-order 16-bit words, folded to 16 bits. Each step adds
 * two 32-bit halves (< 2^33) to a 64-bit accumulator, so no carry can be
 * lost before 2^31 iterations (16 GiB); the loop is unrolled to 32 bytes. */
static uint32_t csum_host_order(const uint8_t *p, size_t len)
{
    uint64_t acc = 0;
    while (len >= 32) {
        uint64_t a = csum_load64(p), b = csum_load64(p + 8);
        uint64_t c = csum_load64(p + 16), d = csum_load64(p + 24);
        acc += (a & 0xffffffffu) + (a >> 32);
        acc += (b & 0xffffffffu) + (b >> 32);
        acc += (c & 0xffffffffu) + (c >> 32);
        acc += (d & 0xffffffffu) + (d >> 32);
        p += 32;
        len -= 32;
    }
    while (len >= 8) {
        uint64_t a = csum_load64(p);
        acc += (a & 0xffffffffu) + (a >> 32);
        p += 8;
        len -= 8;
    }
    if (len >= 4) {
        acc += csum_load32(p);
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        acc += csum_load16(p);
        p += 2;
        len -= 2;
    }
    if (len) /* odd trailing byte: padded with a zero byte (RFC 1071 §1) */
        acc += WIRE_CSUM_BIG_ENDIAN ? (uint64_t)p[0] << 8 : p[0];
    return csum_fold64(acc);
}

uint32_t wire_csum_add(uint32_t sum, const void *data, size_t len)
{
    uint32_t part = csum_host_order(data, len);
#if !WIRE_CSUM_BIG_ENDIAN
    part = ((part & 0xffu) << 8) | (part >> 8);
#endif
    uint64_t r = (uint64_t)sum + part;
    r = (r & 0xffffffffu) + (r >> 32); /* end-around carry */
    return (uint32_t)r;
}

uint16_t wire_csum_fold(uint32_t sum)
{
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)~sum;
}

/* The pseudo-header sum: IPv4 (RFC 9293 §3.1) when src is IPv4-mapped,
 * else IPv6 (RFC 8200 §8.1). Addresses are summed as big-endian words. */
static uint32_t csum_pseudo_header(const struct wire_addr *src, const struct wire_addr *dst,
                                   size_t len)
{
    uint64_t acc = 6; /* zero byte + protocol / next header 6 (TCP) */
    const uint8_t *s = src->b, *d = dst->b;
    int first = wire_addr_is_v4(src) ? 12 : 0;
    for (int i = first; i < 16; i += 2) {
        acc += (uint32_t)(s[i] << 8 | s[i + 1]);
        acc += (uint32_t)(d[i] << 8 | d[i + 1]);
    }
    acc += (uint64_t)(len >> 16) + (len & 0xffffu); /* 16-bit (v4) or 32-bit (v6) length */
    return csum_fold64(acc);
}

uint16_t wire_tcp_checksum(const struct wire_addr *src, const struct wire_addr *dst,
                           const uint8_t *tcp, size_t len)
{
    return wire_csum_fold(wire_csum_add(csum_pseudo_header(src, dst, len), tcp, len));
}
