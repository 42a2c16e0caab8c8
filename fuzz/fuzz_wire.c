/* fuzz_wire: the codec (issue 9, DESIGN.md §5). Whatever wire_parse
 * accepts must rebuild with wire_build and parse back to the same segment,
 * and the rebuilt packet is a fixed point (building it again gives the same
 * bytes); wire_peek_syn agrees with it. The first input byte picks the parse flags and what else to
 * exercise; the rest is the packet (or the text).
 *
 *   byte 0, bits 0-1: WIRE_PARSE_NO_CHECKSUM, WIRE_PARSE_LENIENT
 *   byte 0, bits 2-3: 0/1 packet, 2 options alone, 3 the text forms
 *
 * What "the same" means follows the codec's contract (wire.h): options
 * come back in Linux's layout, so SACK blocks that no longer fit are
 * dropped from the end; a TTL of 0 is built as 64; IPv4 options, IPv6
 * extension headers and unknown TCP options are not kept. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "fuzz_wire: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                   \
        }                                                                              \
    } while (0)

/* The SACK blocks wire_build keeps: those that fit beside the other
 * options in Linux's layout (MSS 4, SACK-permitted+timestamps 12 or NOP NOP
 * SACK-permitted 4, NOP window scale 4, then NOP NOP SACK 2+8n). */
static unsigned sack_blocks_kept(const struct wire_tcp_options *o)
{
    if (!(o->present & WIRE_OPT_SACK))
        return 0;
    unsigned fixed = 0;
    if (o->present & WIRE_OPT_MSS)
        fixed += 4;
    if (o->present & WIRE_OPT_TIMESTAMP)
        fixed += 12;
    else if (o->present & WIRE_OPT_SACK_PERM)
        fixed += 4;
    if (o->present & WIRE_OPT_WSCALE)
        fixed += 4;
    unsigned room = (40 - fixed - 4) / 8;
    unsigned n = o->sack_count < WIRE_MAX_SACK_BLOCKS ? o->sack_count : WIRE_MAX_SACK_BLOCKS;
    return n < room ? n : room;
}

static void check_options_equal(const struct wire_tcp_options *a, const struct wire_tcp_options *b)
{
    unsigned sacks = sack_blocks_kept(a);
    uint8_t present = a->present;
    if (sacks == 0)
        present &= (uint8_t)~WIRE_OPT_SACK;
    CHECK(b->present == present);
    if (present & WIRE_OPT_MSS)
        CHECK(b->mss == a->mss);
    if (present & WIRE_OPT_WSCALE)
        CHECK(b->wscale == a->wscale);
    if (present & WIRE_OPT_TIMESTAMP) {
        CHECK(b->ts_val == a->ts_val);
        CHECK(b->ts_ecr == a->ts_ecr);
    }
    if (present & WIRE_OPT_SACK) {
        CHECK(b->sack_count == sacks);
        for (unsigned i = 0; i < sacks; i++) {
            CHECK(b->sack[i].left == a->sack[i].left);
            CHECK(b->sack[i].right == a->sack[i].right);
        }
    }
}

static void check_seg_equal(const struct wire_seg *a, const struct wire_seg *b)
{
    CHECK(wire_tuple_eq(&a->tuple, &b->tuple));
    CHECK(a->ip_version == b->ip_version);
    CHECK(b->ttl == (a->ttl ? a->ttl : 64));
    CHECK(a->flags == b->flags);
    CHECK(a->tos == b->tos);
    CHECK(a->seq == b->seq);
    CHECK(a->ack == b->ack);
    CHECK(a->window == b->window);
    CHECK(a->urg_ptr == b->urg_ptr);
    check_options_equal(&a->opt, &b->opt);
    CHECK(a->payload_len == b->payload_len);
    CHECK(a->payload_len == 0 || memcmp(a->payload, b->payload, a->payload_len) == 0);
    CHECK(wire_seg_len(a) == wire_seg_len(b));
}

static uint8_t out1[WIRE_MAX_HEADER + 65536], out2[WIRE_MAX_HEADER + 65536];

