/* Build -> parse round trips for IPv4 and IPv6 with every option
 * combination, Linux's option layout byte for byte, and the edges of
 * wire_build (capacity, zero-copy payloads, IPv6 extension headers). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"
#include "wire_test_util.h"

static struct wire_seg base_seg(bool v6)
{
    struct wire_seg s;
    memset(&s, 0, sizeof s);
    if (v6) {
        assert_true(wire_addr_parse("fd00::1", &s.tuple.src));
        assert_true(wire_addr_parse("fd00::2", &s.tuple.dst));
    } else {
        s.tuple.src = wire_addr_v4(0x0a000001);
        s.tuple.dst = wire_addr_v4(0x0a000002);
    }
    s.tuple.sport = 40000;
    s.tuple.dport = 80;
    s.flags = WIRE_SYN;
    s.seq = 0xfffffff0u;
    s.ack = 0;
    s.window = 64240;
    return s;
}

/* What the parser must give back for a built segment: the SACK blocks
 * that fit, window scale as sent (<= 14 here), SACK without blocks gone. */
static void expect_equal_after_round_trip(const struct wire_seg *in, const struct wire_seg *out,
                                          size_t sacks_that_fit)
{
    assert_true(wire_tuple_eq(&in->tuple, &out->tuple));
    assert_int_equal(out->ip_version, wire_addr_is_v4(&in->tuple.src) ? 4 : 6);
    assert_int_equal(out->ttl, in->ttl ? in->ttl : 64);
    assert_int_equal(out->tos, in->tos);
    assert_int_equal(out->flags, in->flags);
    assert_int_equal(out->seq, in->seq);
    assert_int_equal(out->ack, in->ack);
    assert_int_equal(out->window, in->window);
    assert_int_equal(out->urg_ptr, in->urg_ptr);
    assert_int_equal(out->payload_len, in->payload_len);
    if (in->payload_len)
        assert_memory_equal(out->payload, in->payload, in->payload_len);

    uint8_t want = in->opt.present;
    if (!sacks_that_fit)
        want &= (uint8_t)~WIRE_OPT_SACK;
    assert_int_equal(out->opt.present, want);
    if (want & WIRE_OPT_MSS)
        assert_int_equal(out->opt.mss, in->opt.mss);
    if (want & WIRE_OPT_WSCALE)
        assert_int_equal(out->opt.wscale, in->opt.wscale);
    if (want & WIRE_OPT_TIMESTAMP) {
        assert_int_equal(out->opt.ts_val, in->opt.ts_val);
        assert_int_equal(out->opt.ts_ecr, in->opt.ts_ecr);
    }
    assert_int_equal(out->opt.sack_count, sacks_that_fit);
    for (size_t i = 0; i < sacks_that_fit; i++) {
        assert_int_equal(out->opt.sack[i].left, in->opt.sack[i].left);
        assert_int_equal(out->opt.sack[i].right, in->opt.sack[i].right);
    }
}

/* Room left after MSS (4), SACKPERM/TS (12 or 4), WS (4) in 40 bytes. */
static size_t sacks_that_fit(const struct wire_tcp_options *o)
{
    if (!(o->present & WIRE_OPT_SACK))
        return 0;
    size_t fixed = ((o->present & WIRE_OPT_MSS) ? 4 : 0) +
                   ((o->present & WIRE_OPT_TIMESTAMP)   ? 12
                    : (o->present & WIRE_OPT_SACK_PERM) ? 4
                                                        : 0) +
                   ((o->present & WIRE_OPT_WSCALE) ? 4 : 0);
    size_t room = (40 - fixed - 4) / 8;
    return o->sack_count < room ? o->sack_count : room;
}

