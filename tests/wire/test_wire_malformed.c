/* Hostile input: a table of malformed packets, each with the exact reason
 * it is rejected; every truncation of valid packets; option parser corner
 * cases; and 100k random buffers that must never crash. Buffers are
 * heap-allocated to their exact length so ASan sees any over-read. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"
#include "wire_test_util.h"

/* Parses a copy of pkt[0..len) in a heap block of exactly len bytes. */
static enum wire_err parse_exact(const uint8_t *pkt, size_t len, unsigned flags,
                                 struct wire_seg *out)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, pkt, len);
    enum wire_err err = wire_parse(copy, len, flags, out);
    if (err == WIRE_ERR_OK) { /* the payload lies inside the packet */
        assert_true(out->payload >= copy && out->payload + out->payload_len <= copy + len);
        assert_true(out->opt.sack_count <= WIRE_MAX_SACK_BLOCKS);
        assert_true(out->opt.wscale <= WIRE_MAX_WSCALE);
    }
    free(copy);
    return err;
}

enum base { V4_SYN, V4_DATA, V6_SYN, V6_DATA };

struct hostile {
    const char *name;
    enum base base;
    /* Edits pkt in place (capacity 256), returns the new length. */
    size_t (*mutate)(uint8_t *pkt, size_t len);
    bool fix; /* recompute checksums after the edit */
    unsigned flags;
    enum wire_err expect;
};

/* IPv4 offsets: TCP header at 20; options at 40 for the SYN. */
#define T4 20
#define T6 40

static size_t m_none(uint8_t *p, size_t n) { (void)p; return n; }
static size_t m_empty(uint8_t *p, size_t n) { (void)p; (void)n; return 0; }
static size_t m_version5(uint8_t *p, size_t n) { p[0] = 0x55; return n; }
static size_t m_version0(uint8_t *p, size_t n) { p[0] = 0x05; return n; }
static size_t m_v4_19_bytes(uint8_t *p, size_t n) { (void)p; (void)n; return 19; }
static size_t m_ihl4(uint8_t *p, size_t n) { p[0] = 0x44; return n; }
static size_t m_ihl15_past_packet(uint8_t *p, size_t n) { (void)n; p[0] = 0x4f; return 40; }
static size_t m_total_len_absurd(uint8_t *p, size_t n) { p[2] = 0xff; p[3] = 0xff; return n; }
static size_t m_total_len_below_ihl(uint8_t *p, size_t n) { p[2] = 0; p[3] = 19; return n; }
static size_t m_total_len_zero(uint8_t *p, size_t n) { p[2] = 0; p[3] = 0; return n; }
static size_t m_ip_csum(uint8_t *p, size_t n) { p[10] ^= 0x01; return n; }
static size_t m_ip_ttl_changed(uint8_t *p, size_t n) { p[8]--; return n; } /* no fix */
static size_t m_more_fragments(uint8_t *p, size_t n) { p[6] |= 0x20; return n; }
static size_t m_fragment_offset(uint8_t *p, size_t n) { p[7] = 1; return n; }
static size_t m_udp(uint8_t *p, size_t n) { p[9] = 17; return n; }
static size_t m_src_multicast(uint8_t *p, size_t n) { memcpy(p + 12, (uint8_t[]){224, 0, 0, 1}, 4); return n; }
static size_t m_src_broadcast(uint8_t *p, size_t n) { memset(p + 12, 0xff, 4); return n; }
static size_t m_src_zero(uint8_t *p, size_t n) { memset(p + 12, 0, 4); return n; }
static size_t m_dst_multicast(uint8_t *p, size_t n) { memcpy(p + 16, (uint8_t[]){239, 1, 2, 3}, 4); return n; }
static size_t m_dst_broadcast(uint8_t *p, size_t n) { memset(p + 16, 0xff, 4); return n; }
static size_t m_tcp_19_bytes(uint8_t *p, size_t n) { (void)n; p[3] = 39; return 39; }
static size_t m_doff0(uint8_t *p, size_t n) { p[T4 + 12] = 0x02; return n; }
static size_t m_doff4(uint8_t *p, size_t n) { p[T4 + 12] = 0x42; return n; }
static size_t m_doff15_past_segment(uint8_t *p, size_t n) { p[T4 + 12] = 0xf2; return n; }
static size_t m_opt_len0(uint8_t *p, size_t n) { p[T4 + 21] = 0; return n; }  /* MSS len 0 */
static size_t m_opt_len1(uint8_t *p, size_t n) { p[T4 + 21] = 1; return n; }
static size_t m_opt_len_past_header(uint8_t *p, size_t n) { p[T4 + 38] = 4; return n; } /* WS */
static size_t m_opt_kind_no_len(uint8_t *p, size_t n) { p[T4 + 37] = p[T4 + 38] = 1; p[T4 + 39] = 3; return n; }
static size_t m_opt_unknown_len_past(uint8_t *p, size_t n) { p[T4 + 20] = 254; p[T4 + 21] = 41; return n; }
static size_t m_tcp_csum(uint8_t *p, size_t n) { p[T4 + 16] ^= 0x80; return n; }
static size_t m_payload_bit(uint8_t *p, size_t n) { p[n - 1] ^= 0x04; return n; }
static size_t m_syn_fin(uint8_t *p, size_t n) { p[T4 + 13] = WIRE_SYN | WIRE_FIN; return n; }
static size_t m_syn_rst(uint8_t *p, size_t n) { p[T4 + 13] = WIRE_SYN | WIRE_RST; return n; }
static size_t m_syn_fin_rst(uint8_t *p, size_t n) { p[T4 + 13] = WIRE_SYN | WIRE_FIN | WIRE_RST | WIRE_ACK; return n; }
static size_t m_null_flags(uint8_t *p, size_t n) { p[T4 + 13] = 0; return n; }
static size_t m_xmas(uint8_t *p, size_t n) { p[T4 + 13] = WIRE_FIN | WIRE_PSH | WIRE_URG; return n; }
static size_t m_sport0(uint8_t *p, size_t n) { p[T4] = p[T4 + 1] = 0; return n; }
static size_t m_dport0(uint8_t *p, size_t n) { p[T4 + 2] = p[T4 + 3] = 0; return n; }
static size_t m_ethernet_padding(uint8_t *p, size_t n) { memset(p + n, 0, 6); return n + 6; }
static size_t m_mss_len3(uint8_t *p, size_t n) { p[T4 + 21] = 3; p[T4 + 23] = 1; return n; } /* MSS(3) NOP */
static size_t m_eol_first(uint8_t *p, size_t n) { p[T4 + 20] = 0; p[T4 + 21] = 0; return n; }

