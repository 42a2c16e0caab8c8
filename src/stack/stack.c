/* One host's stack: descriptors over tcp/'s connections, BSD-socket
 * semantics and errno values, packet parsing, ports (RFC 6056), views. */
#include "stack/stack.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp.h"

#ifdef SYNACK_INVARIANTS
/* -DSYNACK_INVARIANTS=ON: every connection's RFC invariants after every
 * event (tcp_check.h); the first violation aborts with its description. */
#include <stdio.h>

#include "tcp/tcp_check.h"
static void stack_check(const struct tcp_host *h, const char *event)
{
    char why[512];
    if (tcp_check_host(h, why, sizeof why)) {
        fprintf(stderr, "synack: invariant violated after %s: %s\n", event, why);
        abort();
    }
}
#define STACK_CHECK(s, event) stack_check(&(s)->host, event)
#else
#define STACK_CHECK(s, event) ((void)0)
#endif

enum sock_kind { SOCK_FREE, SOCK_NEW, SOCK_LISTEN, SOCK_CONN };

struct stack_sock {
    uint8_t kind;
    bool bound, reuseaddr;
    struct wire_endpoint local;
    struct tcp_sockopts opt;
    uint32_t rcvbuf, sndbuf; /* SO_RCVBUF, SO_SNDBUF */
    struct tcp_listener *listener;
    struct tcp_conn *conn;
    int next_free;
};

struct stack {
    struct stack_config cfg;
    struct stack_hooks hooks;
    struct tcp_counters stats;
    struct stack_sock *socks;
    uint32_t nsocks;
    int free_head;
    struct wire_addr local_addr;
    uint16_t *bound_ports; /* explicit binds per port */
    struct tcp_host host;  /* last: it holds the packet buffers */
};

void stack_config_default(struct stack_config *c)
{
    memset(c, 0, sizeof *c);
    tcp_config_default(&c->tcp);
    c->ephemeral_lo = 32768;
    c->ephemeral_hi = 60999;
    c->max_sockets = 65536;
}

/* ---- tcp/ upcalls ---- */
static void host_output(void *ctx, const uint8_t *pkt, size_t len)
{
    struct stack *s = ctx;
    s->hooks.output(s->hooks.ctx, pkt, len);
}

static void host_state_change(void *ctx, int sd, const struct wire_tuple *t, enum tcp_state from,
                              enum tcp_state to, tcp_time_t now)
{
    struct stack *s = ctx;
    if (!s->hooks.state_change)
        return;
    struct stack_state_change ch = {.sd = sd, .tuple = *t, .from = from, .to = to, .now = now};
    s->hooks.state_change(s->hooks.ctx, &ch);
}

static void host_wake(void *ctx, int sd)
{
    struct stack *s = ctx;
    if (s->hooks.ready && sd >= 0)
        s->hooks.ready(s->hooks.ctx, sd, stack_poll(s, sd));
}

struct stack *stack_new(const struct stack_config *cfg, const struct stack_hooks *hooks, tcp_time_t now)
{
    if (!hooks || !hooks->output || cfg->max_sockets == 0 || cfg->ephemeral_lo == 0 ||
        cfg->ephemeral_hi < cfg->ephemeral_lo)
        return NULL;
    struct stack *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = *cfg;
    s->hooks = *hooks;
    s->socks = calloc(cfg->max_sockets, sizeof *s->socks);
    s->bound_ports = calloc(65536, sizeof *s->bound_ports);
    if (!s->socks || !s->bound_ports) {
        free(s->socks);
        free(s->bound_ports);
        free(s);
        return NULL;
    }
    s->nsocks = cfg->max_sockets;
    for (uint32_t i = 0; i < s->nsocks; i++)
        s->socks[i].next_free = i + 1 < s->nsocks ? (int)i + 1 : -1;
    s->free_head = 0;
    /* Without a hook, tcp/ need not even unpack a tuple per state change. */
    struct tcp_host_ops ops = {.ctx = s, .output = host_output,
                               .state_change = hooks->state_change ? host_state_change : NULL, .wake = host_wake};
    if (tcp_host_init(&s->host, &s->cfg.tcp, &s->stats, &ops, s->cfg.secret, now) < 0) {
        stack_free(s);
        return NULL;
    }
    return s;
}

