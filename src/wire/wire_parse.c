/* Parsing: IPv4 (RFC 791), IPv6 (RFC 8200), TCP header and options
 * (RFC 9293 §3.1, §3.2; RFC 7323; RFC 2018). Every read is bounds-checked
 * against the span given; nothing is copied, the payload points into it. */
#include <string.h>

#include "wire/wire_csum.h"

static inline uint16_t load16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t load32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

enum {
    OPT_EOL = 0, /* RFC 9293 §3.2 */
    OPT_NOP = 1,
    OPT_MSS = 2,
    OPT_WSCALE = 3,    /* RFC 7323 §2.2 */
    OPT_SACK_PERM = 4, /* RFC 2018 §2 */
    OPT_SACK = 5,      /* RFC 2018 §3 */
    OPT_TIMESTAMP = 8, /* RFC 7323 §3.2 */
};

/* Linux's layouts: NOP NOP timestamps on every segment but the SYN
 * (RFC 7323 Appendix A), and MSS, SACK-permitted + timestamps, NOP window
 * scale on the SYN (tcp_options_write). Taken in one step, with the same
 * result as options_walk; false for any other layout. */
#define OPT_LAYOUT_NOP_NOP_TS 0x0101080au /* NOP NOP kind 8 length 10 */
#define OPT_LAYOUT_SACKPERM_TS 0x0402080au /* kind 4 length 2, kind 8 length 10 */

static inline bool options_linux(const uint8_t *opt, size_t len, struct wire_tcp_options *out)
{
    if (len == 12 && load32(opt) == OPT_LAYOUT_NOP_NOP_TS) {
        *out = (struct wire_tcp_options){
            .present = WIRE_OPT_TIMESTAMP, .ts_val = load32(opt + 4), .ts_ecr = load32(opt + 8)};
        return true;
    }
    if (len == 20 && load16(opt) == 0x0204 && load32(opt + 4) == OPT_LAYOUT_SACKPERM_TS &&
        load16(opt + 16) == 0x0103 && opt[18] == 3) {
        *out = (struct wire_tcp_options){
            .present = WIRE_OPT_MSS | WIRE_OPT_SACK_PERM | WIRE_OPT_TIMESTAMP | WIRE_OPT_WSCALE,
            .mss = load16(opt + 2),
            .ts_val = load32(opt + 8),
            .ts_ecr = load32(opt + 12),
            .wscale = opt[19] > WIRE_MAX_WSCALE ? WIRE_MAX_WSCALE : opt[19], /* RFC 7323 §2.3 */
        };
        return true;
    }
    return false;
}

/* Any layout, one option at a time (RFC 9293 §3.2). */
static enum wire_err options_walk(const uint8_t *opt, size_t len, struct wire_tcp_options *out)
{
    memset(out, 0, sizeof *out);
    size_t i = 0;
    while (i < len) {
        uint8_t kind = opt[i];
        if (kind == OPT_EOL) /* the rest is padding (RFC 9293 §3.2) */
            break;
        if (kind == OPT_NOP) {
            i++;
            continue;
        }
        /* Every other kind has a length byte counting kind and length
         * (RFC 9293 §3.2); one below 2 or past the header is malformed. */
        if (len - i < 2)
            return WIRE_ERR_BAD_OPTION_LENGTH;
        size_t olen = opt[i + 1];
        if (olen < 2 || olen > len - i)
            return WIRE_ERR_BAD_OPTION_LENGTH;
        const uint8_t *v = opt + i + 2;
        /* A known kind with the wrong length is skipped, as Linux's
         * tcp_parse_options() does, rather than failing the segment. */
        switch (kind) {
        case OPT_MSS:
            if (olen == 4) {
                out->mss = load16(v);
                out->present |= WIRE_OPT_MSS;
            }
            break;
        case OPT_WSCALE:
            if (olen == 3) { /* shifts above 14 are taken as 14 (RFC 7323 §2.3) */
                out->wscale = v[0] > WIRE_MAX_WSCALE ? WIRE_MAX_WSCALE : v[0];
                out->present |= WIRE_OPT_WSCALE;
            }
            break;
        case OPT_SACK_PERM:
            if (olen == 2)
                out->present |= WIRE_OPT_SACK_PERM;
            break;
        case OPT_SACK:
            if (olen >= 10 && (olen - 2) % 8 == 0) {
                size_t n = (olen - 2) / 8;
                if (n > WIRE_MAX_SACK_BLOCKS) /* cannot fit in 40 bytes anyway */
                    n = WIRE_MAX_SACK_BLOCKS;
                for (size_t b = 0; b < n; b++) {
                    out->sack[b].left = load32(v + 8 * b);
                    out->sack[b].right = load32(v + 8 * b + 4);
                }
                out->sack_count = (uint8_t)n;
                out->present |= WIRE_OPT_SACK;
            }
            break;
        case OPT_TIMESTAMP:
            if (olen == 10) {
                out->ts_val = load32(v);
                out->ts_ecr = load32(v + 4);
                out->present |= WIRE_OPT_TIMESTAMP;
            }
            break;
        default: /* unknown kinds are skipped by their length (RFC 9293 §3.2) */
            break;
        }
        i += olen;
    }
    return WIRE_ERR_OK;
}

