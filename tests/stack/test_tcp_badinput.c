/* Bad input, table-driven (issue 3, "Done means"): malformed and hostile
 * packets fed (a) to a listener that holds one half-open entry and (b) to
 * an established connection. For every row: the outcome (dropped silently,
 * RST, ACK, challenge ACK, SYN-ACK), the counters that must move, that no
 * other counter, state, entry or buffer changed, and that the connection
 * still works afterwards (one byte each way).
 *
 * Rules: RFC 791 §3.1 and RFC 8200 (IP), RFC 1122 §3.2.1.3 (addresses),
 * RFC 9293 §3.1-§3.2 (header, options), §3.10.7.1-§3.10.7.4 (segment
 * arrives), RFC 5961 (blind attacks), RFC 7323 §2.3 (window scale). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

enum ctx_kind { CTX_LISTEN = 1, CTX_ESTAB = 2, CTX_BOTH = 3 };
enum outcome { DROP, RST, ACK, CHALLENGE_ACK, SYNACK };
static const char *const outcome_name[] = {"dropped", "RST", "ACK", "challenge ACK", "SYN-ACK"};

/* The scene a row is played against. */
struct ctx {
    enum ctx_kind kind;
    struct harness *h;
    int listener, sd;
    uint16_t peer_port; /* the half-open entry's or the connection's peer */
    uint32_t snd_nxt;   /* the stack's next sequence number there */
    uint32_t rcv_nxt;   /* what the stack expects from the peer there */
};

#define LISTEN_OTHER_PORT 40001 /* rows aimed at the listener itself */
#define LISTEN_OTHER_ISN 7000u

/* ---- raw packet helpers (IPv4, 20-byte IP header as wire_build writes) ---- */
static uint16_t load16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void store16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static uint32_t load32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void store32(uint8_t *p, uint32_t v)
{
    store16(p, (uint16_t)(v >> 16));
    store16(p + 2, (uint16_t)v);
}

static void fix_ip_csum(uint8_t *pkt)
{
    store16(pkt + 10, 0);
    store16(pkt + 10, wire_csum_fold(wire_csum_add(0, pkt, 20)));
}

/* Recomputes the TCP checksum over the IP total length (the row wants a
 * valid checksum around its corruption). */
static void fix_tcp_csum(uint8_t *pkt)
{
    size_t tcp_len = load16(pkt + 2) - 20u;
    struct wire_addr src = wire_addr_v4(load32(pkt + 12)), dst = wire_addr_v4(load32(pkt + 16));
    store16(pkt + 20 + 16, 0);
    store16(pkt + 20 + 16, wire_tcp_checksum(&src, &dst, pkt + 20, tcp_len));
}

static void fix_both(uint8_t *pkt)
{
    fix_ip_csum(pkt);
    fix_tcp_csum(pkt);
}

struct seg_spec {
    uint8_t flags;
    uint32_t seq, ack;
    uint16_t window, urg_ptr, sport, dport;
    uint32_t src; /* 0: the peer, 10.0.0.2 */
    const char *payload;
    uint32_t len;
    struct wire_tcp_options opt;
};

static size_t build(struct ctx *c, uint8_t *pkt, const struct seg_spec *sp)
{
    struct wire_seg seg = {0};
    seg.tuple.src = sp->src ? wire_addr_v4(sp->src) : c->h->remote.addr;
    seg.tuple.dst = c->h->local.addr;
    seg.tuple.sport = sp->sport ? sp->sport : c->peer_port;
    seg.tuple.dport = sp->dport ? sp->dport : c->h->local.port;
    seg.ip_version = 4;
    seg.flags = sp->flags;
    seg.seq = sp->seq;
    seg.ack = sp->ack;
    seg.window = sp->window ? sp->window : 65535;
    seg.urg_ptr = sp->urg_ptr;
    seg.payload = (const uint8_t *)sp->payload;
    seg.payload_len = sp->len;
    seg.opt = sp->opt;
    size_t n = wire_build(pkt, 2048, &seg);
    assert_true(n > 0);
    return n;
}

/* The well-formed packet that structural rows corrupt: a SYN with an MSS
 * option to the listener, or one byte of data with an MSS-sized option
 * block (a NOP-padded MSS option is legal on any segment) to the
 * connection. Options start at TCP offset 20. */
static size_t base(struct ctx *c, uint8_t *pkt)
{
    struct seg_spec sp = {.opt = {.present = WIRE_OPT_MSS, .mss = 1460}};
    if (c->kind == CTX_LISTEN) {
        sp.flags = WIRE_SYN;
        sp.seq = LISTEN_OTHER_ISN;
        sp.sport = LISTEN_OTHER_PORT;
    } else {
        sp.flags = WIRE_ACK | WIRE_PSH;
        sp.seq = c->rcv_nxt;
        sp.ack = c->snd_nxt;
        sp.payload = "z";
        sp.len = 1;
    }
    return build(c, pkt, &sp);
}

