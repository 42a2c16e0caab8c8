/* Internet checksum (RFC 1071) and the TCP pseudo-header (RFC 9293 §3.1,
 * RFC 8200 §8.1): the public entry points over wire_csum.h, which build
 * and parse use directly. */
#include "wire/wire_csum.h"

/* A folded host-order sum as a big-endian word. */
static uint32_t csum_to_be16(uint16_t host)
{
    return WIRE_BIG_ENDIAN ? host : (uint32_t)((host & 0xffu) << 8 | host >> 8);
}

uint32_t wire_csum_add(uint32_t sum, const void *data, size_t len)
{
    uint64_t r = (uint64_t)sum + csum_to_be16(csum_fold16(csum_bytes(0, data, len)));
    r = (r & 0xffffffffu) + (r >> 32); /* end-around carry */
    return (uint32_t)r;
}

uint16_t wire_csum_fold(uint32_t sum)
{
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)~sum;
}

uint16_t wire_tcp_checksum(const struct wire_addr *src, const struct wire_addr *dst,
                           const uint8_t *tcp, size_t len)
{
    uint64_t acc = csum_add(csum_pseudo_addrs(src, dst), csum_pseudo_len(len));
    return (uint16_t)~csum_to_be16(csum_fold16(csum_bytes(acc, tcp, len)));
}