static void test_round_trip_all_options(void **state)
{
    (void)state;
    static const uint8_t payload[1500] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const uint32_t payload_lens[] = {0, 1, 2, 3, 7, 8, 9, 536, 1460};
    uint8_t buf[WIRE_MAX_HEADER + 1500];
    unsigned combos = 0;
    for (int v6 = 0; v6 <= 1; v6++)
        for (unsigned present = 0; present < 32; present++)
            for (uint8_t sack_count = 0; sack_count <= WIRE_MAX_SACK_BLOCKS; sack_count++)
                for (size_t pl = 0; pl < sizeof payload_lens / sizeof payload_lens[0]; pl++) {
                    if (!(present & WIRE_OPT_SACK) && sack_count)
                        continue;
                    struct wire_seg s = base_seg(v6);
                    s.flags = (uint8_t)(WIRE_ACK | (pl ? WIRE_PSH : WIRE_SYN));
                    s.ack = 0x01020304u;
                    s.ttl = (uint8_t)(present + 1);
                    s.tos = (uint8_t)(present << 3 | 2); /* DSCP + ECT(0) */
                    s.urg_ptr = (uint16_t)present;
                    s.opt.present = (uint8_t)present;
                    s.opt.mss = 1460;
                    s.opt.wscale = 7;
                    s.opt.ts_val = 0xdeadbeefu;
                    s.opt.ts_ecr = 0x00c0ffeeu;
                    s.opt.sack_count = sack_count;
                    for (unsigned i = 0; i < WIRE_MAX_SACK_BLOCKS; i++) {
                        s.opt.sack[i].left = 0xfffff000u + 0x1000u * i;
                        s.opt.sack[i].right = s.opt.sack[i].left + 0x800u;
                    }
                    s.payload = payload;
                    s.payload_len = payload_lens[pl];

                    size_t len = wire_build_len(&s);
                    assert_true(len <= sizeof buf);
                    assert_true(len - s.payload_len <= WIRE_MAX_HEADER);
                    memset(buf, 0xee, sizeof buf);
                    assert_int_equal(wire_build(buf, sizeof buf, &s), len);
                    assert_int_equal(buf[len], 0xee); /* nothing written past len */

                    size_t ip_len = v6 ? 40 : 20;
                    size_t doff = (size_t)(buf[ip_len + 12] >> 4) * 4;
                    assert_int_equal(len, ip_len + doff + s.payload_len);
                    assert_int_equal(doff % 4, 0);
                    assert_true(doff <= 60);
                    /* Checksums agree with the oracle. */
                    assert_int_equal(ref_tcp_checksum(buf, ip_len, len - ip_len), 0);
                    if (!v6)
                        assert_int_equal(ref_checksum(buf, 20, 0), 0);

                    struct wire_seg out;
                    memset(&out, 0x77, sizeof out);
                    assert_int_equal(wire_parse(buf, len, 0, &out), WIRE_ERR_OK);
                    expect_equal_after_round_trip(&s, &out, sacks_that_fit(&s.opt));
                    assert_ptr_equal(out.payload, buf + ip_len + doff);
                    combos++;
                }
    assert_int_equal(combos, 2 * (16 * 9 + 16 * 5 * 9));
}

/* wire_build lays options out exactly as Linux: the SYN-ACK Linux sent
 * comes out byte for byte. */
static void test_linux_synack_byte_exact(void **state)
{
    (void)state;
    for (int v6 = 0; v6 <= 1; v6++) {
        const uint8_t *linux_pkt = v6 ? linux_v6_synack : linux_v4_synack;
        size_t linux_len = v6 ? linux_v6_synack_len : linux_v4_synack_len;
        struct wire_seg s;
        assert_int_equal(wire_parse(linux_pkt, linux_len, 0, &s), WIRE_ERR_OK);
        assert_int_equal(s.flags, WIRE_SYN | WIRE_ACK);
        assert_int_equal(s.opt.present,
                         WIRE_OPT_MSS | WIRE_OPT_SACK_PERM | WIRE_OPT_TIMESTAMP | WIRE_OPT_WSCALE);
        assert_int_equal(s.opt.mss, v6 ? 65476 : 65495);
        assert_int_equal(s.opt.wscale, 10);
        assert_int_equal(s.ttl, 64);

        uint8_t buf[WIRE_MAX_HEADER];
        assert_int_equal(wire_build_len(&s), linux_len);
        assert_int_equal(wire_build(buf, sizeof buf, &s), linux_len);
        if (v6) { /* Linux sets a flow label; synack sends 0 (RFC 8200 §6) */
            assert_int_equal(buf[0], 0x60);
            assert_int_equal(buf[1] & 0x0f, 0);
            assert_int_equal(buf[2], 0);
            assert_int_equal(buf[3], 0);
            assert_memory_equal(buf + 4, linux_pkt + 4, linux_len - 4);
        } else {
            assert_memory_equal(buf, linux_pkt, linux_len);
        }
    }
    /* Linux's SYN: same options; only its IP ID (random) differs from ours. */
    struct wire_seg syn;
    uint8_t buf[WIRE_MAX_HEADER];
    assert_int_equal(wire_parse(linux_v4_syn, linux_v4_syn_len, 0, &syn), WIRE_ERR_OK);
    assert_int_equal(syn.opt.ts_val, 0xa8335d3au);
    assert_int_equal(syn.opt.ts_ecr, 0);
    assert_int_equal(syn.payload_len, 0);
    assert_int_equal(wire_build(buf, sizeof buf, &syn), linux_v4_syn_len);
    assert_memory_equal(buf + 20, linux_v4_syn + 20, 40);
}