/* IPv6 */
static size_t m6_39_bytes(uint8_t *p, size_t n) { (void)p; (void)n; return 39; }
static size_t m6_payload_len_past(uint8_t *p, size_t n) { p[5]++; return n; }
static size_t m6_payload_len_zero(uint8_t *p, size_t n) { p[4] = p[5] = 0; return n; }
static size_t m6_payload_len_19(uint8_t *p, size_t n) { p[4] = 0; p[5] = 19; return n; }
static size_t m6_no_next_header(uint8_t *p, size_t n) { p[6] = 59; return n; }
static size_t m6_udp(uint8_t *p, size_t n) { p[6] = 17; return n; }
static size_t m6_icmpv6(uint8_t *p, size_t n) { p[6] = 58; return n; }
static size_t m6_src_multicast(uint8_t *p, size_t n) { p[8] = 0xff; p[9] = 0x02; return n; }
static size_t m6_dst_multicast(uint8_t *p, size_t n) { p[24] = 0xff; return n; }
static size_t m6_src_unspecified(uint8_t *p, size_t n) { memset(p + 8, 0, 16); return n; }
static size_t m6_src_v4_mapped(uint8_t *p, size_t n)
{
    memcpy(p + 8, (uint8_t[16]){0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1}, 16);
    return n;
}
static size_t m6_tcp_csum(uint8_t *p, size_t n) { p[T6 + 17] ^= 1; return n; }
static size_t m6_syn_fin(uint8_t *p, size_t n) { p[T6 + 13] |= WIRE_FIN; return n; }

