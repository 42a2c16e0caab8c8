/* The soaks' world (soak_internal.h): two stacks on a simnet link, hosts
 * that freeze and reboot, readiness-driven applications that verify every
 * byte they read, and the end-of-trial checks. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/soak_internal.h"
#include "wire/wire.h"

#define SOAK_DRAIN_LIMIT TCP_SEC(86400)
#define SOAK_CHUNK 16384

static const char *const fault_names[] = {
#define SOAK_FAULT_NAME(id, name) name,
    SOAK_FAULTS(SOAK_FAULT_NAME)
#undef SOAK_FAULT_NAME
};
static const char *const end_names[] = {
#define SOAK_END_NAME(id, name) name,
    SOAK_ENDS(SOAK_END_NAME)
#undef SOAK_END_NAME
};
static const char *const errno_names[] = {
#define SOAK_ERRNO_NAME(name) #name,
    SOAK_ERRNOS(SOAK_ERRNO_NAME)
#undef SOAK_ERRNO_NAME
    "other",
};

const char *soak_fault_name(enum soak_fault f) { return (unsigned)f < SOAK_FAULT_COUNT ? fault_names[f] : "?"; }
const char *soak_end_name(enum soak_end e) { return (unsigned)e < SOAK_END_COUNT ? end_names[e] : "?"; }
const char *soak_errno_name(enum soak_errno e) { return (unsigned)e < SOAK_ERR_COUNT ? errno_names[e] : "?"; }

enum soak_errno soak_errno_of(int err)
{
    switch (err) {
    case ECONNRESET: return SOAK_ERR_ECONNRESET;
    case ETIMEDOUT: return SOAK_ERR_ETIMEDOUT;
    case ECONNREFUSED: return SOAK_ERR_ECONNREFUSED;
    case EPIPE: return SOAK_ERR_EPIPE;
    default: return SOAK_ERR_OTHER;
    }
}

/* ---- data ---- */
uint64_t soak_trial_seed(uint64_t seed, uint64_t trial)
{
    uint64_t x = seed * UINT64_C(0x9e3779b97f4a7c15) ^ (trial + 1) * UINT64_C(0xd1b54a32d192ed03);
    return sim_rng_splitmix64(&x);
}

static uint64_t block_of(uint64_t key, uint64_t block)
{
    uint64_t x = key ^ block * UINT64_C(0x9e3779b97f4a7c15);
    return sim_rng_splitmix64(&x);
}

void soak_fill(uint64_t key, uint64_t off, uint8_t *out, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint64_t v = block_of(key, (off + i) >> 3);
        for (unsigned b = (unsigned)((off + i) & 7); b < 8 && i < len; b++, i++)
            out[i] = (uint8_t)(v >> (8 * b));
    }
}

uint64_t soak_fnv(uint64_t h, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * UINT64_C(0x100000001b3);
    return h;
}

/* ---- failures ---- */
void soak_world_failf(struct soak_world *w, const char *fmt, ...)
{
    if (w->fail[0])
        return;
    int n = snprintf(w->fail, sizeof w->fail, "t=%.6f s: ", (double)simnet_now(w->net) / 1e6);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->fail + n, sizeof w->fail - (size_t)n, fmt, ap);
    va_end(ap);
}

struct dump_ctx {
    char *buf;
    size_t cap, used;
    int host;
};

static void dump_one(void *ctx, const struct stack_conn_info *info)
{
    struct dump_ctx *d = ctx;
    char l[WIRE_ENDPOINT_STRLEN], r[WIRE_ENDPOINT_STRLEN];
    if (d->used + 1 >= d->cap)
        return;
    int n = snprintf(d->buf + d->used, d->cap - d->used, "; host %d: %s %s -> %s sd %d q %u/%u timer %d", d->host,
                     tcp_state_name(info->state), wire_endpoint_str(&info->local, l),
                     wire_endpoint_str(&info->remote, r), info->sd, info->recv_q, info->send_q, info->timer);
    if (n > 0)
        d->used += (size_t)n < d->cap - d->used ? (size_t)n : d->cap - d->used - 1;
}