/* The other layouts, byte for byte (Linux tcp_options_write()). */
static void test_option_layouts(void **state)
{
    (void)state;
    const struct {
        uint8_t present;
        uint8_t sack_count;
        uint8_t bytes[40];
        size_t len;
    } cases[] = {
        {0, 0, {0}, 0},
        {WIRE_OPT_MSS, 0, {2, 4, 0x05, 0xb4}, 4},
        {WIRE_OPT_SACK_PERM, 0, {1, 1, 4, 2}, 4},
        {WIRE_OPT_TIMESTAMP, 0, {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}, 12},
        {WIRE_OPT_SACK_PERM | WIRE_OPT_TIMESTAMP, 0, {4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}, 12},
        {WIRE_OPT_WSCALE, 0, {1, 3, 3, 7}, 4},
        {WIRE_OPT_MSS | WIRE_OPT_SACK_PERM | WIRE_OPT_WSCALE, 0,
         {2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7}, 12},
        {WIRE_OPT_SACK, 1, {1, 1, 5, 10, 0, 0, 0, 10, 0, 0, 0, 20}, 12},
        {WIRE_OPT_TIMESTAMP | WIRE_OPT_SACK, 4, /* only 3 blocks fit after TS */
         {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 26, 0, 0, 0, 10, 0, 0, 0, 20,
          0, 0, 0, 30, 0, 0, 0, 40, 0, 0, 0, 50, 0, 0, 0, 60},
         40},
        {WIRE_OPT_SACK, 4,
         {1, 1, 5, 34, 0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0, 30, 0, 0, 0, 40,
          0, 0, 0, 50, 0, 0, 0, 60, 0, 0, 0, 70, 0, 0, 0, 80},
         36},
        {WIRE_OPT_SACK, 0, {0}, 0}, /* SACK without blocks: nothing */
        {0x1f, 4, /* everything: 2 blocks fit */
         {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 3, 3, 7,
          1, 1, 5, 18, 0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0, 30, 0, 0, 0, 40},
         40},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct wire_seg s = base_seg(false);
        s.opt.present = cases[i].present;
        s.opt.mss = 1460;
        s.opt.wscale = 7;
        s.opt.ts_val = 1;
        s.opt.ts_ecr = 2;
        s.opt.sack_count = cases[i].sack_count;
        for (uint32_t b = 0; b < 4; b++) {
            s.opt.sack[b].left = 10 + 20 * b;
            s.opt.sack[b].right = 20 + 20 * b;
        }
        uint8_t buf[WIRE_MAX_HEADER];
        size_t len = wire_build(buf, sizeof buf, &s);
        assert_int_equal(len, 40 + cases[i].len);
        assert_int_equal(buf[32] >> 4, (20 + cases[i].len) / 4);
        assert_memory_equal(buf + 40, cases[i].bytes, cases[i].len);
    }
}

/* Linux's two common layouts (NOP NOP TS; MSS, SACK-permitted + TS, NOP
 * WS) are parsed in one step: the result equals that of the same options in
 * another order, which takes the general walk; near misses walk too. */