void stack_free(struct stack *s)
{
    if (!s)
        return;
    /* Control blocks live in the host's pool: descriptors' go first. */
    for (uint32_t i = 0; i < s->nsocks; i++)
        if (s->socks[i].kind == SOCK_CONN && s->socks[i].conn)
            tcp_conn_free(s->socks[i].conn);
    tcp_host_destroy(&s->host);
    free(s->socks);
    free(s->bound_ports);
    free(s);
}

/* ---- driving ---- */
void stack_input(struct stack *s, const uint8_t *pkt, size_t len, tcp_time_t now)
{
    /* A SYN's tuple is most likely new, and its table line cold: it is
     * asked for before the checksums are verified, so that its trip to
     * memory overlaps the parse. */
    struct wire_tuple peeked;
    uint32_t hash = 0;
    if (wire_peek_syn(pkt, len, &peeked)) {
        peeked = wire_tuple_reverse(&peeked);
        hash = tcp_host_prefetch(&s->host, &peeked);
    }
    struct wire_seg seg;
    enum wire_err err = wire_parse(pkt, len, 0, &seg);
    switch (err) {
    case WIRE_ERR_OK:
        break;
    case WIRE_ERR_TRUNCATED_IP:
    case WIRE_ERR_BAD_IP_VERSION:
    case WIRE_ERR_BAD_IHL:
    case WIRE_ERR_BAD_IP_LENGTH:
    case WIRE_ERR_BAD_IP_CHECKSUM:
    case WIRE_ERR_IP_FRAGMENT:
    case WIRE_ERR_NOT_TCP:
    case WIRE_ERR_BAD_IP_ADDRESS:
        s->stats.IpInDiscards++; /* not TCP's to count (Linux: the IP MIB) */
        return;
    default:
        s->stats.InSegs++; /* RFC 4022 tcpInSegs: "including those received in error" */
        s->stats.InErrs++;
        if (err == WIRE_ERR_BAD_TCP_CHECKSUM)
            s->stats.InCsumErrors++;
        return;
    }
    if (hash)
        tcp_host_input_hashed(&s->host, &seg, hash, now);
    else
        tcp_host_input(&s->host, &seg, now);
    STACK_CHECK(s, "a segment");
}

void stack_tick(struct stack *s, tcp_time_t now)
{
    tcp_host_tick(&s->host, now);
    STACK_CHECK(s, "a timer tick");
}
tcp_time_t stack_next_timer(const struct stack *s) { return tcp_host_next_timer(&s->host); }
const struct tcp_counters *stack_counters(const struct stack *s) { return &s->stats; }
size_t stack_conn_count(const struct stack *s) { return s->host.conns + s->host.reqs + s->host.tws; }
void stack_set_local_addr(struct stack *s, const struct wire_addr *addr) { s->local_addr = *addr; }

/* ---- descriptors ---- */
static struct stack_sock *sock_get(struct stack *s, int sd)
{
    if (sd < 0 || (uint32_t)sd >= s->nsocks || s->socks[sd].kind == SOCK_FREE)
        return NULL;
    return &s->socks[sd];
}

static void sock_release(struct stack *s, int sd)
{
    struct stack_sock *k = &s->socks[sd];
    if (k->bound)
        s->bound_ports[k->local.port]--;
    memset(k, 0, sizeof *k);
    k->next_free = s->free_head;
    s->free_head = sd;
}

static uint32_t clamp_knob(int64_t v, uint32_t max)
{
    return v < 1 ? 1 : v > max ? max : (uint32_t)v;
}

/* A new socket's options: the sysctl defaults, clamped to the bounds
 * setsockopt enforces (tcp.h). */
static void default_opts(const struct stack *s, struct stack_sock *k)
{
    const struct tcp_config *c = &s->cfg.tcp;
    struct tcp_sockopts *o = &k->opt;
    memset(o, 0, sizeof *o);
    o->linger = -1;
    o->keepidle_s = (uint16_t)clamp_knob(c->tcp_keepalive_time, TCP_KEEPIDLE_MAX);
    o->keepintvl_s = (uint16_t)clamp_knob(c->tcp_keepalive_intvl, TCP_KEEPIDLE_MAX);
    o->keepcnt = (uint8_t)clamp_knob(c->tcp_keepalive_probes, TCP_KEEPCNT_MAX);
    o->syn_retries = (uint8_t)clamp_knob(c->tcp_syn_retries, TCP_KEEPCNT_MAX);
    k->rcvbuf = (uint32_t)c->tcp_rmem;
    k->sndbuf = (uint32_t)c->tcp_wmem;
}