void soak_dump_state(struct soak_world *w, char *buf, size_t cap)
{
    struct dump_ctx d = {buf, cap, 0, 0};
    buf[0] = 0;
    for (int h = 0; h < 2; h++) {
        d.host = h;
        if (w->hosts[h].stack)
            stack_walk(w->hosts[h].stack, dump_one, &d);
    }
}

/* ---- scheduled calls (from the world's own pool: nothing to free) ---- */
static void call_trampoline(void *ctx)
{
    struct soak_call *c = ctx;
    c->fn(c->w, c->arg);
}

int soak_at(struct soak_world *w, tcp_time_t t, void (*fn)(struct soak_world *w, void *arg), void *arg)
{
    if (w->ncalls >= SOAK_MAX_CALLS) {
        soak_world_failf(w, "more than %d scheduled calls", SOAK_MAX_CALLS);
        return -1;
    }
    struct soak_call *c = &w->calls[w->ncalls++];
    *c = (struct soak_call){w, fn, arg};
    return simnet_at(w->net, t, call_trampoline, c);
}

/* ---- hosts ---- */
static void node_input(void *node, const uint8_t *pkt, size_t len, tcp_time_t now)
{
    struct soak_host *h = node;
    if (!h->down && h->stack)
        stack_input(h->stack, pkt, len, now);
}

static void node_tick(void *node, tcp_time_t now)
{
    struct soak_host *h = node;
    if (!h->down && h->stack)
        stack_tick(h->stack, now);
}

static tcp_time_t node_next_timer(void *node)
{
    struct soak_host *h = node;
    return h->down || !h->stack ? TCP_TIME_NEVER : stack_next_timer(h->stack);
}

static const struct simnet_node_ops soak_node_ops = {node_input, node_tick, node_next_timer};

static void obs_sent(void *ctx, const struct simnet_packet *p)
{
    struct soak_world *w = ctx;
    if (w->trace && p->seg_ok) {
        char fl[WIRE_FLAGS_STRLEN];
        const struct wire_seg *g = &p->seg;
        fprintf(stderr, "t=%.6f %s > %s: %u > %u Flags [%s] seq %u ack %u win %u length %u%s%s%s\n",
                (double)p->sent / 1e6, p->src ? "server" : "client", p->src ? "client" : "server", g->tuple.sport,
                g->tuple.dport, wire_flags_str(g->flags, fl), g->seq, g->ack, g->window, g->payload_len,
                p->fate != SIMNET_DELIVERED ? " LOST" : "", p->duplicate ? " dup" : "", p->injected ? " injected" : "");
    }
    if (w->observe)
        w->observe(w, p);
}

static void hook_output(void *ctx, const uint8_t *pkt, size_t len)
{
    struct soak_host *h = ctx;
    simnet_send(h->w->net, h->index, pkt, len);
}

static void ep_wake(void *ctx)
{
    struct soak_ep *ep = ctx;
    ep->pending = false;
    soak_ep_step(ep);
}

static void schedule_ep(struct soak_ep *ep)
{
    if (ep->pending || ep->done)
        return;
    ep->pending = true;
    if (simnet_at(ep->w->net, simnet_now(ep->w->net), ep_wake, ep) < 0)
        soak_world_failf(ep->w, "out of memory");
}

static void accept_all(void *ctx);

static void hook_ready(void *ctx, int sd, unsigned events)
{
    (void)events;
    struct soak_host *h = ctx;
    if (sd < 0 || sd >= SOAK_MAX_SOCKETS)
        return;
    if (sd == h->listener) {
        if (simnet_at(h->w->net, simnet_now(h->w->net), accept_all, h) < 0)
            soak_world_failf(h->w, "out of memory");
        return;
    }
    struct soak_ep *ep = h->w->by_sd[h->index][sd];
    if (ep)
        schedule_ep(ep);
}

