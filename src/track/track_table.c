/* The connection table: a chained hash table keyed by the normalized
 * 4-tuple (either direction finds the connection), plus intrusive lists
 * that keep every connection ordered by last activity within its timeout
 * class, so expiry and eviction look only at list heads (conntrack-style
 * per-state timeouts, O(1) per packet). */
#include <stdlib.h>
#include <string.h>

#include "track/track_internal.h"

#define INITIAL_BUCKETS 1024u

/* 64x64->128-bit multiply, folded (wyhash's mum): one multiply mixes 16
 * bytes, keyed by the random hash_key so that crafted traffic cannot pick
 * its buckets. */
static inline uint64_t mum(uint64_t a, uint64_t b)
{
    __extension__ unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint64_t track_hash_bytes(const struct track *t, const void *data, size_t len)
{
    uint64_t k0, k1;
    memcpy(&k0, t->hash_key, 8);
    memcpy(&k1, t->hash_key + 8, 8);
    const uint8_t *p = data;
    uint64_t h = k0 ^ (len * 0x9e3779b97f4a7c15ULL);
    size_t n = len;
    while (n > 16) {
        uint64_t w0, w1;
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        h = mum(w0 ^ k1, w1 ^ h);
        p += 16;
        n -= 16;
    }
    uint64_t a = 0, b = 0; /* the last 1..16 bytes, zero-padded */
    memcpy(&a, p, n < 8 ? n : 8);
    if (n > 8)
        memcpy(&b, p + 8, n - 8);
    return mum(k1 ^ len, mum(a ^ k1, b ^ h ^ 0x94d049bb133111ebULL));
}

/* Endpoints in a fixed order so both directions hash and compare alike. */
struct norm_key {
    uint8_t lo[16], hi[16];
    uint16_t lo_port, hi_port;
};

static int endpoint_cmp(const struct wire_addr *a, uint16_t ap, const struct wire_addr *b, uint16_t bp)
{
    int r = memcmp(a->b, b->b, 16);
    if (r)
        return r;
    return (int)ap - (int)bp;
}

uint64_t track_tuple_hash(const struct track *t, const struct wire_tuple *tu)
{
    struct norm_key k;
    memset(&k, 0, sizeof k);
    if (endpoint_cmp(&tu->src, tu->sport, &tu->dst, tu->dport) <= 0) {
        memcpy(k.lo, tu->src.b, 16);
        memcpy(k.hi, tu->dst.b, 16);
        k.lo_port = tu->sport;
        k.hi_port = tu->dport;
    } else {
        memcpy(k.lo, tu->dst.b, 16);
        memcpy(k.hi, tu->src.b, 16);
        k.lo_port = tu->dport;
        k.hi_port = tu->sport;
    }
    return track_hash_bytes(t, &k, sizeof k);
}

static bool tuple_matches(const struct wire_tuple *a, const struct wire_tuple *b)
{
    if (a->sport == b->sport && a->dport == b->dport && wire_addr_eq(&a->src, &b->src) &&
        wire_addr_eq(&a->dst, &b->dst))
        return true;
    return a->sport == b->dport && a->dport == b->sport && wire_addr_eq(&a->src, &b->dst) &&
           wire_addr_eq(&a->dst, &b->src);
}

int track_table_init(struct track *t)
{
    t->nbuckets = INITIAL_BUCKETS;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    return t->buckets ? 0 : -1;
}

void track_table_free(struct track *t)
{
    while (t->slabs) {
        struct track_conn_slab *next = t->slabs->next;
        free(t->slabs);
        t->slabs = next;
    }
    t->free_conns = NULL;
    free(t->buckets);
    t->buckets = NULL;
    memset(t->lists, 0, sizeof t->lists);
    memset(&t->pending, 0, sizeof t->pending);
    memset(&t->all, 0, sizeof t->all);
}

struct track_conn *track_conn_alloc(struct track *t)
{
    struct track_conn *c = t->free_conns;
    if (c) {
        t->free_conns = c->hnext;
    } else {
        if (!t->slabs || t->slabs->used == TRACK_SLAB_CONNS) {
            struct track_conn_slab *s = malloc(sizeof *s);
            if (!s)
                return NULL;
            s->next = t->slabs;
            s->used = 0;
            t->slabs = s;
        }
        c = &t->slabs->conns[t->slabs->used++];
    }
    memset(c, 0, sizeof *c);
    return c;
}

/* The free list never holds more than the table's peak (every entry on it
 * was once in the table): memory stays what the peak needed. */
void track_conn_release(struct track *t, struct track_conn *c)
{
    c->hnext = t->free_conns;
    t->free_conns = c;
}

struct track_conn *track_table_find(struct track *t, const struct wire_tuple *tuple, uint64_t hash)
{
    for (struct track_conn *c = t->buckets[hash & (t->nbuckets - 1)]; c; c = c->hnext)
        if (c->hash == hash && tuple_matches(&c->tuple, tuple))
            return c;
    return NULL;
}

static void grow(struct track *t)
{
    size_t n = t->nbuckets * 2;
    struct track_conn **b = calloc(n, sizeof *b);
    if (!b)
        return; /* keep the longer chains */
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct track_conn *c = t->buckets[i];
        while (c) {
            struct track_conn *next = c->hnext;
            c->hnext = b[c->hash & (n - 1)];
            b[c->hash & (n - 1)] = c;
            c = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

/* Intrusive list links, chosen by `which`. */
static struct track_conn **link_prev(struct track_conn *c, int which)
{
    return which == TRACK_LINK_CLASS ? &c->prev : which == TRACK_LINK_PENDING ? &c->hs_prev : &c->all_prev;
}

static struct track_conn **link_next(struct track_conn *c, int which)
{
    return which == TRACK_LINK_CLASS ? &c->next : which == TRACK_LINK_PENDING ? &c->hs_next : &c->all_next;
}

void track_list_push(struct track_list *l, struct track_conn *c, int which)
{
    *link_prev(c, which) = l->tail;
    *link_next(c, which) = NULL;
    if (l->tail)
        *link_next(l->tail, which) = c;
    else
        l->head = c;
    l->tail = c;
    l->n++;
}

void track_list_unlink(struct track_list *l, struct track_conn *c, int which)
{
    struct track_conn *p = *link_prev(c, which), *n = *link_next(c, which);
    if (p)
        *link_next(p, which) = n;
    else
        l->head = n;
    if (n)
        *link_prev(n, which) = p;
    else
        l->tail = p;
    *link_prev(c, which) = *link_next(c, which) = NULL;
    l->n--;
}

void track_table_insert(struct track *t, struct track_conn *c)
{
    if (t->stats.active >= t->nbuckets)
        grow(t);
    size_t i = c->hash & (t->nbuckets - 1);
    c->hnext = t->buckets[i];
    t->buckets[i] = c;
    c->tclass = TRACK_LIST_NONE;
    track_list_push(&t->all, c, TRACK_LINK_ALL);
    t->stats.active++;
    if (t->stats.active > t->stats.peak_active)
        t->stats.peak_active = t->stats.active;
}

void track_table_remove(struct track *t, struct track_conn *c)
{
    struct track_conn **pp = &t->buckets[c->hash & (t->nbuckets - 1)];
    while (*pp && *pp != c)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = c->hnext;
    c->hnext = NULL;
    if (c->tclass != TRACK_LIST_NONE)
        track_list_unlink(&t->lists[c->tclass], c, TRACK_LINK_CLASS);
    c->tclass = TRACK_LIST_NONE;
    if (c->hs_pending) {
        track_list_unlink(&t->pending, c, TRACK_LINK_PENDING);
        c->hs_pending = false;
    }
    track_list_unlink(&t->all, c, TRACK_LINK_ALL);
    t->stats.active--;
}

static bool side_in(const struct track_conn *c, uint8_t st)
{
    return (c->o[0].known && c->o[0].state == st) || (c->o[1].known && c->o[1].state == st);
}

enum track_timeout_class track_conn_class(const struct track_conn *c)
{
    bool live0 = c->o[0].known && c->o[0].state != TCP_STATE_CLOSED && c->o[0].state != TCP_STATE_LISTEN;
    bool live1 = c->o[1].known && c->o[1].state != TCP_STATE_CLOSED && c->o[1].state != TCP_STATE_LISTEN;
    if (!live0 && !live1)
        return TRACK_TO_CLOSE;
    if (side_in(c, TCP_STATE_TIME_WAIT))
        return TRACK_TO_TIME_WAIT;
    if (side_in(c, TCP_STATE_LAST_ACK))
        return TRACK_TO_LAST_ACK;
    if (side_in(c, TCP_STATE_CLOSE_WAIT))
        return TRACK_TO_CLOSE_WAIT;
    if (side_in(c, TCP_STATE_FIN_WAIT_1) || side_in(c, TCP_STATE_FIN_WAIT_2) || side_in(c, TCP_STATE_CLOSING))
        return TRACK_TO_FIN_WAIT;
    if (side_in(c, TCP_STATE_SYN_RECEIVED))
        return TRACK_TO_SYN_RECV;
    if (side_in(c, TCP_STATE_SYN_SENT))
        return TRACK_TO_SYN_SENT;
    return TRACK_TO_ESTABLISHED;
}

void track_table_touch(struct track *t, struct track_conn *c)
{
    enum track_timeout_class k = track_conn_class(c);
    if (c->tclass != TRACK_LIST_NONE)
        track_list_unlink(&t->lists[c->tclass], c, TRACK_LINK_CLASS);
    c->tclass = (uint8_t)k;
    track_list_push(&t->lists[k], c, TRACK_LINK_CLASS);
}
