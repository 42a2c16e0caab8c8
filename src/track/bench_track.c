/* `synack bench track`: the observer against tshark and tcptrace on one
 * large capture (issue 7, "Done means").
 *
 * The capture is crafted with the codec (wire_build) and written with the
 * pcap writer: a steady population of concurrent connections between many
 * clients and a few servers, each one a script of segments — handshakes
 * (with SYN and SYN-ACK retransmissions now and then), request/response
 * exchanges with delayed ACKs and lost-then-retransmitted data, the
 * different ways to close (client first, server first, half-close, FIN
 * retransmitted), resets in the middle, refused and unanswered SYNs. The
 * scripts of all live connections are merged in time order, so the file
 * looks like a tap in front of a busy server farm.
 *
 * The tracker is timed in-process, the way `synack track FILE > /dev/null`
 * runs (libpcap read, tracking, conn.log written to /dev/null); the peers
 * are spawned on the same file with their output parsed for the number of
 * connections they saw. Memory: the tracker's RSS is sampled as the
 * capture is read (after 10%, 20%, 50% and all of it) to show it stays
 * flat once the connection table reaches its steady state. */
#include <errno.h>
#include <pcap/pcap.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "link/pcap_writer.h"
#include "track/bench_track.h"
#include "track/track.h"
#include "track/track_capture.h"
#include "track/track_log.h"

extern char **environ;

#define BENCH "track"
#define FULL_PACKETS 10000000u
#define QUICK_PACKETS 500000u
#define CHECKPOINTS 4

/* ---- a small deterministic RNG (splitmix64) ---- */

struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    uint64_t x = (r->s += 0x9e3779b97f4a7c15ULL);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Uniform in [0, n). */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
    return n ? (uint32_t)(((rng_next(r) >> 32) * n) >> 32) : 0;
}

/* True with probability per_mille / 1000. */
static bool rng_chance(struct rng *r, uint32_t per_mille)
{
    return rng_below(r, 1000) < per_mille;
}

/* ---- connection scripts ---- */

enum { C2S = 0, S2C = 1 };

struct gen_pkt {
    uint32_t at; /* µs after the connection's start */
    uint32_t seq, ack;
    uint16_t len;
    uint8_t flags;
    uint8_t dir : 1, syn_opts : 1;
};

struct gen_conn {
    struct wire_addr caddr, saddr;
    uint16_t cport, sport;
    bool v6;
    tcp_time_t start;
    uint32_t ts_base[2];
    struct gen_pkt *p;
    uint32_t n, cap, next;
};

struct script {
    struct gen_conn *g;
    struct rng *r;
    uint32_t t, tmax;
    uint32_t nxt[2]; /* next sequence number per direction */
    uint16_t mss;
    uint32_t rtt;
    bool oom;
};

static void put(struct script *s, uint32_t at, int dir, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t len)
{
    struct gen_conn *g = s->g;
    if (g->n == g->cap) {
        uint32_t cap = g->cap ? g->cap * 2 : 32;
        struct gen_pkt *p = realloc(g->p, cap * sizeof *p);
        if (!p) {
            s->oom = true;
            return;
        }
        g->p = p;
        g->cap = cap;
    }
    struct gen_pkt *k = &g->p[g->n++];
    k->at = at;
    k->dir = (unsigned)dir & 1u;
    k->flags = flags;
    k->seq = seq;
    k->ack = flags & WIRE_ACK ? ack : 0;
    k->len = (uint16_t)len;
    k->syn_opts = (flags & WIRE_SYN) != 0;
    if (at > s->tmax)
        s->tmax = at;
}

/* The next segment of a direction at the script's clock. */
static void seg(struct script *s, int dir, uint8_t flags, uint32_t len)
{
    put(s, s->t, dir, flags, s->nxt[dir], s->nxt[!dir], len);
    s->nxt[dir] += len + !!(flags & WIRE_SYN) + !!(flags & WIRE_FIN);
}

static void wait_us(struct script *s, uint32_t us)
{
    s->t += us;
}

/* Moves the clock past everything scheduled so far. */
static void settle(struct script *s)
{
    if (s->t < s->tmax)
        s->t = s->tmax;
}

/* A round-trip time: mostly LAN/metro (0.2-5 ms), a quarter WAN (up to 80 ms). */
static uint32_t pick_rtt(struct rng *r)
{
    return 200 + (rng_chance(r, 250) ? rng_below(r, 80000) : rng_below(r, 5000));
}

