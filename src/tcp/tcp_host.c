/* A host's TCP: the 4-tuple table, demultiplexing, keyed hashes (ISNs,
 * ports, timestamps), segment emission, and the timer loop. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

int tcp_host_init(struct tcp_host *h, const struct tcp_config *cfg, struct tcp_counters *stats,
                   const struct tcp_host_ops *ops, const uint8_t secret[32], tcp_time_t now)
{
    memset(h, 0, offsetof(struct tcp_host, pkt));
    h->cfg = cfg;
    h->stats = stats;
    h->ops = *ops;
    /* Independent keys per use, derived from the host secret (RFC 6528 §3:
     * the secret must not be derivable from what the ISNs show). */
    static const char *const ctx[5] = {"isn-key", "port-key", "tsoffset", "cookie-0", "cookie-1"};
    uint8_t *keys[5] = {h->isn_key, h->port_key, h->ts_key, h->cookie_key[0], h->cookie_key[1]};
    for (int i = 0; i < 5; i++)
        crypto_generichash(keys[i], 16, (const uint8_t *)ctx[i], strlen(ctx[i]), secret, 32);
    timer_wheel_init(&h->timers, now);
    h->tw_fifo.next = h->tw_fifo.prev = &h->tw_fifo;
    h->port_refs = calloc(65536, sizeof *h->port_refs);
    if (!h->port_refs)
        return -ENOMEM;
    return hash_table_init(&h->table, 1024);
}

static int free_entry(void *ctx, struct hash_node *n)
{
    struct tcp_host *h = ctx;
    struct tcp_entry *e = container_of(n, struct tcp_entry, hnode);
    hash_table_remove(&h->table, n);
    if (e->kind == TCP_ENTRY_CONN) {
        struct tcp_conn *c = (struct tcp_conn *)e;
        if (c->sd < 0) /* descriptor-owned connections are freed by their owner */
            tcp_conn_free(c);
        else
            c->e.hnode.hash = 0;
    } else {
        free(e);
    }
    return 0;
}

void tcp_host_destroy(struct tcp_host *h)
{
    tcp_host_reap(h);
    /* Connections waiting in accept queues first (they are in the table
     * too, with no descriptor), then everything the table still holds. */
    while (h->listeners) {
        struct tcp_listener *l = h->listeners;
        h->listeners = l->next;
        while (l->accept_head) {
            struct tcp_conn *c = l->accept_head;
            l->accept_head = c->accept_next;
            tcp_conn_free(c);
        }
        free(l);
    }
    hash_table_walk(&h->table, free_entry, h);
    hash_table_free(&h->table);
    free(h->port_refs);
    h->port_refs = NULL;
}

/* ---- keyed hashes ---- */
/* The tuple's bytes for hashing: 12 for IPv4 (the mapped prefix adds
 * nothing), 36 for IPv6. Returns the length. */
static size_t tuple_bytes(const struct wire_tuple *t, uint8_t out[36])
{
    size_t a = wire_addr_is_v4(&t->src) && wire_addr_is_v4(&t->dst) ? 4 : 16;
    memcpy(out, t->src.b + 16 - a, a);
    memcpy(out + a, t->dst.b + 16 - a, a);
    out[2 * a] = (uint8_t)(t->sport >> 8);
    out[2 * a + 1] = (uint8_t)t->sport;
    out[2 * a + 2] = (uint8_t)(t->dport >> 8);
    out[2 * a + 3] = (uint8_t)t->dport;
    return 2 * a + 4;
}

static uint64_t siphash(const uint8_t key[16], const uint8_t *msg, size_t len)
{
    uint8_t out[8];
    crypto_shorthash_siphash24(out, msg, len, key);
    uint64_t v;
    memcpy(&v, out, 8);
    return v;
}