/* SOAK_TRACE=1 in the environment: state changes on stderr, to study a
 * replayed failure. */
static void hook_state(void *ctx, const struct stack_state_change *ch)
{
    struct soak_host *h = ctx;
    char l[WIRE_ENDPOINT_STRLEN], r[WIRE_ENDPOINT_STRLEN];
    struct wire_endpoint le = {ch->tuple.src, ch->tuple.sport}, re = {ch->tuple.dst, ch->tuple.dport};
    fprintf(stderr, "t=%.6f %s sd %d %s -> %s: %s -> %s\n", (double)ch->now / 1e6, h->index ? "server" : "client",
            ch->sd, wire_endpoint_str(&le, l), wire_endpoint_str(&re, r), tcp_state_name(ch->from),
            tcp_state_name(ch->to));
}

static int host_boot(struct soak_world *w, int index)
{
    struct soak_host *h = &w->hosts[index];
    struct stack_config cfg;
    stack_config_default(&cfg);
    cfg.tcp = h->tcp;
    cfg.max_sockets = SOAK_MAX_SOCKETS;
    /* Every boot its own secret: ISNs and ports of a rebooted host differ. */
    uint64_t key = w->seed ^ (uint64_t)(index + 1) * UINT64_C(0x100000001b3) ^ (uint64_t)h->boots << 32;
    for (size_t i = 0; i < sizeof cfg.secret; i += 8) {
        uint64_t v = sim_rng_splitmix64(&key);
        memcpy(cfg.secret + i, &v, 8);
    }
    struct stack_hooks hooks = {.ctx = h, .output = hook_output, .ready = hook_ready};
    if (w->trace)
        hooks.state_change = hook_state;
    h->stack = stack_new(&cfg, &hooks, simnet_now(w->net));
    if (!h->stack)
        return -1;
    stack_set_local_addr(h->stack, &h->addr);
    h->listener = -1;
    if (index == 1) {
        int sd = stack_socket(h->stack);
        struct wire_endpoint ep = {.addr = h->addr, .port = SOAK_PORT};
        if (sd < 0 || stack_bind(h->stack, sd, &ep) < 0 || stack_listen(h->stack, sd, 64) < 0)
            return -1;
        h->listener = sd;
    }
    return 0;
}

static void add_counters(struct tcp_counters *sum, const struct tcp_counters *c)
{
    for (int i = 0; i < tcp_counter_count(); i++)
        ((uint64_t *)sum)[i] += tcp_counter_get(c, i);
}

int soak_world_init(struct soak_world *w, uint64_t seed, const struct tcp_config tcp[2], bool v6,
                    const struct simnet_link_params *c2s, const struct simnet_link_params *s2c,
                    struct soak_summary *sum)
{
    memset(w, 0, offsetof(struct soak_world, buf));
    w->seed = seed;
    w->sum = sum;
    sim_rng_seed(&w->rng, seed);
    w->net = simnet_new(seed ^ UINT64_C(0x5eed));
    if (!w->net)
        return -1;
    simnet_set_event_limit(w->net, 200000000u);
    w->trace = getenv("SOAK_TRACE") != NULL;
    struct simnet_observer obs = {.ctx = w, .sent = obs_sent};
    simnet_set_observer(w->net, &obs);
    for (int i = 0; i < 2; i++) {
        struct soak_host *h = &w->hosts[i];
        h->w = w;
        h->index = i;
        h->tcp = tcp[i];
        h->listener = -1;
        if (v6) {
            uint8_t b[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (uint8_t)(1 + i)};
            h->addr = wire_addr_v6(b);
        } else {
            h->addr = wire_addr_v4(0x0a000001u + (uint32_t)i);
        }
        char name[16];
        snprintf(name, sizeof name, "%s", i ? "server" : "client");
        if (host_boot(w, i) < 0 || simnet_add_host(w->net, name, &h->addr, &soak_node_ops, h) != i)
            return -1;
    }
    w->dir[0].base = *c2s;
    w->dir[1].base = *s2c;
    if (simnet_link(w->net, 0, 1, c2s, s2c) < 0)
        return -1;
    return 0;
}