static void handshake(struct script *s)
{
    struct rng *r = s->r;
    uint32_t isn_c = s->nxt[C2S], isn_s = s->nxt[S2C];
    seg(s, C2S, WIRE_SYN, 0);
    if (rng_chance(r, 20)) { /* first SYN lost beyond the tap: retransmitted after 1 s */
        wait_us(s, 1000000);
        put(s, s->t, C2S, WIRE_SYN, isn_c, 0, 0);
    }
    wait_us(s, s->rtt / 2);
    seg(s, S2C, WIRE_SYN | WIRE_ACK, 0);
    if (rng_chance(r, 10)) { /* SYN-ACK lost: retransmitted after 1 s */
        wait_us(s, 1000000);
        put(s, s->t, S2C, WIRE_SYN | WIRE_ACK, isn_s, s->nxt[C2S], 0);
    }
    wait_us(s, s->rtt / 2 + 20);
    seg(s, C2S, WIRE_ACK, 0);
}

/* A request and its response: the server's burst at line rate, the
 * client's delayed ACKs one RTT later (every second segment and the last),
 * and now and then a segment lost beyond the tap and retransmitted. */
static void exchange(struct script *s, bool first)
{
    struct rng *r = s->r;
    wait_us(s, first ? rng_below(r, 1000) : rng_below(r, 400000));
    seg(s, C2S, WIRE_PSH | WIRE_ACK, 60 + rng_below(r, 840));
    wait_us(s, s->rtt / 2 + 50 + rng_below(r, rng_chance(r, 100) ? 200000 : 5000));
    uint32_t n = 1;
    while (n < 40 && rng_chance(r, 650))
        n++;
    uint32_t burst_start = s->t;
    for (uint32_t k = 0; k < n; k++) {
        bool last = k + 1 == n;
        uint32_t len = last ? 1 + rng_below(r, s->mss) : s->mss;
        uint32_t seq = s->nxt[S2C];
        s->t = burst_start + k * 12; /* ~1 Gbit/s serialisation */
        seg(s, S2C, last ? WIRE_PSH | WIRE_ACK : WIRE_ACK, len);
        if (rng_chance(r, 15)) /* RTO: 200 ms + RTT later */
            put(s, s->t + 200000 + s->rtt, S2C, WIRE_ACK, seq, s->nxt[C2S], len);
        if (k % 2 == 1 || last) {
            uint32_t t = s->t;
            s->t += s->rtt + (last && k % 2 == 0 ? 40000 : 0);
            seg(s, C2S, WIRE_ACK, 0);
            s->t = t;
        }
    }
    settle(s);
}

static void close_graceful(struct script *s)
{
    struct rng *r = s->r;
    uint32_t kind = rng_below(r, 100);
    /* Half the connections idle in keep-alive (1-15 s) before closing. */
    wait_us(s, rng_chance(r, 500) ? 1000000 + rng_below(r, 14000000) : rng_below(r, 200000));
    if (kind < 70) { /* client closes first; server answers at once */
        seg(s, C2S, WIRE_FIN | WIRE_ACK, 0);
        wait_us(s, 30 + rng_below(r, 500));
        seg(s, S2C, WIRE_FIN | WIRE_ACK, 0);
        wait_us(s, s->rtt);
        seg(s, C2S, WIRE_ACK, 0);
    } else if (kind < 85) { /* server closes first; the client's app later */
        seg(s, S2C, WIRE_FIN | WIRE_ACK, 0);
        wait_us(s, s->rtt);
        seg(s, C2S, WIRE_ACK, 0);
        wait_us(s, rng_below(r, 50000));
        seg(s, C2S, WIRE_FIN | WIRE_ACK, 0);
        wait_us(s, 30);
        seg(s, S2C, WIRE_ACK, 0);
    } else if (kind < 93) { /* half-close: the server still sends after the client's FIN */
        seg(s, C2S, WIRE_FIN | WIRE_ACK, 0);
        wait_us(s, 100 + rng_below(r, 2000));
        seg(s, S2C, WIRE_PSH | WIRE_ACK, 1 + rng_below(r, s->mss));
        wait_us(s, s->rtt);
        seg(s, C2S, WIRE_ACK, 0);
        wait_us(s, rng_below(r, 1000));
        seg(s, S2C, WIRE_FIN | WIRE_ACK, 0);
        wait_us(s, s->rtt);
        seg(s, C2S, WIRE_ACK, 0);
    } else { /* the client's FIN retransmitted */
        uint32_t fin = s->nxt[C2S];
        seg(s, C2S, WIRE_FIN | WIRE_ACK, 0);
        wait_us(s, 200000 + s->rtt);
        put(s, s->t, C2S, WIRE_FIN | WIRE_ACK, fin, s->nxt[S2C], 0);
        wait_us(s, 40);
        seg(s, S2C, WIRE_FIN | WIRE_ACK, 0);
        wait_us(s, s->rtt);
        seg(s, C2S, WIRE_ACK, 0);
    }
}

