/* wire/ — the segment codec: IPv4/IPv6 + TCP headers, options, checksums,
 * sequence-number arithmetic. Sans-I/O: pure functions over byte spans, no
 * allocation, no globals (DESIGN.md §1). */
#ifndef SYNACK_WIRE_H
#define SYNACK_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ---- Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4) ---- */
static inline bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline bool seq_ge(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }
/* lo <= x < hi, modulo 2^32. */
static inline bool seq_in(uint32_t x, uint32_t lo, uint32_t hi) { return x - lo < hi - lo; }
static inline uint32_t seq_max(uint32_t a, uint32_t b) { return seq_gt(a, b) ? a : b; }
static inline uint32_t seq_min(uint32_t a, uint32_t b) { return seq_lt(a, b) ? a : b; }

/* ---- Addresses ----
 * One 16-byte form for both families: IPv4 is stored IPv4-mapped
 * (::ffff:a.b.c.d, RFC 4291 §2.5.5.2), so tuples compare and hash alike. */
struct wire_addr {
    uint8_t b[16];
};

/* The small address and tuple helpers are inline: every segment goes
 * through several of them. */

/* a.b.c.d as 0xaabbccdd */
static inline struct wire_addr wire_addr_v4(uint32_t host_order)
{
    struct wire_addr a = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, (uint8_t)(host_order >> 24),
                           (uint8_t)(host_order >> 16), (uint8_t)(host_order >> 8),
                           (uint8_t)host_order}};
    return a;
}

/* Sets the IPv4-mapped form (RFC 4291 §2.5.5.2) of the 4 address bytes at
 * v4, with one 16-byte store where SSE2 is: tuples are copied with 16-byte
 * loads right after they are made, and a load spanning several smaller
 * stores waits for them to retire (no store forwarding). */
static inline void wire_addr_set_v4(struct wire_addr *a, const uint8_t v4[4])
{
#if defined(__SSE2__)
    uint32_t x;
    memcpy(&x, v4, 4);
    /* lanes: bytes 0-7 zero, 8-11 00 00 ff ff (little-endian), 12-15 the address */
    _mm_storeu_si128((__m128i *)(void *)a->b, _mm_set_epi32((int)x, (int)0xffff0000u, 0, 0));
#else
    static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memcpy(a->b, mapped_prefix, 12);
    memcpy(a->b + 12, v4, 4);
#endif
}

static inline struct wire_addr wire_addr_v6(const uint8_t bytes[16])
{
    struct wire_addr a;
    memcpy(a.b, bytes, sizeof a.b);
    return a;
}

/* Two loads, one branch (gcc does not always inline a 12-byte memcmp). */
static inline bool wire_addr_is_v4(const struct wire_addr *a)
{
    static const uint8_t mapped_tail[4] = {0, 0, 0xff, 0xff}; /* bytes 8..11 */
    uint64_t head;
    uint32_t tail, want;
    memcpy(&head, a->b, sizeof head);
    memcpy(&tail, a->b + 8, sizeof tail);
    memcpy(&want, mapped_tail, sizeof want);
    return (head | (tail ^ want)) == 0;
}

/* Valid if wire_addr_is_v4. */
static inline uint32_t wire_addr_v4_host(const struct wire_addr *a)
{
    return (uint32_t)a->b[12] << 24 | (uint32_t)a->b[13] << 16 | (uint32_t)a->b[14] << 8 |
           a->b[15];
}

static inline bool wire_addr_eq(const struct wire_addr *a, const struct wire_addr *b)
{
    return memcmp(a->b, b->b, sizeof a->b) == 0;
}

/* 0.0.0.0 or :: */
static inline bool wire_addr_is_unspecified(const struct wire_addr *a)
{
    static const uint8_t zero[16];
    if (wire_addr_is_v4(a))
        return wire_addr_v4_host(a) == 0;
    return memcmp(a->b, zero, sizeof zero) == 0;
}

/* Parses "10.0.0.1" or "fd00::1"; returns false on bad text. */
bool wire_addr_parse(const char *text, struct wire_addr *out);
/* Writes "10.0.0.1" / "fd00::1" (no brackets); returns buf. */
#define WIRE_ADDR_STRLEN 46
char *wire_addr_str(const struct wire_addr *a, char buf[WIRE_ADDR_STRLEN]);

struct wire_endpoint {
    struct wire_addr addr;
    uint16_t port; /* host order */
};
/* "10.0.0.1:80" or "[fd00::1]:80". */
#define WIRE_ENDPOINT_STRLEN (WIRE_ADDR_STRLEN + 8)
char *wire_endpoint_str(const struct wire_endpoint *e, char buf[WIRE_ENDPOINT_STRLEN]);
/* Parses "HOST:PORT" / "[V6]:PORT"; returns false on bad text. */
bool wire_endpoint_parse(const char *text, struct wire_endpoint *out);