/* ---- structural rows: the same corruption against both scenes ---- */
static size_t r_empty(struct ctx *c, uint8_t *p) { (void)c, (void)p; return 0; }
static size_t r_ip_truncated(struct ctx *c, uint8_t *p) { base(c, p); return 10; }
static size_t r_ip_version_5(struct ctx *c, uint8_t *p) { size_t n = base(c, p); p[0] = 0x55; fix_ip_csum(p); return n; }
static size_t r_ihl_4(struct ctx *c, uint8_t *p) { size_t n = base(c, p); p[0] = 0x44; return n; }
static size_t r_ihl_past_end(struct ctx *c, uint8_t *p) { base(c, p); p[0] = 0x4f; store16(p + 2, 40); return 40; }
static size_t r_total_len_long(struct ctx *c, uint8_t *p) { size_t n = base(c, p); store16(p + 2, (uint16_t)(n + 8)); fix_ip_csum(p); return n; }
static size_t r_total_len_short(struct ctx *c, uint8_t *p) { size_t n = base(c, p); store16(p + 2, 12); fix_ip_csum(p); return n; }
static size_t r_ip_csum(struct ctx *c, uint8_t *p) { size_t n = base(c, p); p[10] ^= 0x5a; return n; }
static size_t r_frag_mf(struct ctx *c, uint8_t *p) { size_t n = base(c, p); store16(p + 6, 0x2000); fix_ip_csum(p); return n; }
static size_t r_frag_offset(struct ctx *c, uint8_t *p) { size_t n = base(c, p); store16(p + 6, 0x0001); fix_ip_csum(p); return n; }
static size_t r_not_tcp(struct ctx *c, uint8_t *p) { size_t n = base(c, p); p[9] = 17; fix_ip_csum(p); return n; }
static size_t set_src(struct ctx *c, uint8_t *p, uint32_t a) { size_t n = base(c, p); store32(p + 12, a); fix_both(p); return n; }
static size_t r_src_multicast(struct ctx *c, uint8_t *p) { return set_src(c, p, 0xe0000001); }
static size_t r_src_broadcast(struct ctx *c, uint8_t *p) { return set_src(c, p, 0xffffffff); }
static size_t r_src_zero(struct ctx *c, uint8_t *p) { return set_src(c, p, 0); }
static size_t r_dst_broadcast(struct ctx *c, uint8_t *p) { size_t n = base(c, p); store32(p + 16, 0xffffffff); fix_both(p); return n; }
static size_t r_dst_multicast(struct ctx *c, uint8_t *p) { size_t n = base(c, p); store32(p + 16, 0xe00000fb); fix_both(p); return n; }

/* IPv6 (RFC 8200): the same TCP segment behind a 40-byte header from
 * fd00::2 to fd00::1, with `ext` extra bytes of extension header. */
static size_t v6(struct ctx *c, uint8_t *p, uint8_t next, size_t ext)
{
    uint8_t v4[2048];
    size_t n = base(c, v4), tcp_len = n - 20;
    memset(p, 0, 40 + ext);
    p[0] = 0x60;
    store16(p + 4, (uint16_t)(tcp_len + ext));
    p[6] = next;
    p[7] = 64;
    p[8] = 0xfd;
    p[23] = 2;
    p[24] = 0xfd;
    p[39] = 1;
    memcpy(p + 40 + ext, v4 + 20, tcp_len);
    return 40 + ext + tcp_len;
}
static size_t r_v6_fragment(struct ctx *c, uint8_t *p)
{
    size_t n = v6(c, p, 44, 8);
    p[40] = 6;              /* fragment header: next header TCP */
    store16(p + 42, 0x0001); /* offset 0, M=1: a first fragment */
    return n;
}
static size_t r_v6_no_next(struct ctx *c, uint8_t *p) { return v6(c, p, 59, 0); }
static size_t r_v6_mapped_src(struct ctx *c, uint8_t *p)
{
    size_t n = v6(c, p, 6, 0);
    memset(p + 8, 0, 16);
    p[18] = p[19] = 0xff;
    store32(p + 20, 0x0a000002); /* ::ffff:10.0.0.2 would alias the IPv4 peer */
    return n;
}
static size_t r_v6_truncated(struct ctx *c, uint8_t *p) { v6(c, p, 6, 0); return 30; }