uint64_t tcp_tuple_hash(const struct tcp_host *h, const struct wire_tuple *t)
{
    uint8_t b[36];
    size_t n = tuple_bytes(t, b);
    return siphash(h->port_key, b, n) | 1; /* never 0: 0 marks "not hashed" */
}

/* RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey),
 * M a 4-microsecond clock, F SipHash-2-4. */
uint32_t tcp_isn(const struct tcp_host *h, const struct wire_tuple *local_view, tcp_time_t now)
{
    uint8_t b[36];
    size_t n = tuple_bytes(local_view, b);
    return (uint32_t)siphash(h->isn_key, b, n) + (uint32_t)(now / 4u);
}

/* RFC 7323 §5.4: a per-connection random offset for TSval (Linux does the same). */
uint32_t tcp_ts_offset(const struct tcp_host *h, const struct wire_tuple *local_view)
{
    uint8_t b[36];
    size_t n = tuple_bytes(local_view, b);
    return (uint32_t)siphash(h->ts_key, b, n);
}

/* RFC 6056 §3.3.3 (Algorithm 3): offset = F(local IP, remote IP, remote port, secret). */
uint32_t tcp_port_offset(const struct tcp_host *h, const struct wire_addr *local,
                         const struct wire_endpoint *remote)
{
    uint8_t b[34];
    memcpy(b, local->b, 16);
    memcpy(b + 16, remote->addr.b, 16);
    b[32] = (uint8_t)(remote->port >> 8);
    b[33] = (uint8_t)remote->port;
    return (uint32_t)siphash(h->port_key, b, sizeof b);
}

/* ---- table ---- */
/* hnode.hash == 0 marks an entry out of the table: tcp_tuple_hash is never 0. */
int tcp_entry_insert(struct tcp_host *h, struct tcp_entry *e)
{
    if (hash_table_insert(&h->table, &e->hnode, tcp_tuple_hash(h, &e->tuple)) < 0) {
        e->hnode.hash = 0;
        return -ENOMEM;
    }
    if (e->kind == TCP_ENTRY_CONN)
        h->conns++;
    else if (e->kind == TCP_ENTRY_REQ)
        h->reqs++;
    else
        h->tws++;
    h->port_refs[e->tuple.sport] += e->kind != TCP_ENTRY_REQ;
    return 0;
}

void tcp_entry_remove(struct tcp_host *h, struct tcp_entry *e)
{
    if (!e->hnode.hash)
        return;
    hash_table_remove(&h->table, &e->hnode);
    e->hnode.hash = 0;
    if (e->kind == TCP_ENTRY_TW) {
        if (e->timer.next) { /* unlink from the TIME-WAIT FIFO */
            e->timer.prev->next = e->timer.next;
            e->timer.next->prev = e->timer.prev;
            e->timer.next = e->timer.prev = NULL;
        }
    } else {
        timer_cancel(&h->timers, &e->timer);
    }
    if (e->kind == TCP_ENTRY_CONN)
        h->conns--;
    else if (e->kind == TCP_ENTRY_REQ)
        h->reqs--;
    else
        h->tws--;
    h->port_refs[e->tuple.sport] -= e->kind != TCP_ENTRY_REQ;
}

struct tcp_entry *tcp_host_lookup(const struct tcp_host *h, const struct wire_tuple *t)
{
    uint64_t hash = tcp_tuple_hash(h, t);
    for (struct hash_node *n = hash_table_first(&h->table, hash); n; n = hash_table_next(n)) {
        struct tcp_entry *e = container_of(n, struct tcp_entry, hnode);
        if (wire_tuple_eq(&e->tuple, t))
            return e;
    }
    return NULL;
}