/* Inserts an extension header of 8*(hlen+1) bytes after the IPv6 header. */
static size_t insert_ext(uint8_t *p, size_t n, uint8_t type, uint8_t next, uint8_t hlen)
{
    size_t ext = ((size_t)hlen + 1) * 8;
    memmove(p + 40 + ext, p + 40, n - 40);
    memset(p + 40, 0, ext);
    p[40] = next;
    p[41] = hlen;
    p[6] = type;
    size_t plen = (size_t)(p[4] << 8 | p[5]) + ext;
    p[4] = (uint8_t)(plen >> 8);
    p[5] = (uint8_t)plen;
    return n + ext;
}
static size_t m6_fragment(uint8_t *p, size_t n) { return insert_ext(p, n, 44, 6, 0); }
static size_t m6_atomic_fragment(uint8_t *p, size_t n) { return insert_ext(p, n, 44, 6, 0); }
static size_t m6_hbh_then_fragment(uint8_t *p, size_t n)
{
    n = insert_ext(p, n, 44, 6, 0);
    return insert_ext(p, n, 0, 44, 0);
}
static size_t m6_dest_opts_ok(uint8_t *p, size_t n) { return insert_ext(p, n, 60, 6, 1); }
static size_t m6_ext_len_past_payload(uint8_t *p, size_t n)
{
    n = insert_ext(p, n, 43, 6, 0);
    p[41] = 200; /* 1608 bytes claimed */
    return n;
}
static size_t m6_ext_header_cut(uint8_t *p, size_t n)
{
    (void)n;
    p[6] = 0; /* hop-by-hop, but only one byte of it inside the payload */
    p[4] = 0;
    p[5] = 1;
    return 41;
}
static size_t m6_esp(uint8_t *p, size_t n) { return insert_ext(p, n, 60, 50, 0); }

