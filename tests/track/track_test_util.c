#include "track_test_util.h"

#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "track/track_capture.h"

static char tmpdir[256];

const char *tt_tmpdir(void)
{
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/synack-track-test-XXXXXX");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            abort();
        }
    }
    return tmpdir;
}

void tt_tmp_cleanup(void)
{
    if (!tmpdir[0])
        return;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    tmpdir[0] = '\0';
}

const char *tt_path(const char *name)
{
    static char bufs[8][320];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 320, "%s/%s", tt_tmpdir(), name);
    return b;
}

static int link_dlt(enum tt_link l)
{
    switch (l) {
    case TT_RAW:
        return DLT_RAW;
    case TT_ETHER:
    case TT_VLAN:
    case TT_QINQ:
        return DLT_EN10MB;
    case TT_SLL:
        return DLT_LINUX_SLL;
    case TT_SLL2:
        return DLT_LINUX_SLL2;
    case TT_NULL:
        return DLT_NULL;
    case TT_LOOP:
        return DLT_LOOP;
    case TT_IPV4:
        return DLT_IPV4;
    }
    return DLT_RAW;
}

int tt_open(struct tt_gen *g, const char *path, enum tt_link link)
{
    memset(g, 0, sizeof *g);
    g->link = link;
    g->dead = pcap_open_dead_with_tstamp_precision(link_dlt(link), 65535, PCAP_TSTAMP_PRECISION_MICRO);
    if (!g->dead)
        return -1;
    g->dumper = pcap_dump_open(g->dead, path);
    if (!g->dumper) {
        pcap_close(g->dead);
        return -1;
    }
    return 0;
}

void tt_close(struct tt_gen *g)
{
    if (g->dumper)
        pcap_dump_close(g->dumper);
    if (g->dead)
        pcap_close(g->dead);
    g->dumper = NULL;
    g->dead = NULL;
}