bool tcp_host_tuple_free(const struct tcp_host *h, const struct wire_tuple *t, tcp_time_t now)
{
    struct tcp_entry *e = tcp_host_lookup(h, t);
    if (!e)
        return true;
    /* tcp_tw_reuse (Linux): a TIME-WAIT tuple may be reused for an outgoing
     * connection once it is a second old (2: loopback only; we treat our
     * simulated and TUN peers as non-loopback, so only 1 enables it). */
    if (e->kind == TCP_ENTRY_TW && h->cfg->tcp_tw_reuse == 1 && now > 0) {
        const struct tcp_tw *tw = (const struct tcp_tw *)e;
        tcp_time_t born = tw->e.timer.expires - TCP_SEC(h->cfg->tcp_timewait_len);
        return tw->ts_ok && now >= born + TCP_SEC(1);
    }
    return false;
}

struct tcp_listener *tcp_host_find_listener(const struct tcp_host *h, const struct wire_addr *a,
                                            uint16_t port)
{
    struct tcp_listener *wildcard = NULL;
    for (struct tcp_listener *l = h->listeners; l; l = l->next) {
        if (l->local.port != port)
            continue;
        if (wire_addr_eq(&l->local.addr, a))
            return l;
        if (wire_addr_is_unspecified(&l->local.addr) &&
            wire_addr_is_v4(&l->local.addr) == wire_addr_is_v4(a))
            wildcard = l;
        else if (wire_addr_is_unspecified(&l->local.addr) && !wildcard)
            wildcard = l; /* [::] accepts IPv4 too, as Linux without IPV6_V6ONLY */
    }
    return wildcard;
}

/* ---- state changes and output ---- */
void tcp_set_state(struct tcp_host *h, struct tcp_entry *e, int sd, enum tcp_state to, tcp_time_t now)
{
    enum tcp_state from = e->state;
    if (from == to)
        return;
    if (to == TCP_STATE_ESTABLISHED || to == TCP_STATE_CLOSE_WAIT) {
        if (from != TCP_STATE_ESTABLISHED && from != TCP_STATE_CLOSE_WAIT)
            h->stats->CurrEstab++;
    } else if (from == TCP_STATE_ESTABLISHED || from == TCP_STATE_CLOSE_WAIT) {
        h->stats->CurrEstab--;
        /* RFC 4022 tcpEstabResets: straight from ESTABLISHED/CLOSE-WAIT to
         * CLOSED, by RST, abort or timeout (Linux tcp_set_state). */
        h->stats->EstabResets += to == TCP_STATE_CLOSED;
    }
    e->state = (uint8_t)to;
    if (h->ops.state_change)
        h->ops.state_change(h->ops.ctx, sd, &e->tuple, from, to, now);
}

void tcp_emit(struct tcp_host *h, const struct wire_tuple *local_view, struct wire_seg *seg)
{
    tcp_emit_rtx(h, local_view, seg, false);
}

/* RFC 4022 tcpOutSegs excludes segments that carry only retransmitted octets. */
void tcp_emit_rtx(struct tcp_host *h, const struct wire_tuple *local_view, struct wire_seg *seg, bool retransmission)
{
    seg->tuple = *local_view;
    seg->ip_version = wire_addr_is_v4(&local_view->src) ? 4 : 6;
    size_t len = wire_build(h->pkt, sizeof h->pkt, seg);
    if (!len)
        return;
    h->stats->OutSegs += !retransmission;
    if (seg->flags & WIRE_RST)
        h->stats->OutRsts++;
    h->ops.output(h->ops.ctx, h->pkt, len);
}

/* RFC 9293 §3.10.7.1: the reply to a segment for no connection. */
void tcp_send_reset_reply(struct tcp_host *h, const struct wire_seg *seg, tcp_time_t now)
{
    (void)now;
    if (seg->flags & WIRE_RST)
        return; /* never answer a RST */
    struct wire_seg rst = {0};
    if (seg->flags & WIRE_ACK) {
        rst.seq = seg->ack; /* <SEQ=SEG.ACK><CTL=RST> */
        rst.flags = WIRE_RST;
    } else {
        rst.seq = 0; /* <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> */
        rst.ack = seg->seq + wire_seg_len(seg);
        rst.flags = WIRE_RST | WIRE_ACK;
    }
    struct wire_tuple local = wire_tuple_reverse(&seg->tuple);
    tcp_emit(h, &local, &rst);
}