/* A connection's 4-tuple as seen from one side: src is the local end on
 * output, the remote end on input (it is simply the header's fields). */
struct wire_tuple {
    struct wire_addr src, dst;
    uint16_t sport, dport; /* host order */
};
/* The same tuple seen from the other end. */
static inline struct wire_tuple wire_tuple_reverse(const struct wire_tuple *t)
{
    struct wire_tuple r;
    r.src = t->dst;
    r.dst = t->src;
    r.sport = t->dport;
    r.dport = t->sport;
    return r;
}

static inline bool wire_tuple_eq(const struct wire_tuple *a, const struct wire_tuple *b)
{
    return a->sport == b->sport && a->dport == b->dport && wire_addr_eq(&a->src, &b->src) &&
           wire_addr_eq(&a->dst, &b->dst);
}

/* ---- TCP header ---- */
enum {
    WIRE_FIN = 0x01,
    WIRE_SYN = 0x02,
    WIRE_RST = 0x04,
    WIRE_PSH = 0x08,
    WIRE_ACK = 0x10,
    WIRE_URG = 0x20,
    WIRE_ECE = 0x40,
    WIRE_CWR = 0x80,
};

enum {
    WIRE_OPT_MSS = 1u << 0,
    WIRE_OPT_WSCALE = 1u << 1,
    WIRE_OPT_SACK_PERM = 1u << 2,
    WIRE_OPT_SACK = 1u << 3,
    WIRE_OPT_TIMESTAMP = 1u << 4,
};

#define WIRE_MAX_SACK_BLOCKS 4
#define WIRE_MAX_WSCALE 14 /* RFC 7323 §2.3 */

struct wire_sack_block {
    uint32_t left, right; /* [left, right) */
};

struct wire_tcp_options {
    uint8_t present; /* WIRE_OPT_* bits */
    uint8_t wscale;
    uint8_t sack_count;
    uint16_t mss;
    uint32_t ts_val, ts_ecr;
    struct wire_sack_block sack[WIRE_MAX_SACK_BLOCKS];
};

/* A parsed (or to-be-built) TCP segment inside its IP packet. */
struct wire_seg {
    struct wire_tuple tuple;
    uint8_t ip_version; /* 4 or 6, set by the parser; wire_build goes by the addresses */
    uint8_t ttl;        /* TTL / hop limit; 0 on build means 64 */
    uint8_t flags;      /* WIRE_FIN... */
    uint8_t tos;        /* IPv4 TOS / IPv6 traffic class (ECN bits) */
    uint32_t seq, ack;
    uint16_t window; /* as on the wire, unscaled */
    uint16_t urg_ptr;
    struct wire_tcp_options opt;
    const uint8_t *payload;
    uint32_t payload_len;
};

/* Sequence space a segment occupies: payload + SYN + FIN (RFC 9293 §3.4). */
static inline uint32_t wire_seg_len(const struct wire_seg *s)
{
    return s->payload_len + !!(s->flags & WIRE_SYN) + !!(s->flags & WIRE_FIN);
}

/* ---- Why an input was rejected: one table, used for the reason names and
 * the counters (`InErrs`, `InCsumErrors` are sums over it). ---- */
#define WIRE_ERRORS(X)                                                                \
    X(OK, "ok")                                                                       \
    X(TRUNCATED_IP, "truncated IP header")                                            \
    X(BAD_IP_VERSION, "IP version is neither 4 nor 6")                                \
    X(BAD_IHL, "IPv4 header length below 20 bytes or past the packet")                \
    X(BAD_IP_LENGTH, "IP total/payload length disagrees with the packet")            \
    X(BAD_IP_CHECKSUM, "bad IPv4 header checksum")                                    \
    X(IP_FRAGMENT, "IP fragment (not reassembled)")                                   \
    X(NOT_TCP, "IP payload is not TCP")                                               \
    X(BAD_IP_ADDRESS, "source is multicast, broadcast or unspecified")               \
    X(TRUNCATED_TCP, "truncated TCP header")                                          \
    X(BAD_DATA_OFFSET, "TCP data offset below 5 or past the segment")                 \
    X(BAD_OPTION_LENGTH, "TCP option length is malformed or runs past the header")    \
    X(BAD_TCP_CHECKSUM, "bad TCP checksum")                                           \
    X(PORT_ZERO, "source or destination port is 0")                                   \
    X(SYN_FIN, "SYN and FIN both set")                                                \
    X(SYN_RST, "SYN and RST both set")                                                \
    X(NO_FLAGS, "no control flag set (null scan)")                                    \
    X(BUFFER_TOO_SMALL, "output buffer too small")