static size_t r_tcp_truncated(struct ctx *c, uint8_t *p) { base(c, p); store16(p + 2, 30); fix_ip_csum(p); return 30; }
static size_t r_tcp_csum(struct ctx *c, uint8_t *p) { size_t n = base(c, p); p[20 + 16] ^= 0x33; return n; }
static size_t r_doff_4(struct ctx *c, uint8_t *p) { size_t n = base(c, p); p[20 + 12] = 0x40; fix_tcp_csum(p); return n; }
static size_t r_doff_past_end(struct ctx *c, uint8_t *p) { size_t n = base(c, p); p[20 + 12] = 0xf0; fix_tcp_csum(p); return n; }
static size_t r_optlen_0(struct ctx *c, uint8_t *p) { size_t n = base(c, p); p[20 + 21] = 0; fix_tcp_csum(p); return n; }
static size_t r_optlen_1(struct ctx *c, uint8_t *p) { size_t n = base(c, p); p[20 + 21] = 1; fix_tcp_csum(p); return n; }
static size_t r_optlen_past(struct ctx *c, uint8_t *p) { size_t n = base(c, p); p[20 + 21] = 40; fix_tcp_csum(p); return n; }
static size_t r_opt_kind_at_end(struct ctx *c, uint8_t *p)
{
    /* NOP NOP NOP then a lone kind byte with no length in the last slot */
    size_t n = base(c, p);
    p[40] = 1, p[41] = 1, p[42] = 1, p[43] = 8;
    fix_tcp_csum(p);
    return n;
}
static size_t set_flags(struct ctx *c, uint8_t *p, uint8_t f) { size_t n = base(c, p); p[20 + 13] = f; fix_tcp_csum(p); return n; }
static size_t r_syn_fin(struct ctx *c, uint8_t *p) { return set_flags(c, p, WIRE_SYN | WIRE_FIN); }
static size_t r_syn_rst(struct ctx *c, uint8_t *p) { return set_flags(c, p, WIRE_SYN | WIRE_RST); }
static size_t r_no_flags(struct ctx *c, uint8_t *p) { return set_flags(c, p, 0); }
static size_t r_xmas(struct ctx *c, uint8_t *p) { return set_flags(c, p, 0x3f); }
static size_t r_sport_0(struct ctx *c, uint8_t *p) { size_t n = base(c, p); store16(p + 20, 0); fix_tcp_csum(p); return n; }
static size_t r_dport_0(struct ctx *c, uint8_t *p) { size_t n = base(c, p); store16(p + 22, 0); fix_tcp_csum(p); return n; }

/* ---- rows for the listener and its half-open entry (peer 40000, ISN 1000) ---- */
static size_t r_ack_to_listener(struct ctx *c, uint8_t *p)
{
    struct seg_spec sp = {.flags = WIRE_ACK, .seq = LISTEN_OTHER_ISN + 1, .ack = 0xabcdef, .sport = LISTEN_OTHER_PORT};
    return build(c, p, &sp);
}
static size_t r_rst_to_listener(struct ctx *c, uint8_t *p)
{
    struct seg_spec sp = {.flags = WIRE_RST, .seq = LISTEN_OTHER_ISN, .sport = LISTEN_OTHER_PORT};
    return build(c, p, &sp);
}
static size_t r_fin_to_listener(struct ctx *c, uint8_t *p)
{
    struct seg_spec sp = {.flags = WIRE_FIN, .seq = LISTEN_OTHER_ISN, .sport = LISTEN_OTHER_PORT};
    return build(c, p, &sp);
}
static size_t r_data_no_ack_to_listener(struct ctx *c, uint8_t *p)
{
    struct seg_spec sp = {.flags = WIRE_PSH, .seq = LISTEN_OTHER_ISN, .sport = LISTEN_OTHER_PORT, .payload = "data", .len = 4};
    return build(c, p, &sp);
}
static size_t r_synack_to_listener(struct ctx *c, uint8_t *p)
{
    struct seg_spec sp = {.flags = WIRE_SYN | WIRE_ACK, .seq = LISTEN_OTHER_ISN, .ack = 0x1234, .sport = LISTEN_OTHER_PORT};
    return build(c, p, &sp);
}
static size_t r_syn_wscale_15(struct ctx *c, uint8_t *p)
{
    struct seg_spec sp = {.flags = WIRE_SYN, .seq = LISTEN_OTHER_ISN, .sport = LISTEN_OTHER_PORT,
                          .opt = {.present = WIRE_OPT_MSS | WIRE_OPT_WSCALE, .mss = 1460, .wscale = 15}};
    return build(c, p, &sp);
}
static size_t r_syn_wscale_255(struct ctx *c, uint8_t *p)
{
    size_t n = r_syn_wscale_15(c, p);
    p[20 + 27] = 255;
    fix_tcp_csum(p);
    return n;
}
static size_t r_syn_mss_0(struct ctx *c, uint8_t *p)
{
    struct seg_spec sp = {.flags = WIRE_SYN, .seq = LISTEN_OTHER_ISN, .sport = LISTEN_OTHER_PORT,
                          .opt = {.present = WIRE_OPT_MSS, .mss = 0}};
    return build(c, p, &sp);
}
static size_t r_syn_with_data(struct ctx *c, uint8_t *p)
{
    struct seg_spec sp = {.flags = WIRE_SYN, .seq = LISTEN_OTHER_ISN, .sport = LISTEN_OTHER_PORT, .payload = "early", .len = 5};
    return build(c, p, &sp);
}
static size_t r_syn_closed_port(struct ctx *c, uint8_t *p)
{
    struct seg_spec sp = {.flags = WIRE_SYN, .seq = LISTEN_OTHER_ISN, .sport = LISTEN_OTHER_PORT, .dport = 81};
    return build(c, p, &sp);
}
static size_t r_dup_syn_half_open(struct ctx *c, uint8_t *p)
{
    struct seg_spec sp = {.flags = WIRE_SYN, .seq = c->rcv_nxt - 1};
    return build(c, p, &sp);
}
static size_t r_bad_ack_half_open(struct ctx *c, uint8_t *p)
{
    struct seg_spec sp = {.flags = WIRE_ACK, .seq = c->rcv_nxt, .ack = c->snd_nxt + 1000};
    return build(c, p, &sp);
}
static size_t r_stale_seq_half_open(struct ctx *c, uint8_t *p)
{
    struct seg_spec sp = {.flags = WIRE_ACK, .seq = c->rcv_nxt + 200000, .ack = c->snd_nxt};
    return build(c, p, &sp);
}
static size_t r_rst_out_of_window_half_open(struct ctx *c, uint8_t *p)
{
    struct seg_spec sp = {.flags = WIRE_RST, .seq = c->rcv_nxt + 200000};
    return build(c, p, &sp);
}
static size_t r_data_no_ack_half_open(struct ctx *c, uint8_t *p)
{
    struct seg_spec sp = {.flags = WIRE_PSH, .seq = c->rcv_nxt, .payload = "data", .len = 4};
    return build(c, p, &sp);
}

