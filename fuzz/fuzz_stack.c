/* fuzz_stack: the state machine (issue 9). Two synack stacks, A and B,
 * wired back to back in memory: what each one sends waits in a queue
 * until the input says what happens to it. The input bytes are a script:
 * a knob byte (stack configuration, IPv4 or IPv6), then operations —
 *
 *   the network   deliver, drop, duplicate or reorder a queued packet;
 *                 deliver a mutated copy (header fields rewritten, or one
 *                 raw byte flipped); inject a crafted segment
 *   the apps      connect (also a simultaneous open), accept, send, recv,
 *                 shutdown, close, abort, setsockopt, listener off/on,
 *                 poll and the other getters
 *   the clock     small and large steps, or straight to the next timer
 *
 * After every operation the invariants are checked on both hosts:
 * SND.UNA <= SND.NXT <= SND.MAX on every control block, and the table
 * accounting (conns + half-open + TIME-WAIT = entries in the table).
 * Every recv is checked for stream integrity: the data of a direction is a
 * fixed function of the sequence number (stream_byte), apps send exactly
 * that, and crafted or rewritten segments carry exactly that too, so any
 * byte a receiver delivers must match the function at its sequence number
 * (IRS + 1 + offset); and, unless the script forged data, no receiver gets
 * more bytes than its peer's app sent. At the end every socket is closed,
 * the packets flow on a clean network and the timers run out: both stacks
 * must then hold no connection at all (stack_conn_count() == 0), and
 * freeing them must leak nothing (LeakSanitizer). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack/stack.h"
#include "stack_peek.h"
#include "tcp/tcp.h"
#include "tcp/tcp_check.h"
#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "fuzz_stack: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

#define MAX_PKT 2048
#define QUEUE_CAP 128
#define MAX_SOCKS 12
#define MAX_STREAMS 256
#define MAX_SEND 16384

/* ---- the input ---- */
struct input {
    const uint8_t *p;
    size_t n;
};