static void test_option_fast_layouts(void **state)
{
    (void)state;
    const uint8_t ts[12] = {1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8};
    const uint8_t ts_walk[12] = {8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1};
    const uint8_t syn[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 3, 3, 15};
    const uint8_t syn_walk[20] = {1, 3, 3, 15, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 4, 2, 2, 4, 0x05, 0xb4};
    struct wire_tcp_options fast, walk;
    assert_int_equal(wire_parse_options(ts, sizeof ts, &fast), WIRE_ERR_OK);
    assert_int_equal(wire_parse_options(ts_walk, sizeof ts_walk, &walk), WIRE_ERR_OK);
    assert_memory_equal(&fast, &walk, sizeof fast);
    assert_int_equal(fast.present, WIRE_OPT_TIMESTAMP);
    assert_int_equal(fast.ts_val, 0x01020304);
    assert_int_equal(fast.ts_ecr, 0x05060708);
    assert_int_equal(wire_parse_options(syn, sizeof syn, &fast), WIRE_ERR_OK);
    assert_int_equal(wire_parse_options(syn_walk, sizeof syn_walk, &walk), WIRE_ERR_OK);
    assert_memory_equal(&fast, &walk, sizeof fast);
    assert_int_equal(fast.present, WIRE_OPT_MSS | WIRE_OPT_SACK_PERM | WIRE_OPT_TIMESTAMP | WIRE_OPT_WSCALE);
    assert_int_equal(fast.mss, 1460);
    assert_int_equal(fast.wscale, WIRE_MAX_WSCALE); /* 15 clamped (RFC 7323 §2.3) */
    /* Near misses take the walk: an unknown kind where the timestamp kind
     * was is skipped by its length; so is one where window scale was. */
    uint8_t ts_bad[12];
    memcpy(ts_bad, ts, sizeof ts_bad);
    ts_bad[2] = 99;
    assert_int_equal(wire_parse_options(ts_bad, sizeof ts_bad, &fast), WIRE_ERR_OK);
    assert_int_equal(fast.present, 0);
    uint8_t syn_bad[20];
    memcpy(syn_bad, syn, sizeof syn_bad);
    syn_bad[17] = 99;
    assert_int_equal(wire_parse_options(syn_bad, sizeof syn_bad, &fast), WIRE_ERR_OK);
    assert_int_equal(fast.present, WIRE_OPT_MSS | WIRE_OPT_SACK_PERM | WIRE_OPT_TIMESTAMP);
}

static void test_build_edges(void **state)
{
    (void)state;
    uint8_t buf[2048];
    static const uint8_t data[100] = {0xab};
    struct wire_seg s = base_seg(false);
    s.flags = WIRE_ACK | WIRE_PSH;
    s.payload = data;
    s.payload_len = sizeof data;
    size_t len = wire_build_len(&s);
    assert_int_equal(len, 20 + 20 + 100);
    /* Too small by one byte: nothing. Exactly enough: the packet. */
    assert_int_equal(wire_build(buf, len - 1, &s), 0);
    assert_int_equal(wire_build(buf, 0, &s), 0);
    assert_int_equal(wire_build(buf, len, &s), len);
    /* IPv4 header: DF, ID 0, TTL 64, protocol 6. */
    assert_int_equal(buf[0], 0x45);
    assert_int_equal(buf[4] | buf[5], 0);
    assert_int_equal(buf[6], 0x40);
    assert_int_equal(buf[7], 0);
    assert_int_equal(buf[8], 64);
    assert_int_equal(buf[9], 6);

    /* Zero-copy: payload already in place, nothing moves, checksum right. */
    uint8_t inplace[256];
    memset(inplace, 0, sizeof inplace);
    for (int i = 0; i < 100; i++)
        inplace[40 + i] = (uint8_t)(i * 7);
    s.payload = inplace + 40;
    assert_int_equal(wire_build(inplace, sizeof inplace, &s), 140);
    struct wire_seg out;
    assert_int_equal(wire_parse(inplace, 140, 0, &out), WIRE_ERR_OK);
    for (int i = 0; i < 100; i++)
        assert_int_equal(out.payload[i], (uint8_t)(i * 7));
    /* Payload overlapping the header area (e.g. a received packet's bytes
     * being re-sent from the same buffer) is moved before headers land. */
    for (int i = 0; i < 100; i++)
        inplace[i] = (uint8_t)(i * 3);
    s.payload = inplace;
    assert_int_equal(wire_build(inplace, sizeof inplace, &s), 140);
    assert_int_equal(wire_parse(inplace, 140, 0, &out), WIRE_ERR_OK);
    for (int i = 0; i < 100; i++)
        assert_int_equal(out.payload[i], (uint8_t)(i * 3));

    /* Payload length without a payload: refused. */
    s.payload = NULL;
    assert_int_equal(wire_build(buf, sizeof buf, &s), 0);
    /* Mixed families: refused. */
    s = base_seg(false);
    assert_true(wire_addr_parse("fd00::2", &s.tuple.dst));
    assert_int_equal(wire_build(buf, sizeof buf, &s), 0);
    /* A payload that cannot be described by the IP length fields. */
    static uint8_t huge[65536];
    s = base_seg(false);
    s.payload = huge;
    s.payload_len = 65535 - 40 + 1;
    assert_int_equal(wire_build(huge, sizeof huge, &s), 0); /* IPv4 total > 65535 */
    s = base_seg(true);
    s.payload = huge;
    s.payload_len = 65535 - 20 + 1;
    static uint8_t big_buf[70000];
    assert_int_equal(wire_build(big_buf, sizeof big_buf, &s), 0); /* v6 payload length */
    s.payload_len = 65535 - 20; /* the largest that fits */
    assert_int_equal(wire_build(big_buf, sizeof big_buf, &s), 40 + 65535);
    assert_int_equal(wire_parse(big_buf, 40 + 65535, 0, &out), WIRE_ERR_OK);
    assert_int_equal(out.payload_len, 65535 - 20);

    /* Window scale is written as given (a peer clamps), parsed as <= 14. */
    s = base_seg(false);
    s.opt.present = WIRE_OPT_WSCALE;
    s.opt.wscale = 15;
    len = wire_build(buf, sizeof buf, &s);
    assert_int_equal(buf[43], 15);
    assert_int_equal(wire_parse(buf, len, 0, &out), WIRE_ERR_OK);
    assert_int_equal(out.opt.wscale, WIRE_MAX_WSCALE);

    /* IPv6 traffic class and hop limit. */
    s = base_seg(true);
    s.tos = 0xb9;
    s.ttl = 255;
    len = wire_build(buf, sizeof buf, &s);
    assert_int_equal(buf[0], 0x6b);
    assert_int_equal(buf[1], 0x90);
    assert_int_equal(buf[7], 255);
    assert_int_equal(wire_parse(buf, len, 0, &out), WIRE_ERR_OK);
    assert_int_equal(out.tos, 0xb9);
    assert_int_equal(out.ttl, 255);
}