void tt_write_raw(struct tt_gen *g, tcp_time_t t, const uint8_t *frame, size_t len, size_t wirelen)
{
    struct pcap_pkthdr h;
    memset(&h, 0, sizeof h);
    h.ts.tv_sec = (time_t)(t / 1000000u);
    h.ts.tv_usec = (suseconds_t)(t % 1000000u);
    h.caplen = (bpf_u_int32)len;
    h.len = (bpf_u_int32)(wirelen > len ? wirelen : len);
    pcap_dump((u_char *)g->dumper, &h, frame);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void tt_write_ip(struct tt_gen *g, tcp_time_t t, const uint8_t *pkt, size_t len)
{
    uint8_t frame[70000];
    size_t off = 0;
    bool v6 = (pkt[0] >> 4) == 6;
    uint16_t etype = v6 ? 0x86dd : 0x0800;
    memset(frame, 0, 64);
    switch (g->link) {
    case TT_RAW:
    case TT_IPV4:
        break;
    case TT_ETHER:
    case TT_VLAN:
    case TT_QINQ: {
        static const uint8_t macs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
        memcpy(frame, macs, 12);
        off = 12;
        if (g->link == TT_QINQ) {
            put16(frame + off, 0x88a8);
            put16(frame + off + 2, 100);
            off += 4;
        }
        if (g->link != TT_ETHER) {
            put16(frame + off, 0x8100);
            put16(frame + off + 2, 42);
            off += 4;
        }
        put16(frame + off, etype);
        off += 2;
        break;
    }
    case TT_SLL:
        put16(frame, 0);      /* to us */
        put16(frame + 2, 1);  /* ARPHRD_ETHER */
        put16(frame + 4, 6);
        put16(frame + 14, etype);
        off = 16;
        break;
    case TT_SLL2:
        put16(frame, etype);
        frame[4] = 0, frame[7] = 2; /* ifindex 2 */
        put16(frame + 8, 1);
        frame[10] = 0;
        frame[11] = 6;
        off = 20;
        break;
    case TT_NULL: {
        uint32_t fam = v6 ? 10 : 2; /* host order of the writer */
        memcpy(frame, &fam, 4);
        off = 4;
        break;
    }
    case TT_LOOP: {
        uint32_t fam = v6 ? 24 : 2;
        frame[0] = (uint8_t)(fam >> 24);
        frame[1] = (uint8_t)(fam >> 16);
        frame[2] = (uint8_t)(fam >> 8);
        frame[3] = (uint8_t)fam;
        off = 4;
        break;
    }
    }
    memcpy(frame + off, pkt, len);
    size_t total = off + len;
    size_t cap = total;
    if (g->snaplen > 0 && (size_t)g->snaplen < cap)
        cap = (size_t)g->snaplen;
    tt_write_raw(g, t, frame, cap, total);
}

void tt_conv_init(struct tt_conv *c, struct tt_gen *g, const char *a, const char *b)
{
    memset(c, 0, sizeof *c);
    c->g = g;
    if (!wire_endpoint_parse(a, &c->a) || !wire_endpoint_parse(b, &c->b))
        abort();
}

void tt_send(struct tt_conv *c, double t_sec, bool from_a, const char *flags, uint32_t seq, uint32_t ack,
             uint32_t len, uint16_t win)
{
    struct wire_seg s;
    memset(&s, 0, sizeof s);
    const struct wire_endpoint *src = from_a ? &c->a : &c->b, *dst = from_a ? &c->b : &c->a;
    s.tuple.src = src->addr;
    s.tuple.dst = dst->addr;
    s.tuple.sport = src->port;
    s.tuple.dport = dst->port;
    s.ip_version = wire_addr_is_v4(&src->addr) ? 4 : 6;
    if (!wire_flags_parse(flags, &s.flags))
        abort();
    s.seq = seq;
    s.ack = ack;
    s.window = win;
    static uint8_t payload[65536];
    memset(payload, 'x', len);
    s.payload = payload;
    s.payload_len = len;
    if (s.flags & WIRE_SYN) {
        s.opt.present = WIRE_OPT_MSS;
        s.opt.mss = 1460;
        uint8_t ws = from_a ? c->wscale_a : c->wscale_b;
        if (ws) {
            s.opt.present |= WIRE_OPT_WSCALE;
            s.opt.wscale = ws;
        }
    }
    uint8_t pkt[70000];
    size_t n = wire_build(pkt, sizeof pkt, &s);
    if (n == 0)
        abort();
    if (c->g->corrupt_next_checksum) {
        c->g->corrupt_next_checksum = false;
        size_t ip_hdr = s.ip_version == 4 ? 20 : 40;
        pkt[ip_hdr + 16] ^= 0x5a; /* TCP checksum field */
    }
    tcp_time_t t = (tcp_time_t)(t_sec * 1e6 + 0.5);
    tt_write_ip(c->g, t, pkt, n);
}

static void on_conn(void *ctx, const struct track_conn_info *c)
{
    struct tt_result *r = ctx;
    if (r->nconns < TT_MAX_CONNS)
        r->conns[r->nconns++] = *c;
}

static void on_anomaly(void *ctx, const struct track_anomaly *a)
{
    struct tt_result *r = ctx;
    if (r->nanoms < TT_MAX_ANOMS)
        r->anoms[r->nanoms++] = *a;
}

static void on_segment(void *ctx, const struct track_segment_info *s)
{
    struct tt_result *r = ctx;
    if (r->nsegs < sizeof r->segs / sizeof r->segs[0])
        r->segs[r->nsegs++] = *s;
}

int tt_run(const char *path, const struct track_config *cfg, struct tt_result *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    struct track_config def;
    if (!cfg) {
        track_config_default(&def);
        cfg = &def;
    }
    struct track_sink sink = {on_conn, on_anomaly, on_segment, r};
    struct track_capture *cap = track_capture_open_file(path, err, errlen);
    if (!cap)
        return -1;
    struct track *t = track_new(cfg, &sink);
    if (!t) {
        track_capture_close(cap);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    enum track_capture_result res = track_capture_feed(cap, t, 0, err, errlen);
    track_flush(t);
    r->stats = *track_get_stats(t);
    track_free(t);
    track_capture_close(cap);
    return res == TRACK_CAPTURE_ERROR ? -1 : 0;
}

const struct track_conn_info *tt_conn_by_port(const struct tt_result *r, uint16_t port)
{
    for (size_t i = 0; i < r->nconns; i++)
        if (r->conns[i].orig.port == port || r->conns[i].resp.port == port)
            return &r->conns[i];
    return NULL;
}

size_t tt_anomaly_count(const struct tt_result *r, enum track_anomaly_kind k)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nanoms; i++)
        n += r->anoms[i].kind == k;
    return n;
}

const struct track_anomaly *tt_anomaly(const struct tt_result *r, enum track_anomaly_kind k)
{
    for (size_t i = 0; i < r->nanoms; i++)
        if (r->anoms[i].kind == k)
            return &r->anoms[i];
    return NULL;
}

bool tt_has_anomaly(const struct track_conn_info *c, enum track_anomaly_kind k)
{
    return (c->anomalies >> k) & 1;
}

void tt_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (len && fwrite(data, 1, len, f) != len)
        abort();
    fclose(f);
}