/* ---- rows for the established connection (peer 40000) ---- */
static size_t estab(struct ctx *c, uint8_t *p, uint8_t flags, int32_t dseq, int32_t dack, const char *data)
{
    struct seg_spec sp = {.flags = flags, .seq = c->rcv_nxt + (uint32_t)dseq, .ack = c->snd_nxt + (uint32_t)dack,
                          .payload = data, .len = data ? (uint32_t)strlen(data) : 0};
    return build(c, p, &sp);
}
static size_t r_data_out_of_window(struct ctx *c, uint8_t *p) { return estab(c, p, WIRE_ACK, 200000, 0, "zzzz"); }
static size_t r_data_old(struct ctx *c, uint8_t *p) { return estab(c, p, WIRE_ACK, -10, 0, "zzzzz"); }
static size_t r_data_beyond_window(struct ctx *c, uint8_t *p) { return estab(c, p, WIRE_ACK, 65535, 0, "z"); }
static size_t r_ack_unsent(struct ctx *c, uint8_t *p) { return estab(c, p, WIRE_ACK, 0, 1000, NULL); }
static size_t r_ack_stale(struct ctx *c, uint8_t *p) { return estab(c, p, WIRE_ACK, 0, -100000, NULL); }
static size_t r_rst_out_of_window(struct ctx *c, uint8_t *p) { return estab(c, p, WIRE_RST, 200000, 0, NULL); }
static size_t r_rst_left_of_window(struct ctx *c, uint8_t *p) { return estab(c, p, WIRE_RST, -1, 0, NULL); }
static size_t r_rst_in_window(struct ctx *c, uint8_t *p) { return estab(c, p, WIRE_RST, 100, 0, NULL); }
static size_t r_rstack_in_window(struct ctx *c, uint8_t *p) { return estab(c, p, WIRE_RST | WIRE_ACK, 1, 0, NULL); }
static size_t r_syn_in_window(struct ctx *c, uint8_t *p) { return estab(c, p, WIRE_SYN, 0, 0, NULL); }
static size_t r_syn_out_of_window(struct ctx *c, uint8_t *p) { return estab(c, p, WIRE_SYN, 200000, 0, NULL); }
static size_t r_old_syn(struct ctx *c, uint8_t *p) { return estab(c, p, WIRE_SYN, -1, 0, NULL); }
static size_t r_old_synack(struct ctx *c, uint8_t *p) { return estab(c, p, WIRE_SYN | WIRE_ACK, -1, 0, NULL); }
static size_t r_fin_out_of_window(struct ctx *c, uint8_t *p) { return estab(c, p, WIRE_FIN | WIRE_ACK, 200000, 0, NULL); }
static size_t r_data_without_ack(struct ctx *c, uint8_t *p) { return estab(c, p, WIRE_PSH, 0, 0, "zz"); }
static size_t r_fin_without_ack(struct ctx *c, uint8_t *p) { return estab(c, p, WIRE_FIN, 0, 0, NULL); }
static size_t r_urg_garbage(struct ctx *c, uint8_t *p)
{
    struct seg_spec sp = {.flags = WIRE_ACK | WIRE_URG, .seq = c->rcv_nxt, .ack = c->snd_nxt, .urg_ptr = 0xffff};
    return build(c, p, &sp);
}
static size_t r_sack_unsent(struct ctx *c, uint8_t *p)
{
    struct seg_spec sp = {.flags = WIRE_ACK, .seq = c->rcv_nxt, .ack = c->snd_nxt,
                          .opt = {.present = WIRE_OPT_SACK, .sack_count = 2,
                                  .sack = {{c->snd_nxt + 100, c->snd_nxt + 200}, {c->snd_nxt - 5000, c->snd_nxt + 90000}}}};
    return build(c, p, &sp);
}
static size_t r_spoofed_source(struct ctx *c, uint8_t *p)
{
    struct seg_spec sp = {.flags = WIRE_ACK | WIRE_PSH, .seq = c->rcv_nxt, .ack = c->snd_nxt, .src = 0x0a000003,
                          .payload = "z", .len = 1};
    return build(c, p, &sp);
}
static size_t r_wrong_local_port(struct ctx *c, uint8_t *p)
{
    struct seg_spec sp = {.flags = WIRE_ACK | WIRE_PSH, .seq = c->rcv_nxt, .ack = c->snd_nxt, .dport = 81,
                          .payload = "z", .len = 1};
    return build(c, p, &sp);
}