/* RFC 5961 §7: challenge ACKs limited per second, like Linux's
 * tcp_challenge_ack_limit. */
bool tcp_challenge_ack_allowed(struct tcp_host *h, tcp_time_t now)
{
    if (now - h->challenge_window_start >= TCP_SEC(1) || now < h->challenge_window_start) {
        h->challenge_window_start = now;
        h->challenge_acks = 0;
    }
    if (h->challenge_acks >= (uint32_t)h->cfg->tcp_challenge_ack_limit) {
        h->stats->TCPChallengeACKLimited++;
        return false;
    }
    h->challenge_acks++;
    h->stats->TCPChallengeACK++;
    return true;
}

/* ---- input demultiplexing (RFC 9293 §3.10.7): connection, TIME-WAIT,
 * half-open entry, then listener, else a reset. ---- */
void tcp_host_input(struct tcp_host *h, const struct wire_seg *seg, tcp_time_t now)
{
    h->stats->InSegs++;
    struct wire_tuple local = wire_tuple_reverse(&seg->tuple);
    struct tcp_entry *e = tcp_host_lookup(h, &local);
    if (e) {
        switch ((enum tcp_entry_kind)e->kind) {
        case TCP_ENTRY_CONN:
            tcp_conn_input((struct tcp_conn *)e, seg, now);
            tcp_host_reap(h);
            return;
        case TCP_ENTRY_REQ:
            tcp_req_input(h, (struct tcp_req *)e, seg, now);
            tcp_host_reap(h);
            return;
        case TCP_ENTRY_TW:
            if (tcp_tw_input(h, (struct tcp_tw *)e, seg, now))
                return;
            break; /* a SYN that ended the TIME-WAIT: to the listener */
        }
    }
    struct tcp_listener *l = tcp_host_find_listener(h, &local.src, local.sport);
    if (l) {
        tcp_listen_input(h, l, seg, &local, now);
        h->tw_isn_valid = false;
        tcp_host_reap(h);
        return;
    }
    h->tw_isn_valid = false;
    h->stats->NoSocketRsts += !(seg->flags & WIRE_RST);
    tcp_send_reset_reply(h, seg, now);
}

void tcp_host_tick(struct tcp_host *h, tcp_time_t now)
{
    struct timer_node *n;
    while ((n = timer_expire_next(&h->timers, now))) {
        struct tcp_entry *e = container_of(n, struct tcp_entry, timer);
        switch ((enum tcp_entry_kind)e->kind) {
        case TCP_ENTRY_CONN:
            tcp_conn_timer((struct tcp_conn *)e, now);
            break;
        case TCP_ENTRY_REQ:
            tcp_req_timer(h, (struct tcp_req *)e, now);
            break;
        case TCP_ENTRY_TW:
            tcp_tw_timer(h, (struct tcp_tw *)e, now);
            break;
        }
        tcp_host_reap(h);
    }
    while (h->tw_fifo.next != &h->tw_fifo && h->tw_fifo.next->expires <= now) {
        struct tcp_entry *e = container_of(h->tw_fifo.next, struct tcp_entry, timer);
        tcp_tw_timer(h, (struct tcp_tw *)e, now);
    }
}

tcp_time_t tcp_host_next_timer(const struct tcp_host *h)
{
    tcp_time_t next = timer_next_deadline(&h->timers);
    if (h->tw_fifo.next != &h->tw_fifo && h->tw_fifo.next->expires < next)
        next = h->tw_fifo.next->expires;
    return next;
}

void tcp_host_reap(struct tcp_host *h)
{
    while (h->graveyard) {
        struct tcp_conn *c = h->graveyard;
        h->graveyard = c->accept_next;
        tcp_conn_free(c);
    }
}