static const struct hostile hostile_cases[] = {
    {"empty buffer", V4_SYN, m_empty, false, 0, WIRE_ERR_TRUNCATED_IP},
    {"IP version 5", V4_SYN, m_version5, false, 0, WIRE_ERR_BAD_IP_VERSION},
    {"IP version 0", V4_SYN, m_version0, false, 0, WIRE_ERR_BAD_IP_VERSION},
    {"IPv4 header cut at 19 bytes", V4_SYN, m_v4_19_bytes, false, 0, WIRE_ERR_TRUNCATED_IP},
    {"IHL 4", V4_SYN, m_ihl4, false, 0, WIRE_ERR_BAD_IHL},
    {"IHL 15 past the packet", V4_SYN, m_ihl15_past_packet, false, 0, WIRE_ERR_BAD_IHL},
    {"total length 65535", V4_SYN, m_total_len_absurd, true, 0, WIRE_ERR_BAD_IP_LENGTH},
    {"total length below IHL", V4_SYN, m_total_len_below_ihl, true, 0, WIRE_ERR_BAD_IP_LENGTH},
    {"total length 0", V4_SYN, m_total_len_zero, true, 0, WIRE_ERR_BAD_IP_LENGTH},
    {"bad IPv4 header checksum", V4_SYN, m_ip_csum, false, 0, WIRE_ERR_BAD_IP_CHECKSUM},
    {"TTL changed, checksum not", V4_SYN, m_ip_ttl_changed, false, 0, WIRE_ERR_BAD_IP_CHECKSUM},
    {"IPv4 MF set", V4_SYN, m_more_fragments, true, 0, WIRE_ERR_IP_FRAGMENT},
    {"IPv4 fragment offset 1", V4_SYN, m_fragment_offset, true, 0, WIRE_ERR_IP_FRAGMENT},
    {"IPv4 protocol UDP", V4_SYN, m_udp, true, 0, WIRE_ERR_NOT_TCP},
    {"source multicast", V4_SYN, m_src_multicast, true, 0, WIRE_ERR_BAD_IP_ADDRESS},
    {"source broadcast", V4_SYN, m_src_broadcast, true, 0, WIRE_ERR_BAD_IP_ADDRESS},
    {"source 0.0.0.0", V4_SYN, m_src_zero, true, 0, WIRE_ERR_BAD_IP_ADDRESS},
    {"destination multicast", V4_SYN, m_dst_multicast, true, 0, WIRE_ERR_BAD_IP_ADDRESS},
    {"destination broadcast", V4_SYN, m_dst_broadcast, true, 0, WIRE_ERR_BAD_IP_ADDRESS},
    {"TCP header of 19 bytes", V4_SYN, m_tcp_19_bytes, true, 0, WIRE_ERR_TRUNCATED_TCP},
    {"data offset 0 (16 wraps to 0)", V4_SYN, m_doff0, true, 0, WIRE_ERR_BAD_DATA_OFFSET},
    {"data offset 4", V4_SYN, m_doff4, true, 0, WIRE_ERR_BAD_DATA_OFFSET},
    {"data offset 15 past the segment", V4_SYN, m_doff15_past_segment, true, 0,
     WIRE_ERR_BAD_DATA_OFFSET},
    {"option length 0", V4_SYN, m_opt_len0, true, 0, WIRE_ERR_BAD_OPTION_LENGTH},
    {"option length 1", V4_SYN, m_opt_len1, true, 0, WIRE_ERR_BAD_OPTION_LENGTH},
    {"option length past the header", V4_SYN, m_opt_len_past_header, true, 0,
     WIRE_ERR_BAD_OPTION_LENGTH},
    {"option kind in the last byte", V4_SYN, m_opt_kind_no_len, true, 0,
     WIRE_ERR_BAD_OPTION_LENGTH},
    {"unknown option 41 bytes long", V4_SYN, m_opt_unknown_len_past, true, 0,
     WIRE_ERR_BAD_OPTION_LENGTH},
    {"bad TCP checksum", V4_SYN, m_tcp_csum, false, 0, WIRE_ERR_BAD_TCP_CHECKSUM},
    {"payload bit flipped", V4_DATA, m_payload_bit, false, 0, WIRE_ERR_BAD_TCP_CHECKSUM},
    {"bad TCP checksum, not checked", V4_SYN, m_tcp_csum, false, WIRE_PARSE_NO_CHECKSUM,
     WIRE_ERR_OK},
    {"bad IP checksum, not checked", V4_SYN, m_ip_csum, false, WIRE_PARSE_NO_CHECKSUM,
     WIRE_ERR_OK},
    {"SYN+FIN", V4_SYN, m_syn_fin, true, 0, WIRE_ERR_SYN_FIN},
    {"SYN+RST", V4_SYN, m_syn_rst, true, 0, WIRE_ERR_SYN_RST},
    {"SYN+FIN+RST+ACK", V4_SYN, m_syn_fin_rst, true, 0, WIRE_ERR_SYN_FIN},
    {"no flags (null scan)", V4_DATA, m_null_flags, true, 0, WIRE_ERR_NO_FLAGS},
    {"source port 0", V4_SYN, m_sport0, true, 0, WIRE_ERR_PORT_ZERO},
    {"destination port 0", V4_DATA, m_dport0, true, 0, WIRE_ERR_PORT_ZERO},
    {"SYN+FIN kept when lenient", V4_SYN, m_syn_fin, true, WIRE_PARSE_LENIENT, WIRE_ERR_OK},
    {"null scan kept when lenient", V4_DATA, m_null_flags, true, WIRE_PARSE_LENIENT, WIRE_ERR_OK},
    {"port 0 kept when lenient", V4_SYN, m_sport0, true, WIRE_PARSE_LENIENT, WIRE_ERR_OK},
    {"multicast source kept when lenient", V4_SYN, m_src_multicast, true, WIRE_PARSE_LENIENT,
     WIRE_ERR_OK},
    {"lenient still checks checksums", V4_SYN, m_tcp_csum, false, WIRE_PARSE_LENIENT,
     WIRE_ERR_BAD_TCP_CHECKSUM},
    {"Xmas scan FIN+PSH+URG is legal", V4_DATA, m_xmas, true, 0, WIRE_ERR_OK},
    {"Ethernet padding ignored", V4_DATA, m_ethernet_padding, false, 0, WIRE_ERR_OK},
    {"MSS with length 3 is skipped", V4_SYN, m_mss_len3, true, 0, WIRE_ERR_OK},
    {"EOL first: no options", V4_SYN, m_eol_first, true, 0, WIRE_ERR_OK},
    {"valid SYN", V4_SYN, m_none, false, 0, WIRE_ERR_OK},

    {"IPv6 header cut at 39 bytes", V6_SYN, m6_39_bytes, false, 0, WIRE_ERR_TRUNCATED_IP},
    {"IPv6 payload length past the buffer", V6_SYN, m6_payload_len_past, false, 0,
     WIRE_ERR_BAD_IP_LENGTH},
    {"IPv6 payload length 0", V6_SYN, m6_payload_len_zero, false, 0, WIRE_ERR_TRUNCATED_TCP},
    {"IPv6 payload length 19", V6_SYN, m6_payload_len_19, false, 0, WIRE_ERR_TRUNCATED_TCP},
    {"IPv6 fragment header", V6_SYN, m6_fragment, false, 0, WIRE_ERR_IP_FRAGMENT},
    {"IPv6 atomic fragment", V6_DATA, m6_atomic_fragment, false, 0, WIRE_ERR_IP_FRAGMENT},
    {"IPv6 hop-by-hop then fragment", V6_SYN, m6_hbh_then_fragment, false, 0,
     WIRE_ERR_IP_FRAGMENT},
    {"IPv6 destination options skipped", V6_SYN, m6_dest_opts_ok, false, 0, WIRE_ERR_OK},
    {"IPv6 routing header past payload", V6_SYN, m6_ext_len_past_payload, false, 0,
     WIRE_ERR_TRUNCATED_IP},
    {"IPv6 hop-by-hop cut after 1 byte", V6_SYN, m6_ext_header_cut, false, 0,
     WIRE_ERR_TRUNCATED_IP},
    {"IPv6 no next header", V6_SYN, m6_no_next_header, false, 0, WIRE_ERR_NOT_TCP},
    {"IPv6 UDP", V6_SYN, m6_udp, false, 0, WIRE_ERR_NOT_TCP},
    {"IPv6 ICMPv6", V6_SYN, m6_icmpv6, false, 0, WIRE_ERR_NOT_TCP},
    {"IPv6 ESP after destination options", V6_SYN, m6_esp, false, 0, WIRE_ERR_NOT_TCP},
    {"IPv6 source multicast", V6_SYN, m6_src_multicast, true, 0, WIRE_ERR_BAD_IP_ADDRESS},
    {"IPv6 destination multicast", V6_SYN, m6_dst_multicast, true, 0, WIRE_ERR_BAD_IP_ADDRESS},
    {"IPv6 source ::", V6_SYN, m6_src_unspecified, true, 0, WIRE_ERR_BAD_IP_ADDRESS},
    {"IPv6 source IPv4-mapped", V6_SYN, m6_src_v4_mapped, true, 0, WIRE_ERR_BAD_IP_ADDRESS},
    {"IPv6 IPv4-mapped refused even lenient", V6_SYN, m6_src_v4_mapped, true,
     WIRE_PARSE_LENIENT, WIRE_ERR_BAD_IP_ADDRESS},
    {"IPv6 bad TCP checksum", V6_DATA, m6_tcp_csum, false, 0, WIRE_ERR_BAD_TCP_CHECKSUM},
    {"IPv6 SYN+FIN", V6_SYN, m6_syn_fin, true, 0, WIRE_ERR_SYN_FIN},
    {"valid IPv6 data", V6_DATA, m_none, false, 0, WIRE_ERR_OK},
};