/* Ethernet pads short frames to 60 bytes: bytes past the IP total length
 * are not part of the segment. */
static void test_trailing_padding_ignored(void **state)
{
    (void)state;
    uint8_t buf[128];
    memcpy(buf, linux_v4_data, linux_v4_data_len);
    memset(buf + linux_v4_data_len, 0, 20);
    struct wire_seg s;
    assert_int_equal(wire_parse(buf, linux_v4_data_len + 20, 0, &s), WIRE_ERR_OK);
    assert_int_equal(s.payload_len, 15);
    assert_memory_equal(s.payload, "hello, synack!\n", 15);
    memcpy(buf, linux_v6_data, linux_v6_data_len);
    memset(buf + linux_v6_data_len, 0xff, 9);
    assert_int_equal(wire_parse(buf, linux_v6_data_len + 9, 0, &s), WIRE_ERR_OK);
    assert_int_equal(s.payload_len, 15);
    assert_int_equal(s.flags, WIRE_PSH | WIRE_ACK);
}

/* IPv4 options (IHL > 5) are skipped. */
static void test_ipv4_options_skipped(void **state)
{
    (void)state;
    uint8_t buf[128];
    buf[0] = 0x46; /* IHL 6: one word of options */
    memcpy(buf + 1, linux_v4_syn + 1, 19);
    memcpy(buf + 20, (const uint8_t[4]){1, 1, 1, 0}, 4); /* NOP NOP NOP EOL */
    memcpy(buf + 24, linux_v4_syn + 20, 40);
    buf[3] = 64;
    fix_checksums(buf, 64);
    struct wire_seg s;
    assert_int_equal(wire_parse(buf, 64, 0, &s), WIRE_ERR_OK);
    assert_int_equal(s.tuple.sport, 0xe1cc);
    assert_int_equal(s.opt.mss, 65495);
}

/* Hop-by-hop, routing and destination options are skipped (RFC 8200 §4);
 * the TCP checksum covers the TCP segment only. */