/* Stable insertion sort by time: scripts are almost in order already. */
static void sort_script(struct gen_conn *g)
{
    for (uint32_t i = 1; i < g->n; i++) {
        struct gen_pkt k = g->p[i];
        uint32_t j = i;
        while (j > 0 && g->p[j - 1].at > k.at) {
            g->p[j] = g->p[j - 1];
            j--;
        }
        g->p[j] = k;
    }
}

struct gen {
    struct rng r;
    struct gen_conn *conns;
    uint32_t nconns;
    uint32_t *heap; /* indices into conns, by next packet time */
    uint16_t port_next[65536];
    uint64_t started;
};

static tcp_time_t next_time(const struct gen *G, uint32_t i)
{
    const struct gen_conn *g = &G->conns[i];
    return g->start + g->p[g->next].at;
}

static void heap_down(struct gen *G, uint32_t pos)
{
    uint32_t n = G->nconns;
    for (;;) {
        uint32_t l = 2 * pos + 1, m = pos;
        if (l < n && next_time(G, G->heap[l]) < next_time(G, G->heap[m]))
            m = l;
        if (l + 1 < n && next_time(G, G->heap[l + 1]) < next_time(G, G->heap[m]))
            m = l + 1;
        if (m == pos)
            return;
        uint32_t tmp = G->heap[pos];
        G->heap[pos] = G->heap[m];
        G->heap[m] = tmp;
        pos = m;
    }
}

/* Writes a new connection's script into slot g, starting at `start`. */
static bool gen_conn_new(struct gen *G, struct gen_conn *g, tcp_time_t start)
{
    struct rng *r = &G->r;
    g->n = 0;
    g->next = 0;
    g->start = start;
    g->v6 = rng_chance(r, 100);
    uint32_t client = rng_below(r, 65536);
    if (g->v6) {
        uint8_t c6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (uint8_t)(client >> 8), (uint8_t)client};
        uint8_t s6[16] = {0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (uint8_t)(1 + rng_below(r, 4))};
        g->caddr = wire_addr_v6(c6);
        g->saddr = wire_addr_v6(s6);
    } else {
        g->caddr = wire_addr_v4(0x0a000000u | client << 4 | 1u);
        g->saddr = wire_addr_v4(0xc0a80100u | (1 + rng_below(r, 16)));
    }
    uint32_t svc = rng_below(r, 100);
    g->sport = svc < 60 ? 443 : svc < 90 ? 80 : svc < 95 ? 8080 : 5432;
    uint16_t *pn = &G->port_next[client];
    if (*pn < 32768 || *pn > 60999)
        *pn = (uint16_t)(32768 + rng_below(r, 28232));
    g->cport = (*pn)++;
    g->ts_base[0] = (uint32_t)rng_next(r);
    g->ts_base[1] = (uint32_t)rng_next(r);

    struct script s = {.g = g, .r = r, .rtt = pick_rtt(r), .mss = g->v6 ? 1428 : 1448};
    s.nxt[C2S] = (uint32_t)rng_next(r);
    s.nxt[S2C] = (uint32_t)rng_next(r);
    uint32_t kind = rng_below(r, 1000);
    if (kind < 40) { /* refused: RST,ACK to the SYN */
        seg(&s, C2S, WIRE_SYN, 0);
        wait_us(&s, 30 + rng_below(r, 200));
        put(&s, s.t, S2C, WIRE_RST | WIRE_ACK, 0, s.nxt[C2S], 0);
    } else if (kind < 60) { /* unanswered: tcp_syn_retries backoff, 1 s, 2 s, 4 s */
        uint32_t isn = s.nxt[C2S];
        uint32_t tries = 3 + rng_below(r, 2);
        for (uint32_t k = 0; k < tries; k++) {
            put(&s, s.t, C2S, WIRE_SYN, isn, 0, 0);
            wait_us(&s, 1000000u << k);
        }
    } else {
        handshake(&s);
        bool reset = kind < 120;
        uint32_t exchanges = 1;
        while (exchanges < 12 && rng_chance(r, reset ? 500 : 600))
            exchanges++;
        for (uint32_t k = 0; k < exchanges; k++)
            exchange(&s, k == 0);
        if (reset) { /* one side aborts */
            wait_us(&s, rng_below(r, 100000));
            if (rng_chance(r, 500))
                seg(&s, S2C, WIRE_RST | WIRE_ACK, 0);
            else
                seg(&s, C2S, WIRE_RST, 0);
        } else {
            close_graceful(&s);
        }
    }
    if (s.oom)
        return false;
    sort_script(g);
    G->started++;
    return true;
}