void soak_world_free(struct soak_world *w)
{
    struct soak_summary *sum = w->sum;
    struct tcp_counters all = w->counters[0];
    add_counters(&all, &w->counters[1]);
    for (int i = 0; i < 2; i++) {
        if (w->hosts[i].stack) {
            add_counters(&all, stack_counters(w->hosts[i].stack));
            stack_free(w->hosts[i].stack);
            w->hosts[i].stack = NULL;
        }
    }
    if (sum && w->net) {
        const struct simnet_stats *st = simnet_stats(w->net);
        sum->packets += st->sent;
        sum->lost += st->lost;
        sum->duplicated += st->duplicated;
        sum->reordered += st->reordered;
        sum->events += st->events;
        sum->virtual_s += (double)simnet_now(w->net) / 1e6;
        sum->retransmits += all.RetransSegs;
        sum->timeouts += all.TCPTimeouts;
        sum->fast_retransmits += all.TCPFastRetrans;
        sum->challenge_acks += all.TCPChallengeACK;
    }
    simnet_free(w->net);
    w->net = NULL;
}

void soak_apply_link(struct soak_world *w, int d)
{
    struct simnet_link_params *p = simnet_link_params(w->net, d, !d);
    const struct soak_dir_mods *m = &w->dir[d];
    *p = m->base;
    p->delay += m->extra_delay;
    if (m->blackouts > 0)
        p->loss = 1.0;
}

static void client_connect(struct soak_world *w, void *arg);

void soak_host_down(struct soak_world *w, int host) { w->hosts[host].down++; }

void soak_host_up(struct soak_world *w, int host)
{
    if (w->hosts[host].down > 0)
        w->hosts[host].down--;
    if (w->hosts[host].down)
        return;
    for (int i = 0; host == 0 && i < w->nconns; i++)
        if (w->conns[i].deferred) {
            w->conns[i].deferred = false;
            soak_at(w, simnet_now(w->net), client_connect, &w->conns[i]);
        }
    for (int i = 0; i < SOAK_MAX_EPS; i++) /* what happened meanwhile: look now */
        if (w->eps[i].used && w->eps[i].host == host)
            schedule_ep(&w->eps[i]);
    if (w->hosts[host].listener >= 0)
        simnet_at(w->net, simnet_now(w->net), accept_all, &w->hosts[host]);
}

int soak_host_reboot(struct soak_world *w, int host)
{
    struct soak_host *h = &w->hosts[host];
    add_counters(&w->counters[host], stack_counters(h->stack));
    stack_free(h->stack);
    h->stack = NULL;
    for (int i = 0; i < SOAK_MAX_EPS; i++) {
        struct soak_ep *ep = &w->eps[i];
        if (ep->used && ep->host == host && !ep->done) {
            ep->done = true;
            ep->end = SOAK_END_KILLED;
        }
    }
    memset(w->by_sd[host], 0, sizeof w->by_sd[host]);
    h->boots++;
    if (host_boot(w, host) < 0) {
        soak_world_failf(w, "out of memory");
        return -1;
    }
    return 0;
}

/* ---- applications ---- */
static struct soak_ep *ep_new(struct soak_world *w, int host, int sd)
{
    for (int i = 0; i < SOAK_MAX_EPS; i++) {
        struct soak_ep *ep = &w->eps[i];
        if (ep->used)
            continue;
        memset(ep, 0, sizeof *ep);
        ep->used = true;
        ep->w = w;
        ep->host = host;
        ep->sd = sd;
        ep->dir = host;
        ep->sum_sent = ep->sum_rcvd = SOAK_FNV_INIT;
        w->by_sd[host][sd] = ep;
        return ep;
    }
    return NULL;
}