enum wire_err wire_parse_options(const uint8_t *opt, size_t len, struct wire_tcp_options *out)
{
    return options_linux(opt, len, out) ? WIRE_ERR_OK : options_walk(opt, len, out);
}

/* Contradictory control bits: Linux drops SYN+FIN and SYN+RST
 * (tcp_rcv_state_process, tcp_validate_incoming); RFC 9293 §3.10.7. And a
 * segment with no flag at all is a null scan. */
static enum wire_err check_ports_flags(uint32_t ports, uint8_t tcp_flags)
{
    /* One test for the usual segment: bits 0-2 (FIN, SYN, RST) are 3, 6
     * or 7 (bits of 0xc8) only when SYN comes with FIN or RST. */
    if ((ports >> 16) != 0 && (ports & 0xffffu) != 0 && tcp_flags != 0 &&
        !((0xc8u >> (tcp_flags & 7)) & 1))
        return WIRE_ERR_OK;
    if ((ports >> 16) == 0 || (ports & 0xffffu) == 0)
        return WIRE_ERR_PORT_ZERO;
    if ((tcp_flags & (WIRE_SYN | WIRE_FIN)) == (WIRE_SYN | WIRE_FIN))
        return WIRE_ERR_SYN_FIN;
    if ((tcp_flags & (WIRE_SYN | WIRE_RST)) == (WIRE_SYN | WIRE_RST))
        return WIRE_ERR_SYN_RST;
    return WIRE_ERR_NO_FLAGS;
}

/* The TCP segment at tcp[0..len); pseudo_addrs is the pseudo-header's
 * address sum (wire_csum.h), unused with WIRE_PARSE_NO_CHECKSUM. */
static enum wire_err parse_tcp(const uint8_t *tcp, size_t len, unsigned flags, uint64_t pseudo_addrs,
                               struct wire_seg *out)
{
    if (len < 20)
        return WIRE_ERR_TRUNCATED_TCP;
    size_t header_len = (size_t)(tcp[12] >> 4) * 4; /* data offset, RFC 9293 §3.1 */
    if (header_len < 20 || header_len > len)
        return WIRE_ERR_BAD_DATA_OFFSET;
    if (!(flags & WIRE_PARSE_NO_CHECKSUM) &&
        !csum_verifies(csum_bytes(csum_add(pseudo_addrs, csum_pseudo_len(len)), tcp, len)))
        return WIRE_ERR_BAD_TCP_CHECKSUM;

    uint32_t ports = load32(tcp);
    uint8_t tcp_flags = tcp[13]; /* read once: the stores below may alias tcp */
    out->tuple.sport = (uint16_t)(ports >> 16);
    out->tuple.dport = (uint16_t)ports;
    out->seq = load32(tcp + 4);
    out->ack = load32(tcp + 8);
    out->flags = tcp_flags;
    out->window = load16(tcp + 14);
    out->urg_ptr = load16(tcp + 18);
    out->payload = tcp + header_len;
    out->payload_len = (uint32_t)(len - header_len);
    enum wire_err err = flags & WIRE_PARSE_LENIENT ? WIRE_ERR_OK : check_ports_flags(ports, tcp_flags);