static void base_packet(enum base b, uint8_t *pkt, size_t *len)
{
    const uint8_t *src[] = {linux_v4_syn, linux_v4_data, linux_v6_syn, linux_v6_data};
    const size_t lens[] = {linux_v4_syn_len, linux_v4_data_len, linux_v6_syn_len,
                           linux_v6_data_len};
    memcpy(pkt, src[b], lens[b]);
    *len = lens[b];
}

static void test_hostile_table(void **state)
{
    (void)state;
    size_t n_cases = sizeof hostile_cases / sizeof hostile_cases[0];
    size_t n_rejected = 0;
    for (size_t i = 0; i < n_cases; i++) {
        const struct hostile *h = &hostile_cases[i];
        uint8_t pkt[256];
        size_t len;
        base_packet(h->base, pkt, &len);
        len = h->mutate(pkt, len);
        if (h->fix)
            fix_checksums(pkt, len);
        struct wire_seg s;
        enum wire_err got = parse_exact(pkt, len, h->flags, &s);
        if (got != h->expect)
            fail_msg("case \"%s\": got %s, want %s", h->name, wire_err_name(got),
                     wire_err_name(h->expect));
        n_rejected += got != WIRE_ERR_OK;
    }
    assert_true(n_rejected >= 25);
}

/* What lenient and the option rules keep, in detail. */
static void test_kept_segments_content(void **state)
{
    (void)state;
    uint8_t pkt[256];
    size_t len;
    struct wire_seg s;
    base_packet(V4_SYN, pkt, &len);
    m_mss_len3(pkt, len);
    fix_checksums(pkt, len);
    assert_int_equal(parse_exact(pkt, len, 0, &s), WIRE_ERR_OK);
    /* MSS ignored; what follows it is still parsed. */
    assert_int_equal(s.opt.present, WIRE_OPT_SACK_PERM | WIRE_OPT_TIMESTAMP | WIRE_OPT_WSCALE);

    base_packet(V4_SYN, pkt, &len);
    m_eol_first(pkt, len);
    fix_checksums(pkt, len);
    assert_int_equal(parse_exact(pkt, len, 0, &s), WIRE_ERR_OK);
    assert_int_equal(s.opt.present, 0);

    base_packet(V4_DATA, pkt, &len);
    m_null_flags(pkt, len);
    fix_checksums(pkt, len);
    assert_int_equal(parse_exact(pkt, len, WIRE_PARSE_LENIENT, &s), WIRE_ERR_OK);
    assert_int_equal(s.flags, 0);
    assert_int_equal(s.payload_len, 15);
}