struct row {
    const char *name;
    unsigned ctx;                 /* CTX_* it is played against */
    size_t (*make)(struct ctx *, uint8_t *);
    enum outcome outcome;
    const char *must[3];          /* counters that must move by exactly one */
    const char *may[3];           /* counters that may move by one (Linux and RFC differ) */
    int new_entries;              /* a SYN-ACK row makes a half-open entry */
    bool known_failure;           /* KNOWN_FAILURES.md: skipped unless SYNACK_KNOWN_FAILURES */
};

#define IPD {"IpInDiscards"}
#define ERR {"InErrs"}
static const struct row rows[] = {
    /* IP layer (RFC 791 §3.1, RFC 8200, RFC 1122 §3.2.1.3): dropped before TCP */
    {"empty packet", CTX_BOTH, r_empty, DROP, IPD, {0}, 0, false},
    {"IPv4 header truncated", CTX_BOTH, r_ip_truncated, DROP, IPD, {0}, 0, false},
    {"IP version 5", CTX_BOTH, r_ip_version_5, DROP, IPD, {0}, 0, false},
    {"IHL 4 (16-byte header)", CTX_BOTH, r_ihl_4, DROP, IPD, {0}, 0, false},
    {"IHL past the packet", CTX_BOTH, r_ihl_past_end, DROP, IPD, {0}, 0, false},
    {"total length past the packet", CTX_BOTH, r_total_len_long, DROP, IPD, {0}, 0, false},
    {"total length below the header", CTX_BOTH, r_total_len_short, DROP, IPD, {0}, 0, false},
    {"bad IPv4 checksum", CTX_BOTH, r_ip_csum, DROP, IPD, {0}, 0, false},
    {"IPv4 fragment (MF)", CTX_BOTH, r_frag_mf, DROP, IPD, {0}, 0, false},
    {"IPv4 fragment (offset)", CTX_BOTH, r_frag_offset, DROP, IPD, {0}, 0, false},
    {"not TCP (UDP)", CTX_BOTH, r_not_tcp, DROP, IPD, {0}, 0, false},
    {"multicast source", CTX_BOTH, r_src_multicast, DROP, IPD, {0}, 0, false},
    {"broadcast source", CTX_BOTH, r_src_broadcast, DROP, IPD, {0}, 0, false},
    {"source 0.0.0.0", CTX_BOTH, r_src_zero, DROP, IPD, {0}, 0, false},
    {"broadcast destination", CTX_BOTH, r_dst_broadcast, DROP, IPD, {0}, 0, false},
    {"multicast destination", CTX_BOTH, r_dst_multicast, DROP, IPD, {0}, 0, false},
    {"IPv6 fragment header", CTX_BOTH, r_v6_fragment, DROP, IPD, {0}, 0, false},
    {"IPv6 no next header", CTX_BOTH, r_v6_no_next, DROP, IPD, {0}, 0, false},
    {"IPv6 IPv4-mapped source", CTX_BOTH, r_v6_mapped_src, DROP, IPD, {0}, 0, false},
    {"IPv6 header truncated", CTX_BOTH, r_v6_truncated, DROP, IPD, {0}, 0, false},
    /* TCP header (RFC 9293 §3.1, §3.2): counted InErrs and dropped */
    {"TCP header truncated", CTX_BOTH, r_tcp_truncated, DROP, ERR, {0}, 0, false},
    {"bad TCP checksum", CTX_BOTH, r_tcp_csum, DROP, {"InErrs", "InCsumErrors"}, {0}, 0, false},
    {"data offset 4", CTX_BOTH, r_doff_4, DROP, ERR, {0}, 0, false},
    {"data offset past the segment", CTX_BOTH, r_doff_past_end, DROP, ERR, {0}, 0, false},
    {"option length 0", CTX_BOTH, r_optlen_0, DROP, ERR, {0}, 0, false},
    {"option length 1", CTX_BOTH, r_optlen_1, DROP, ERR, {0}, 0, false},
    {"option length past the header", CTX_BOTH, r_optlen_past, DROP, ERR, {0}, 0, false},
    {"option kind without length", CTX_BOTH, r_opt_kind_at_end, DROP, ERR, {0}, 0, false},
    {"SYN+FIN", CTX_BOTH, r_syn_fin, DROP, ERR, {0}, 0, false},
    {"SYN+RST", CTX_BOTH, r_syn_rst, DROP, ERR, {0}, 0, false},
    {"no flags (null scan)", CTX_BOTH, r_no_flags, DROP, ERR, {0}, 0, false},
    {"all flags (xmas)", CTX_BOTH, r_xmas, DROP, ERR, {0}, 0, false},
    {"source port 0", CTX_BOTH, r_sport_0, DROP, ERR, {0}, 0, false},
    {"destination port 0", CTX_BOTH, r_dport_0, DROP, ERR, {0}, 0, false},
    /* LISTEN (RFC 9293 §3.10.7.2) */
    {"ACK to a listener", CTX_LISTEN, r_ack_to_listener, RST, {0}, {"ListenDrops"}, 0, false},
    {"RST to a listener", CTX_LISTEN, r_rst_to_listener, DROP, {0}, {0}, 0, false},
    {"FIN to a listener", CTX_LISTEN, r_fin_to_listener, DROP, {0}, {"ListenDrops"}, 0, false},
    {"data without ACK to a listener", CTX_LISTEN, r_data_no_ack_to_listener, DROP, {0}, {"ListenDrops"}, 0, false},
    {"SYN-ACK to a listener", CTX_LISTEN, r_synack_to_listener, RST, {0}, {"ListenDrops"}, 0, false},
    {"SYN with window scale 15", CTX_LISTEN, r_syn_wscale_15, SYNACK, {0}, {0}, 1, false},
    {"SYN with window scale 255", CTX_LISTEN, r_syn_wscale_255, SYNACK, {0}, {0}, 1, false},
    {"SYN with MSS 0", CTX_LISTEN, r_syn_mss_0, SYNACK, {0}, {0}, 1, false},
    {"SYN with data", CTX_LISTEN, r_syn_with_data, SYNACK, {0}, {0}, 1, false},
    {"SYN to a closed port", CTX_LISTEN, r_syn_closed_port, RST, {"NoSocketRsts"}, {0}, 0, false},
    /* SYN-RECEIVED, half-open entry (RFC 9293 §3.10.7.4, Linux tcp_check_req) */
    {"duplicate SYN to a half-open entry", CTX_LISTEN, r_dup_syn_half_open, SYNACK, {"RetransSegs"}, {"TCPSynRetrans"}, 0, false},
    {"bad ACK to a half-open entry", CTX_LISTEN, r_bad_ack_half_open, RST, {0}, {"TCPAckUnacceptable"}, 0, false},
    {"out-of-window ACK to a half-open entry", CTX_LISTEN, r_stale_seq_half_open, ACK, {0}, {"TCPACKSkippedSynRecv"}, 0, false},
    {"out-of-window RST to a half-open entry", CTX_LISTEN, r_rst_out_of_window_half_open, DROP, {0}, {"TCPACKSkippedSynRecv"}, 0, false},
    {"data without ACK to a half-open entry", CTX_LISTEN, r_data_no_ack_half_open, DROP, {0}, {0}, 0, false},
    /* ESTABLISHED (RFC 9293 §3.10.7.4, RFC 5961) */
    {"data out of window", CTX_ESTAB, r_data_out_of_window, ACK, {"TCPSegUnacceptable"}, {0}, 0, false},
    {"old data (already received)", CTX_ESTAB, r_data_old, ACK, {"TCPSegUnacceptable"}, {"TCPDSACKOldSent"}, 0, false},
    {"data beyond the window", CTX_ESTAB, r_data_beyond_window, ACK, {"TCPSegUnacceptable"}, {0}, 0, false},
    {"ACK of unsent data", CTX_ESTAB, r_ack_unsent, ACK, {"TCPAckUnacceptable"}, {0}, 0, false},
    {"stale ACK (below SND.UNA-MAX.SND.WND)", CTX_ESTAB, r_ack_stale, CHALLENGE_ACK, {"TCPAckUnacceptable"}, {"TCPChallengeACK"}, 0, false},
    {"RST out of window", CTX_ESTAB, r_rst_out_of_window, DROP, {"TCPRstUnacceptable"}, {"TCPSegUnacceptable"}, 0, false},
    {"RST left of the window", CTX_ESTAB, r_rst_left_of_window, DROP, {"TCPRstUnacceptable"}, {"TCPSegUnacceptable"}, 0, false},
    {"RST in window, not exact", CTX_ESTAB, r_rst_in_window, CHALLENGE_ACK, {"TCPChallengeACK"}, {0}, 0, false},
    {"RST+ACK in window, not exact", CTX_ESTAB, r_rstack_in_window, CHALLENGE_ACK, {"TCPChallengeACK"}, {0}, 0, false},
    {"SYN in window", CTX_ESTAB, r_syn_in_window, CHALLENGE_ACK, {"TCPChallengeACK", "TCPSYNChallenge"}, {0}, 0, false},
    {"SYN out of window", CTX_ESTAB, r_syn_out_of_window, CHALLENGE_ACK, {"TCPChallengeACK", "TCPSYNChallenge"}, {"TCPSegUnacceptable"}, 0, false},
    {"old duplicate SYN (at IRS)", CTX_ESTAB, r_old_syn, ACK, {0}, {"TCPSegUnacceptable", "TCPChallengeACK", "TCPSYNChallenge"}, 0, false},
    {"old duplicate SYN-ACK (at IRS)", CTX_ESTAB, r_old_synack, ACK, {0}, {"TCPSegUnacceptable", "TCPChallengeACK", "TCPSYNChallenge"}, 0, false},
    {"FIN out of window", CTX_ESTAB, r_fin_out_of_window, ACK, {"TCPSegUnacceptable"}, {0}, 0, false},
    {"data without ACK", CTX_ESTAB, r_data_without_ack, DROP, {0}, {0}, 0, false},
    {"FIN without ACK", CTX_ESTAB, r_fin_without_ack, DROP, {0}, {0}, 0, false},
    {"URG with a garbage pointer", CTX_ESTAB, r_urg_garbage, DROP, {0}, {"TCPPureAcks"}, 0, false},
    {"SACK blocks for unsent data", CTX_ESTAB, r_sack_unsent, DROP, {0}, {"TCPPureAcks"}, 0, false},
    {"spoofed source address (finds the listener)", CTX_ESTAB, r_spoofed_source, RST, {0}, {"ListenDrops"}, 0, false},
    {"wrong local port", CTX_ESTAB, r_wrong_local_port, RST, {"NoSocketRsts"}, {0}, 0, false},
};

