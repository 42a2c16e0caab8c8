/* A host's TCP: the 4-tuple table, demultiplexing, keyed hashes (ISNs,
 * ports, timestamps), segment emission, and the timer loop. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static uint32_t *entry_next(void *ctx, uint32_t ref)
{
    return (uint32_t *)tcp_ref_ptr(ctx, ref); /* hnext comes first in every entry */
}

static void ref_tuple(const struct tcp_host *h, uint32_t ref, struct wire_tuple *t)
{
    const void *p = tcp_ref_ptr(h, ref);
    switch (TCP_REF_POOL(ref)) {
    case TCP_REF_CONN:
        tcp_entry_tuple(h, &((const struct tcp_conn *)p)->e, t);
        break;
    case TCP_REF_REQ4:
    case TCP_REF_REQ6:
        tcp_req_get_tuple(p, t);
        break;
    default:
        tcp_tw_get_tuple(p, t);
    }
}

static uint32_t entry_hash(void *ctx, uint32_t ref)
{
    struct wire_tuple t;
    ref_tuple(ctx, ref, &t);
    return tcp_tuple_hash(ctx, &t);
}

int tcp_host_init(struct tcp_host *h, const struct tcp_config *cfg, struct tcp_counters *stats,
                   const struct tcp_host_ops *ops, const uint8_t secret[32], tcp_time_t now)
{
    memset(h, 0, offsetof(struct tcp_host, pkt));
    h->cfg = cfg;
    h->stats = stats;
    h->ops = *ops;
    /* Independent keys per use, derived from the host secret (RFC 6528 §3:
     * the secret must not be derivable from what the ISNs show). */
    static const char *const ctx[6] = {"isn-key", "port-key", "cookie-0", "cookie-1", "tablekey", "tsoffset"};
    uint8_t *keys[6] = {h->isn_key, h->port_key, h->cookie_key[0], h->cookie_key[1], (uint8_t *)h->table_key,
                        h->ts_key};
    size_t key_len[6] = {16, 16, 16, 16, sizeof h->table_key, 16};
    for (int i = 0; i < 6; i++)
        crypto_generichash(keys[i], key_len[i], (const uint8_t *)ctx[i], strlen(ctx[i]), secret, 32);
    timer_wheel_init(&h->timers, now);
    /* The shifts and sizes tcp_ref_ptr and tcp_conn_timers assume. */
    pool_init(&h->conn_pool, sizeof(struct tcp_conn), TCP_CONN_POOL_SHIFT);
    pool_init(&h->tuple6_pool, sizeof(struct wire_tuple), TCP_TUPLE6_POOL_SHIFT);
    pool_init(&h->timer_pool, sizeof(struct tcp_timers), TCP_TIMER_POOL_SHIFT);
    for (int v6 = 0; v6 < 2; v6++) {
        pool_init(&h->req_pool[v6], TCP_REQ_SIZE(v6), TCP_REQ_POOL_SHIFT);
        ring_init(&h->tw_ring[v6], TCP_TW_SIZE(v6), TCP_TW_RING_SHIFT);
    }
    h->port_refs = calloc(65536, sizeof *h->port_refs);
    if (!h->port_refs)
        return -ENOMEM;
    return hash_table_init(&h->table, 1024, entry_next, entry_hash, h);
}

static int free_entry(void *ctx, uint32_t ref)
{
    struct tcp_host *h = ctx;
    if (TCP_REF_POOL(ref) != TCP_REF_CONN)
        return 0; /* the pools go whole */
    struct tcp_conn *c = tcp_ref_ptr(h, ref);
    if (c->sd < 0) /* descriptor-owned connections are freed by their owner */
        tcp_conn_free(c);
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
            l->accept_head = tcp_conn_at(h, c->accept_next);
            tcp_conn_free(c);
        }
        free(l);
    }
    free(h->listener_tab);
    h->listener_tab = NULL;
    hash_table_walk(&h->table, free_entry, h);
    hash_table_free(&h->table);
    /* Control blocks still owned by descriptors must be freed before. */
    pool_destroy(&h->conn_pool);
    pool_destroy(&h->tuple6_pool);
    pool_destroy(&h->timer_pool);
    for (int v6 = 0; v6 < 2; v6++) {
        pool_destroy(&h->req_pool[v6]);
        ring_destroy(&h->tw_ring[v6]);
    }
    free(h->port_refs);
    h->port_refs = NULL;
    bytebuf_cache_destroy(&h->bufcache);
}