static int sock_alloc(struct stack *s)
{
    if (s->free_head < 0)
        return -EMFILE;
    int sd = s->free_head;
    struct stack_sock *k = &s->socks[sd];
    s->free_head = k->next_free;
    memset(k, 0, sizeof *k);
    k->kind = SOCK_NEW;
    default_opts(s, k);
    return sd;
}

int stack_socket(struct stack *s) { return sock_alloc(s); }

static bool addr_overlap(const struct wire_addr *a, const struct wire_addr *b)
{
    return wire_addr_eq(a, b) || wire_addr_is_unspecified(a) || wire_addr_is_unspecified(b);
}

/* Linux inet_csk_bind_conflict, simplified: same port, overlapping
 * addresses, and not both SO_REUSEADDR with neither listening. */
static bool bind_conflict(struct stack *s, const struct stack_sock *me, const struct wire_endpoint *ep)
{
    /* Connections and TIME-WAIT entries on the port hold it too, unless
     * SO_REUSEADDR (the restarted server's "Address already in use"). */
    if (!me->reuseaddr && s->host.port_refs[ep->port])
        return true;
    if (!s->bound_ports[ep->port])
        return false;
    for (uint32_t i = 0; i < s->nsocks; i++) {
        const struct stack_sock *k = &s->socks[i];
        if (k == me || k->kind == SOCK_FREE || !k->bound || k->local.port != ep->port)
            continue;
        if (!addr_overlap(&k->local.addr, &ep->addr))
            continue;
        if (me->reuseaddr && k->reuseaddr && k->kind != SOCK_LISTEN)
            continue;
        return true;
    }
    return false;
}

/* RFC 6056 §3.3.3: the port tried at a counter value, for a destination's offset. */
static uint16_t ephemeral_candidate(uint32_t lo, uint32_t num, uint32_t offset, uint32_t counter)
{
    return (uint16_t)(lo + (offset + counter) % num);
}

/* RFC 6056 §3.3.3 Algorithm 3: a keyed per-destination offset and a shared
 * counter; the first port free for this 4-tuple wins. */
static int pick_ephemeral(struct stack *s, const struct wire_addr *local, const struct wire_endpoint *remote,
                          tcp_time_t now, uint16_t *port)
{
    uint32_t lo = s->cfg.ephemeral_lo, num = (uint32_t)s->cfg.ephemeral_hi - lo + 1;
    uint32_t offset = tcp_port_offset(&s->host, local, remote);
    for (uint32_t i = 0; i < num; i++) {
        uint16_t p = ephemeral_candidate(lo, num, offset, s->host.port_counter++);
        if (s->bound_ports[p])
            continue;
        struct wire_tuple t = {.src = *local, .dst = remote->addr, .sport = p, .dport = remote->port};
        /* A port no connection or TIME-WAIT entry holds is free with every
         * peer (Linux: no bind bucket, no ehash check in
         * __inet_hash_connect); half-open entries hold listeners' ports,
         * which bound_ports has skipped. */
        if (remote->port && s->host.port_refs[p] && !tcp_host_tuple_free(&s->host, &t, now))
            continue;
        *port = p;
        /* The next connect to this destination will check the next port
         * first: its table line, cold at a million connections, is asked
         * for now, a whole round trip before it is read. */
        t.sport = ephemeral_candidate(lo, num, offset, s->host.port_counter);
        if (remote->port && !s->bound_ports[t.sport] && s->host.port_refs[t.sport])
            tcp_host_prefetch(&s->host, &t);
        return 0;
    }
    return -EADDRNOTAVAIL;
}