static void ep_release(struct soak_ep *ep)
{
    if (ep->sd >= 0 && ep->w->by_sd[ep->host][ep->sd] == ep)
        ep->w->by_sd[ep->host][ep->sd] = NULL;
}

/* The app ends: descriptor closed (unless its host took it), end recorded. */
static void ep_end(struct soak_ep *ep, enum soak_end end, int err)
{
    struct soak_world *w = ep->w;
    if (ep->done)
        return;
    ep->done = true;
    ep->end = end;
    ep->err = err;
    struct stack *s = w->hosts[ep->host].stack;
    if (end == SOAK_END_ABORTED)
        stack_abort(s, ep->sd, simnet_now(w->net));
    else
        stack_close(s, ep->sd, simnet_now(w->net));
    ep_release(ep);
}

static void ep_error(struct soak_ep *ep, int err)
{
    if (soak_errno_of(err) == SOAK_ERR_OTHER)
        soak_world_failf(ep->w, "conn %d %s: undefined errno %d (%s)", ep->conn ? ep->conn->id : -1,
                         ep->host ? "server" : "client", err, strerror(err));
    ep_end(ep, SOAK_END_ERROR, err);
}

/* Keepalive finds a dead or rebooted peer of an idle connection, or one
 * whose orphan gave up retransmitting (RFC 1122 §4.2.3.6): without it, a
 * half-closed connection would wait for that peer forever. */
static void set_keepalive(struct soak_world *w, struct stack *s, int sd)
{
    if (w->keepidle <= 0)
        return;
    stack_setsockopt(s, sd, STACK_SO_KEEPALIVE, 1);
    stack_setsockopt(s, sd, STACK_TCP_KEEPIDLE, w->keepidle);
    stack_setsockopt(s, sd, STACK_TCP_KEEPINTVL, w->keepintvl);
    stack_setsockopt(s, sd, STACK_TCP_KEEPCNT, w->keepcnt);
}

static void client_connect(struct soak_world *w, void *arg)
{
    struct soak_conn *c = arg;
    struct soak_host *h = &w->hosts[0];
    if (h->down) { /* a host that is down starts nothing: when it is up */
        c->deferred = true;
        return;
    }
    tcp_time_t now = simnet_now(w->net);
    int sd = stack_socket(h->stack);
    struct soak_ep *ep = sd >= 0 ? ep_new(w, 0, sd) : NULL;
    if (!ep) {
        soak_world_failf(w, "conn %d: no socket (%d) or endpoint", c->id, sd);
        return;
    }
    ep->conn = c;
    ep->behaviour = c->behaviour[0];
    ep->to_send = c->size[0];
    c->ep[0] = ep;
    set_keepalive(w, h->stack, sd);
    struct wire_endpoint remote = {.addr = w->hosts[1].addr, .port = SOAK_PORT};
    int rc = stack_connect(h->stack, sd, &remote, now);
    if (rc != -EINPROGRESS) {
        soak_world_failf(w, "conn %d: connect: %d", c->id, rc);
        ep_end(ep, SOAK_END_ERROR, -rc);
        return;
    }
    struct wire_endpoint local;
    stack_getsockname(h->stack, sd, &local);
    c->client_port = local.port;
    ep->connecting = true;
    w->sum->conns++;
}

struct soak_conn *soak_conn_add(struct soak_world *w, tcp_time_t start)
{
    if (w->nconns >= SOAK_MAX_CONNS)
        return NULL;
    struct soak_conn *c = &w->conns[w->nconns];
    memset(c, 0, sizeof *c);
    c->id = w->nconns++;
    c->start = start;
    c->key[0] = sim_rng_next(&w->rng);
    c->key[1] = sim_rng_next(&w->rng);
    if (soak_at(w, start, client_connect, c) < 0)
        return NULL;
    return c;
}

