/* fuzz_gen_corpus OUTDIR [CAPTURE.pcap...]: writes the seed corpora of
 * the fuzz targets (fuzz/corpus/<target>/, see fuzz/README.md).
 *
 *  fuzz_track  captures crafted with the codec in every link type and
 *              file flavour the reader knows (pcap both byte orders, micro
 *              and nanoseconds, pcapng, cut by a snapshot length), each
 *              given capture (the simulator's `synack sim NAME --pcap`),
 *              and the same traffic in the target's frame-stream form
 *  fuzz_wire   single packets from those captures and crafted ones with
 *              every option, option blocks alone, text forms
 *  fuzz_stack  scripts: handshakes, transfers, closes, resets, loss,
 *              simultaneous open, SYN cookies, IPv6
 *
 * The op codes of fuzz_stack are repeated here (enum op in fuzz_stack.c). */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "wire/wire.h"

static const char *outdir;
static unsigned counter;

static void write_seed(const char *target, const char *name, const uint8_t *b, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", outdir, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%03u-%s", outdir, target, counter++, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(b, 1, n, f) != n)) {
        fprintf(stderr, "fuzz_gen_corpus: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    fclose(f);
}

/* ---- a growable byte buffer ---- */
struct buf {
    uint8_t b[1 << 16];
    size_t n;
};

static void put(struct buf *o, const void *p, size_t n)
{
    if (o->n + n > sizeof o->b)
        return;
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void put8(struct buf *o, uint8_t v) { put(o, &v, 1); }

static void put16le(struct buf *o, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(o, b, 2);
}

static void put16be(struct buf *o, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(o, b, 2);
}

static void put32le(struct buf *o, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(o, b, 4);
}

static void put32be(struct buf *o, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(o, b, 4);
}

/* ---- a small conversation, as IP packets ---- */
struct pkt {
    uint8_t b[256];
    size_t n;
    uint32_t t_us;
};

static size_t conversation(struct pkt *out, size_t max, bool v6, bool reset)
{
    struct wire_seg s;
    size_t n = 0;
    uint8_t c6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    uint8_t s6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    struct wire_addr ca = v6 ? wire_addr_v6(c6) : wire_addr_v4(0x0a000001);
    struct wire_addr sa = v6 ? wire_addr_v6(s6) : wire_addr_v4(0x0a000002);
    static const uint8_t payload[] = "GET / HTTP/1.0\r\n\r\n";
    struct {
        bool c2s;
        uint8_t flags;
        uint32_t seq, ack, len;
    } script[] = {
        {true, WIRE_SYN, 1000, 0, 0},
        {false, WIRE_SYN | WIRE_ACK, 5000, 1001, 0},
        {true, WIRE_ACK, 1001, 5001, 0},
        {true, WIRE_PSH | WIRE_ACK, 1001, 5001, 18},
        {false, WIRE_PSH | WIRE_ACK, 5001, 1019, 18},
        {true, reset ? WIRE_RST : WIRE_FIN | WIRE_ACK, 1019, 5019, 0},
        {false, WIRE_FIN | WIRE_ACK, 5019, 1020, 0},
        {true, WIRE_ACK, 1020, 5020, 0},
    };
    size_t steps = reset ? 6 : sizeof script / sizeof script[0];
    for (size_t i = 0; i < steps && n < max; i++) {
        memset(&s, 0, sizeof s);
        s.tuple.src = script[i].c2s ? ca : sa;
        s.tuple.dst = script[i].c2s ? sa : ca;
        s.tuple.sport = script[i].c2s ? 40000 : 80;
        s.tuple.dport = script[i].c2s ? 80 : 40000;
        s.ip_version = v6 ? 6 : 4;
        s.flags = script[i].flags;
        s.seq = script[i].seq;
        s.ack = script[i].ack;
        s.window = 65535;
        if (s.flags & WIRE_SYN) {
            s.opt.present = WIRE_OPT_MSS | WIRE_OPT_SACK_PERM | WIRE_OPT_TIMESTAMP | WIRE_OPT_WSCALE;
            s.opt.mss = 1460;
            s.opt.wscale = 7;
            s.opt.ts_val = 100 + (uint32_t)i;
        }
        s.payload = payload;
        s.payload_len = script[i].len;
        out[n].n = wire_build(out[n].b, sizeof out[n].b, &s);
        out[n].t_us = (uint32_t)(i * 1000);
        n++;
    }
    return n;
}

/* A link header for dlt in front of an IP packet. */
static void link_header(struct buf *o, int dlt, bool v6)
{
    uint16_t et = v6 ? 0x86dd : 0x0800;
    switch (dlt) {
    case DLT_EN10MB: {
        static const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
        put(o, macs, 12);
        uint8_t vlan[4] = {0x81, 0x00, 0x00, 0x64};
        put(o, vlan, 4); /* an 802.1Q tag */
        uint8_t e[2] = {(uint8_t)(et >> 8), (uint8_t)et};
        put(o, e, 2);
        break;
    }
    case DLT_LINUX_SLL: {
        uint8_t h[16] = {0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, (uint8_t)(et >> 8), (uint8_t)et};
        put(o, h, 16);
        break;
    }
    case DLT_LINUX_SLL2: {
        uint8_t h[20] = {(uint8_t)(et >> 8), (uint8_t)et, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0};
        put(o, h, 20);
        break;
    }
    case DLT_NULL:
        put32le(o, v6 ? 30 : 2); /* AF_INET6 (BSD's 24/28/30), AF_INET */
        break;
    case DLT_LOOP:
        put32be(o, v6 ? 24 : 2);
        break;
    default: /* raw IP */
        break;
    }
}

static int linktype_of(int dlt)
{
    return dlt == DLT_RAW ? 101 : dlt; /* LINKTYPE_RAW in files */
}

/* A pcap file: swapped = big-endian writer, nanos = the nanosecond magic,
 * snaplen cuts every record. */
static void classic_file(struct buf *o, int dlt, bool v6, bool swapped, bool nanos, uint32_t snaplen, bool reset)
{
    struct pkt p[8];
    size_t n = conversation(p, 8, v6, reset);
    o->n = 0;
    uint32_t magic = nanos ? 0xa1b23c4d : 0xa1b2c3d4;
    void (*p32)(struct buf *, uint32_t) = swapped ? put32be : put32le;
    p32(o, magic);
    if (swapped) {
        uint8_t v[4] = {0, 2, 0, 4};
        put(o, v, 4);
    } else {
        put16le(o, 2);
        put16le(o, 4);
    }
    p32(o, 0);
    p32(o, 0);
    p32(o, snaplen);
    p32(o, (uint32_t)linktype_of(dlt));
    for (size_t i = 0; i < n; i++) {
        struct buf frame;
        frame.n = 0;
        link_header(&frame, dlt, v6);
        put(&frame, p[i].b, p[i].n);
        uint32_t cap = (uint32_t)frame.n < snaplen ? (uint32_t)frame.n : snaplen;
        p32(o, 1700000000u + (uint32_t)i / 4);
        p32(o, nanos ? p[i].t_us * 1000u : p[i].t_us);
        p32(o, cap);
        p32(o, (uint32_t)frame.n);
        put(o, frame.b, cap);
    }
}

/* pcapng: section header, one interface, enhanced packet blocks. */
static void ng_file(struct buf *o, int dlt, bool v6)
{
    struct pkt p[8];
    size_t n = conversation(p, 8, v6, false);
    o->n = 0;
    put32le(o, 0x0a0d0d0a);
    put32le(o, 28);
    put32le(o, 0x1a2b3c4d);
    put16le(o, 1);
    put16le(o, 0);
    put32le(o, 0xffffffff);
    put32le(o, 0xffffffff); /* section length unknown */
    put32le(o, 28);
    put32le(o, 1); /* IDB */
    put32le(o, 20);
    put16le(o, (uint16_t)linktype_of(dlt));
    put16le(o, 0);
    put32le(o, 65535);
    put32le(o, 20);
    for (size_t i = 0; i < n; i++) {
        struct buf frame;
        frame.n = 0;
        link_header(&frame, dlt, v6);
        put(&frame, p[i].b, p[i].n);
        uint32_t padded = (uint32_t)((frame.n + 3) & ~(size_t)3);
        uint32_t total = 32 + padded;
        uint64_t ts = (uint64_t)1700000000u * 1000000u + p[i].t_us;
        put32le(o, 6); /* EPB */
        put32le(o, total);
        put32le(o, 0);
        put32le(o, (uint32_t)(ts >> 32));
        put32le(o, (uint32_t)ts);
        put32le(o, (uint32_t)frame.n);
        put32le(o, (uint32_t)frame.n);
        put(o, frame.b, frame.n);
        static const uint8_t zero[4];
        put(o, zero, padded - frame.n);
        put32le(o, total);
    }
}

/* fuzz_track's frame stream: [dlt selector][step][len:2][frame]. The
 * selector indexes fuzz_track.c's frame_dlts: 0 raw, 1 Ethernet, 2 SLL,
 * 3 SLL2, 4 NULL, 5 LOOP. */
static void frame_stream(struct buf *o, uint8_t knobs, unsigned sel, int dlt, const struct pkt *p, size_t n,
                         bool v6)
{
    o->n = 0;
    put8(o, knobs);
    for (size_t i = 0; i < n; i++) {
        struct buf frame;
        frame.n = 0;
        link_header(&frame, dlt, v6);
        put(&frame, p[i].b, p[i].n);
        put8(o, (uint8_t)sel);
        put8(o, 1);
        put8(o, (uint8_t)(frame.n >> 8));
        put8(o, (uint8_t)frame.n);
        put(o, frame.b, frame.n);
    }
}

static void track_seeds(void)
{
    static const struct {
        int dlt;
        const char *name;
    } links[] = {{DLT_RAW, "raw"},       {DLT_EN10MB, "ether-vlan"}, {DLT_LINUX_SLL, "sll"},
                 {DLT_LINUX_SLL2, "sll2"}, {DLT_NULL, "null"},        {DLT_LOOP, "loop"}};
    static struct buf o;
    char name[64];
    for (size_t l = 0; l < sizeof links / sizeof links[0]; l++) {
        for (int v6 = 0; v6 < 2; v6++) {
            classic_file(&o, links[l].dlt, v6, l % 2, l % 3 == 0, 65535, l == 2);
            snprintf(name, sizeof name, "%s-%s.pcap", links[l].name, v6 ? "v6" : "v4");
            write_seed("fuzz_track", name, o.b, o.n);
        }
        struct pkt p[8];
        size_t n = conversation(p, 8, l % 2, l == 4);
        frame_stream(&o, (uint8_t)(l * 37), (unsigned)l, links[l].dlt, p, n, l % 2);
        snprintf(name, sizeof name, "frames-%s", links[l].name);
        write_seed("fuzz_track", name, o.b, o.n);
    }
    ng_file(&o, DLT_EN10MB, false);
    write_seed("fuzz_track", "ether.pcapng", o.b, o.n);
    ng_file(&o, DLT_RAW, true);
    write_seed("fuzz_track", "raw-v6.pcapng", o.b, o.n);
    classic_file(&o, DLT_EN10MB, false, false, false, 54, false);
    write_seed("fuzz_track", "snaplen-54.pcap", o.b, o.n);
    classic_file(&o, DLT_RAW, false, false, false, 65535, false);
    o.n -= 7; /* a record cut short */
    write_seed("fuzz_track", "cut-record.pcap", o.b, o.n);
}

/* ---- fuzz_wire: mode byte, then the packet ---- */
static void wire_packet_seed(const char *name, unsigned mode, const uint8_t *pkt, size_t n)
{
    static uint8_t b[1 + 65536];
    if (n > 65536)
        n = 65536;
    b[0] = (uint8_t)mode;
    memcpy(b + 1, pkt, n);
    write_seed("fuzz_wire", name, b, n + 1);
}

static void wire_seeds(void)
{
    struct pkt p[8];
    for (int v6 = 0; v6 < 2; v6++) {
        size_t n = conversation(p, 8, v6, false);
        for (size_t i = 0; i < n; i += 3)
            wire_packet_seed(v6 ? "v6-segment" : "v4-segment", (unsigned)i & 3, p[i].b, p[i].n);
    }
    /* Every option, SACK blocks, URG, ECN bits, IPv6 with a hop-by-hop header. */
    struct wire_seg s;
    memset(&s, 0, sizeof s);
    s.tuple.src = wire_addr_v4(0xc0a80001);
    s.tuple.dst = wire_addr_v4(0xc0a80002);
    s.tuple.sport = 443;
    s.tuple.dport = 51000;
    s.ip_version = 4;
    s.tos = 0x02;
    s.ttl = 1;
    s.flags = WIRE_ACK | WIRE_URG | WIRE_ECE | WIRE_CWR | WIRE_PSH;
    s.seq = 0xfffffff0u;
    s.ack = 7;
    s.urg_ptr = 3;
    s.window = 0;
    s.opt.present = WIRE_OPT_TIMESTAMP | WIRE_OPT_SACK;
    s.opt.ts_val = 1;
    s.opt.ts_ecr = 2;
    s.opt.sack_count = 3;
    for (int i = 0; i < 3; i++) {
        s.opt.sack[i].left = 100u * (uint32_t)i;
        s.opt.sack[i].right = 100u * (uint32_t)i + 50;
    }
    static const uint8_t data[] = "urgent data";
    s.payload = data;
    s.payload_len = sizeof data - 1;
    uint8_t b[256];
    size_t n = wire_build(b, sizeof b, &s);
    wire_packet_seed("sack-urg-ecn", 0, b, n);
    wire_packet_seed("sack-urg-ecn-lenient", 3, b, n);
    /* IPv6 with a hop-by-hop options header in front of TCP. */
    uint8_t a6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
    s.tuple.src = wire_addr_v6(a6);
    a6[15] = 10;
    s.tuple.dst = wire_addr_v6(a6);
    s.ip_version = 6;
    s.opt.present = WIRE_OPT_MSS | WIRE_OPT_WSCALE | WIRE_OPT_SACK_PERM;
    s.opt.mss = 1220;
    s.opt.wscale = 14;
    s.flags = WIRE_SYN;
    s.payload_len = 0;
    n = wire_build(b, sizeof b, &s);
    uint8_t ext[256];
    memcpy(ext, b, 40);
    ext[6] = 0; /* next header: hop-by-hop */
    uint16_t plen = (uint16_t)(n - 40 + 8);
    ext[4] = (uint8_t)(plen >> 8);
    ext[5] = (uint8_t)plen;
    uint8_t hbh[8] = {6, 0, 1, 4, 0, 0, 0, 0}; /* next TCP, PadN */
    memcpy(ext + 40, hbh, 8);
    memcpy(ext + 48, b + 40, n - 40);
    wire_packet_seed("v6-hop-by-hop", 1, ext, n + 8);
    /* Option blocks alone (mode 2). */
    static const uint8_t opts1[] = {2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};
    static const uint8_t opts2[] = {1, 1, 5, 34, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
                                    0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0, 8, 0, 0};
    static const uint8_t opts3[] = {30, 2, 254, 4, 0xf9, 0x89, 0, 0}; /* MPTCP, experimental */
    wire_packet_seed("options-syn", 8, opts1, sizeof opts1);
    wire_packet_seed("options-sack4", 8, opts2, sizeof opts2);
    wire_packet_seed("options-unknown", 8, opts3, sizeof opts3);
    /* Text forms (mode 3). */
    static const char *texts[] = {"10.0.0.1:80", "[fd00::1]:443", "S.", "FPU.", "::ffff:1.2.3.4", "0.0.0.0:0"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        wire_packet_seed("text", 12, (const uint8_t *)texts[i], strlen(texts[i]));
}

/* ---- fuzz_stack scripts ---- */
enum op {
    OP_DELIVER_A, OP_DELIVER_B, OP_DELIVER_ALL, OP_DROP, OP_DUPLICATE, OP_REORDER, OP_MUTATE, OP_FLIP, OP_CRAFT,
    OP_CONNECT, OP_ACCEPT, OP_SEND, OP_RECV, OP_SHUTDOWN, OP_CLOSE, OP_ABORT, OP_SETSOCKOPT, OP_CLOCK_SMALL,
    OP_CLOCK_LARGE, OP_CLOCK_TIMER, OP_LISTENER, OP_LOOK, OP_COUNT
};

/* who: bit 0 the side (0 A, 1 B), bits 1.. the socket slot. */
#define A(slot) ((uint8_t)((slot) << 1))
#define B(slot) ((uint8_t)((slot) << 1 | 1))

static void op(struct buf *o, uint8_t code, uint8_t who) { put8(o, code); put8(o, who); }
static void op16(struct buf *o, uint8_t code, uint8_t who, uint16_t v)
{
    op(o, code, who);
    put8(o, (uint8_t)(v >> 8));
    put8(o, (uint8_t)v);
}

/* A connects to B's listener, B accepts: A's slot 0, B's slot 0. */
static void open_pair(struct buf *o)
{
    op(o, OP_CONNECT, A(0));
    put8(o, 2); /* to the listener */
    op(o, OP_DELIVER_ALL, 0);
    op(o, OP_ACCEPT, B(0));
}

static void stack_seeds(void)
{
    static struct buf o;
    struct {
        const char *name;
        uint8_t k1, k2;
        int kind;
    } scripts[] = {
        {"transfer-close", 0x01, 0x00, 0},  {"transfer-v6", 0x41, 0x00, 0},
        {"small-buffers", 0x05, 0x00, 1},   {"loss", 0x01, 0x04, 2},
        {"reset", 0x01, 0x00, 3},           {"simultaneous-open", 0x01, 0x00, 4},
        {"cookies-always", 0x02, 0x00, 0},  {"backlog-2", 0x21, 0x02, 5},
        {"no-ts-sack-ws", 0x19, 0x00, 0},   {"half-close", 0x01, 0x00, 6},
        {"time-wait-rfc1337", 0x01, 0x01, 7}, {"reorder-dup", 0x01, 0x00, 8},
        {"refused", 0x01, 0x00, 9},         {"keepalive", 0x01, 0x00, 10},
        {"mutate-craft", 0x01, 0x00, 11},   {"abort-linger", 0x01, 0x00, 12},
    };
    for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
        o.n = 0;
        put8(&o, scripts[i].k1);
        put8(&o, scripts[i].k2);
        switch (scripts[i].kind) {
        case 4: /* simultaneous open */
            op(&o, OP_CONNECT, A(0));
            put8(&o, 1 | 6 << 1);
            put8(&o, 9);
            op(&o, OP_DELIVER_ALL, 0);
            op16(&o, OP_SEND, A(0), 100);
            op(&o, OP_DELIVER_ALL, 0);
            op16(&o, OP_RECV, B(0), 1000);
            op(&o, OP_CLOSE, A(0));
            op(&o, OP_CLOSE, B(0));
            op(&o, OP_DELIVER_ALL, 0);
            break;
        case 5: /* many connections to a tiny backlog */
            for (int k = 0; k < 6; k++) {
                op(&o, OP_CONNECT, A(0));
                put8(&o, 2);
            }
            op(&o, OP_DELIVER_ALL, 0);
            op(&o, OP_ACCEPT, B(0));
            op(&o, OP_CLOCK_TIMER, 0);
            op(&o, OP_DELIVER_ALL, 0);
            break;
        case 9: /* a closed port */
            op(&o, OP_CONNECT, A(0));
            put8(&o, 0x10);
            op(&o, OP_DELIVER_ALL, 0);
            op(&o, OP_LOOK, A(0));
            break;
        default:
            open_pair(&o);
            op16(&o, OP_SEND, A(0), scripts[i].kind == 1 ? 12000 : 3000);
            if (scripts[i].kind == 2) {
                op(&o, OP_DROP, A(0));
                op(&o, OP_CLOCK_TIMER, 0);
            }
            if (scripts[i].kind == 8) {
                op(&o, OP_REORDER, A(2));
                op(&o, OP_DUPLICATE, A(0));
            }
            if (scripts[i].kind == 11) {
                op16(&o, OP_MUTATE, A(0), 1);
                put8(&o, 0x10);
                op(&o, OP_CRAFT, B(0));
                put8(&o, WIRE_RST);
                put16be(&o, 5);
                put16be(&o, 0);
                put16be(&o, 1000);
                put16be(&o, 0);
                put8(&o, 0);
                op16(&o, OP_FLIP, A(0), 30);
                put8(&o, 0x40);
            }
            op(&o, OP_DELIVER_ALL, 0);
            op16(&o, OP_RECV, B(0), 16000);
            op(&o, OP_DELIVER_ALL, 0);
            if (scripts[i].kind == 1) {
                op16(&o, OP_SEND, A(0), 12000);
                op(&o, OP_DELIVER_ALL, 0);
                op(&o, OP_CLOCK_TIMER, 0);
                op(&o, OP_DELIVER_ALL, 0);
                op16(&o, OP_RECV, B(0), 16000);
                op(&o, OP_DELIVER_ALL, 0);
            }
            if (scripts[i].kind == 3) {
                op(&o, OP_ABORT, B(0));
                op(&o, OP_DELIVER_ALL, 0);
                op16(&o, OP_RECV, A(0), 10);
            }
            if (scripts[i].kind == 6) {
                op(&o, OP_SHUTDOWN, A(0));
                put8(&o, 1);
                op(&o, OP_DELIVER_ALL, 0);
                op16(&o, OP_SEND, B(0), 500);
                op(&o, OP_DELIVER_ALL, 0);
                op16(&o, OP_RECV, A(0), 1000);
            }
            if (scripts[i].kind == 10) {
                op(&o, OP_SETSOCKOPT, A(0));
                put8(&o, 1); /* SO_KEEPALIVE */
                put16be(&o, 1);
                op(&o, OP_SETSOCKOPT, A(0));
                put8(&o, 2); /* TCP_KEEPIDLE */
                put8(&o, 0);
                put8(&o, 10);
                op(&o, OP_CLOCK_LARGE, 0);
                put8(&o, 30);
                op(&o, OP_DELIVER_ALL, 0);
            }
            if (scripts[i].kind == 12) {
                op(&o, OP_SETSOCKOPT, A(0));
                put8(&o, 0); /* SO_LINGER 0 */
                put16be(&o, 0);
            }
            op(&o, OP_CLOSE, A(0));
            op(&o, OP_DELIVER_ALL, 0);
            op16(&o, OP_RECV, B(0), 100);
            op(&o, OP_CLOSE, B(0));
            op(&o, OP_DELIVER_ALL, 0);
            if (scripts[i].kind == 7) {
                op(&o, OP_CRAFT, B(0));
                put8(&o, WIRE_RST);
                put16be(&o, 0);
                put16be(&o, 0);
                put16be(&o, 0);
                put16be(&o, 0);
                put8(&o, 0);
                op(&o, OP_CONNECT, A(0));
                put8(&o, 2);
                op(&o, OP_DELIVER_ALL, 0);
            }
            op(&o, OP_CLOCK_LARGE, 0);
            put8(&o, 61);
            break;
        }
        write_seed("fuzz_stack", scripts[i].name, o.b, o.n);
        /* The same over IPv6, and with small buffers and fast give-up. */
        char name[64];
        o.b[0] ^= 0x40;
        snprintf(name, sizeof name, "%s-v6", scripts[i].name);
        write_seed("fuzz_stack", name, o.b, o.n);
        o.b[0] ^= 0x44;
        o.b[1] |= 0x04;
        snprintf(name, sizeof name, "%s-small", scripts[i].name);
        write_seed("fuzz_stack", name, o.b, o.n);
    }
}

/* ---- captures given on the command line (the simulator's) ---- */
static void from_capture(const char *path)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, err);
    if (!p) {
        fprintf(stderr, "fuzz_gen_corpus: %s\n", err);
        exit(1);
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    FILE *f = fopen(path, "rb");
    static struct buf whole;
    whole.n = f ? fread(whole.b, 1, sizeof whole.b, f) : 0;
    if (f)
        fclose(f);
    if (whole.n < sizeof whole.b)
        write_seed("fuzz_track", base, whole.b, whole.n);
    /* The same frames as a stream, and a few packets for the codec. */
    static struct buf o;
    o.n = 0;
    put8(&o, 0);
    struct pcap_pkthdr *h;
    const u_char *d;
    int n = 0;
    while (pcap_next_ex(p, &h, &d) == 1 && o.n + h->caplen + 4 < sizeof o.b) {
        put8(&o, 0); /* raw IP (the simulator writes LINKTYPE_RAW) */
        put8(&o, 10);
        put8(&o, (uint8_t)(h->caplen >> 8));
        put8(&o, (uint8_t)h->caplen);
        put(&o, d, h->caplen);
        if (n++ % 4 == 2 && n < 12) /* three per capture */
            wire_packet_seed(base, (unsigned)n & 3, d, h->caplen);
    }
    pcap_close(p);
    char name[300];
    snprintf(name, sizeof name, "frames-%s", base);
    write_seed("fuzz_track", name, o.b, o.n);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: fuzz_gen_corpus OUTDIR [CAPTURE.pcap...]\n");
        return 2;
    }
    outdir = argv[1];
    mkdir(outdir, 0755);
    track_seeds();
    wire_seeds();
    stack_seeds();
    for (int i = 2; i < argc; i++)
        from_capture(argv[i]);
    return 0;
}