int stack_bind(struct stack *s, int sd, const struct wire_endpoint *local)
{
    struct stack_sock *k = sock_get(s, sd);
    if (!k)
        return -EBADF;
    if (k->kind != SOCK_NEW || k->bound)
        return -EINVAL;
    struct wire_endpoint ep = *local;
    if (ep.port == 0) {
        struct wire_endpoint none = {0};
        int err = pick_ephemeral(s, &ep.addr, &none, 0, &ep.port);
        if (err)
            return err;
    } else if (bind_conflict(s, k, &ep)) {
        return -EADDRINUSE;
    }
    k->local = ep;
    k->bound = true;
    s->bound_ports[ep.port]++;
    return 0;
}

int stack_listen(struct stack *s, int sd, int backlog)
{
    struct stack_sock *k = sock_get(s, sd);
    if (!k)
        return -EBADF;
    if (k->kind == SOCK_LISTEN) {
        k->listener->backlog = (uint32_t)(backlog < 0 ? 0 : backlog > s->cfg.tcp.somaxconn ? s->cfg.tcp.somaxconn : backlog);
        return 0;
    }
    if (k->kind != SOCK_NEW)
        return -EINVAL;
    if (!k->bound) {
        struct wire_endpoint any = {0};
        any.addr = s->local_addr;
        int err = stack_bind(s, sd, &any);
        if (err)
            return err;
    }
    k->listener = tcp_listen(&s->host, sd, &k->local, backlog, &k->opt, k->rcvbuf, k->sndbuf, 0);
    if (!k->listener)
        return -ENOMEM;
    k->kind = SOCK_LISTEN;
    STACK_CHECK(s, "listen");
    return 0;
}

int stack_accept(struct stack *s, int sd, struct wire_endpoint *peer)
{
    struct stack_sock *k = sock_get(s, sd);
    if (!k)
        return -EBADF;
    if (k->kind != SOCK_LISTEN)
        return -EINVAL;
    if (!k->listener->accept_head)
        return -EAGAIN;
    int nsd = sock_alloc(s);
    if (nsd < 0)
        return nsd;
    k = &s->socks[sd];
    struct tcp_conn *c = tcp_accept(&s->host, k->listener, nsd);
    struct stack_sock *n = &s->socks[nsd];
    n->kind = SOCK_CONN;
    n->conn = c;
    n->opt = c->opt;
    n->rcvbuf = c->rcv.limit;
    n->sndbuf = c->snd.limit;
    struct wire_tuple t;
    tcp_entry_tuple(&s->host, &c->e, &t);
    n->local.addr = t.src;
    n->local.port = t.sport;
    if (peer) {
        peer->addr = t.dst;
        peer->port = t.dport;
    }
    STACK_CHECK(s, "accept");
    return nsd;
}

int stack_connect(struct stack *s, int sd, const struct wire_endpoint *remote, tcp_time_t now)
{
    struct stack_sock *k = sock_get(s, sd);
    if (!k)
        return -EBADF;
    if (k->kind == SOCK_CONN)
        return k->conn->e.state == TCP_STATE_SYN_SENT ? -EALREADY : -EISCONN;
    if (k->kind != SOCK_NEW)
        return -EINVAL;
    if (remote->port == 0 || wire_addr_is_unspecified(&remote->addr))
        return -EINVAL;
    struct wire_tuple t = {0};
    t.dst = remote->addr;
    t.dport = remote->port;
    if (k->bound) {
        t.src = wire_addr_is_unspecified(&k->local.addr) ? s->local_addr : k->local.addr;
        t.sport = k->local.port;
        if (!tcp_host_tuple_free(&s->host, &t, now))
            return -EADDRNOTAVAIL;
    } else {
        t.src = s->local_addr;
        int err = pick_ephemeral(s, &t.src, remote, now, &t.sport);
        if (err)
            return err;
    }
    struct tcp_conn *c = tcp_conn_new(&s->host, &t, &k->opt, k->rcvbuf, k->sndbuf);
    if (!c)
        return -ENOMEM;
    c->sd = sd;
    k->kind = SOCK_CONN;
    k->conn = c;
    k->local.addr = t.src;
    k->local.port = t.sport;
    int err = tcp_connect(&s->host, c, now);
    if (err < 0) {
        c->sd = -1;
        tcp_conn_free(c);
        k->kind = SOCK_NEW;
        k->conn = NULL;
        return err;
    }
    STACK_CHECK(s, "connect");
    return -EINPROGRESS;
}