    /* The options come last but their error first. */
    if (options_linux(tcp + 20, header_len - 20, &out->opt))
        return err;
    enum wire_err opt_err = options_walk(tcp + 20, header_len - 20, &out->opt);
    return opt_err != WIRE_ERR_OK ? opt_err : err;
}

enum wire_err wire_parse_tcp(const uint8_t *tcp, size_t len, unsigned flags, struct wire_seg *out)
{
    uint64_t pseudo_addrs = 0;
    if (!(flags & WIRE_PARSE_NO_CHECKSUM))
        pseudo_addrs = csum_pseudo_addrs(&out->tuple.src, &out->tuple.dst);
    return parse_tcp(tcp, len, flags, pseudo_addrs, out);
}

/* RFC 1122 §3.2.1.3, RFC 5735: multicast (224/4), limited broadcast and
 * 0.0.0.0 are never the ends of a TCP connection. A first byte of 1 to 223
 * is none of them: one test for most addresses. */
static inline bool ipv4_addr_is_unicast(const uint8_t bytes[4])
{
    if ((unsigned)(bytes[0] - 1) < 223)
        return true;
    uint32_t a = load32(bytes);
    return (a >> 28) != 0xe && a != 0xffffffffu && a != 0;
}

/* Inlined twice in wire_parse, once for the usual 20-byte header. */
__attribute__((always_inline)) static inline enum wire_err parse_ipv4(const uint8_t *pkt, size_t len,
                                                                      unsigned flags, struct wire_seg *out)
{
    if (len < 20)
        return WIRE_ERR_TRUNCATED_IP;
    size_t header_len = (size_t)(pkt[0] & 0x0f) * 4; /* IHL, RFC 791 §3.1 */
    if (header_len < 20 || header_len > len)
        return WIRE_ERR_BAD_IHL;
    /* Bytes past the total length (Ethernet padding) are ignored. */
    size_t total_len = load16(pkt + 2);
    if (total_len < header_len || total_len > len)
        return WIRE_ERR_BAD_IP_LENGTH;
    /* The usual 20-byte header is summed with a constant length. */
    if (!(flags & WIRE_PARSE_NO_CHECKSUM) &&
        !csum_verifies(header_len == 20 ? csum_bytes(0, pkt, 20) : csum_bytes(0, pkt, header_len)))
        return WIRE_ERR_BAD_IP_CHECKSUM;
    if (load16(pkt + 6) & 0x3fff) /* MF set or fragment offset != 0 */
        return WIRE_ERR_IP_FRAGMENT;
    if (pkt[9] != 6)
        return WIRE_ERR_NOT_TCP;

    if (!(flags & WIRE_PARSE_LENIENT) && (!ipv4_addr_is_unicast(pkt + 12) || !ipv4_addr_is_unicast(pkt + 16)))
        return WIRE_ERR_BAD_IP_ADDRESS;
    wire_addr_set_v4(&out->tuple.src, pkt + 12);
    wire_addr_set_v4(&out->tuple.dst, pkt + 16);
    out->ip_version = 4;
    out->tos = pkt[1];
    out->ttl = pkt[8];
    /* Source and destination are adjacent: one load for the pseudo-header. */
    return parse_tcp(pkt + header_len, total_len - header_len, flags, csum_load64(pkt + 12), out);
}

/* RFC 4291 §2.7: multicast (ff00::/8) is never a source; :: is never a
 * destination (§2.5.2), and as a source it cannot own a connection. */
static bool ipv6_addr_is_unicast(const struct wire_addr *a)
{
    return a->b[0] != 0xff && !wire_addr_is_unspecified(a);
}

enum {
    IPV6_HOP_BY_HOP = 0, /* RFC 8200 §4.3 */
    IPV6_TCP = 6,
    IPV6_ROUTING = 43,  /* RFC 8200 §4.4 */
    IPV6_FRAGMENT = 44, /* RFC 8200 §4.5 */
    IPV6_DEST_OPTS = 60,
};

static enum wire_err parse_ipv6(const uint8_t *pkt, size_t len, unsigned flags,
                                struct wire_seg *out)
{
    if (len < 40)
        return WIRE_ERR_TRUNCATED_IP;
    size_t end = 40 + (size_t)load16(pkt + 4); /* payload length, RFC 8200 §3 */
    if (end > len)
        return WIRE_ERR_BAD_IP_LENGTH;