static uint8_t in8(struct input *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static uint16_t in16(struct input *in)
{
    uint16_t hi = in8(in);
    return (uint16_t)(hi << 8 | in8(in));
}

/* ---- the data: a fixed function of the direction and sequence number ---- */
static uint8_t stream_byte(uint16_t sport, uint16_t dport, uint32_t seq)
{
    uint32_t x = seq * 0x9e3779b1u ^ ((uint32_t)sport << 16 | dport);
    x ^= x >> 15;
    x *= 0x2c1b3c6du;
    x ^= x >> 12;
    return (uint8_t)x;
}

/* What each sender's app has written, by direction and ISN. */
struct stream {
    uint16_t sport, dport;
    uint32_t iss;
    uint64_t sent;
};

/* ---- the network ---- */
struct pkt {
    uint16_t len;
    uint8_t b[MAX_PKT];
};

struct queue {
    struct pkt p[QUEUE_CAP];
    unsigned head, n;
};

struct sockrec {
    int sd;
    bool open;
    uint64_t rcvd;
};

struct side {
    const char *name;
    struct stack *s;
    struct wire_addr addr;
    uint16_t listen_port;
    int listener;
    struct sockrec socks[MAX_SOCKS];
    struct queue q; /* what this side sent, not yet delivered */
    struct pkt last; /* the last packet this side sent: template for forgeries */
};

static struct side sides[2];
static struct stream streams[MAX_STREAMS];
static unsigned nstreams;
static tcp_time_t now;
static bool forged; /* the script injected data: counts may exceed what apps sent */
/* FUZZ_STACK_TRACE=1 in the environment: each operation and delivered
 * packet on stderr, for turning a reproducer into a report. */
static int trace = -1;
static uint64_t packets_out;

static struct pkt *q_at(struct queue *q, unsigned i)
{
    return &q->p[(q->head + i) % QUEUE_CAP];
}

static void q_push(struct queue *q, const uint8_t *b, size_t len)
{
    if (len > MAX_PKT)
        return; /* cannot happen with MSS 1460; a jumbo would be dropped */
    if (q->n == QUEUE_CAP) { /* a full link drops the oldest */
        q->head = (q->head + 1) % QUEUE_CAP;
        q->n--;
    }
    struct pkt *p = q_at(q, q->n++);
    p->len = (uint16_t)len;
    memcpy(p->b, b, len);
}

static void q_pop(struct queue *q)
{
    if (!q->n)
        return;
    q->head = (q->head + 1) % QUEUE_CAP;
    q->n--;
}

static void on_output(void *ctx, const uint8_t *pkt, size_t len)
{
    struct side *sd = ctx;
    CHECK(len > 0 && len <= WIRE_MAX_HEADER + 65536);
    /* Everything a stack sends must parse (checksums included). */
    struct wire_seg seg;
    CHECK(wire_parse(pkt, len, WIRE_PARSE_LENIENT, &seg) == WIRE_ERR_OK);
    CHECK(wire_addr_eq(&seg.tuple.src, &sd->addr));
    q_push(&sd->q, pkt, len);
    if (len <= MAX_PKT) {
        sd->last.len = (uint16_t)len;
        memcpy(sd->last.b, pkt, len);
    }
    packets_out++;
}

/* ---- invariants ---- */
/* The RFC invariants of every connection and the host's accounting
 * (tcp_check.c, the same checker -DSYNACK_INVARIANTS runs). */
static void check_invariants(struct side *sd)
{
    struct tcp_host *h = fuzz_stack_host(sd->s);
    char why[512];
    if (tcp_check_host(h, why, sizeof why)) {
        fprintf(stderr, "fuzz_stack: invariant violated: %s\n", why);
        CHECK(false);
    }
    CHECK(stack_conn_count(sd->s) == h->conns + h->reqs + h->tws);
}

/* ---- streams ---- */
static struct stream *stream_find(uint16_t sport, uint16_t dport, uint32_t iss, bool create)
{
    for (unsigned i = 0; i < nstreams; i++)
        if (streams[i].sport == sport && streams[i].dport == dport && streams[i].iss == iss)
            return &streams[i];
    if (!create || nstreams == MAX_STREAMS)
        return NULL;
    struct stream *s = &streams[nstreams++];
    s->sport = sport;
    s->dport = dport;
    s->iss = iss;
    s->sent = 0;
    return s;
}

/* ---- the apps ---- */
static struct sockrec *sock_pick(struct side *sd, uint8_t k)
{
    struct sockrec *r = &sd->socks[k % MAX_SOCKS];
    return r->open ? r : NULL;
}

static struct sockrec *sock_slot(struct side *sd)
{
    for (int i = 0; i < MAX_SOCKS; i++)
        if (!sd->socks[i].open)
            return &sd->socks[i];
    return NULL;
}

static void sock_add(struct side *sd, int fd)
{
    struct sockrec *r = sock_slot(sd);
    if (!r) { /* no room to follow it: close it at once */
        stack_close(sd->s, fd, now);
        return;
    }
    r->sd = fd;
    r->open = true;
    r->rcvd = 0;
}

static void app_send(struct side *sd, struct sockrec *r, size_t len)
{
    static uint8_t buf[MAX_SEND];
    struct tcp_conn *c = fuzz_stack_conn(sd->s, r->sd);
    struct stream *st = NULL;
    if (c) {
        struct wire_tuple t;
        tcp_entry_tuple(c->host, &c->e, &t);
        st = stream_find(t.sport, t.dport, c->iss, true);
        uint64_t off = st ? st->sent : 0;
        for (size_t i = 0; i < len; i++)
            buf[i] = stream_byte(t.sport, t.dport, c->iss + 1 + (uint32_t)(off + i));
        if (!st)
            forged = true; /* lost track: no count checks */
    } else {
        memset(buf, 0x5a, len);
    }
    ssize_t n = stack_send(sd->s, r->sd, buf, len, now);
    CHECK(n <= (ssize_t)len);
    if (n > 0) {
        CHECK(c != NULL);
        if (st)
            st->sent += (uint64_t)n;
    }
}

static void app_recv(struct side *sd, struct sockrec *r, size_t len)
{
    static uint8_t buf[MAX_SEND];
    ssize_t n = stack_recv(sd->s, r->sd, buf, len, now);
    CHECK(n <= (ssize_t)len);
    if (n <= 0)
        return;
    struct tcp_conn *c = fuzz_stack_conn(sd->s, r->sd);
    CHECK(c != NULL);
    /* Incoming data: from the remote port to the local one. */
    struct wire_tuple t;
    tcp_entry_tuple(c->host, &c->e, &t);
    uint16_t sport = t.dport, dport = t.sport;
    for (ssize_t i = 0; i < n; i++) {
        uint32_t seq = c->irs + 1 + (uint32_t)(r->rcvd + (uint64_t)i);
        if (buf[i] != stream_byte(sport, dport, seq)) {
            fprintf(stderr, "fuzz_stack: %s received a wrong byte at stream offset %llu (seq %u, irs %u)\n",
                    sd->name, (unsigned long long)(r->rcvd + (uint64_t)i), seq, c->irs);
            CHECK(!"stream integrity");
        }
    }
    r->rcvd += (uint64_t)n;
    struct stream *st = stream_find(sport, dport, c->irs, false);
    if (!forged && st && r->rcvd > st->sent) {
        fprintf(stderr, "fuzz_stack: %s received %llu bytes, its peer's app sent %llu\n", sd->name,
                (unsigned long long)r->rcvd, (unsigned long long)st->sent);
        CHECK(!"received more than was sent");
    }
}

static void listener_open(struct side *sd, int backlog)
{
    int fd = stack_socket(sd->s);
    if (fd < 0)
        return;
    struct wire_endpoint ep = {.addr = sd->addr, .port = sd->listen_port};
    if (stack_bind(sd->s, fd, &ep) < 0 || stack_listen(sd->s, fd, backlog) < 0) {
        stack_close(sd->s, fd, now);
        return;
    }
    sd->listener = fd;
}

static void app_connect(struct side *sd, struct side *peer, struct input *in)
{
    uint8_t how = in8(in);
    if (how & 1) {
        /* Simultaneous open (RFC 9293 §3.5, Figure 7): both bind, both connect. */
        uint16_t pa = (uint16_t)(40000 + (how >> 1)), pb = (uint16_t)(50000 + in8(in) % 64);
        int fa = stack_socket(sd->s), fb = stack_socket(peer->s);
        struct wire_endpoint la = {.addr = sd->addr, .port = pa}, lb = {.addr = peer->addr, .port = pb};
        if (fa >= 0 && stack_bind(sd->s, fa, &la) == 0) {
            sock_add(sd, fa);
            stack_connect(sd->s, fa, &lb, now);
        } else if (fa >= 0) {
            stack_close(sd->s, fa, now);
        }
        if (fb >= 0 && stack_bind(peer->s, fb, &lb) == 0) {
            sock_add(peer, fb);
            stack_connect(peer->s, fb, &la, now);
        } else if (fb >= 0) {
            stack_close(peer->s, fb, now);
        }
        return;
    }
    int fd = stack_socket(sd->s);
    if (fd < 0)
        return;
    /* Mostly the peer's listener; sometimes a closed port (RST). */
    struct wire_endpoint remote = {.addr = peer->addr, .port = (how & 6) ? peer->listen_port : (uint16_t)(1 + (how >> 3))};
    int rc = stack_connect(sd->s, fd, &remote, now);
    if (rc != -EINPROGRESS && rc < 0) {
        stack_close(sd->s, fd, now);
        return;
    }
    sock_add(sd, fd);
}

static void app_setsockopt(struct side *sd, struct sockrec *r, struct input *in)
{
    enum stack_opt opt = (enum stack_opt)(in8(in) % (STACK_TCP_MAXSEG + 1));
    int v = (int16_t)in16(in);
    switch (opt) {
    case STACK_SO_RCVBUF:
    case STACK_SO_SNDBUF:
        v = (v & 0x7fff) * 8; /* up to 256 KiB, and small ones */
        break;
    case STACK_TCP_KEEPIDLE:
    case STACK_TCP_KEEPINTVL:
        v %= 600;
        break;
    default:
        break;
    }
    stack_setsockopt(sd->s, r->sd, opt, v);
    int back;
    stack_getsockopt(sd->s, r->sd, opt, &back);
}

static void walk_view(void *ctx, const struct stack_conn_info *info)
{
    (void)ctx;
    CHECK(info->state < TCP_STATE_COUNT);
}

static void app_look(struct side *sd, struct sockrec *r)
{
    unsigned ev = stack_poll(sd->s, r->sd);
    (void)ev;
    int err = stack_sock_error(sd->s, r->sd);
    CHECK(err >= 0);
    struct wire_endpoint ep;
    stack_getsockname(sd->s, r->sd, &ep);
    stack_getpeername(sd->s, r->sd, &ep);
    CHECK(stack_sock_state(sd->s, r->sd) < TCP_STATE_COUNT);
    stack_walk(sd->s, walk_view, NULL);
    const struct tcp_counters *cnt = stack_counters(sd->s);
    (void)cnt;
}

/* ---- the network, continued ---- */
/* Two hosts that ACK each other's ACKs forever (an ACK storm, as two ends
 * desynchronized by one forged segment get into without a limit on the
 * ACKs sent for invalid segments, Linux's tcp_invalid_ratelimit) never let
 * the network go quiet. A long run of pure ACKs is reported as such, or,
 * with FUZZ_STACK_ALLOW=ack-storm, the link drops what is queued and the
 * run goes on (to look for other bugs while that one is open). */
#define STORM_ACKS 2000
static unsigned pure_acks_in_a_row; /* delivered at the same instant */
static bool allow_storms;

static void clear_queues(void)
{
    sides[0].q.n = sides[1].q.n = 0;
}

/* False: drop the packet (and what is queued), the storm is allowed. */
static bool storm_check(const struct wire_seg *s, enum wire_err e)
{
    if (e != WIRE_ERR_OK || s->flags != WIRE_ACK || s->payload_len) {
        pure_acks_in_a_row = 0;
        return true;
    }
    if (++pure_acks_in_a_row < STORM_ACKS)
        return true;
    pure_acks_in_a_row = 0;
    if (allow_storms) {
        clear_queues();
        return false;
    }
    fprintf(stderr, "fuzz_stack: ACK storm: %d pure ACKs in a row between A and B (the last: %u > %u seq %u ack %u); "
                    "no rate limit on ACKs for invalid segments\n",
            STORM_ACKS, s->tuple.sport, s->tuple.dport, s->seq, s->ack);
    CHECK(!"ACK storm");
    return false;
}

static void deliver(struct side *to, const uint8_t *b, size_t len)
{
    struct wire_seg s;
    enum wire_err e = wire_parse(b, len, 0, &s);
    if (!storm_check(&s, e))
        return;
    if (trace > 0) {
        char fl[WIRE_FLAGS_STRLEN];
        if (e == WIRE_ERR_OK)
            fprintf(stderr, "    -> %s: %u > %u Flags [%s] seq %u ack %u win %u length %u\n", to->name, s.tuple.sport,
                    s.tuple.dport, wire_flags_str(s.flags, fl), s.seq, s.ack, s.window, s.payload_len);
        else
            fprintf(stderr, "    -> %s: %zu bytes, %s\n", to->name, len, wire_err_text(e));
    }
    stack_input(to->s, b, len, now);
}

static void deliver_head(int from)
{
    struct queue *q = &sides[from].q;
    if (!q->n)
        return;
    struct pkt p = *q_at(q, 0); /* delivering may queue more */
    q_pop(q);
    deliver(&sides[!from], p.b, p.len);
}

/* Payload consistent with the stream: byte i sits at seq + SYN + i. */
static void fill_payload(uint8_t *dst, const struct wire_seg *s, uint32_t len)
{
    uint32_t first = s->seq + ((s->flags & WIRE_SYN) ? 1u : 0u);
    for (uint32_t i = 0; i < len; i++)
        dst[i] = stream_byte(s->tuple.sport, s->tuple.dport, first + i);
}

static void deliver_rewritten(int from, struct wire_seg *s, uint32_t payload_len)
{
    static uint8_t payload[MAX_PKT], out[WIRE_MAX_HEADER + MAX_PKT];
    if (payload_len > 1460)
        payload_len = 1460;
    fill_payload(payload, s, payload_len);
    s->payload = payload;
    s->payload_len = payload_len;
    if (payload_len)
        forged = true;
    size_t n = wire_build(out, sizeof out, s);
    if (n)
        deliver(&sides[!from], out, n);
}

/* A queued packet with one header field rewritten (a middlebox, an
 * attacker on the path), sent on in place of the original. */
static void mutate_head(int from, struct input *in)
{
    struct queue *q = &sides[from].q;
    uint8_t field = in8(in);
    uint16_t v = in16(in);
    if (!q->n)
        return;
    struct pkt p = *q_at(q, 0);
    q_pop(q);
    struct wire_seg s;
    if (wire_parse(p.b, p.len, 0, &s) != WIRE_ERR_OK)
        return;
    uint32_t len = s.payload_len;
    switch (field % 8) {
    case 0:
        s.flags ^= (uint8_t)v;
        break;
    case 1:
        s.seq += (uint32_t)(int16_t)v;
        break;
    case 2:
        s.ack += (uint32_t)(int16_t)v;
        break;
    case 3:
        s.seq += (uint32_t)v << 16;
        break;
    case 4:
        s.window = v;
        break;
    case 5:
        len = len ? v % (len + 1) : 0; /* cut */
        break;
    case 6:
        s.opt.present ^= (uint8_t)v;
        s.opt.ts_val += (uint32_t)(int8_t)(v >> 8);
        s.opt.mss = v;
        s.opt.wscale = (uint8_t)(v % 15);
        break;
    default:
        s.urg_ptr = v;
        s.flags |= WIRE_URG;
        break;
    }
    deliver_rewritten(from, &s, len);
}

/* One raw byte of a copy flipped: checksums must catch it (or it is in a
 * field they do not cover and that changes nothing that matters). */
static void flip_copy(int from, struct input *in)
{
    struct queue *q = &sides[from].q;
    uint16_t at = in16(in);
    uint8_t x = in8(in);
    if (!q->n || !x)
        return;
    struct pkt p = *q_at(q, 0);
    p.b[at % p.len] ^= x;
    deliver(&sides[!from], p.b, p.len);
}

/* A crafted segment "from" one side: the tuple of the last packet it sent
 * (or a fresh source port), sequence and acknowledgment near its numbers. */
static void craft(int from, struct input *in)
{
    struct side *src = &sides[from], *dst = &sides[!from];
    uint8_t flags = in8(in);
    int16_t dseq = (int16_t)in16(in), dack = (int16_t)in16(in);
    uint16_t win = in16(in);
    uint16_t len = in16(in) % 1461;
    uint8_t how = in8(in);
    struct wire_seg s;
    if (src->last.len && !(how & 1) && wire_parse(src->last.b, src->last.len, 0, &s) == WIRE_ERR_OK) {
        s.seq += (uint32_t)dseq;
        s.ack += (uint32_t)dack;
    } else {
        memset(&s, 0, sizeof s);
        s.tuple.src = src->addr;
        s.tuple.dst = dst->addr;
        s.tuple.sport = (uint16_t)(1024 + (how >> 1) * 97);
        s.tuple.dport = (how & 2) ? dst->listen_port : (uint16_t)(1 + (how >> 2));
        s.ip_version = wire_addr_is_v4(&src->addr) ? 4 : 6;
        s.seq = (uint32_t)dseq * 65537u;
        s.ack = (uint32_t)dack * 65537u;
        if (flags & WIRE_SYN) {
            s.opt.present = WIRE_OPT_MSS | WIRE_OPT_SACK_PERM | WIRE_OPT_TIMESTAMP | WIRE_OPT_WSCALE;
            s.opt.mss = 1460;
            s.opt.wscale = 7;
            s.opt.ts_val = (uint32_t)(now / 1000);
        }
    }
    s.flags = flags;
    s.window = win;
    deliver_rewritten(from, &s, len);
}

/* ---- the clock ---- */
static void tick_to(tcp_time_t t)
{
    if (t > now) {
        now = t;
        pure_acks_in_a_row = 0; /* a storm is ACKs without time passing */
    }
    stack_tick(sides[0].s, now);
    stack_tick(sides[1].s, now);
}

static tcp_time_t next_timer(void)
{
    tcp_time_t a = stack_next_timer(sides[0].s), b = stack_next_timer(sides[1].s);
    return a < b ? a : b;
}

/* ---- setup and the end ---- */
static bool setup(uint8_t knobs, uint8_t knobs2)
{
    memset(sides, 0, sizeof sides);
    nstreams = 0;
    forged = false;
    packets_out = 0;
    now = TCP_SEC(1000);
    struct stack_config cfg;
    stack_config_default(&cfg);
    memset(cfg.secret, 0x42, sizeof cfg.secret);
    cfg.max_sockets = 64;
    cfg.tcp.tcp_syncookies = knobs % 3;
    if (knobs & 0x04) {
        cfg.tcp.tcp_rmem = 2048; /* zero windows, persist timer */
        cfg.tcp.tcp_wmem = 4096;
    }
    if (knobs & 0x08) {
        cfg.tcp.tcp_timestamps = 0;
        cfg.tcp.tcp_sack = 0;
    }
    if (knobs & 0x10)
        cfg.tcp.tcp_window_scaling = 0;
    if (knobs & 0x20) {
        cfg.tcp.tcp_max_syn_backlog = 2;
        cfg.tcp.somaxconn = 2;
    }
    cfg.tcp.tcp_rfc1337 = (knobs2 & 1);
    cfg.tcp.tcp_abort_on_overflow = (knobs2 >> 1) & 1;
    if (knobs2 & 4) {
        cfg.tcp.tcp_syn_retries = 2;
        cfg.tcp.tcp_synack_retries = 2;
        cfg.tcp.tcp_retries2 = 4;
    }
    cfg.tcp.tcp_syn_linear_timeouts = (knobs2 >> 3) & 3;
    cfg.tcp.tcp_tw_reuse = (knobs2 >> 5) % 3;
    bool v6 = knobs & 0x40;
    for (int i = 0; i < 2; i++) {
        struct side *sd = &sides[i];
        sd->name = i ? "B" : "A";
        if (v6) {
            uint8_t b[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (uint8_t)(1 + i)};
            sd->addr = wire_addr_v6(b);
        } else {
            sd->addr = wire_addr_v4(0x0a000001u + (uint32_t)i);
        }
        sd->listen_port = (uint16_t)(80 + i);
        sd->listener = -1;
        struct stack_hooks hooks = {.ctx = sd, .output = on_output};
        if (i) /* the two hosts must not share ISN/port keys */
            cfg.secret[0] ^= 0xff;
        sd->s = stack_new(&cfg, &hooks, now);
        if (!sd->s)
            return false;
        stack_set_local_addr(sd->s, &sd->addr);
        listener_open(sd, 4);
    }
    return true;
}

static void dump_left(void *ctx, const struct stack_conn_info *info)
{
    char l[WIRE_ENDPOINT_STRLEN], r[WIRE_ENDPOINT_STRLEN];
    fprintf(stderr, "  %s: %s %s -> %s sd %d orphan %d timer %d at %llu q %u/%u\n", (const char *)ctx,
            tcp_state_name(info->state), wire_endpoint_str(&info->local, l), wire_endpoint_str(&info->remote, r),
            info->sd, info->orphan, info->timer, (unsigned long long)info->timer_expires, info->recv_q, info->send_q);
}

/* Close everything, let a clean network and the timers finish it. */
static void finish(void)
{
    if (trace > 0)
        fprintf(stderr, "t=%.6f end of the script: every socket closed, the timers run out\n", (double)now / 1e6);
    for (int i = 0; i < 2; i++) {
        struct side *sd = &sides[i];
        for (int k = 0; k < MAX_SOCKS; k++)
            if (sd->socks[k].open) {
                stack_close(sd->s, sd->socks[k].sd, now);
                sd->socks[k].open = false;
            }
        if (sd->listener >= 0)
            stack_close(sd->s, sd->listener, now);
        sd->listener = -1;
        check_invariants(sd);
    }
    const tcp_time_t limit = now + TCP_SEC(6 * 3600);
    for (long steps = 0; steps < 1000000; steps++) {
        if (sides[0].q.n || sides[1].q.n) {
            deliver_head(sides[0].q.n ? 0 : 1);
            continue;
        }
        tcp_time_t t = next_timer();
        if (t == TCP_TIME_NEVER || t > limit)
            break;
        tick_to(t);
    }
    size_t left = 0;
    for (int i = 0; i < 2; i++) {
        check_invariants(&sides[i]);
        if (stack_conn_count(sides[i].s) != 0) {
            fprintf(stderr, "fuzz_stack: host %s still holds %zu connections after everything closed and the "
                            "timers ran out (virtual time %.6f s):\n",
                    sides[i].name, stack_conn_count(sides[i].s), (double)now / 1e6);
            stack_walk(sides[i].s, dump_left, (void *)sides[i].name);
            left += stack_conn_count(sides[i].s);
        }
    }
    CHECK(left == 0);
}

enum op {
    OP_DELIVER_A, OP_DELIVER_B, OP_DELIVER_ALL, OP_DROP, OP_DUPLICATE, OP_REORDER, OP_MUTATE, OP_FLIP, OP_CRAFT,
    OP_CONNECT, OP_ACCEPT, OP_SEND, OP_RECV, OP_SHUTDOWN, OP_CLOSE, OP_ABORT, OP_SETSOCKOPT, OP_CLOCK_SMALL,
    OP_CLOCK_LARGE, OP_CLOCK_TIMER, OP_LISTENER, OP_LOOK, OP_COUNT
};

static const char *const op_names[] = {
    "deliver A->B", "deliver B->A", "deliver all", "drop", "duplicate", "reorder", "mutate", "flip", "craft",
    "connect", "accept", "send", "recv", "shutdown", "close", "abort", "setsockopt", "clock +ms", "clock +s",
    "clock to next timer", "listener off/on", "look",
};

static void trace_step(uint8_t op, uint8_t who, const struct input *in)
{
    fprintf(stderr, "t=%.6f %s side %c slot %u [next bytes:", (double)now / 1e6, op_names[op % OP_COUNT],
            (who & 1) ? 'B' : 'A', (unsigned)(who >> 1) % MAX_SOCKS);
    for (size_t i = 0; i < in->n && i < 6; i++)
        fprintf(stderr, " %02x", in->p[i]);
    fprintf(stderr, "] queues A->B %u B->A %u conns A %zu B %zu\n", sides[0].q.n, sides[1].q.n,
            stack_conn_count(sides[0].s), stack_conn_count(sides[1].s));
}

static void step(struct input *in)
{
    uint8_t op = in8(in);
    uint8_t who = in8(in);
    if (trace)
        trace_step(op, who, in);
    struct side *sd = &sides[who & 1], *peer = &sides[!(who & 1)];
    struct queue *q = &sd->q;
    struct sockrec *r;
    switch (op % OP_COUNT) {
    case OP_DELIVER_A:
        deliver_head(0);
        break;
    case OP_DELIVER_B:
        deliver_head(1);
        break;
    case OP_DELIVER_ALL:
        for (int k = 0; k < 256 && (sides[0].q.n || sides[1].q.n); k++)
            deliver_head(sides[k & 1].q.n ? k & 1 : !(k & 1));
        break;
    case OP_DROP:
        q_pop(q);
        break;
    case OP_DUPLICATE:
        if (q->n) {
            struct pkt p = *q_at(q, 0);
            q_push(q, p.b, p.len);
        }
        break;
    case OP_REORDER:
        if (q->n > 1) {
            unsigned k = 1 + (who >> 1) % (q->n - 1);
            struct pkt tmp = *q_at(q, 0);
            *q_at(q, 0) = *q_at(q, k);
            *q_at(q, k) = tmp;
        }
        break;
    case OP_MUTATE:
        mutate_head(who & 1, in);
        break;
    case OP_FLIP:
        flip_copy(who & 1, in);
        break;
    case OP_CRAFT:
        craft(who & 1, in);
        break;
    case OP_CONNECT:
        app_connect(sd, peer, in);
        break;
    case OP_ACCEPT:
        if (sd->listener >= 0) {
            struct wire_endpoint ep;
            int fd = stack_accept(sd->s, sd->listener, &ep);
            if (fd >= 0)
                sock_add(sd, fd);
            else
                CHECK(fd == -EAGAIN || fd == -EMFILE || fd == -ENOMEM || fd == -EINVAL);
        }
        break;
    case OP_SEND:
        if ((r = sock_pick(sd, who >> 1)))
            app_send(sd, r, in16(in) % MAX_SEND);
        break;
    case OP_RECV:
        if ((r = sock_pick(sd, who >> 1)))
            app_recv(sd, r, 1 + in16(in) % (MAX_SEND - 1));
        break;
    case OP_SHUTDOWN:
        if ((r = sock_pick(sd, who >> 1)))
            stack_shutdown(sd->s, r->sd, in8(in) % 3, now);
        break;
    case OP_CLOSE:
        if ((r = sock_pick(sd, who >> 1))) {
            CHECK(stack_close(sd->s, r->sd, now) == 0);
            r->open = false;
        }
        break;
    case OP_ABORT:
        if ((r = sock_pick(sd, who >> 1))) {
            stack_abort(sd->s, r->sd, now);
            r->open = false;
        }
        break;
    case OP_SETSOCKOPT:
        if ((r = sock_pick(sd, who >> 1)))
            app_setsockopt(sd, r, in);
        break;
    case OP_CLOCK_SMALL:
        tick_to(now + TCP_MSEC(1 + in8(in)));
        break;
    case OP_CLOCK_LARGE:
        tick_to(now + TCP_SEC(1 + in8(in)));
        break;
    case OP_CLOCK_TIMER: {
        tcp_time_t t = next_timer();
        if (t != TCP_TIME_NEVER && t < now + TCP_SEC(7200))
            tick_to(t);
        break;
    }
    case OP_LISTENER:
        if (sd->listener >= 0) {
            stack_close(sd->s, sd->listener, now);
            sd->listener = -1;
        } else {
            listener_open(sd, (who >> 1) % 8);
        }
        break;
    default:
        if ((r = sock_pick(sd, who >> 1)))
            app_look(sd, r);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size};
    if (trace < 0) {
        trace = getenv("FUZZ_STACK_TRACE") != NULL;
        const char *allow = getenv("FUZZ_STACK_ALLOW");
        allow_storms = allow && strstr(allow, "ack-storm");
    }
    pure_acks_in_a_row = 0;
    uint8_t k1 = in8(&in), k2 = in8(&in);
    if (!setup(k1, k2))
        abort();
    for (int steps = 0; in.n && steps < 4096; steps++) {
        step(&in);
        check_invariants(&sides[0]);
        check_invariants(&sides[1]);
    }
    finish();
    stack_free(sides[0].s);
    stack_free(sides[1].s);
    return 0;
}