static size_t build_packet(const struct gen_conn *g, const struct gen_pkt *k, const uint8_t *payload, uint8_t *buf,
                           size_t cap)
{
    struct wire_seg sg;
    memset(&sg, 0, sizeof sg);
    bool c2s = k->dir == C2S;
    sg.tuple.src = c2s ? g->caddr : g->saddr;
    sg.tuple.dst = c2s ? g->saddr : g->caddr;
    sg.tuple.sport = c2s ? g->cport : g->sport;
    sg.tuple.dport = c2s ? g->sport : g->cport;
    sg.ip_version = g->v6 ? 6 : 4;
    sg.ttl = 64;
    sg.flags = k->flags;
    sg.seq = k->seq;
    sg.ack = k->ack;
    sg.window = k->syn_opts ? (c2s ? 64240 : 65160) : (uint16_t)(501 + (k->seq & 7));
    if (!(k->flags & WIRE_RST)) {
        sg.opt.present = WIRE_OPT_TIMESTAMP;
        sg.opt.ts_val = g->ts_base[k->dir] + k->at / 1000;
        sg.opt.ts_ecr = k->flags == WIRE_SYN ? 0 : g->ts_base[!k->dir] + k->at / 1000;
        if (k->syn_opts) {
            sg.opt.present |= WIRE_OPT_MSS | WIRE_OPT_SACK_PERM | WIRE_OPT_WSCALE;
            sg.opt.mss = g->v6 ? 1440 : 1460;
            sg.opt.wscale = 7;
        }
    }
    sg.payload = payload;
    sg.payload_len = k->len;
    return wire_build(buf, cap, &sg);
}

struct capture_info {
    uint64_t packets, bytes, connections;
    tcp_time_t first, last;
};

/* Writes `packets` packets to path. 0, or -1 with a reason in err. */
static int generate(const char *path, uint64_t packets, uint64_t seed, struct capture_info *info, char *err,
                    size_t errlen)
{
    enum { CONCURRENT = 2000 };
    static uint8_t payload[65536], pkt[WIRE_MAX_HEADER + 65536];
    struct gen *G = calloc(1, sizeof *G);
    if (!G) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    G->r.s = seed;
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)rng_next(&G->r);
    G->nconns = CONCURRENT;
    G->conns = calloc(CONCURRENT, sizeof *G->conns);
    G->heap = calloc(CONCURRENT, sizeof *G->heap);
    struct pcap_writer *w = NULL;
    int rc = -1;
    if (!G->conns || !G->heap) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    w = pcap_writer_open(path, err, errlen);
    if (!w)
        goto out;
    const tcp_time_t epoch = TCP_SEC(1700000000);
    /* The population ramps up over the first second. */
    for (uint32_t i = 0; i < CONCURRENT; i++) {
        if (!gen_conn_new(G, &G->conns[i], epoch + rng_below(&G->r, 1000000))) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        G->heap[i] = i;
    }
    for (uint32_t i = CONCURRENT / 2; i-- > 0;)
        heap_down(G, i);
    memset(info, 0, sizeof *info);
    info->first = next_time(G, G->heap[0]);
    while (info->packets < packets) {
        uint32_t i = G->heap[0];
        struct gen_conn *g = &G->conns[i];
        tcp_time_t now = next_time(G, i);
        const struct gen_pkt *k = &g->p[g->next];
        size_t len = build_packet(g, k, payload + (k->seq & 0x3fff), pkt, sizeof pkt);
        if (len == 0 || pcap_writer_write(w, now, pkt, len) < 0) {
            snprintf(err, errlen, "cannot build packet %llu", (unsigned long long)info->packets);
            goto out;
        }
        info->packets++;
        info->bytes += len;
        info->last = now;
        if (++g->next == g->n) {
            /* The slot's next client arrives a moment later. */
            if (!gen_conn_new(G, g, now + 1 + rng_below(&G->r, 20000))) {
                snprintf(err, errlen, "out of memory");
                goto out;
            }
        }
        heap_down(G, 0);
    }
    if (pcap_writer_flush(w) < 0) {
        snprintf(err, errlen, "%s: write error", path);
        goto out;
    }
    info->connections = G->started;
    rc = 0;
out:
    pcap_writer_close(w);
    if (G->conns)
        for (uint32_t i = 0; i < G->nconns; i++)
            free(G->conns[i].p);
    free(G->conns);
    free(G->heap);
    free(G);
    return rc;
}

/* ---- measuring ---- */

static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Current resident set size in KiB (VmRSS), or -1. */
static long rss_now_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static double cpu_seconds(const struct rusage *ru)
{
    return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6 + (double)ru->ru_stime.tv_sec +
           (double)ru->ru_stime.tv_usec / 1e6;
}

static double self_cpu_seconds(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? cpu_seconds(&ru) : 0;
}