static void accept_all(void *ctx)
{
    struct soak_host *h = ctx;
    struct soak_world *w = h->w;
    if (h->down || h->listener < 0)
        return;
    for (;;) {
        int sd = stack_accept(h->stack, h->listener, NULL);
        if (sd < 0)
            break;
        struct soak_ep *ep = ep_new(w, 1, sd);
        if (!ep) {
            soak_world_failf(w, "too many server connections");
            stack_close(h->stack, sd, simnet_now(w->net));
            continue;
        }
        set_keepalive(w, h->stack, sd);
        schedule_ep(ep);
    }
}

/* A server end learns its connection from the first bytes of the stream. */
static bool ep_identify(struct soak_ep *ep)
{
    struct soak_world *w = ep->w;
    uint8_t want[SOAK_ID_BYTES];
    for (int i = 0; i < w->nconns; i++) {
        struct soak_conn *c = &w->conns[i];
        soak_fill(c->key[0], 0, want, sizeof want);
        if (memcmp(want, ep->head, sizeof want))
            continue;
        if (c->ep[1] && !c->ep[1]->done) {
            soak_world_failf(w, "conn %d: a second server connection carries its stream", c->id);
            return false;
        }
        if (c->ep[1]) {
            /* Its first server end is closed (reset), and a late segment of
             * it carried an ACK that is a valid SYN cookie (RFC 4987 §3.6):
             * the listener opened it again, as Linux does. The bytes must
             * still be the stream's; it only reads. */
            ep->conn = c;
            ep->revived = true;
            w->sum->revived++;
            return true;
        }
        c->ep[1] = ep;
        ep->conn = c;
        ep->behaviour = c->behaviour[1];
        ep->to_send = c->size[1];
        return true;
    }
    soak_world_failf(w, "server connection sd %d: its first bytes belong to no stream", ep->sd);
    return false;
}

/* Reads what there is; verifies it. Returns false if the app ended. */
static bool ep_read(struct soak_ep *ep, struct stack *s, tcp_time_t now)
{
    struct soak_world *w = ep->w;
    for (;;) {
        size_t want = SOAK_CHUNK;
        if (!ep->conn)
            want = SOAK_ID_BYTES - ep->rcvd;
        else if (ep->behaviour == SOAK_APP_NEVER_READ)
            return true;
        ssize_t n = stack_recv(s, ep->sd, w->buf, want, now);
        if (n == -EAGAIN)
            return true;
        if (n < 0) {
            ep_error(ep, (int)-n);
            return false;
        }
        if (n == 0) {
            ep->eof = true;
            if (!ep->conn && ep->rcvd) {
                soak_world_failf(w, "server connection: EOF after %llu bytes, before the stream's first %d",
                                 (unsigned long long)ep->rcvd, SOAK_ID_BYTES);
                ep_end(ep, SOAK_END_ERROR, 0);
                return false;
            }
            return true;
        }
        ep->sum_rcvd = soak_fnv(ep->sum_rcvd, w->buf, (size_t)n);
        if (!ep->conn) {
            memcpy(ep->head + ep->rcvd, w->buf, (size_t)n);
            ep->rcvd += (uint64_t)n;
            if (ep->rcvd == SOAK_ID_BYTES && !ep_identify(ep)) {
                ep_end(ep, SOAK_END_ERROR, 0);
                return false;
            }
            if (ep->conn)
                w->sum->bytes_delivered += SOAK_ID_BYTES;
            continue;
        }
        /* Every byte against the sender's stream: intact and in order. */
        uint8_t want_bytes[SOAK_CHUNK];
        uint64_t key = ep->conn->key[!ep->dir];
        soak_fill(key, ep->rcvd, want_bytes, (size_t)n);
        if (memcmp(want_bytes, w->buf, (size_t)n)) {
            size_t k = 0;
            while (want_bytes[k] == w->buf[k])
                k++;
            soak_world_failf(w, "conn %d: %s received a wrong byte at offset %llu (0x%02x, sent 0x%02x)",
                             ep->conn->id, ep->host ? "server" : "client", (unsigned long long)(ep->rcvd + k),
                             w->buf[k], want_bytes[k]);
            ep_end(ep, SOAK_END_ERROR, 0);
            return false;
        }
        ep->rcvd += (uint64_t)n;
        w->sum->bytes_delivered += (uint64_t)n;
    }
}