/* ---- the scenes ---- */
static void scene_new(struct ctx *c, enum ctx_kind kind)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->h = harness_new(NULL);
    c->peer_port = 40000;
    c->sd = -1;
    if (kind == CTX_ESTAB) {
        uint32_t iss;
        c->sd = harness_passive_open(c->h, &c->listener, &iss);
        c->snd_nxt = iss + 1;
        c->rcv_nxt = 1001;
        return;
    }
    struct harness *h = c->h;
    c->listener = stack_socket(h->s);
    assert_int_equal(stack_bind(h->s, c->listener, &h->local), 0);
    assert_int_equal(stack_listen(h->s, c->listener, 16), 0);
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, NULL);
    c->snd_nxt = harness_expect(h, "S.", ANY, 1001, 0)->seq + 1;
    c->rcv_nxt = 1001;
}

/* One byte each way on the connection (accepting the half-open first). */
static int scene_still_works(struct ctx *c, const char *what)
{
    struct harness *h = c->h;
    harness_skip_all(h);
    h->remote.port = c->peer_port;
    int sd = c->sd;
    if (c->kind == CTX_LISTEN) {
        harness_inject(h, WIRE_ACK, c->rcv_nxt, c->snd_nxt, 65535, NULL, 0, NULL);
        sd = stack_accept(h->s, c->listener, NULL);
        if (sd < 0) {
            print_error("%s: the half-open entry no longer completes (accept: %d)\n", what, sd);
            return 1;
        }
    }
    if (stack_send(h->s, sd, "s", 1, h->now) != 1) {
        print_error("%s: send fails afterwards\n", what);
        return 1;
    }
    const struct wire_seg *s = harness_next(h);
    if (!s || s->seq != c->snd_nxt || s->ack != c->rcv_nxt || s->payload_len != 1) {
        print_error("%s: the byte sent afterwards is not <SEQ=%u><ACK=%u> len 1\n", what, c->snd_nxt, c->rcv_nxt);
        return 1;
    }
    harness_inject(h, WIRE_ACK | WIRE_PSH, c->rcv_nxt, c->snd_nxt + 1, 65535, "r", 1, NULL);
    char b[4];
    if (stack_recv(h->s, sd, b, sizeof b, h->now) != 1 || b[0] != 'r') {
        print_error("%s: the byte received afterwards is not delivered\n", what);
        return 1;
    }
    return 0;
}