static long rss_peak_kib(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

struct checkpoint {
    uint64_t packets;
    long rss_kib;
    size_t active;
};

struct track_result {
    bool ok;
    double seconds, cpu;
    uint64_t frames, connections, anomalies, evicted;
    size_t peak_active;
    long peak_rss_kib, base_rss_kib;
    struct checkpoint cp[CHECKPOINTS];
    int ncp;
};

struct bench_sink {
    struct track_log log;
    uint64_t conns;
};

static void on_conn(void *ctx, const struct track_conn_info *c)
{
    struct bench_sink *b = ctx;
    b->conns++;
    track_log_conn(&b->log, c);
}

static int run_tracker(const char *path, uint64_t packets, struct track_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    uint64_t marks[CHECKPOINTS] = {packets / 10, packets / 5, packets / 2, packets};
    FILE *devnull = fopen("/dev/null", "w");
    if (!devnull) {
        snprintf(err, errlen, "/dev/null: %s", strerror(errno));
        return -1;
    }
    res->base_rss_kib = rss_now_kib();
    double t0 = mono_seconds(), cpu0 = self_cpu_seconds();
    struct bench_sink b = {0};
    track_log_init(&b.log, devnull, TRACK_LOG_TSV, TRACK_LOG_CONN, time(NULL));
    struct track_config cfg;
    track_config_default(&cfg);
    struct track_sink sink = {.conn = on_conn, .ctx = &b};
    struct track *t = track_new(&cfg, &sink);
    struct track_capture *cap = t ? track_capture_open_file(path, err, errlen) : NULL;
    if (!t || !cap) {
        if (!t)
            snprintf(err, errlen, "out of memory");
        track_free(t);
        fclose(devnull);
        return -1;
    }
    uint64_t fed = 0;
    double paused = 0;
    enum track_capture_result rc = TRACK_CAPTURE_MORE;
    for (int k = 0; k < CHECKPOINTS && rc == TRACK_CAPTURE_MORE; k++) {
        if (marks[k] <= fed)
            continue;
        rc = track_capture_feed(cap, t, (long)(marks[k] - fed), err, errlen);
        if (rc == TRACK_CAPTURE_ERROR)
            break;
        fed = track_get_stats(t)->frames;
        double p0 = mono_seconds(); /* sampling is not the tracker's time */
        res->cp[res->ncp].packets = fed;
        res->cp[res->ncp].rss_kib = rss_now_kib();
        res->cp[res->ncp].active = track_get_stats(t)->active;
        res->ncp++;
        paused += mono_seconds() - p0;
    }
    if (rc == TRACK_CAPTURE_MORE) /* read to the end, whatever the marks */
        rc = track_capture_feed(cap, t, 0, err, errlen);
    if (rc != TRACK_CAPTURE_ERROR) {
        track_flush(t);
        track_log_close(&b.log, time(NULL));
        fflush(devnull);
    }
    track_capture_close(cap);
    res->seconds = mono_seconds() - t0 - paused;
    res->cpu = self_cpu_seconds() - cpu0;
    res->peak_rss_kib = rss_peak_kib();
    const struct track_stats *st = track_get_stats(t);
    res->frames = st->frames;
    res->connections = b.conns;
    res->anomalies = st->anomalies;
    res->evicted = st->evicted;
    res->peak_active = st->peak_active;
    track_free(t);
    fclose(devnull);
    if (rc == TRACK_CAPTURE_ERROR)
        return -1;
    res->ok = true;
    return 0;
}

/* ---- the peers ---- */

struct peer_result {
    bool installed, ok;
    double seconds, cpu;
    long peak_rss_kib;
    bool conns_known;
    uint64_t connections;
    char why[160];
};

static bool in_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    char buf[1024];
    for (const char *p = path; *p;) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        if (n > 0 && n + strlen(prog) + 2 < sizeof buf) {
            memcpy(buf, p, n);
            buf[n] = '/';
            strcpy(buf + n + 1, prog);
            if (access(buf, X_OK) == 0)
                return true;
        }
        p += n + (colon ? 1 : 0);
    }
    return false;
}

/* Counts the connections a peer reported: tshark's conversation rows
 * ("A <-> B"), tcptrace's numbered "N: a - b" lines. */
static bool count_connections(const char *out_path, bool tshark, uint64_t *n)
{
    FILE *f = fopen(out_path, "r");
    if (!f)
        return false;
    char line[1024];
    uint64_t count = 0;
    bool seen_table = false;
    while (fgets(line, sizeof line, f)) {
        if (tshark) {
            if (strstr(line, "TCP Conversations"))
                seen_table = true;
            else if (seen_table && strstr(line, "<->"))
                count++;
        } else {
            if (strstr(line, "TCP connection info"))
                seen_table = true;
            unsigned long long idx;
            char c;
            if (seen_table && sscanf(line, " %llu%c", &idx, &c) == 2 && c == ':')
                count++;
        }
    }
    fclose(f);
    *n = count;
    return seen_table;
}