/* IPv4 sources and destinations on either side of each refused range
 * (RFC 1122 §3.2.1.3): multicast 224/4, 255.255.255.255, 0.0.0.0. */
static void test_ipv4_address_edges(void **state)
{
    (void)state;
    static const struct {
        uint8_t addr[4];
        bool unicast;
    } edges[] = {
        {{0, 0, 0, 0}, false},         {{0, 0, 0, 1}, true},           {{0, 255, 255, 255}, true},
        {{1, 0, 0, 0}, true},          {{223, 255, 255, 255}, true},   {{224, 0, 0, 0}, false},
        {{239, 255, 255, 255}, false}, {{240, 0, 0, 0}, true},         {{255, 255, 255, 254}, true},
        {{255, 255, 255, 255}, false}, {{127, 0, 0, 1}, true},
    };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        for (size_t at = 12; at <= 16; at += 4) { /* source, then destination */
            uint8_t pkt[256];
            size_t len;
            struct wire_seg s;
            base_packet(V4_DATA, pkt, &len);
            memcpy(pkt + at, edges[i].addr, 4);
            fix_checksums(pkt, len);
            assert_int_equal(parse_exact(pkt, len, 0, &s),
                             edges[i].unicast ? WIRE_ERR_OK : WIRE_ERR_BAD_IP_ADDRESS);
            assert_int_equal(parse_exact(pkt, len, WIRE_PARSE_LENIENT, &s), WIRE_ERR_OK);
        }
    }
}

/* Every prefix of a valid packet is rejected, with the reason the first
 * missing byte implies; and every cut of the TCP part with the IP length
 * fields adjusted to match. */
static void test_truncation_every_byte(void **state)
{
    (void)state;
    const struct {
        const uint8_t *pkt;
        size_t len, ip_len;
    } bases[] = {
        {linux_v4_syn, 60, 20}, {linux_v4_synack, 60, 20}, {linux_v4_data, 67, 20},
        {linux_v6_syn, 80, 40}, {linux_v6_synack, 80, 40}, {linux_v6_data, 87, 40},
    };
    for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
        const uint8_t *pkt = bases[b].pkt;
        size_t ip_len = bases[b].ip_len;
        struct wire_seg s;
        assert_int_equal(parse_exact(pkt, bases[b].len, 0, &s), WIRE_ERR_OK);
        for (size_t n = 0; n < bases[b].len; n++) {
            enum wire_err want = n < ip_len ? WIRE_ERR_TRUNCATED_IP : WIRE_ERR_BAD_IP_LENGTH;
            for (unsigned flags = 0; flags < 4; flags++)
                assert_int_equal(parse_exact(pkt, n, flags, &s), want);
        }
        /* The IP layer says the packet ends early: the TCP header is cut. */
        size_t header_len = ip_len + (size_t)(pkt[ip_len + 12] >> 4) * 4;
        for (size_t n = ip_len; n < header_len; n++) {
            uint8_t cut[128];
            memcpy(cut, pkt, n);
            size_t field = ip_len == 20 ? n : n - 40;
            cut[ip_len == 20 ? 2 : 4] = (uint8_t)(field >> 8);
            cut[ip_len == 20 ? 3 : 5] = (uint8_t)field;
            fix_checksums(cut, n);
            enum wire_err want =
                n - ip_len < 20 ? WIRE_ERR_TRUNCATED_TCP : WIRE_ERR_BAD_DATA_OFFSET;
            assert_int_equal(parse_exact(cut, n, 0, &s), want);
            assert_int_equal(parse_exact(cut, n, WIRE_PARSE_NO_CHECKSUM | WIRE_PARSE_LENIENT, &s),
                             want);
        }
    }
}