static int counter_index(const char *name)
{
    for (int i = 0; i < tcp_counter_count(); i++)
        if (strcmp(tcp_counter_name(i), name) == 0)
            return i;
    fail_msg("no counter %s", name);
    return -1;
}

static bool listed(const char *const list[3], const char *name)
{
    for (int i = 0; i < 3; i++)
        if (list[i] && strcmp(list[i], name) == 0)
            return true;
    return false;
}

/* Plays one row against one scene; returns the number of problems. */
static int play(const struct row *r, enum ctx_kind kind)
{
    char what[160];
    snprintf(what, sizeof what, "[%s] %s", kind == CTX_LISTEN ? "listener" : "established", r->name);
    struct ctx c;
    scene_new(&c, kind);
    struct harness *h = c.h;
    int problems = 0;
    struct tcp_counters before = *stack_counters(h->s);
    size_t entries = stack_conn_count(h->s);
    int nstates = h->nstates;
    struct stack_conn_info info_before = {0}, info_after = {0};
    harness_conn_info(h, c.peer_port, &info_before);

    static uint8_t pkt[2048];
    memset(pkt, 0, sizeof pkt);
    size_t len = r->make(&c, pkt);
    harness_inject_raw(h, pkt, len);

    /* the outcome */
    const struct wire_seg *out = harness_next(h);
    int nout = out ? 1 : 0;
    char flags[WIRE_FLAGS_STRLEN] = "";
    if (out)
        wire_flags_str(out->flags, flags);
    switch (r->outcome) {
    case DROP:
        if (out) {
            print_error("%s: expected no answer, got [%s] seq=%u ack=%u\n", what, flags, out->seq, out->ack);
            problems++;
        }
        break;
    case RST:
        if (!out || !(out->flags & WIRE_RST)) {
            print_error("%s: expected a RST, got %s\n", what, out ? flags : "nothing");
            problems++;
        } else if ((out->flags & WIRE_ACK) == 0 && out->seq != load32(pkt + 20 + 8)) {
            print_error("%s: RST is not <SEQ=SEG.ACK>\n", what); /* RFC 9293 §3.10.7.1 */
            problems++;
        }
        break;
    case ACK:
    case CHALLENGE_ACK:
        if (!out || strcmp(flags, ".") != 0 || out->seq != c.snd_nxt || out->ack != c.rcv_nxt) {
            print_error("%s: expected %s <SEQ=%u><ACK=%u>, got %s seq=%u ack=%u\n", what, outcome_name[r->outcome],
                        c.snd_nxt, c.rcv_nxt, out ? flags : "nothing", out ? out->seq : 0, out ? out->ack : 0);
            problems++;
        }
        break;
    case SYNACK:
        if (!out || strcmp(flags, "S.") != 0 || out->payload_len != 0) {
            print_error("%s: expected a SYN-ACK, got %s\n", what, out ? flags : "nothing");
            problems++;
        }
        break;
    }
    if (out && harness_next(h)) {
        print_error("%s: more than one segment in answer\n", what);
        nout++;
        problems++;
    }

    /* the counters: the row's must move, others may, nothing else does */
    const struct tcp_counters *after = stack_counters(h->s);
    /* RFC 4022: tcpInSegs counts segments in error too, tcpOutSegs leaves
     * out retransmissions; IP-level drops never reach TCP. */
    bool reached_tcp = !listed(r->must, "IpInDiscards");
    for (int i = 0; i < tcp_counter_count(); i++) {
        const char *name = tcp_counter_name(i);
        int64_t d = (int64_t)(tcp_counter_get(after, i) - tcp_counter_get(&before, i));
        int64_t want = listed(r->must, name);
        if (strcmp(name, "InSegs") == 0)
            want = reached_tcp;
        else if (strcmp(name, "OutSegs") == 0)
            want = listed(r->must, "RetransSegs") ? 0 : nout;
        else if (strcmp(name, "OutRsts") == 0)
            want = out && (out->flags & WIRE_RST);
        if (d == want || (listed(r->may, name) && d == 1 && want == 0))
            continue;
        print_error("%s: counter %s moved by %lld, expected %lld\n", what, name, (long long)d, (long long)want);
        problems++;
    }
    for (int i = 0; i < 3; i++)
        if (r->must[i])
            counter_index(r->must[i]);

    /* nothing else changed */
    if (stack_conn_count(h->s) != entries + (size_t)r->new_entries) {
        print_error("%s: %zu entries, expected %zu\n", what, stack_conn_count(h->s), entries + (size_t)r->new_entries);
        problems++;
    }
    if (!r->new_entries && h->nstates != nstates) {
        print_error("%s: a state changed (%s -> %s)\n", what, tcp_state_name(h->states[nstates].from),
                    tcp_state_name(h->states[nstates].to));
        problems++;
    }
    if (!harness_conn_info(h, c.peer_port, &info_after) || info_after.state != info_before.state ||
        info_after.recv_q != info_before.recv_q || info_after.send_q != info_before.send_q) {
        print_error("%s: the connection's state or buffers changed\n", what);
        problems++;
    }
    if (stack_sock_state(h->s, c.listener) != TCP_STATE_LISTEN) {
        print_error("%s: the listener is gone\n", what);
        problems++;
    }
    if (kind == CTX_ESTAB) {
        char b[4];
        if (stack_sock_error(h->s, c.sd) != 0 || stack_recv(h->s, c.sd, b, sizeof b, h->now) != -EAGAIN) {
            print_error("%s: an error or data is pending on the connection\n", what);
            problems++;
        }
    } else if (stack_accept(h->s, c.listener, NULL) != -EAGAIN) {
        print_error("%s: a connection appeared in the accept queue\n", what);
        problems++;
    }
    if (!problems)
        problems += scene_still_works(&c, what);
    /* a bad packet must not have planted a timer that fires into trouble */
    harness_run_until(h, h->now + TCP_SEC(300));
    harness_free(h);
    return problems;
}