enum wire_err {
#define WIRE_ERR_ENUM(name, text) WIRE_ERR_##name,
    WIRE_ERRORS(WIRE_ERR_ENUM)
#undef WIRE_ERR_ENUM
    WIRE_ERR_COUNT
};

const char *wire_err_name(enum wire_err e); /* "BAD_TCP_CHECKSUM" */
const char *wire_err_text(enum wire_err e); /* "bad TCP checksum" */

enum {
    WIRE_PARSE_NO_CHECKSUM = 1u << 0, /* trust checksums (captures with offload) */
    WIRE_PARSE_LENIENT = 1u << 1,     /* observer: keep SYN+FIN, null scans etc. */
};
/* LENIENT skips the flag checks (SYN_FIN, SYN_RST, NO_FLAGS), PORT_ZERO and
 * BAD_IP_ADDRESS, except that an IPv4-mapped address inside an IPv6 header
 * is always refused (it would alias an IPv4 tuple). Structure and checksums
 * are still checked. Without it, the destination must be unicast too. */

/* Parses a whole IP packet (starting at the IP header). On success fills
 * *out (payload points into pkt) and returns WIRE_ERR_OK. Never reads past
 * len. RFC 9293 §3.1 (header), §3.2 (options), RFC 8200 (IPv6 extension
 * headers: hop-by-hop, routing, destination options are skipped; fragment
 * headers reject). */
enum wire_err wire_parse(const uint8_t *pkt, size_t len, unsigned flags, struct wire_seg *out);

/* True for what looks like a connection request (SYN without ACK) in an
 * IPv4 packet, or an IPv6 packet whose next header is TCP, with its
 * 4-tuple; read without any check but the lengths, to find its table line
 * (the one most likely cold) before parsing. Whenever wire_parse accepts
 * the packet, its tuple is this one. */
bool wire_peek_syn(const uint8_t *pkt, size_t len, struct wire_tuple *t);

/* Parses only the TCP header + options at tcp[0..len); addresses are taken
 * from *out->tuple (already filled) for the checksum unless
 * WIRE_PARSE_NO_CHECKSUM. */
enum wire_err wire_parse_tcp(const uint8_t *tcp, size_t len, unsigned flags, struct wire_seg *out);

/* Parses TCP options; unknown kinds are skipped by their length
 * (RFC 9293 §3.2). Returns WIRE_ERR_OK or WIRE_ERR_BAD_OPTION_LENGTH. */
enum wire_err wire_parse_options(const uint8_t *opt, size_t len, struct wire_tcp_options *out);

/* Upper bound on the packet wire_build writes for a segment. */
#define WIRE_MAX_HEADER (40 + 60)
size_t wire_build_len(const struct wire_seg *s);

/* Builds the IP packet for *s into buf (IPv4 if the tuple's addresses are
 * IPv4-mapped, else IPv6), options in Linux's order (MSS, SACK-permitted,
 * timestamps, window scale, SACK blocks; NOP padding to 4 bytes), both
 * checksums filled. Returns the packet length, or 0 if cap is too small. */
size_t wire_build(uint8_t *buf, size_t cap, const struct wire_seg *s);
/* wire_build also returns 0 when src and dst differ in family, when the
 * lengths do not fit the IP length field, or payload is NULL with a length.
 * The payload is copied (memmove) unless it already sits at
 * buf + wire_build_len(s) - payload_len. Window scale is written as given. */

/* Internet checksum (RFC 1071) helpers. wire_csum_add returns a partial
 * sum of big-endian 16-bit words; pieces chain only if all but the last
 * have even length. wire_csum_fold folds and complements: the value to
 * store (big-endian) in a checksum field, or 0 when data that includes its
 * checksum verifies. */
uint32_t wire_csum_add(uint32_t sum, const void *data, size_t len);
uint16_t wire_csum_fold(uint32_t sum);
/* TCP checksum over pseudo-header + segment bytes (checksum field as is). */
uint16_t wire_tcp_checksum(const struct wire_addr *src, const struct wire_addr *dst,
                           const uint8_t *tcp, size_t len);

/* tcpdump's flag letters, in tcpdump's order: "S", "S.", "F.", "P.", "R.",
 * "[none]" when no flag is set. buf needs 10 bytes. */
#define WIRE_FLAGS_STRLEN 10
char *wire_flags_str(uint8_t flags, char buf[WIRE_FLAGS_STRLEN]);
/* Parses tcpdump letters ("S.", "FP.") back into flags; false on bad text. */
bool wire_flags_parse(const char *text, uint8_t *flags);

#endif