/* Options on their own (RFC 9293 §3.2, RFC 7323, RFC 2018). */
static void test_options_rules(void **state)
{
    (void)state;
    struct wire_tcp_options o;
    const struct {
        const char *name;
        uint8_t bytes[48];
        size_t len;
        enum wire_err expect;
        uint8_t present;
    } cases[] = {
        {"empty", {0}, 0, WIRE_ERR_OK, 0},
        {"NOPs only", {1, 1, 1, 1}, 4, WIRE_ERR_OK, 0},
        {"EOL then garbage", {0, 0xff, 0x00, 0x07}, 4, WIRE_ERR_OK, 0},
        {"MSS then EOL then junk", {2, 4, 5, 0xb4, 0, 2, 0}, 7, WIRE_ERR_OK, WIRE_OPT_MSS},
        {"unknown kind skipped", {254, 6, 0xf9, 0x89, 0, 0, 2, 4, 1, 0}, 10, WIRE_ERR_OK,
         WIRE_OPT_MSS},
        {"MD5 signature (19) skipped", {19, 18, [18] = 1, 1}, 20, WIRE_ERR_OK, 0},
        {"length 0", {254, 0}, 2, WIRE_ERR_BAD_OPTION_LENGTH, 0},
        {"length 1", {2, 1, 0, 0}, 4, WIRE_ERR_BAD_OPTION_LENGTH, 0},
        {"length past end", {1, 2, 4, 5, 0}, 4, WIRE_ERR_BAD_OPTION_LENGTH, 0},
        {"no length byte", {1, 1, 1, 8}, 4, WIRE_ERR_BAD_OPTION_LENGTH, 0},
        {"kind 1 at the end is fine", {1, 1, 1, 1}, 4, WIRE_ERR_OK, 0},
        {"WS length 4 ignored", {3, 4, 7, 0}, 4, WIRE_ERR_OK, 0},
        {"SACK-perm length 3 ignored", {4, 3, 0, 1}, 4, WIRE_ERR_OK, 0},
        {"TS length 8 ignored", {8, 8, 0, 0, 0, 1, 0, 0}, 8, WIRE_ERR_OK, 0},
        {"SACK length 2 ignored", {5, 2, 1, 1}, 4, WIRE_ERR_OK, 0},
        {"SACK length 11 ignored", {5, 11, [11] = 1}, 12, WIRE_ERR_OK, 0},
        {"good after ignored", {3, 4, 7, 0, 1, 3, 3, 9}, 8, WIRE_ERR_OK, WIRE_OPT_WSCALE},
        {"bad after good", {2, 4, 5, 0xb4, 3, 0}, 6, WIRE_ERR_BAD_OPTION_LENGTH, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum wire_err got = wire_parse_options(cases[i].bytes, cases[i].len, &o);
        if (got != cases[i].expect)
            fail_msg("case \"%s\": got %s", cases[i].name, wire_err_name(got));
        if (got == WIRE_ERR_OK && o.present != cases[i].present)
            fail_msg("case \"%s\": present %#x", cases[i].name, o.present);
    }

    /* Window scale above 14 is taken as 14 (RFC 7323 §2.3). */
    const uint8_t ws[] = {3, 3, 200, 1};
    assert_int_equal(wire_parse_options(ws, sizeof ws, &o), WIRE_ERR_OK);
    assert_int_equal(o.wscale, 14);
    const uint8_t ws14[] = {3, 3, 14, 1};
    assert_int_equal(wire_parse_options(ws14, sizeof ws14, &o), WIRE_ERR_OK);
    assert_int_equal(o.wscale, 14);

    /* SACK: 4 blocks kept, a 5th (only possible outside a real header) ignored. */
    uint8_t sack[2 + 5 * 8] = {5, 42};
    for (int i = 0; i < 40; i++)
        sack[2 + i] = (uint8_t)i;
    assert_int_equal(wire_parse_options(sack, sizeof sack, &o), WIRE_ERR_OK);
    assert_int_equal(o.present, WIRE_OPT_SACK);
    assert_int_equal(o.sack_count, 4);
    assert_int_equal(o.sack[0].left, 0x00010203u);
    assert_int_equal(o.sack[3].right, 0x1c1d1e1fu);
    /* A later option of the same kind replaces the earlier one. */
    const uint8_t twice[] = {2, 4, 0, 100, 2, 4, 0, 200};
    assert_int_equal(wire_parse_options(twice, sizeof twice, &o), WIRE_ERR_OK);
    assert_int_equal(o.mss, 200);
}

/* 100k random buffers, never a crash; half start with a plausible version
 * nibble and checksum checks off, so parsing gets past the first bytes. */
static void test_random_buffers(void **state)
{
    (void)state;
    struct xorshift rng = {0x0123456789abcdefULL};
    uint8_t buf[160];
    unsigned counts[WIRE_ERR_COUNT] = {0};
    for (int iter = 0; iter < 100000; iter++) {
        uint64_t r = xorshift_next(&rng);
        size_t len = (size_t)(r % sizeof buf);
        for (size_t i = 0; i < len; i += 8) {
            uint64_t v = xorshift_next(&rng);
            memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
        }
        unsigned flags = (unsigned)(r >> 8) & 3;
        if (len && (r >> 10) & 1) {
            bool v6 = (r >> 11) & 1;
            buf[0] = (uint8_t)((v6 ? 0x60 : 0x45) | (buf[0] & (v6 ? 0x0f : 0x00)));
            if (!v6 && len >= 20) {
                buf[2] = (uint8_t)(len >> 8);
                buf[3] = (uint8_t)len;
                buf[6] = 0x40;
                buf[7] = 0;
                buf[9] = 6;
            } else if (v6 && len >= 40) {
                buf[4] = 0;
                buf[5] = (uint8_t)(len - 40);
                buf[6] = 6;
            }
            flags |= WIRE_PARSE_NO_CHECKSUM;
        }
        struct wire_seg s;
        enum wire_err err = parse_exact(buf, len, flags, &s);
        assert_true((unsigned)err < WIRE_ERR_COUNT);
        counts[err]++;
    }
    /* The random walk reached deep into the parser. */
    assert_true(counts[WIRE_ERR_OK] > 0);
    assert_true(counts[WIRE_ERR_BAD_OPTION_LENGTH] > 0);
    assert_true(counts[WIRE_ERR_BAD_DATA_OFFSET] > 0);
}

/* Valid packets with random bytes overwritten: closer to real corruption. */
static void test_random_mutations(void **state)
{
    (void)state;
    struct xorshift rng = {0xfeedfacecafebeefULL};
    const uint8_t *src[] = {linux_v4_syn, linux_v4_data, linux_v6_syn, linux_v6_data};
    const size_t lens[] = {linux_v4_syn_len, linux_v4_data_len, linux_v6_syn_len,
                           linux_v6_data_len};
    for (int iter = 0; iter < 50000; iter++) {
        uint64_t r = xorshift_next(&rng);
        size_t b = r & 3;
        uint8_t pkt[128];
        memcpy(pkt, src[b], lens[b]);
        int edits = 1 + (int)((r >> 2) & 3);
        for (int e = 0; e < edits; e++) {
            uint64_t q = xorshift_next(&rng);
            pkt[q % lens[b]] = (uint8_t)(q >> 32);
        }
        size_t len = lens[b] - (size_t)((r >> 8) & 1 ? (r >> 16) % 8 : 0);
        if ((r >> 24) & 1)
            fix_checksums(pkt, len);
        struct wire_seg s;
        for (unsigned flags = 0; flags < 4; flags++)
            assert_true((unsigned)parse_exact(pkt, len, flags, &s) < WIRE_ERR_COUNT);
    }
    /* And the option parser on random option bytes. */
    for (int iter = 0; iter < 100000; iter++) {
        uint8_t opt[40];
        uint64_t r = xorshift_next(&rng);
        size_t len = r % 41;
        for (size_t i = 0; i < len; i++)
            opt[i] = (uint8_t)(xorshift_next(&rng) % 12); /* mostly known kinds */
        uint8_t *exact = malloc(len ? len : 1);
        assert_non_null(exact);
        memcpy(exact, opt, len);
        struct wire_tcp_options o;
        enum wire_err err = wire_parse_options(exact, len, &o);
        free(exact);
        assert_true(err == WIRE_ERR_OK || err == WIRE_ERR_BAD_OPTION_LENGTH);
        assert_true(o.sack_count <= WIRE_MAX_SACK_BLOCKS && o.wscale <= WIRE_MAX_WSCALE);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_table),     cmocka_unit_test(test_kept_segments_content),
        cmocka_unit_test(test_ipv4_address_edges),
        cmocka_unit_test(test_truncation_every_byte), cmocka_unit_test(test_options_rules),
        cmocka_unit_test(test_random_buffers),    cmocka_unit_test(test_random_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