/* ---- keyed hashes ---- */
/* The tuple's bytes for hashing: 12 for IPv4 (the mapped prefix adds
 * nothing), 36 for IPv6. Returns the length. */
static size_t tuple_bytes(const struct wire_tuple *t, uint8_t out[36])
{
    size_t a = tcp_tuple_is_v4(t) ? 4 : 16;
    memcpy(out, t->src.b + 16 - a, a);
    memcpy(out + a, t->dst.b + 16 - a, a);
    out[2 * a] = (uint8_t)(t->sport >> 8);
    out[2 * a + 1] = (uint8_t)t->sport;
    out[2 * a + 2] = (uint8_t)(t->dport >> 8);
    out[2 * a + 3] = (uint8_t)t->dport;
    return 2 * a + 4;
}

static inline uint64_t load_le64(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
#else
    uint64_t v = 0;
    for (int j = 0; j < 8; j++)
        v |= (uint64_t)p[j] << (8 * j);
    return v;
#endif
}

/* libsodium's SipHash-2-4 (crypto_shorthash_siphash24) as a number. */
uint64_t tcp_siphash24(const uint8_t key[16], const void *m, size_t len)
{
    uint8_t out[crypto_shorthash_siphash24_BYTES];
    crypto_shorthash_siphash24(out, m, len, key);
    return load_le64(out);
}

/* The table's hash: keyed against hash flooding, as Linux's inet_ehashfn
 * is (jhash with a boot-time secret), but not a MAC: it is never seen off
 * the host. The tuple's 64-bit words, each xored with a key word, are
 * multiplied pairwise into 128 bits and folded (wyhash's "mum" step), so
 * every input bit reaches every output bit. ISNs, ports, timestamp offsets
 * and cookies use libsodium's SipHash-2-4. */
