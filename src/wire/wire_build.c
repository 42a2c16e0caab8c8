/* Building: IPv4 (RFC 791) or IPv6 (RFC 8200) + TCP (RFC 9293 §3.1) with
 * options laid out exactly as Linux's tcp_options_write() does, so captures
 * of synack and of Linux look alike. */
#include <string.h>

#include "wire/wire_csum.h"

/* A big-endian store, in one store (gcc does not always merge four byte
 * stores into one). */
static inline void store32(uint8_t *p, uint32_t v)
{
    uint32_t be = WIRE_BIG_ENDIAN ? v : __builtin_bswap32(v);
    memcpy(p, &be, sizeof be);
}

#define TCP_MAX_OPTIONS 40 /* data offset is 4 bits of 32-bit words */
#define DEFAULT_TTL 64     /* Linux ip_default_ttl / hop_limit */

/* Bytes of MSS, SACK-permitted/timestamps and window scale: all multiples
 * of 4 in Linux's layout. */
static size_t options_fixed_len(const struct wire_tcp_options *o)
{
    size_t n = 0;
    if (o->present & WIRE_OPT_MSS)
        n += 4;
    if (o->present & WIRE_OPT_TIMESTAMP)
        n += 12; /* SACKPERM+TS or NOP NOP TS */
    else if (o->present & WIRE_OPT_SACK_PERM)
        n += 4; /* NOP NOP SACKPERM */
    if (o->present & WIRE_OPT_WSCALE)
        n += 4; /* NOP WS */
    return n;
}

/* SACK blocks that fit after the other options: the first ones are kept
 * (the most recent, RFC 2018 §4), as Linux does; with timestamps, 3 fit. */
static size_t options_sack_blocks(const struct wire_tcp_options *o, size_t fixed)
{
    if (!(o->present & WIRE_OPT_SACK))
        return 0;
    size_t n = o->sack_count < WIRE_MAX_SACK_BLOCKS ? o->sack_count : WIRE_MAX_SACK_BLOCKS;
    size_t room = (TCP_MAX_OPTIONS - fixed - 4) / 8; /* fixed <= 20, so no underflow */
    return n < room ? n : room;
}

static size_t options_len(const struct wire_tcp_options *o)
{
    size_t fixed = options_fixed_len(o);
    size_t sacks = options_sack_blocks(o, fixed);
    return fixed + (sacks ? 4 + 8 * sacks : 0);
}

/* Stores a big-endian 32-bit word and adds it to a sum of big-endian
 * words: the checksum is computed from the values written, not read back
 * (a load spanning several narrower stores is not store-forwarded). */
static inline uint64_t put32(uint8_t *p, uint32_t v, uint64_t be_sum)
{
    store32(p, v);
    return be_sum + v;
}

/* Writes the options (every piece is whole 32-bit words) and returns their
 * sum as big-endian words. */
static uint64_t options_write(uint8_t *p, const struct wire_tcp_options *o, size_t sacks)
{
    if (o->present == WIRE_OPT_TIMESTAMP) { /* every segment but the SYN's */
        uint64_t sum = put32(p, 0x0101080au, 0); /* NOP NOP kind 8 length 10 */
        sum = put32(p + 4, o->ts_val, sum);
        return put32(p + 8, o->ts_ecr, sum);
    }
    uint64_t sum = 0;
    if (o->present & WIRE_OPT_MSS) {
        sum = put32(p, 0x02040000u | o->mss, sum); /* kind 2, length 4 */
        p += 4;
    }
    if (o->present & WIRE_OPT_TIMESTAMP) {
        /* SACK-permitted (kind 4, length 2) in place of the two NOPs */
        uint32_t lead = o->present & WIRE_OPT_SACK_PERM ? 0x0402080au : 0x0101080au;
        sum = put32(p, lead, sum); /* kind 8, length 10 */
        sum = put32(p + 4, o->ts_val, sum);
        sum = put32(p + 8, o->ts_ecr, sum);
        p += 12;
    } else if (o->present & WIRE_OPT_SACK_PERM) {
        sum = put32(p, 0x01010402u, sum);
        p += 4;
    }
    if (o->present & WIRE_OPT_WSCALE) {
        /* NOP, kind 3, length 3, written as given; receivers clamp (RFC 7323 §2.3) */
        sum = put32(p, 0x01030300u | o->wscale, sum);
        p += 4;
    }
    if (sacks) {
        sum = put32(p, 0x01010500u | (uint32_t)(2 + 8 * sacks), sum); /* NOP NOP kind 5 */
        p += 4;
        for (size_t i = 0; i < sacks; i++) {
            sum = put32(p, o->sack[i].left, sum);
            sum = put32(p + 4, o->sack[i].right, sum);
            p += 8;
        }
    }
    return sum;
}