    /* Walk the extension headers (RFC 8200 §4): each is at least 8 bytes,
     * so the walk ends. */
    uint8_t next = pkt[6];
    size_t off = 40;
    while (next != IPV6_TCP) {
        switch (next) {
        case IPV6_HOP_BY_HOP:
        case IPV6_ROUTING:
        case IPV6_DEST_OPTS: {
            if (end - off < 2)
                return WIRE_ERR_TRUNCATED_IP;
            size_t ext_len = ((size_t)pkt[off + 1] + 1) * 8; /* RFC 8200 §4.3 */
            if (ext_len > end - off)
                return WIRE_ERR_TRUNCATED_IP;
            next = pkt[off];
            off += ext_len;
            break;
        }
        case IPV6_FRAGMENT:
            return WIRE_ERR_IP_FRAGMENT;
        default: /* 59 (no next header), ESP, AH, UDP, ICMPv6... */
            return WIRE_ERR_NOT_TCP;
        }
    }

    out->tuple.src = wire_addr_v6(pkt + 8);
    out->tuple.dst = wire_addr_v6(pkt + 24);
    /* IPv4-mapped addresses in an IPv6 header would alias IPv4 tuples; Linux
     * drops them too (ip6_rcv_core). Refused even when lenient. */
    if (wire_addr_is_v4(&out->tuple.src) || wire_addr_is_v4(&out->tuple.dst))
        return WIRE_ERR_BAD_IP_ADDRESS;
    if (!(flags & WIRE_PARSE_LENIENT) &&
        (!ipv6_addr_is_unicast(&out->tuple.src) || !ipv6_addr_is_unicast(&out->tuple.dst)))
        return WIRE_ERR_BAD_IP_ADDRESS;
    out->ip_version = 6;
    out->tos = (uint8_t)((pkt[0] & 0x0f) << 4 | pkt[1] >> 4); /* traffic class */
    out->ttl = pkt[7];
    uint64_t pseudo_addrs = csum_load64(pkt + 8);
    pseudo_addrs = csum_add(pseudo_addrs, csum_load64(pkt + 16));
    pseudo_addrs = csum_add(pseudo_addrs, csum_load64(pkt + 24));
    pseudo_addrs = csum_add(pseudo_addrs, csum_load64(pkt + 32));
    return parse_tcp(pkt + off, end - off, flags, pseudo_addrs, out);
}

bool wire_peek_syn(const uint8_t *pkt, size_t len, struct wire_tuple *t)
{
    size_t tcp;
    bool v4 = true;
    if (len >= 20 + 14 && pkt[0] == 0x45) { /* IPv4 without options: every byte needed is there */
        tcp = 20;
    } else {
        v4 = len >= 20 && pkt[0] >> 4 == 4;
        if (!v4 && !(len >= 40 && pkt[0] >> 4 == 6 && pkt[6] == IPV6_TCP))
            return false;
        tcp = v4 ? (size_t)(pkt[0] & 0x0f) * 4 : 40; /* IHL; no IPv6 extension header */
        if (tcp < 20 || tcp + 14 > len)
            return false;
    }
    if ((pkt[tcp + 13] & (WIRE_SYN | WIRE_ACK)) != WIRE_SYN)
        return false;
    if (!v4) {
        t->src = wire_addr_v6(pkt + 8);
        t->dst = wire_addr_v6(pkt + 24);
    } else {
        wire_addr_set_v4(&t->src, pkt + 12);
        wire_addr_set_v4(&t->dst, pkt + 16);
    }
    t->sport = load16(pkt + tcp);
    t->dport = load16(pkt + tcp + 2);
    return true;
}

enum wire_err wire_parse(const uint8_t *pkt, size_t len, unsigned flags, struct wire_seg *out)
{
    /* The usual IPv4 header, 20 bytes without options: the checks on its
     * length fold away in this copy of parse_ipv4. */
    if (len >= 20 && pkt[0] == 0x45)
        return parse_ipv4(pkt, len, flags, out);
    if (len == 0)
        return WIRE_ERR_TRUNCATED_IP;
    switch (pkt[0] >> 4) {
    case 4:
        return parse_ipv4(pkt, len, flags, out);
    case 6:
        return parse_ipv6(pkt, len, flags, out);
    default:
        return WIRE_ERR_BAD_IP_VERSION;
    }
}