static void test_ipv6_extension_headers(void **state)
{
    (void)state;
    const uint8_t hop_by_hop[8] = {43, 0, 1, 4, 0, 0, 0, 0};  /* next: routing; PadN */
    const uint8_t routing[24] = {60, 2, 0, 0};               /* next: dest opts; segs left 0 */
    const uint8_t dest_opts[16] = {6, 1, 1, 12};             /* next: TCP; PadN */
    uint8_t buf[256];
    memcpy(buf, linux_v6_data, 40);
    size_t off = 40;
    memcpy(buf + off, hop_by_hop, sizeof hop_by_hop);
    off += sizeof hop_by_hop;
    memcpy(buf + off, routing, sizeof routing);
    off += sizeof routing;
    memcpy(buf + off, dest_opts, sizeof dest_opts);
    off += sizeof dest_opts;
    memcpy(buf + off, linux_v6_data + 40, linux_v6_data_len - 40);
    size_t len = off + linux_v6_data_len - 40;
    buf[4] = (uint8_t)((len - 40) >> 8);
    buf[5] = (uint8_t)(len - 40);
    buf[6] = 0; /* hop-by-hop first */
    struct wire_seg s;
    assert_int_equal(wire_parse(buf, len, 0, &s), WIRE_ERR_OK); /* checksum untouched */
    assert_int_equal(s.payload_len, 15);
    assert_ptr_equal(s.payload, buf + len - 15);
    assert_int_equal(s.tuple.sport, 0xe878);
}

/* wire_peek_syn: a SYN's tuple, as wire_parse finds it, from IPv4 (with or
 * without options) and IPv6 without extension headers; nothing else, and
 * nothing past the length. */
static void peek_agrees(const uint8_t *pkt, size_t len, bool syn)
{
    struct wire_tuple t;
    struct wire_seg s;
    assert_int_equal(wire_peek_syn(pkt, len, &t), syn);
    assert_int_equal(wire_parse(pkt, len, 0, &s), WIRE_ERR_OK);
    if (syn)
        assert_true(wire_tuple_eq(&t, &s.tuple));
    for (size_t n = 0; n < len; n++) { /* every truncation: no SYN past the flags */
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, pkt, n);
        bool got = wire_peek_syn(copy, n, &t);
        free(copy);
        if (got)
            assert_true(syn && wire_tuple_eq(&t, &s.tuple));
    }
}

static void test_peek_syn(void **state)
{
    (void)state;
    peek_agrees(linux_v4_syn, linux_v4_syn_len, true);
    peek_agrees(linux_v6_syn, linux_v6_syn_len, true);
    peek_agrees(linux_v4_synack, linux_v4_synack_len, false);
    peek_agrees(linux_v6_synack, linux_v6_synack_len, false);
    peek_agrees(linux_v4_data, linux_v4_data_len, false);
    uint8_t buf[128];
    buf[0] = 0x46; /* IHL 6 */
    memcpy(buf + 1, linux_v4_syn + 1, 19);
    memcpy(buf + 20, (const uint8_t[4]){1, 1, 1, 0}, 4);
    memcpy(buf + 24, linux_v4_syn + 20, 40);
    buf[3] = 64;
    fix_checksums(buf, 64);
    peek_agrees(buf, 64, true);
    /* IPv6 with a destination options header: not peeked. */
    memcpy(buf, linux_v6_syn, 40);
    memcpy(buf + 40, (const uint8_t[8]){6, 0, 1, 4, 0, 0, 0, 0}, 8);
    memcpy(buf + 48, linux_v6_syn + 40, 40);
    buf[5] = 48;
    buf[6] = 60;
    struct wire_tuple t;
    assert_false(wire_peek_syn(buf, 88, &t));
}