static size_t ip_header_len(const struct wire_seg *s)
{
    return wire_addr_is_v4(&s->tuple.src) ? 20 : 40;
}

size_t wire_build_len(const struct wire_seg *s)
{
    return ip_header_len(s) + 20 + options_len(&s->opt) + s->payload_len;
}

size_t wire_build(uint8_t *buf, size_t cap, const struct wire_seg *s)
{
    const struct wire_addr *src = &s->tuple.src, *dst = &s->tuple.dst;
    bool v4 = wire_addr_is_v4(src);
    size_t ip_len = v4 ? 20 : 40;
    size_t fixed = 12, sacks = 0; /* NOP NOP timestamps alone: every segment but the SYN's */
    if (s->opt.present != WIRE_OPT_TIMESTAMP) {
        fixed = options_fixed_len(&s->opt);
        sacks = options_sack_blocks(&s->opt, fixed);
    }
    size_t tcp_header_len = 20 + fixed + (sacks ? 4 + 8 * sacks : 0);
    size_t tcp_len = tcp_header_len + s->payload_len;
    size_t total = ip_len + tcp_len;
    if (total > cap || tcp_len > 0xffff - (v4 ? 20 : 0) || v4 != wire_addr_is_v4(dst) ||
        (s->payload_len && !s->payload))
        return 0;
    uint8_t ttl = s->ttl ? s->ttl : DEFAULT_TTL;

    /* The payload is summed where it is (it starts at an even offset of the
     * segment, so its sum chains), then moves before the headers are
     * written, so it may even overlap the header area. If it already sits
     * in place (zero-copy callers write it at buf + wire_build_len -
     * payload_len), nothing moves. */
    uint8_t *tcp = buf + ip_len;
    uint8_t *payload = tcp + tcp_header_len;
    uint64_t acc = csum_pseudo_len(tcp_len);
    if (s->payload_len) {
        acc = csum_bytes(acc, s->payload, s->payload_len);
        if (s->payload != payload)
            memmove(payload, s->payload, s->payload_len);
    }
    uint64_t addrs = csum_pseudo_addrs(src, dst);

    uint8_t *ip = buf;
    if (v4) { /* RFC 791 §3.1 */
        uint64_t ip_words = put32(ip, 0x45000000u | (uint32_t)s->tos << 16 | (uint32_t)total, 0);
        /* identification 0: unused with DF (RFC 6864 §4.1); DF, offset 0 */
        ip_words = put32(ip + 4, 0x00004000u, ip_words);
        ip_words = put32(ip + 8, (uint32_t)ttl << 24 | 6u << 16, ip_words); /* checksum 0 for now */
        memcpy(ip + 12, src->b + 12, 4);
        memcpy(ip + 16, dst->b + 12, 4);
        csum_store(ip + 10, csum_add(csum_from_be(ip_words), addrs));
    } else { /* RFC 8200 §3, flow label 0 */
        store32(ip, 0x60000000u | (uint32_t)s->tos << 20);
        store32(ip + 4, (uint32_t)tcp_len << 16 | 6u << 8 | ttl);
        memcpy(ip + 8, src->b, 16);
        memcpy(ip + 24, dst->b, 16);
    }

    uint64_t words = put32(tcp, (uint32_t)s->tuple.sport << 16 | s->tuple.dport, 0);
    words = put32(tcp + 4, s->seq, words);
    words = put32(tcp + 8, s->ack, words);
    words = put32(tcp + 12,
                  (uint32_t)(tcp_header_len / 4) << 28 | (uint32_t)s->flags << 16 | s->window,
                  words);
    words = put32(tcp + 16, s->urg_ptr, words); /* checksum 0 for now */
    words += options_write(tcp + 20, &s->opt, sacks);
    acc = csum_add(acc, csum_from_be(words));
    csum_store(tcp + 16, csum_add(acc, addrs));
    return total;
}