static bool ep_write(struct soak_ep *ep, struct stack *s, tcp_time_t now)
{
    struct soak_world *w = ep->w;
    while (ep->sent < ep->to_send) {
        size_t len = ep->to_send - ep->sent < SOAK_CHUNK ? (size_t)(ep->to_send - ep->sent) : SOAK_CHUNK;
        soak_fill(ep->conn->key[ep->dir], ep->sent, w->buf, len);
        ssize_t n = stack_send(s, ep->sd, w->buf, len, now);
        if (n == -EAGAIN)
            return true;
        if (n < 0) {
            ep_error(ep, (int)-n);
            return false;
        }
        ep->sum_sent = soak_fnv(ep->sum_sent, w->buf, (size_t)n);
        ep->sent += (uint64_t)n;
        w->sum->bytes_sent += (uint64_t)n;
    }
    /* A side with nothing to send closes its half once it read the other's
     * (an upload then close): no early EOF sends the sender away before its
     * data is acknowledged. */
    bool wait_eof = ep->to_send == 0 && !ep->eof && ep->behaviour != SOAK_APP_NEVER_READ;
    if (!ep->shut_wr && ep->behaviour != SOAK_APP_NEVER_CLOSE && !wait_eof) {
        int rc = stack_shutdown(s, ep->sd, STACK_SHUT_WR, now);
        if (rc < 0) {
            ep_error(ep, -rc);
            return false;
        }
        ep->shut_wr = true;
    }
    return true;
}

void soak_ep_step(struct soak_ep *ep)
{
    struct soak_world *w = ep->w;
    struct soak_host *h = &w->hosts[ep->host];
    if (ep->done || h->down || w->apps_frozen)
        return;
    struct stack *s = h->stack;
    tcp_time_t now = simnet_now(w->net);
    unsigned ev = stack_poll(s, ep->sd);
    if (ev & STACK_POLLERR) {
        int err = stack_sock_error(s, ep->sd);
        if (err) {
            ep_error(ep, err);
            return;
        }
    }
    if (ep->connecting) {
        if (!(ev & (STACK_POLLOUT | STACK_POLLIN | STACK_POLLHUP)))
            return;
        ep->connecting = false;
    }
    if (ep->conn && !ep_write(ep, s, now))
        return;
    if (!ep_read(ep, s, now))
        return;
    if (ep->conn && !ep_write(ep, s, now))
        return; /* a server end may just have learnt what to send */
    if (!ep->conn && ep->eof) {
        ep_end(ep, SOAK_END_OK, 0); /* a stray: no stream, the peer closed */
        return;
    }
    if (ep->conn && ep->eof && ep->shut_wr && ep->behaviour == SOAK_APP_NORMAL)
        ep_end(ep, SOAK_END_OK, 0);
}

bool soak_ep_end_now(struct soak_ep *ep, enum soak_end end)
{
    if (!ep || ep->done || ep->w->hosts[ep->host].down)
        return false;
    ep_end(ep, end, 0);
    return true;
}

void soak_exit_apps(struct soak_world *w, bool lazy_only)
{
    for (int i = 0; i < SOAK_MAX_EPS; i++) {
        struct soak_ep *ep = &w->eps[i];
        if (ep->used && !ep->done && !w->hosts[ep->host].down && (!lazy_only || ep->behaviour != SOAK_APP_NORMAL))
            ep_end(ep, SOAK_END_EXITED, 0);
    }
}

bool soak_apps_done(const struct soak_world *w)
{
    for (int i = 0; i < SOAK_MAX_EPS; i++)
        if (w->eps[i].used && !w->eps[i].done)
            return false;
    return true;
}