static void run_peer(const char *prog, char *const argv[], bool tshark, struct peer_result *res)
{
    memset(res, 0, sizeof *res);
    if (!in_path(prog)) {
        snprintf(res->why, sizeof res->why, "not installed");
        return;
    }
    res->installed = true;
    char out_path[] = "/tmp/synack-bench-peer-XXXXXX";
    int fd = mkstemp(out_path);
    if (fd < 0) {
        snprintf(res->why, sizeof res->why, "mkstemp: %s", strerror(errno));
        return;
    }
    close(fd);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    double t0 = mono_seconds();
    int rc = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        snprintf(res->why, sizeof res->why, "spawn: %s", strerror(rc));
        unlink(out_path);
        return;
    }
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    res->seconds = mono_seconds() - t0;
    res->cpu = cpu_seconds(&ru);
    res->peak_rss_kib = ru.ru_maxrss;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        res->ok = true;
        res->conns_known = count_connections(out_path, tshark, &res->connections);
    } else {
        snprintf(res->why, sizeof res->why, "failed (status %d)", status);
    }
    unlink(out_path);
}

/* ---- reporting ---- */

struct cell {
    bool have;
    double v;
    const char *why; /* when !have */
};

static struct cell cell_of(bool have, double v, const char *why)
{
    struct cell c = {have, v, why ? why : "-"};
    return c;
}

static void fmt_num(char *buf, size_t n, double v)
{
    if (v >= 100 || v == (double)(long long)v)
        snprintf(buf, n, "%.0f", v);
    else
        snprintf(buf, n, "%.2f", v);
}

/* How a figure compares: a rate (higher is better), a cost (time,
 * memory: lower is better), or a plain count. */
enum figure_kind { RATE, COST, COUNT };

static void print_row(bool json, const char *figure, const char *label, const char *unit, struct cell s, struct cell ts,
                      struct cell tt, enum figure_kind kind)
{
    if (json) {
        char a[64] = "null", b[64] = "null", c[64] = "null";
        if (s.have)
            fmt_num(a, sizeof a, s.v);
        if (ts.have)
            fmt_num(b, sizeof b, ts.v);
        if (tt.have)
            fmt_num(c, sizeof c, tt.v);
        printf("{\"bench\":\"track\",\"figure\":\"%s\",\"unit\":\"%s\",\"synack\":%s,\"tshark\":%s,\"tcptrace\":%s}\n",
               figure, unit, a, b, c);
        return;
    }
    char a[64], b[64], c[64], r1[32] = "", r2[32] = "";
    if (s.have)
        fmt_num(a, sizeof a, s.v);
    else
        snprintf(a, sizeof a, "%s", s.why);
    if (ts.have)
        fmt_num(b, sizeof b, ts.v);
    else
        snprintf(b, sizeof b, "%s", ts.why);
    if (tt.have)
        fmt_num(c, sizeof c, tt.v);
    else
        snprintf(c, sizeof c, "%s", tt.why);
    /* "N x": synack is N times better (faster, smaller). */
    if (kind != COUNT && s.have && s.v > 0) {
        if (ts.have && ts.v > 0)
            snprintf(r1, sizeof r1, "%.1fx", kind == RATE ? s.v / ts.v : ts.v / s.v);
        if (tt.have && tt.v > 0)
            snprintf(r2, sizeof r2, "%.1fx", kind == RATE ? s.v / tt.v : tt.v / s.v);
    }
    printf("%-30s %-10s %10s %14s %14s %10s %12s\n", label, unit, a, b, c, r1, r2);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: synack bench track [--quick] [--packets N] [--file PCAP] [--keep] [--no-peers]\n"
            "                          [--seed N] [--json]\n"
            "\n"
            "Generates a capture of realistic TCP traffic (%u packets; --quick: %u) and reads it with\n"
            "the tracker (in-process, conn.log to /dev/null), `tshark -r FILE -q -z conv,tcp` and\n"
            "`tcptrace -n FILE`: packets per second, ratios, peak RSS, and the tracker's RSS as the\n"
            "capture grows (it stays flat once the connection table reaches its steady state).\n"
            "\n"
            "  --quick        a small capture (%u packets)\n"
            "  --packets N    capture size\n"
            "  --file PCAP    bench an existing capture instead of generating one\n"
            "  --keep         keep the generated capture (its path is printed)\n"
            "  --no-peers     do not run tshark and tcptrace\n"
            "  --seed N       generator seed (same seed, same capture)\n"
            "  --json         one JSON object per figure:\n"
            "                 {\"bench\":\"track\",\"figure\":...,\"unit\":...,\"synack\":N,\"tshark\":N,\"tcptrace\":N}\n",
            FULL_PACKETS, QUICK_PACKETS, QUICK_PACKETS);
}