/* wire_parse_tcp on its own, with the tuple's addresses given. */
static void test_parse_tcp_alone(void **state)
{
    (void)state;
    struct wire_seg s;
    memset(&s, 0, sizeof s);
    s.tuple.src = wire_addr_v4(0x7f000001);
    s.tuple.dst = wire_addr_v4(0x7f000001);
    assert_int_equal(wire_parse_tcp(linux_v4_data + 20, linux_v4_data_len - 20, 0, &s),
                     WIRE_ERR_OK);
    assert_int_equal(s.seq, 0x93ab2538u);
    assert_int_equal(s.ack, 0x27f208fcu);
    assert_int_equal(s.window, 64);
    assert_int_equal(s.payload_len, 15);
    assert_int_equal(s.opt.present, WIRE_OPT_TIMESTAMP);
    /* Wrong addresses: the checksum fails, unless not checked. */
    s.tuple.dst = wire_addr_v4(0x7f000002);
    assert_int_equal(wire_parse_tcp(linux_v4_data + 20, linux_v4_data_len - 20, 0, &s),
                     WIRE_ERR_BAD_TCP_CHECKSUM);
    assert_int_equal(wire_parse_tcp(linux_v4_data + 20, linux_v4_data_len - 20,
                                    WIRE_PARSE_NO_CHECKSUM, &s),
                     WIRE_ERR_OK);
}

/* A fixed-seed property: random segments survive build -> parse. */
static void test_round_trip_random(void **state)
{
    (void)state;
    struct xorshift rng = {0x5eed5eed5eedULL};
    static uint8_t payload[2000];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)xorshift_next(&rng);
    uint8_t buf[WIRE_MAX_HEADER + sizeof payload];
    for (int iter = 0; iter < 20000; iter++) {
        uint64_t r = xorshift_next(&rng);
        struct wire_seg s;
        memset(&s, 0, sizeof s);
        bool v6 = r & 1;
        for (int i = 0; i < 16; i++)
            s.tuple.src.b[i] = (uint8_t)xorshift_next(&rng);
        s.tuple.dst = s.tuple.src;
        s.tuple.dst.b[15] ^= 0x5a;
        s.tuple.src.b[0] = s.tuple.dst.b[0] = 0xfd; /* unicast ULA */
        if (!v6) {
            s.tuple.src = wire_addr_v4((uint32_t)(r >> 8) % 0xdf000000u + 0x01000000u);
            s.tuple.dst = wire_addr_v4((uint32_t)(r >> 40) % 0xdf000000u + 0x01000000u);
        }
        s.tuple.sport = (uint16_t)(1 + (r >> 16) % 65535);
        s.tuple.dport = (uint16_t)(1 + (r >> 32) % 65535);
        r = xorshift_next(&rng);
        s.flags = (uint8_t)(r & ~(uint64_t)(WIRE_SYN | WIRE_FIN | WIRE_RST)) | WIRE_ACK;
        s.seq = (uint32_t)xorshift_next(&rng);
        s.ack = (uint32_t)xorshift_next(&rng);
        s.window = (uint16_t)(r >> 8);
        s.urg_ptr = (uint16_t)(r >> 24);
        s.ttl = (uint8_t)(r >> 40);
        s.tos = (uint8_t)(r >> 48);
        r = xorshift_next(&rng);
        s.opt.present = (uint8_t)(r & 0x1f);
        s.opt.mss = (uint16_t)(r >> 8);
        s.opt.wscale = (uint8_t)((r >> 24) % 15);
        s.opt.sack_count = (uint8_t)((r >> 32) % 5);
        s.opt.ts_val = (uint32_t)xorshift_next(&rng);
        s.opt.ts_ecr = (uint32_t)xorshift_next(&rng);
        for (int i = 0; i < 4; i++) {
            s.opt.sack[i].left = (uint32_t)xorshift_next(&rng);
            s.opt.sack[i].right = (uint32_t)xorshift_next(&rng);
        }
        s.payload_len = (uint32_t)((r >> 40) % (sizeof payload + 1));
        s.payload = payload;
        size_t len = wire_build(buf, sizeof buf, &s);
        assert_int_equal(len, wire_build_len(&s));
        struct wire_seg out;
        assert_int_equal(wire_parse(buf, len, 0, &out), WIRE_ERR_OK);
        expect_equal_after_round_trip(&s, &out, sacks_that_fit(&s.opt));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_all_options),
        cmocka_unit_test(test_linux_synack_byte_exact),
        cmocka_unit_test(test_option_layouts),
        cmocka_unit_test(test_option_fast_layouts),
        cmocka_unit_test(test_build_edges),
        cmocka_unit_test(test_trailing_padding_ignored),
        cmocka_unit_test(test_ipv4_options_skipped),
        cmocka_unit_test(test_ipv6_extension_headers),
        cmocka_unit_test(test_parse_tcp_alone),
        cmocka_unit_test(test_peek_syn),
        cmocka_unit_test(test_round_trip_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