/* ---- the run ---- */
int soak_run_until(struct soak_world *w, tcp_time_t t)
{
    if (simnet_run_until(w->net, t) < 0) {
        soak_world_failf(w, "simulator: %s", simnet_error(w->net));
        return -1;
    }
    return w->fail[0] ? -1 : 0;
}

/* RFC 9293 §3.10: what one direction's receiver holds against what its
 * sender's app wrote: a prefix, and all of it once EOF was read. */
static void check_direction(struct soak_world *w, const struct soak_conn *c, int dir)
{
    const struct soak_ep *tx = c->ep[dir], *rx = c->ep[!dir];
    uint64_t sent = tx ? tx->sent : 0;
    if (!rx)
        return;
    uint64_t rcvd = rx->rcvd;
    if (rcvd > sent)
        soak_world_failf(w, "conn %d: %s received %llu bytes, its peer's app sent %llu", c->id,
                         dir ? "client" : "server", (unsigned long long)rcvd, (unsigned long long)sent);
    else if (rx->eof && rcvd != sent && !rx->revived)
        soak_world_failf(w, "conn %d: %s read EOF after %llu of the %llu bytes sent", c->id,
                         dir ? "client" : "server", (unsigned long long)rcvd, (unsigned long long)sent);
    else if (rx->eof && tx && rx->sum_rcvd != tx->sum_sent)
        soak_world_failf(w, "conn %d: checksums differ (sent %016llx, received %016llx)", c->id,
                         (unsigned long long)tx->sum_sent, (unsigned long long)rx->sum_rcvd);
}

int soak_finish(struct soak_world *w)
{
    char state[400];
    if (!w->fail[0] && !soak_apps_done(w)) {
        for (int i = 0; i < SOAK_MAX_EPS; i++) {
            const struct soak_ep *ep = &w->eps[i];
            if (ep->used && !ep->done) {
                soak_dump_state(w, state, sizeof state);
                soak_world_failf(w, "hang: conn %d %s app still waiting (sent %llu/%llu, read %llu, eof %d)%s",
                                 ep->conn ? ep->conn->id : -1, ep->host ? "server" : "client",
                                 (unsigned long long)ep->sent, (unsigned long long)ep->to_send,
                                 (unsigned long long)ep->rcvd, ep->eof, state);
                break;
            }
        }
    }
    for (int h = 0; h < 2; h++)
        w->hosts[h].down = 0;
    soak_exit_apps(w, false);
    w->apps_frozen = true;
    int rc = simnet_run(w->net, simnet_now(w->net) + SOAK_DRAIN_LIMIT);
    if (rc < 0)
        soak_world_failf(w, "simulator: %s", simnet_error(w->net));
    else if (rc > 0)
        soak_world_failf(w, "timers still armed a day after every application closed");
    for (int h = 0; h < 2; h++) {
        if (stack_conn_count(w->hosts[h].stack)) {
            soak_dump_state(w, state, sizeof state);
            soak_world_failf(w, "%s holds %zu connections after everything drained%s", h ? "server" : "client",
                             stack_conn_count(w->hosts[h].stack), state);
        }
    }
    struct soak_summary *sum = w->sum;
    for (int i = 0; i < w->nconns; i++) {
        const struct soak_conn *c = &w->conns[i];
        check_direction(w, c, 0);
        check_direction(w, c, 1);
        bool complete = c->ep[0] && c->ep[1];
        for (int d = 0; d < 2 && complete; d++)
            complete = c->ep[d]->eof && c->ep[d]->rcvd == c->size[!d] && c->ep[!d]->sent == c->size[!d];
        sum->completed += complete;
    }
    for (int i = 0; i < SOAK_MAX_EPS; i++) {
        const struct soak_ep *ep = &w->eps[i];
        if (!ep->used)
            continue;
        sum->ends[ep->end]++;
        if (ep->end == SOAK_END_ERROR && ep->err)
            sum->errnos[soak_errno_of(ep->err)]++;
    }
    return w->fail[0] ? -1 : 0;
}