static struct tcp_conn *sock_conn(struct stack *s, int sd, int *err)
{
    *err = 0;
    struct stack_sock *k = sock_get(s, sd);
    if (!k) {
        *err = -EBADF;
        return NULL;
    }
    if (k->kind != SOCK_CONN) {
        *err = -ENOTCONN;
        return NULL;
    }
    return k->conn;
}

ssize_t stack_send(struct stack *s, int sd, const void *buf, size_t len, tcp_time_t now)
{
    int err;
    struct tcp_conn *c = sock_conn(s, sd, &err);
    if (!c)
        return err;
    ssize_t n = tcp_send(c, buf, len, now);
    tcp_host_reap(&s->host);
    STACK_CHECK(s, "send");
    return n;
}

ssize_t stack_recv(struct stack *s, int sd, void *buf, size_t len, tcp_time_t now)
{
    int err;
    struct tcp_conn *c = sock_conn(s, sd, &err);
    if (!c)
        return err;
    ssize_t n = tcp_recv(c, buf, len, now);
    STACK_CHECK(s, "recv");
    return n;
}

int stack_shutdown(struct stack *s, int sd, int how, tcp_time_t now)
{
    int err;
    if (how < STACK_SHUT_RD || how > STACK_SHUT_RDWR)
        return -EINVAL;
    struct tcp_conn *c = sock_conn(s, sd, &err);
    if (!c)
        return err;
    if (c->e.state == TCP_STATE_CLOSED) /* Linux inet_shutdown: TCP_CLOSE */
        return -ENOTCONN;
    tcp_shutdown(c, how != STACK_SHUT_WR, how != STACK_SHUT_RD, now);
    tcp_host_reap(&s->host);
    STACK_CHECK(s, "shutdown");
    return 0;
}

int stack_close(struct stack *s, int sd, tcp_time_t now)
{
    struct stack_sock *k = sock_get(s, sd);
    if (!k)
        return -EBADF;
    if (k->kind == SOCK_LISTEN)
        tcp_listener_close(&s->host, k->listener, now);
    else if (k->kind == SOCK_CONN)
        tcp_close(k->conn, now);
    sock_release(s, sd);
    STACK_CHECK(s, "close");
    return 0;
}

int stack_abort(struct stack *s, int sd, tcp_time_t now)
{
    struct stack_sock *k = sock_get(s, sd);
    if (!k)
        return -EBADF;
    if (k->kind == SOCK_CONN) {
        struct tcp_conn *c = k->conn;
        c->sd = -1;
        c->orphan = true;
        if (c->e.state == TCP_STATE_CLOSED)
            tcp_conn_free(c);
        else
            tcp_abort(c, now);
        k->conn = NULL;
        k->kind = SOCK_NEW;
    }
    return stack_close(s, sd, now);
}

static int opt_set(struct stack_sock *k, enum stack_opt opt, int value)
{
    struct tcp_sockopts *o = &k->opt;
    switch (opt) {
    case STACK_SO_RCVBUF:
    case STACK_SO_SNDBUF:
        if (value < 1)
            return -EINVAL;
        *(opt == STACK_SO_RCVBUF ? &k->rcvbuf : &k->sndbuf) = (uint32_t)value;
        return 0;
    case STACK_TCP_KEEPIDLE:
    case STACK_TCP_KEEPINTVL:
        if (value < 1 || value > TCP_KEEPIDLE_MAX) /* Linux do_tcp_setsockopt */
            return -EINVAL;
        *(opt == STACK_TCP_KEEPIDLE ? &o->keepidle_s : &o->keepintvl_s) = (uint16_t)value;
        return 0;
    case STACK_SO_LINGER: o->linger = value < 0 ? -1 : value; return 0;
    case STACK_SO_KEEPALIVE: o->keepalive = value != 0; return 0;
    case STACK_TCP_KEEPCNT:
        if (value < 1 || value > TCP_KEEPCNT_MAX)
            return -EINVAL;
        o->keepcnt = (uint8_t)value;
        return 0;
    case STACK_TCP_NODELAY: o->nodelay = value != 0; return 0;
    case STACK_TCP_SYNCNT:
        if (value < 1 || value > 127)
            return -EINVAL;
        o->syn_retries = (uint8_t)value;
        return 0;
    case STACK_TCP_MAXSEG:
        if (value < 0 || (value && value < 88) || value > 65535)
            return -EINVAL;
        o->mss_clamp = (uint16_t)value;
        return 0;
    default: return -ENOPROTOOPT;
    }
}