static bool parse_u64_arg(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* Frames in a capture (for --file: where the RSS samples go). */
static uint64_t count_frames(const char *path, char *err, size_t errlen)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_open_offline(path, errbuf);
    if (!p) {
        snprintf(err, errlen, "%s: %s", path, errbuf);
        return 0;
    }
    uint64_t n = 0;
    struct pcap_pkthdr *h;
    const u_char *data;
    while (pcap_next_ex(p, &h, &data) == 1)
        n++;
    pcap_close(p);
    return n;
}

static struct cell mib(bool have, long kib, const char *why)
{
    return cell_of(have && kib >= 0, (double)kib / 1024.0, why);
}

int track_bench_run(int argc, char **argv)
{
    uint64_t packets = FULL_PACKETS, seed = 1;
    const char *file = NULL;
    bool keep = false, peers = true, json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--quick")) {
            packets = QUICK_PACKETS;
        } else if (!strcmp(a, "--packets") && i + 1 < argc) {
            if (!parse_u64_arg(argv[++i], &packets) || packets == 0 || packets > 1000000000u) {
                fprintf(stderr, "synack: bench track: --packets wants a count from 1 to 10^9\n");
                return 2;
            }
        } else if (!strcmp(a, "--file") && i + 1 < argc) {
            file = argv[++i];
        } else if (!strcmp(a, "--seed") && i + 1 < argc) {
            if (!parse_u64_arg(argv[++i], &seed)) {
                fprintf(stderr, "synack: bench track: --seed wants a number\n");
                return 2;
            }
        } else if (!strcmp(a, "--keep")) {
            keep = true;
        } else if (!strcmp(a, "--no-peers")) {
            peers = false;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else {
            fprintf(stderr, "synack: bench track: unknown option '%s' (see --help)\n", a);
            return 2;
        }
    }

    char err[512] = "";
    char path[256];
    struct capture_info info;
    memset(&info, 0, sizeof info);
    bool generated = false;
    if (file) {
        snprintf(path, sizeof path, "%s", file);
        packets = count_frames(path, err, sizeof err);
        if (packets == 0) {
            fprintf(stderr, "synack: bench track: %s\n", err[0] ? err : "empty capture");
            return 1;
        }
        info.packets = packets;
    } else {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/synack-bench-track-XXXXXX", dir && *dir ? dir : "/tmp");
        int fd = mkstemp(path);
        if (fd < 0) {
            fprintf(stderr, "synack: bench track: %s: %s\n", path, strerror(errno));
            return 1;
        }
        close(fd);
        generated = true;
        if (!json)
            fprintf(stderr, "bench track: generating %llu packets into %s...\n", (unsigned long long)packets, path);
        /* In a child, so the generator's memory is not in the tracker's
         * peak RSS; what it wrote comes back through a pipe. */
        int fds[2];
        if (pipe(fds) < 0) {
            fprintf(stderr, "synack: bench track: pipe: %s\n", strerror(errno));
            unlink(path);
            return 1;
        }
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "synack: bench track: fork: %s\n", strerror(errno));
            unlink(path);
            return 1;
        }
        if (pid == 0) {
            close(fds[0]);
            int rc = generate(path, packets, seed, &info, err, sizeof err);
            /* On disk before the clock starts: writeback would run beside
             * the readers and be counted against them. */
            int sync_fd = rc == 0 ? open(path, O_RDONLY) : -1;
            if (sync_fd >= 0) {
                fdatasync(sync_fd);
                close(sync_fd);
            }
            if (rc < 0)
                fprintf(stderr, "synack: bench track: %s\n", err);
            else if (write(fds[1], &info, sizeof info) != (ssize_t)sizeof info)
                rc = -1;
            _exit(rc < 0 ? 1 : 0);
        }
        close(fds[1]);
        ssize_t got;
        while ((got = read(fds[0], &info, sizeof info)) < 0 && errno == EINTR)
            ;
        close(fds[0]);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (got != (ssize_t)sizeof info || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            unlink(path);
            return 1;
        }
    }
    struct stat sb;
    uint64_t file_bytes = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;

    struct track_result tr;
    if (!json)
        fprintf(stderr, "bench track: synack track...\n");
    if (run_tracker(path, packets, &tr, err, sizeof err) < 0) {
        fprintf(stderr, "synack: bench track: %s\n", err);
        if (generated && !keep)
            unlink(path);
        return 1;
    }
    struct peer_result ts = {.why = "skipped"}, tt = {.why = "skipped"};
    if (peers) {
        char *ts_argv[] = {"tshark", "-r", path, "-q", "-z", "conv,tcp", NULL};
        char *tt_argv[] = {"tcptrace", "-n", path, NULL};
        if (!json)
            fprintf(stderr, "bench track: tshark -r FILE -q -z conv,tcp...\n");
        run_peer("tshark", ts_argv, true, &ts);
        if (!json)
            fprintf(stderr, "bench track: tcptrace -n FILE...\n");
        run_peer("tcptrace", tt_argv, false, &tt);
    }
    if (generated && !keep)
        unlink(path);

    double n = (double)tr.frames;
    if (!json) {
        printf("synack bench track: %llu packets, %.1f MB capture%s%s\n", (unsigned long long)tr.frames,
               (double)file_bytes / 1e6, keep || !generated ? " " : "", keep || !generated ? path : "");
        if (generated)
            printf("generated: %llu connections started over %.1f s of traffic (%.0f packets/s on the wire)\n",
                   (unsigned long long)info.connections, (double)(info.last - info.first) / 1e6,
                   (double)info.packets / ((double)(info.last - info.first + 1) / 1e6));
        printf("tracker: %llu connections, %zu at most in the table, %llu evicted, %llu anomalies\n\n",
               (unsigned long long)tr.connections, tr.peak_active, (unsigned long long)tr.evicted,
               (unsigned long long)tr.anomalies);
        printf("%-30s %-10s %10s %14s %14s %10s %12s\n", "figure", "unit", "synack", "tshark", "tcptrace",
               "vs tshark", "vs tcptrace");
    }
    print_row(json, "packets_per_second", "packets per second", "packets/s", cell_of(true, n / tr.seconds, NULL),
              cell_of(ts.ok, n / ts.seconds, ts.why), cell_of(tt.ok, n / tt.seconds, tt.why), RATE);
    print_row(json, "packets_per_cpu_second", "packets per CPU second", "packets/s", cell_of(tr.cpu > 0, n / tr.cpu, NULL),
              cell_of(ts.ok && ts.cpu > 0, n / ts.cpu, ts.why), cell_of(tt.ok && tt.cpu > 0, n / tt.cpu, tt.why), RATE);
    print_row(json, "seconds", "time to read the capture", "s", cell_of(true, tr.seconds, NULL),
              cell_of(ts.ok, ts.seconds, ts.why), cell_of(tt.ok, tt.seconds, tt.why), COST);
    print_row(json, "cpu_seconds", "CPU time (user+sys)", "s", cell_of(true, tr.cpu, NULL), cell_of(ts.ok, ts.cpu, ts.why),
              cell_of(tt.ok, tt.cpu, tt.why), COST);
    print_row(json, "connections", "connections reported", "count", cell_of(true, (double)tr.connections, NULL),
              cell_of(ts.ok && ts.conns_known, (double)ts.connections, ts.ok ? "?" : ts.why),
              cell_of(tt.ok && tt.conns_known, (double)tt.connections, tt.ok ? "?" : tt.why), COUNT);
    print_row(json, "peak_rss", "peak RSS", "MiB", mib(true, tr.peak_rss_kib, NULL), mib(ts.ok, ts.peak_rss_kib, ts.why),
              mib(tt.ok, tt.peak_rss_kib, tt.why), COST);
    print_row(json, "rss_before", "tracker RSS: before reading", "MiB", mib(true, tr.base_rss_kib, NULL),
              cell_of(false, 0, "-"), cell_of(false, 0, "-"), COUNT);
    for (int k = 0; k < tr.ncp; k++) {
        char figure[64], label[64];
        snprintf(figure, sizeof figure, "rss_after_%llu_packets", (unsigned long long)tr.cp[k].packets);
        snprintf(label, sizeof label, "tracker RSS: %lluk packets", (unsigned long long)tr.cp[k].packets / 1000);
        print_row(json, figure, label, "MiB", mib(true, tr.cp[k].rss_kib, NULL), cell_of(false, 0, "-"),
                  cell_of(false, 0, "-"), COUNT);
    }
    if (!json) {
        printf("\n(the tracker's table at those points:");
        for (int k = 0; k < tr.ncp; k++)
            printf(" %zu", tr.cp[k].active);
        printf(" connections)\n");
        printf("vs X: how many times synack is better (faster, smaller). Wall-clock rates suffer from\n"
               "whatever else runs on the machine; CPU seconds much less.\n");
        if (ts.ok && tr.frames >= FULL_PACKETS)
            printf("target: synack >= 20x tshark: %s (%.1fx wall clock, %.1fx CPU)\n",
                   ts.seconds >= 20 * tr.seconds ? "met" : "NOT met", ts.seconds / tr.seconds,
                   tr.cpu > 0 ? ts.cpu / tr.cpu : 0.0);
        else if (ts.ok)
            printf("target: synack >= 20x tshark is judged on the full run (%u packets); here %.1fx wall "
                   "clock, %.1fx CPU\n",
                   FULL_PACKETS, ts.seconds / tr.seconds, tr.cpu > 0 ? ts.cpu / tr.cpu : 0.0);
    }
    return 0;
}