/* Every row against each scene it applies to; all problems are printed
 * before the test fails. */
static void run_table(enum ctx_kind kind)
{
    bool with_known = getenv("SYNACK_KNOWN_FAILURES") != NULL;
    int problems = 0, played = 0, skipped = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (!(rows[i].ctx & kind))
            continue;
        if (rows[i].known_failure && !with_known) {
            print_message("skipped (known failure): %s\n", rows[i].name);
            skipped++;
            continue;
        }
        problems += play(&rows[i], kind);
        played++;
    }
    print_message("%d rows played, %d skipped, %d problems\n", played, skipped, problems);
    assert_true(played >= 30);
    assert_int_equal(problems, 0);
}

static void test_bad_input_to_listener(void **state)
{
    (void)state;
    run_table(CTX_LISTEN);
}

static void test_bad_input_to_established(void **state)
{
    (void)state;
    run_table(CTX_ESTAB);
}

/* Linux tcp_parse_options ignores an MSS option of 0 (the default 536 of
 * RFC 9293 §3.7.1 stays); segments are never shrunk to a few bytes. */
static void test_syn_with_mss_zero_keeps_default_mss(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = harness_listen(h, 16);
    struct wire_tcp_options o = {.present = WIRE_OPT_MSS, .mss = 0};
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, &o);
    uint32_t iss = harness_expect(h, "S.", ANY, 1001, 0)->seq;
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, NULL);
    int sd = stack_accept(h->s, l, NULL);
    assert_true(sd >= 0);
    static uint8_t data[1000];
    memset(data, 'm', sizeof data);
    assert_int_equal(stack_send(h->s, sd, data, sizeof data, h->now), 1000);
    harness_expect(h, ".", iss + 1, 1001, 536);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input_to_listener),
        cmocka_unit_test(test_bad_input_to_established),
        cmocka_unit_test(test_syn_with_mss_zero_keeps_default_mss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