int stack_setsockopt(struct stack *s, int sd, enum stack_opt opt, int value)
{
    struct stack_sock *k = sock_get(s, sd);
    if (!k)
        return -EBADF;
    if (opt == STACK_SO_REUSEADDR) {
        k->reuseaddr = value != 0;
        return 0;
    }
    int err = opt_set(k, opt, value);
    if (err)
        return err;
    if (k->kind == SOCK_LISTEN) {
        k->listener->opt = k->opt;
        k->listener->rcvbuf = k->rcvbuf;
        k->listener->sndbuf = k->sndbuf;
    }
    if (k->kind == SOCK_CONN) {
        struct tcp_conn *c = k->conn;
        c->opt = k->opt;
        if (opt == STACK_SO_SNDBUF)
            c->snd.limit = k->sndbuf;
        if (opt == STACK_SO_KEEPALIVE || opt == STACK_TCP_KEEPIDLE)
            tcp_keepalive_reset(c, c->last_rcv);
    }
    STACK_CHECK(s, "setsockopt");
    return 0;
}

int stack_getsockopt(struct stack *s, int sd, enum stack_opt opt, int *value)
{
    struct stack_sock *k = sock_get(s, sd);
    if (!k)
        return -EBADF;
    const struct tcp_sockopts *o = &k->opt;
    switch (opt) {
    case STACK_SO_LINGER: *value = o->linger; return 0;
    case STACK_SO_KEEPALIVE: *value = o->keepalive; return 0;
    case STACK_TCP_KEEPIDLE: *value = (int)o->keepidle_s; return 0;
    case STACK_TCP_KEEPINTVL: *value = (int)o->keepintvl_s; return 0;
    case STACK_TCP_KEEPCNT: *value = o->keepcnt; return 0;
    case STACK_TCP_NODELAY: *value = o->nodelay; return 0;
    case STACK_SO_RCVBUF: *value = (int)k->rcvbuf; return 0;
    case STACK_SO_SNDBUF: *value = (int)k->sndbuf; return 0;
    case STACK_SO_REUSEADDR: *value = k->reuseaddr; return 0;
    case STACK_TCP_SYNCNT: *value = o->syn_retries; return 0;
    case STACK_TCP_MAXSEG: *value = k->kind == SOCK_CONN ? k->conn->mss : o->mss_clamp; return 0;
    }
    return -ENOPROTOOPT;
}

unsigned stack_poll(struct stack *s, int sd)
{
    struct stack_sock *k = sock_get(s, sd);
    if (!k)
        return STACK_POLLERR;
    if (k->kind == SOCK_NEW)
        return STACK_POLLOUT | STACK_POLLHUP;
    if (k->kind == SOCK_LISTEN)
        return k->listener->accept_head ? STACK_POLLIN : 0;
    const struct tcp_conn *c = k->conn;
    unsigned ev = 0;
    enum tcp_state st = (enum tcp_state)c->e.state;
    if (c->error)
        ev |= STACK_POLLERR;
    if (st == TCP_STATE_SYN_SENT || st == TCP_STATE_SYN_RECEIVED)
        return ev;
    if (tcp_conn_readable(c))
        ev |= STACK_POLLIN;
    if (c->fin_rcvd)
        ev |= STACK_POLLRDHUP;
    if (c->fin_queued || st == TCP_STATE_CLOSED || tcp_send_space(c) > 0)
        ev |= STACK_POLLOUT; /* writable, or a write would fail at once (Linux tcp_poll) */
    if (st == TCP_STATE_CLOSED || (c->fin_rcvd && c->fin_queued))
        ev |= STACK_POLLHUP;
    return ev;
}

int stack_sock_error(struct stack *s, int sd)
{
    struct stack_sock *k = sock_get(s, sd);
    if (!k || k->kind != SOCK_CONN)
        return 0;
    int err = k->conn->error;
    k->conn->error = 0;
    return err;
}

