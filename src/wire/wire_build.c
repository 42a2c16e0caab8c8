/* Building: IPv4 (RFC 791) or IPv6 (RFC 8200) + TCP (RFC 9293 §3.1) with
 * options laid out exactly as Linux's tcp_options_write() does, so captures
 * of synack and of Linux look alike. */
#include <string.h>

#include "wire/wire.h"

static inline void store16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void store32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
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

static uint8_t *options_write(uint8_t *p, const struct wire_tcp_options *o)
{
    size_t fixed = options_fixed_len(o);
    if (o->present & WIRE_OPT_MSS) {
        p[0] = 2;
        p[1] = 4;
        store16(p + 2, o->mss);
        p += 4;
    }
    if (o->present & WIRE_OPT_TIMESTAMP) {
        if (o->present & WIRE_OPT_SACK_PERM) {
            p[0] = 4; /* SACK-permitted in place of the two NOPs */
            p[1] = 2;
        } else {
            p[0] = 1;
            p[1] = 1;
        }
        p[2] = 8;
        p[3] = 10;
        store32(p + 4, o->ts_val);
        store32(p + 8, o->ts_ecr);
        p += 12;
    } else if (o->present & WIRE_OPT_SACK_PERM) {
        p[0] = 1;
        p[1] = 1;
        p[2] = 4;
        p[3] = 2;
        p += 4;
    }
    if (o->present & WIRE_OPT_WSCALE) {
        p[0] = 1;
        p[1] = 3;
        p[2] = 3;
        p[3] = o->wscale; /* written as given; receivers clamp (RFC 7323 §2.3) */
        p += 4;
    }
    size_t sacks = options_sack_blocks(o, fixed);
    if (sacks) {
        p[0] = 1;
        p[1] = 1;
        p[2] = 5;
        p[3] = (uint8_t)(2 + 8 * sacks);
        p += 4;
        for (size_t i = 0; i < sacks; i++) {
            store32(p, o->sack[i].left);
            store32(p + 4, o->sack[i].right);
            p += 8;
        }
    }
    return p;
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
    size_t ip_len = ip_header_len(s);
    size_t tcp_header_len = 20 + options_len(&s->opt);
    size_t tcp_len = tcp_header_len + s->payload_len;
    size_t total = ip_len + tcp_len;
    if (total > cap || tcp_len > 0xffff - (ip_len == 20 ? 20 : 0) ||
        wire_addr_is_v4(&s->tuple.src) != wire_addr_is_v4(&s->tuple.dst) ||
        (s->payload_len && !s->payload))
        return 0;
    uint8_t ttl = s->ttl ? s->ttl : DEFAULT_TTL;

    /* The payload moves first, so it may even overlap the header area. If it
     * already sits in place (zero-copy callers write it at
     * buf + wire_build_len - payload_len), nothing moves. */
    uint8_t *tcp = buf + ip_len;
    uint8_t *payload = tcp + tcp_header_len;
    if (s->payload_len && s->payload != payload)
        memmove(payload, s->payload, s->payload_len);

    uint8_t *ip = buf;
    if (ip_len == 20) { /* RFC 791 §3.1 */
        ip[0] = 0x45;
        ip[1] = s->tos;
        store16(ip + 2, (uint16_t)total);
        store16(ip + 4, 0);      /* identification: unused with DF (RFC 6864 §4.1) */
        store16(ip + 6, 0x4000); /* DF, offset 0 */
        ip[8] = ttl;
        ip[9] = 6;
        store16(ip + 10, 0);
        memcpy(ip + 12, s->tuple.src.b + 12, 4);
        memcpy(ip + 16, s->tuple.dst.b + 12, 4);
        store16(ip + 10, wire_csum_fold(wire_csum_add(0, ip, 20)));
    } else { /* RFC 8200 §3, flow label 0 */
        ip[0] = (uint8_t)(0x60 | s->tos >> 4);
        ip[1] = (uint8_t)(s->tos << 4);
        ip[2] = 0;
        ip[3] = 0;
        store16(ip + 4, (uint16_t)tcp_len);
        ip[6] = 6;
        ip[7] = ttl;
        memcpy(ip + 8, s->tuple.src.b, 16);
        memcpy(ip + 24, s->tuple.dst.b, 16);
    }

    store16(tcp, s->tuple.sport);
    store16(tcp + 2, s->tuple.dport);
    store32(tcp + 4, s->seq);
    store32(tcp + 8, s->ack);
    tcp[12] = (uint8_t)(tcp_header_len / 4 << 4);
    tcp[13] = s->flags;
    store16(tcp + 14, s->window);
    store16(tcp + 16, 0);
    store16(tcp + 18, s->urg_ptr);
    options_write(tcp + 20, &s->opt);
    store16(tcp + 16, wire_tcp_checksum(&s->tuple.src, &s->tuple.dst, tcp, tcp_len));
    return total;
}