#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 tcp_u128;
static inline uint64_t mum(uint64_t a, uint64_t b)
{
    tcp_u128 r = (tcp_u128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}
#else
static inline uint64_t mum(uint64_t a, uint64_t b)
{
    uint64_t al = (uint32_t)a, ah = a >> 32, bl = (uint32_t)b, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;
    uint64_t lo = (mid << 32) | (uint32_t)ll;
    uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    return lo ^ hi;
}
#endif

uint32_t tcp_tuple_hash(const struct tcp_host *h, const struct wire_tuple *t)
{
    const uint64_t *k = h->table_key;
    uint64_t ports = (uint64_t)t->sport << 16 | t->dport;
    uint64_t v;
    if (tcp_tuple_is_v4(t)) {
        uint32_t l, r;
        memcpy(&l, t->src.b + 12, 4);
        memcpy(&r, t->dst.b + 12, 4);
        v = mum(((uint64_t)l << 32 | r) ^ k[0], ports ^ k[1]);
    } else {
        uint64_t w[4];
        memcpy(w, t->src.b, 16);
        memcpy(w + 2, t->dst.b, 16);
        v = mum(w[0] ^ k[0], w[1] ^ k[1]) ^ mum(w[2] ^ k[2], w[3] ^ k[3]);
        v = mum(v ^ k[1], ports ^ k[2]);
    }
    return (uint32_t)(v ^ (v >> 32)) | 1; /* never 0: 0 is "none" */
}

/* ---- compact tuples ---- */
void tcp_tuple_pack(void *dst, const struct wire_tuple *t, bool v6)
{
    if (v6) {
        memcpy(dst, t, sizeof *t);
        return;
    }
    struct tcp_tuple4 p;
    tcp_tuple4_pack(&p, t);
    memcpy(dst, &p, sizeof p);
}

void tcp_tuple_unpack(struct wire_tuple *t, const void *src, bool v6)
{
    if (v6) {
        memcpy(t, src, sizeof *t);
        return;
    }
    struct tcp_tuple4 p;
    memcpy(&p, src, sizeof p);
    tcp_tuple4_unpack(t, &p);
}


/* RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey),
 * M a 4-microsecond clock, F SipHash-2-4. */
uint32_t tcp_isn(const struct tcp_host *h, const struct wire_tuple *local_view, tcp_time_t now)
{
    uint8_t b[36];
    size_t n = tuple_bytes(local_view, b);
    return (uint32_t)tcp_siphash24(h->isn_key, b, n) + (uint32_t)(now / 4u);
}

/* RFC 7323 §5.4's TSval offset, per pair of addresses as Linux has had it
 * since 4.13 (secure_tcp_ts_off): the connections between two hosts share
 * one clock, so a new incarnation's timestamps are newer than the last
 * one's (RFC 6191 reuse of a TIME-WAIT tuple works across them), while
 * each peer sees its own offset and none learns our uptime. SipHash-2-4 of
 * the two addresses; recent IPv4 pairs are cached, so the SYN, the child
 * and the client's connections to one server hash once. */
static uint32_t ts_offset_hash(const struct tcp_host *h, const struct wire_tuple *t)
{
    size_t a = tcp_tuple_is_v4(t) ? 4 : 16;
    uint8_t b[32];
    memcpy(b, t->src.b + 16 - a, a);
    memcpy(b + a, t->dst.b + 16 - a, a);
    return (uint32_t)tcp_siphash24(h->ts_key, b, 2 * a);
}

uint32_t tcp_ts_offset(const struct tcp_host *h, const struct wire_tuple *local_view)
{
    if (!h->cfg->tcp_timestamps)
        return 0;
    if (!tcp_tuple_is_v4(local_view))
        return ts_offset_hash(h, local_view);
    uint32_t l, r;
    memcpy(&l, local_view->src.b + 12, 4);
    memcpy(&r, local_view->dst.b + 12, 4);
    uint64_t slot = mum(((uint64_t)l << 32 | r) ^ h->table_key[2], h->table_key[3]) % TCP_TS_CACHE_SLOTS;
    /* Logically const, like the timer wheel's cache: no tcp_host is ever
     * defined const. */
    struct tcp_ts_cached *e = (struct tcp_ts_cached *)&h->ts_cache[slot];
    if (!e->valid || e->laddr != l || e->raddr != r)
        *e = (struct tcp_ts_cached){l, r, ts_offset_hash(h, local_view), true};
    return e->offset;
}

/* RFC 6056 §3.3.3 (Algorithm 3): offset = F(local IP, remote IP, remote port, secret). */
uint32_t tcp_port_offset(struct tcp_host *h, const struct wire_addr *local, const struct wire_endpoint *remote)
{
    struct tcp_port_offset_cached *c = &h->port_offset_cache;
    if (c->valid && c->remote.port == remote->port && wire_addr_eq(&c->local, local) &&
        wire_addr_eq(&c->remote.addr, &remote->addr))
        return c->offset;
    size_t a = wire_addr_is_v4(local) && wire_addr_is_v4(&remote->addr) ? 4 : 16;
    uint8_t b[34];
    memcpy(b, local->b + 16 - a, a);
    memcpy(b + a, remote->addr.b + 16 - a, a);
    b[2 * a] = (uint8_t)(remote->port >> 8);
    b[2 * a + 1] = (uint8_t)remote->port;
    *c = (struct tcp_port_offset_cached){*local, *remote, (uint32_t)tcp_siphash24(h->port_key, b, 2 * a + 2), true};
    return c->offset;
}

/* ---- table ---- */
static enum tcp_entry_kind ref_kind(uint32_t ref)
{
    uint32_t pool = TCP_REF_POOL(ref);
    return pool == TCP_REF_CONN ? TCP_ENTRY_CONN : pool <= TCP_REF_REQ6 ? TCP_ENTRY_REQ : TCP_ENTRY_TW;
}

/* The host's counts of entries by kind, and of entries holding a local
 * port, as ref enters (+1) or leaves (-1) the table. */
static void table_count(struct tcp_host *h, uint32_t ref, uint16_t sport, int d)
{
    enum tcp_entry_kind kind = ref_kind(ref);
    size_t *n = kind == TCP_ENTRY_CONN ? &h->conns : kind == TCP_ENTRY_REQ ? &h->reqs : &h->tws;
    *n += (size_t)(ptrdiff_t)d;
    h->port_refs[sport] += (uint32_t)(kind != TCP_ENTRY_REQ ? d : 0);
}

/* The hash of t, the tuple of entry ref (or of the entry to be filed as
 * ref): from the memo when it covers either, and the memo follows ref. */
static uint32_t entry_tuple_hash(struct tcp_host *h, uint32_t ref, const struct wire_tuple *t)
{
    if (t == h->hash_memo_tuple || (ref && ref == h->hash_memo_ref)) {
        h->hash_memo_ref = ref;
        return h->hash_memo;
    }
    return tcp_tuple_hash(h, t);
}

int tcp_table_insert(struct tcp_host *h, uint32_t ref, const struct wire_tuple *t)
{
    if (hash_table_insert(&h->table, ref, entry_tuple_hash(h, ref, t)) < 0)
        return -ENOMEM;
    table_count(h, ref, t->sport, 1);
    return 0;
}

void tcp_table_remove(struct tcp_host *h, uint32_t ref, const struct wire_tuple *t)
{
    uint32_t hash = entry_tuple_hash(h, ref, t);
    if (ref == h->hash_memo_ref)
        h->hash_memo_ref = 0; /* the reference may be reused */
    if (hash_table_remove(&h->table, ref, hash))
        table_count(h, ref, t->sport, -1);
}

void tcp_table_replace(struct tcp_host *h, uint32_t ref, uint32_t new_ref, const struct wire_tuple *t)
{
    uint32_t hash = entry_tuple_hash(h, ref, t);
    if (ref == h->hash_memo_ref)
        h->hash_memo_ref = new_ref;
    if (hash_table_replace(&h->table, ref, new_ref, hash)) {
        table_count(h, ref, t->sport, -1);
        table_count(h, new_ref, t->sport, 1);
    }
}

int tcp_entry_set_tuple(struct tcp_host *h, struct tcp_entry *e, const struct wire_tuple *t)
{
    e->v6 = !tcp_tuple_is_v4(t);
    if (!e->v6) {
        tcp_tuple_pack(&e->tuple.v4, t, false);
        return 0;
    }
    struct wire_tuple *p = pool_alloc(&h->tuple6_pool, &e->tuple.v6);
    if (!p) {
        e->v6 = false;
        return -ENOMEM;
    }
    *p = *t;
    return 0;
}

void tcp_entry_drop_tuple(struct tcp_host *h, struct tcp_entry *e)
{
    if (e->v6)
        pool_free(&h->tuple6_pool, e->tuple.v6);
    e->v6 = false;
}

int tcp_entry_insert(struct tcp_host *h, struct tcp_entry *e)
{
    struct wire_tuple t;
    tcp_entry_tuple(h, e, &t);
    if (tcp_table_insert(h, e->ref, &t) < 0)
        return -ENOMEM;
    e->hashed = true;
    return 0;
}

void tcp_entry_remove(struct tcp_host *h, struct tcp_entry *e)
{
    if (!e->hashed)
        return;
    struct wire_tuple t;
    tcp_entry_tuple(h, e, &t);
    tcp_table_remove(h, e->ref, &t);
    e->hashed = false;
    tcp_conn_clear_deadlines((struct tcp_conn *)(void *)e); /* entries head control blocks */
}

struct tcp_conn *tcp_conn_alloc(struct tcp_host *h)
{
    uint32_t i;
    struct tcp_conn *c = pool_alloc(&h->conn_pool, &i);
    if (c)
        c->e.ref = TCP_REF(TCP_REF_CONN, i);
    return c;
}

void tcp_conn_release(struct tcp_conn *c)
{
    tcp_entry_drop_tuple(c->host, &c->e);
    pool_free(&c->host->conn_pool, TCP_REF_INDEX(c->e.ref));
}

uint32_t tcp_host_lookup(const struct tcp_host *h, const struct wire_tuple *t, uint32_t hash)
{
    struct hash_table_cursor cursor;
    uint32_t ref;
    if (!hash_table_seek(&h->table, hash, &cursor))
        return 0;
    bool v4 = tcp_tuple_is_v4(t);
    struct tcp_tuple4 key4;
    if (v4)
        tcp_tuple4_pack(&key4, t);
    while ((ref = hash_table_scan_with(&h->table, &cursor, hash, entry_next, (void *)h))) {
        const uint8_t *p = tcp_ref_ptr(h, ref);
        switch (TCP_REF_POOL(ref)) {
        case TCP_REF_CONN: {
            const struct tcp_entry *e = (const struct tcp_entry *)(const void *)p;
            if (v4 ? !e->v6 && memcmp(&e->tuple.v4, &key4, sizeof key4) == 0
                   : e->v6 && tcp_tuple_same(pool_at(&h->tuple6_pool, e->tuple.v6), t))
                return ref;
            break;
        }
        case TCP_REF_REQ4:
            if (v4 && memcmp(p + offsetof(struct tcp_req, tuple), &key4, sizeof key4) == 0)
                return ref;
            break;
        case TCP_REF_TW4:
            if (v4 && memcmp(p + offsetof(struct tcp_tw, tuple), &key4, sizeof key4) == 0)
                return ref;
            break;
        case TCP_REF_REQ6:
            if (!v4 && memcmp(p + offsetof(struct tcp_req, tuple), t, sizeof *t) == 0)
                return ref;
            break;
        default:
            if (!v4 && memcmp(p + offsetof(struct tcp_tw, tuple), t, sizeof *t) == 0)
                return ref;
        }
    }
    return 0;
}

bool tcp_host_tuple_free(const struct tcp_host *h, const struct wire_tuple *t, tcp_time_t now)
{
    uint32_t ref = tcp_host_lookup(h, t, tcp_tuple_hash(h, t));
    if (!ref)
        return true;
    /* tcp_tw_reuse (Linux): a TIME-WAIT tuple may be reused for an outgoing
     * connection once it is a second old (2: loopback only; we treat our
     * simulated and TUN peers as non-loopback, so only 1 enables it). */
    if (ref_kind(ref) == TCP_ENTRY_TW && h->cfg->tcp_tw_reuse == 1 && now > 0) {
        const struct tcp_tw *tw = tcp_ref_ptr(h, ref);
        tcp_time_t born = tcp_tw_expires(h, ref) - TCP_SEC(h->cfg->tcp_timewait_len);
        return tw->ts_ok && now >= born + TCP_SEC(1);
    }
    return false;
}

struct walk_ctx {
    struct tcp_host *h;
    int (*fn)(void *ctx, const struct tcp_entry_view *v);
    void *ctx;
};

static int walk_entry(void *arg, uint32_t ref)
{
    struct walk_ctx *w = arg;
    const void *p = tcp_ref_ptr(w->h, ref);
    struct tcp_entry_view v = {0};
    v.kind = ref_kind(ref);
    ref_tuple(w->h, ref, &v.tuple);
    switch (v.kind) {
    case TCP_ENTRY_CONN: {
        const struct tcp_conn *c = p;
        v.state = (enum tcp_state)c->e.state;
        v.conn = c;
        const struct tcp_timers *t = tcp_conn_timers(c);
        tcp_time_t at = t ? tcp_timers_earliest(t) : TCP_TIME_NEVER;
        v.timer_expires = at == TCP_TIME_NEVER ? 0 : at;
        break;
    }
    case TCP_ENTRY_REQ: {
        const struct tcp_req *r = p;
        v.state = (enum tcp_state)r->state;
        v.retries = r->retries;
        v.timer_expires = tcp_req_expires(r);
        break;
    }
    case TCP_ENTRY_TW: {
        const struct tcp_tw *tw = p;
        v.state = (enum tcp_state)tw->state;
        v.timer_expires = tcp_tw_expires(w->h, ref);
        break;
    }
    }
    return w->fn(w->ctx, &v);
}

void tcp_host_walk(struct tcp_host *h, int (*fn)(void *ctx, const struct tcp_entry_view *v), void *ctx)
{
    struct walk_ctx w = {h, fn, ctx};
    hash_table_walk(&h->table, walk_entry, &w);
}

size_t tcp_host_table_bytes(const struct tcp_host *h)
{
    return hash_table_bytes(&h->table);
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
void tcp_set_state_raw(struct tcp_host *h, uint8_t *state, const struct wire_tuple *t, int sd, enum tcp_state to,
                       tcp_time_t now)
{
    enum tcp_state from = *state;
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
    *state = (uint8_t)to;
    if (h->ops.state_change)
        h->ops.state_change(h->ops.ctx, sd, t, from, to, now);
}

void tcp_set_state(struct tcp_host *h, struct tcp_entry *e, int sd, enum tcp_state to, tcp_time_t now)
{
    struct wire_tuple t;
    if (h->ops.state_change) /* only the hook reads the tuple */
        tcp_entry_tuple(h, e, &t);
    tcp_set_state_raw(h, &e->state, &t, sd, to, now);
}

void tcp_emit(struct tcp_host *h, const struct wire_tuple *local_view, struct wire_seg *seg)
{
    tcp_emit_rtx(h, local_view, seg, false);
}

void tcp_emit_rtx(struct tcp_host *h, const struct wire_tuple *local_view, struct wire_seg *seg, bool retransmission)
{
    seg->tuple = *local_view;
    tcp_emit_seg(h, seg, retransmission);
}

/* RFC 4022 tcpOutSegs excludes segments that carry only retransmitted octets.
 * wire_build takes the IP version from the addresses (seg->ip_version is the
 * parser's). */
void tcp_emit_seg(struct tcp_host *h, struct wire_seg *seg, bool retransmission)
{
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
bool tcp_oow_ack_allowed(struct tcp_host *h, uint32_t *last_ms, const struct wire_seg *seg, tcp_time_t now)
{
    uint32_t now_ms = tcp_ts_now(now) ? tcp_ts_now(now) : 1; /* 0 means never */
    if (wire_seg_len(seg) == 0 && *last_ms && now_ms - *last_ms < (uint32_t)h->cfg->tcp_invalid_ratelimit) {
        h->stats->TCPACKSkippedSeq++;
        return false;
    }
    *last_ms = now_ms;
    return true;
}

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
static void input_local(struct tcp_host *h, const struct wire_seg *seg, const struct wire_tuple *local, uint32_t hash,
                        tcp_time_t now);

void tcp_host_input(struct tcp_host *h, const struct wire_seg *seg, tcp_time_t now)
{
    struct wire_tuple local = wire_tuple_reverse(&seg->tuple);
    input_local(h, seg, &local, tcp_tuple_hash(h, &local), now);
}

uint32_t tcp_host_prefetch(const struct tcp_host *h, const struct wire_tuple *local_view)
{
    uint32_t hash = tcp_tuple_hash(h, local_view);
    hash_table_prefetch(&h->table, hash);
    return hash;
}

void tcp_host_input_hashed(struct tcp_host *h, const struct wire_seg *seg, uint32_t hash, tcp_time_t now)
{
    struct wire_tuple local = wire_tuple_reverse(&seg->tuple);
    input_local(h, seg, &local, hash, now);
}

/* To the entry or listener of the segment (local: its tuple seen from
 * here, hash: its table hash) or a reset; true when what ran may have left
 * orphans to reap. */
static bool demux(struct tcp_host *h, const struct wire_seg *seg, const struct wire_tuple *local, uint32_t hash,
                  tcp_time_t now)
{
    uint32_t ref = tcp_host_lookup(h, local, hash);
    tcp_hash_memo_set(h, local, ref, hash);
    if (ref) {
        switch (ref_kind(ref)) {
        case TCP_ENTRY_CONN:
            tcp_conn_input(tcp_ref_ptr(h, ref), seg, now);
            return true;
        case TCP_ENTRY_REQ:
            tcp_req_input(h, ref, seg, now);
            return true;
        case TCP_ENTRY_TW:
            if (tcp_tw_input(h, ref, seg, now))
                return false;
            break; /* a SYN that ended the TIME-WAIT: to the listener */
        }
    }
    struct tcp_listener *l = tcp_host_find_listener(h, &local->src, local->sport);
    if (l) {
        tcp_listen_input(h, l, seg, local, now);
        h->tw_isn_valid = false;
        return true;
    }
    h->tw_isn_valid = false;
    h->stats->NoSocketRsts += !(seg->flags & WIRE_RST);
    tcp_send_reset_reply(h, seg, now);
    return false;
}

static void input_local(struct tcp_host *h, const struct wire_seg *seg, const struct wire_tuple *local, uint32_t hash,
                        tcp_time_t now)
{
    h->stats->InSegs++;
    bool reap = demux(h, seg, local, hash, now);
    tcp_hash_memo_set(h, NULL, 0, 0); /* the tuple in hand goes out of scope */
    if (reap)
        tcp_host_reap(h);
}

/* Control blocks' and half-open entries' timers in expiry order (ties:
 * control blocks first), then TIME-WAIT. */
void tcp_host_tick(struct tcp_host *h, tcp_time_t now)
{
    for (;;) {
        tcp_time_t wheel = timer_next_deadline(&h->timers), req = tcp_req_next_timer(h);
        if (wheel <= req && wheel <= now) {
            struct timer_node *n = timer_expire_next(&h->timers, now);
            if (!n)
                break;
            tcp_conn_timer(tcp_conn_at(h, container_of(n, struct tcp_timers, node)->conn), now);
        } else if (req < wheel && req <= now) {
            tcp_req_expire(h, now);
        } else {
            break;
        }
        tcp_host_reap(h);
    }
    timer_expire_next(&h->timers, now); /* moves the cursor */
    tcp_tw_expire(h, now);
}

tcp_time_t tcp_host_next_timer(const struct tcp_host *h)
{
    tcp_time_t next = timer_next_deadline(&h->timers);
    tcp_time_t req = tcp_req_next_timer(h), tw = tcp_tw_next_timer(h);
    if (req < next)
        next = req;
    return tw < next ? tw : next;
}

/* Control blocks left without a timer for lack of memory are reset, as
 * Linux's tcp_out_of_memory does; a few per pass, with no allocation. */
#define LOST_PER_PASS 16
struct lost_walk {
    struct tcp_host *h;
    uint32_t n;
    uint32_t refs[LOST_PER_PASS];
};

static int collect_timer_lost(void *ctx, uint32_t ref)
{
    struct lost_walk *w = ctx;
    if (TCP_REF_POOL(ref) == TCP_REF_CONN && tcp_conn_at(w->h, ref)->timer_lost)
        w->refs[w->n++] = ref;
    return w->n == LOST_PER_PASS;
}

static void reset_timer_lost(struct tcp_host *h)
{
    tcp_time_t now = h->timers.cur; /* the latest time the host was given */
    while (h->timers_lost) {
        h->timers_lost = false;
        struct lost_walk w = {.h = h};
        hash_table_walk(&h->table, collect_timer_lost, &w);
        for (uint32_t i = 0; i < w.n; i++) {
            struct tcp_conn *c = tcp_conn_at(h, w.refs[i]);
            c->timer_lost = false;
            h->stats->TCPAbortOnMemory++;
            if (tcp_conn_synchronized(c))
                tcp_send_rst_for(c, now);
            tcp_conn_done(c, ENOMEM, now);
        }
        if (w.n == LOST_PER_PASS)
            h->timers_lost = true;
    }
}

void tcp_host_reap_now(struct tcp_host *h)
{
    if (h->timers_lost)
        reset_timer_lost(h);
    while (h->graveyard) {
        struct tcp_conn *c = tcp_conn_at(h, h->graveyard);
        h->graveyard = c->accept_next;
        tcp_conn_free(c);
    }
}