int stack_getsockname(struct stack *s, int sd, struct wire_endpoint *out)
{
    struct stack_sock *k = sock_get(s, sd);
    if (!k)
        return -EBADF;
    *out = k->local;
    return 0;
}

int stack_getpeername(struct stack *s, int sd, struct wire_endpoint *out)
{
    struct stack_sock *k = sock_get(s, sd);
    if (!k)
        return -EBADF;
    if (k->kind != SOCK_CONN || k->conn->e.state == TCP_STATE_SYN_SENT)
        return -ENOTCONN;
    struct wire_tuple t;
    tcp_entry_tuple(&s->host, &k->conn->e, &t);
    out->addr = t.dst;
    out->port = t.dport;
    return 0;
}

enum tcp_state stack_sock_state(struct stack *s, int sd)
{
    struct stack_sock *k = sock_get(s, sd);
    if (!k || k->kind == SOCK_NEW)
        return TCP_STATE_CLOSED;
    if (k->kind == SOCK_LISTEN)
        return TCP_STATE_LISTEN;
    return (enum tcp_state)k->conn->e.state;
}

/* ---- ss view ---- */
struct walk_ctx {
    struct stack *s;
    stack_walk_fn fn;
    void *ctx;
};

static int walk_entry(void *arg, const struct tcp_entry_view *e)
{
    struct walk_ctx *w = arg;
    struct stack_conn_info info = {0};
    info.sd = -1;
    info.state = e->state;
    info.local.addr = e->tuple.src;
    info.local.port = e->tuple.sport;
    info.remote.addr = e->tuple.dst;
    info.remote.port = e->tuple.dport;
    info.timer_expires = e->timer_expires;
    switch (e->kind) {
    case TCP_ENTRY_CONN: {
        const struct tcp_conn *c = e->conn;
        info.sd = c->sd;
        info.orphan = c->orphan;
        info.recv_q = bytebuf_len(&c->rcv);
        info.send_q = bytebuf_len(&c->snd); /* unacknowledged + unsent */
        info.retransmits = c->backoff;
        if (tcp_conn_deadline(c, TCP_TIMER_RTX) != TCP_TIME_NEVER) {
            info.timer = c->snd_wnd == 0 && c->snd_una == c->snd_max ? STACK_TIMER_PERSIST : STACK_TIMER_ON;
            info.timer_expires = tcp_conn_deadline(c, TCP_TIMER_RTX);
        } else if (tcp_conn_deadline(c, TCP_TIMER_KEEPALIVE) != TCP_TIME_NEVER) {
            bool fin_wait_2 = c->orphan && c->e.state == TCP_STATE_FIN_WAIT_2; /* tcp_fin_timeout */
            info.timer = fin_wait_2 ? STACK_TIMER_TIMEWAIT : STACK_TIMER_KEEPALIVE;
            info.timer_expires = tcp_conn_deadline(c, TCP_TIMER_KEEPALIVE);
        }
        break;
    }
    case TCP_ENTRY_REQ:
        info.timer = STACK_TIMER_ON;
        info.retransmits = e->retries;
        break;
    case TCP_ENTRY_TW:
        info.timer = STACK_TIMER_TIMEWAIT;
        break;
    }
    w->fn(w->ctx, &info);
    return 0;
}

void stack_walk(struct stack *s, stack_walk_fn fn, void *ctx)
{
    for (struct tcp_listener *l = s->host.listeners; l; l = l->next) {
        struct stack_conn_info info = {0};
        info.sd = l->sd;
        info.state = TCP_STATE_LISTEN;
        info.local = l->local;
        if (wire_addr_is_v4(&l->local.addr))
            info.remote.addr = wire_addr_v4(0); /* 0.0.0.0:*, not :: */
        info.recv_q = l->accept_q_len;
        info.send_q = l->backlog;
        info.syn_q = l->syn_q_len;
        info.syn_q_max = tcp_syn_queue_max(&s->host, l);
        fn(ctx, &info);
    }
    struct walk_ctx w = {s, fn, ctx};
    tcp_host_walk(&s->host, walk_entry, &w);
}