static void fuzz_packet(const uint8_t *pkt, size_t len, unsigned flags)
{
    struct wire_seg seg;
    struct wire_tuple peeked;
    bool syn = wire_peek_syn(pkt, len, &peeked);
    if (wire_parse(pkt, len, flags, &seg) != WIRE_ERR_OK)
        return;
    /* What the peek found is what the parse finds. */
    if (syn)
        CHECK(wire_tuple_eq(&peeked, &seg.tuple) && (seg.flags & (WIRE_SYN | WIRE_ACK)) == WIRE_SYN);
    CHECK(seg.ip_version == 4 || seg.ip_version == 6);
    CHECK(seg.payload_len <= len);
    CHECK(seg.payload_len == 0 || (seg.payload >= pkt && seg.payload + seg.payload_len <= pkt + len));
    CHECK(wire_addr_is_v4(&seg.tuple.src) == (seg.ip_version == 4));
    CHECK(wire_addr_is_v4(&seg.tuple.dst) == (seg.ip_version == 4));

    size_t want = wire_build_len(&seg);
    CHECK(want <= sizeof out1);
    CHECK(wire_build(out1, want - 1, &seg) == 0); /* never writes past cap */
    size_t n1 = wire_build(out1, sizeof out1, &seg);
    CHECK(n1 == want);

    /* Built packets carry right checksums: they parse even when checking. */
    struct wire_seg again;
    CHECK(wire_parse(out1, n1, flags & ~(unsigned)WIRE_PARSE_NO_CHECKSUM, &again) == WIRE_ERR_OK);
    check_seg_equal(&seg, &again);

    /* A fixed point: what was rebuilt rebuilds to the same bytes. */
    size_t n2 = wire_build(out2, sizeof out2, &again);
    CHECK(n2 == n1);
    CHECK(memcmp(out1, out2, n1) == 0);

    /* The checksum helpers agree with the builder. */
    size_t ip_hdr = seg.ip_version == 4 ? 20 : 40;
    CHECK(wire_tcp_checksum(&again.tuple.src, &again.tuple.dst, out1 + ip_hdr, n1 - ip_hdr) == 0);
    if (seg.ip_version == 4)
        CHECK(wire_csum_fold(wire_csum_add(0, out1, 20)) == 0);

    /* Text forms of what was parsed. */
    char fl[WIRE_FLAGS_STRLEN];
    uint8_t back;
    wire_flags_str(seg.flags, fl);
    CHECK(strlen(fl) < WIRE_FLAGS_STRLEN);
    if (seg.flags != 0) { /* no flag prints as "[none]" */
        CHECK(wire_flags_parse(fl, &back));
        CHECK(back == seg.flags);
    }
    char ep[WIRE_ENDPOINT_STRLEN];
    struct wire_endpoint e = {.addr = seg.tuple.src, .port = seg.tuple.sport}, e2;
    wire_endpoint_str(&e, ep);
    CHECK(wire_endpoint_parse(ep, &e2));
    CHECK(wire_addr_eq(&e.addr, &e2.addr) && e.port == e2.port);
}

static void fuzz_options(const uint8_t *opt, size_t len)
{
    struct wire_tcp_options o;
    if (len > 40)
        len = 40;
    if (wire_parse_options(opt, len, &o) != WIRE_ERR_OK)
        return;
    CHECK(o.sack_count <= WIRE_MAX_SACK_BLOCKS);
    CHECK(!(o.present & WIRE_OPT_WSCALE) || o.wscale <= WIRE_MAX_WSCALE);
    /* Through a minimal segment and back. */
    struct wire_seg s;
    memset(&s, 0, sizeof s);
    s.tuple.src = wire_addr_v4(0x0a000001);
    s.tuple.dst = wire_addr_v4(0x0a000002);
    s.tuple.sport = 1234;
    s.tuple.dport = 80;
    s.ip_version = 4;
    s.flags = WIRE_SYN;
    s.opt = o;
    size_t n = wire_build(out1, sizeof out1, &s);
    CHECK(n > 0);
    struct wire_seg back;
    CHECK(wire_parse(out1, n, 0, &back) == WIRE_ERR_OK);
    check_options_equal(&o, &back.opt);
}

/* Text forms: whatever parses prints and parses back to the same value. */
static void fuzz_text(const uint8_t *data, size_t len)
{
    char text[128];
    if (len >= sizeof text)
        len = sizeof text - 1;
    memcpy(text, data, len);
    text[len] = '\0';

    struct wire_addr a, a2;
    char buf[WIRE_ADDR_STRLEN];
    if (wire_addr_parse(text, &a)) {
        wire_addr_str(&a, buf);
        CHECK(wire_addr_parse(buf, &a2));
        CHECK(wire_addr_eq(&a, &a2));
    }
    struct wire_endpoint e, e2;
    char ebuf[WIRE_ENDPOINT_STRLEN];
    if (wire_endpoint_parse(text, &e)) {
        wire_endpoint_str(&e, ebuf);
        CHECK(wire_endpoint_parse(ebuf, &e2));
        CHECK(wire_addr_eq(&e.addr, &e2.addr) && e.port == e2.port);
    }
    uint8_t flags, flags2;
    char fbuf[WIRE_FLAGS_STRLEN];
    if (wire_flags_parse(text, &flags)) {
        wire_flags_str(flags, fbuf);
        if (flags != 0) { /* 0 prints as "[none]" */
            CHECK(wire_flags_parse(fbuf, &flags2));
            CHECK(flags == flags2);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    unsigned flags = mode & (WIRE_PARSE_NO_CHECKSUM | WIRE_PARSE_LENIENT);
    switch ((mode >> 2) & 3) {
    case 0:
    case 1:
        fuzz_packet(data + 1, size - 1, flags);
        break;
    case 2:
        fuzz_options(data + 1, size - 1);
        break;
    default:
        fuzz_text(data + 1, size - 1);
        break;
    }
    return 0;
}
