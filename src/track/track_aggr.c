/* Anomalies that belong to no single connection: a SYN flood on a service
 * (the rate of unanswered SYNs to one address and port, with the number of
 * distinct sources) and TIME-WAIT accumulation on a host (the `ss -s`
 * picture seen from the wire). Both tables are bounded. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "track/track_internal.h"

#define MAX_SERVICES 65536u
#define INITIAL_BUCKETS 256u

int track_aggr_init(struct track *t)
{
    t->svc_nbuckets = INITIAL_BUCKETS;
    t->svc_buckets = calloc(t->svc_nbuckets, sizeof *t->svc_buckets);
    t->host_nbuckets = INITIAL_BUCKETS;
    t->host_buckets = calloc(t->host_nbuckets, sizeof *t->host_buckets);
    return t->svc_buckets && t->host_buckets ? 0 : -1;
}

void track_aggr_free(struct track *t)
{
    for (struct track_service *s = t->svc_head, *n; s; s = n) {
        n = s->next;
        free(s);
    }
    t->svc_head = t->svc_tail = NULL;
    if (t->host_buckets) {
        for (size_t i = 0; i < t->host_nbuckets; i++)
            for (struct track_host *h = t->host_buckets[i], *n; h; h = n) {
                n = h->hnext;
                free(h);
            }
    }
    free(t->svc_buckets);
    free(t->host_buckets);
    t->svc_buckets = NULL;
    t->host_buckets = NULL;
    t->svc_count = t->host_count = 0;
}

/* ---- services ---- */

static void svc_lru_unlink(struct track *t, struct track_service *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        t->svc_head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        t->svc_tail = s->prev;
    s->prev = s->next = NULL;
}

static void svc_lru_push(struct track *t, struct track_service *s)
{
    s->prev = t->svc_tail;
    s->next = NULL;
    if (t->svc_tail)
        t->svc_tail->next = s;
    else
        t->svc_head = s;
    t->svc_tail = s;
}

static void svc_unhash(struct track *t, struct track_service *s)
{
    struct track_service **pp = &t->svc_buckets[s->hash & (t->svc_nbuckets - 1)];
    while (*pp && *pp != s)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = s->hnext;
}

static void svc_grow(struct track *t)
{
    size_t n = t->svc_nbuckets * 2;
    struct track_service **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (struct track_service *s = t->svc_head; s; s = s->next) {
        s->hnext = b[s->hash & (n - 1)];
        b[s->hash & (n - 1)] = s;
    }
    free(t->svc_buckets);
    t->svc_buckets = b;
    t->svc_nbuckets = n;
}

static struct track_service *svc_get(struct track *t, const struct wire_endpoint *ep)
{
    struct wire_endpoint key;
    memset(&key, 0, sizeof key);
    key.addr = ep->addr;
    key.port = ep->port;
    uint64_t h = track_hash_bytes(t, &key, sizeof key);
    for (struct track_service *s = t->svc_buckets[h & (t->svc_nbuckets - 1)]; s; s = s->hnext)
        if (s->hash == h && s->ep.port == ep->port && wire_addr_eq(&s->ep.addr, &ep->addr)) {
            svc_lru_unlink(t, s);
            svc_lru_push(t, s);
            return s;
        }
    if (t->svc_count >= MAX_SERVICES && t->svc_head) { /* bounded: forget the idlest */
        struct track_service *old = t->svc_head;
        svc_unhash(t, old);
        svc_lru_unlink(t, old);
        free(old);
        t->svc_count--;
    }
    size_t w = t->cfg.syn_flood_window_s ? t->cfg.syn_flood_window_s : 1;
    struct track_service *s = calloc(1, sizeof *s + w * (sizeof(uint32_t) + sizeof(uint64_t)));
    if (!s)
        return NULL;
    s->ep = key;
    s->hash = h;
    s->bucket_sec = (uint64_t *)(s + 1);
    s->bucket = (uint32_t *)(s->bucket_sec + w);
    if (t->svc_count >= t->svc_nbuckets)
        svc_grow(t);
    s->hnext = t->svc_buckets[h & (t->svc_nbuckets - 1)];
    t->svc_buckets[h & (t->svc_nbuckets - 1)] = s;
    svc_lru_push(t, s);
    t->svc_count++;
    return s;
}

/* Distinct sources: exact up to TRACK_FLOOD_EXACT, then linear counting
 * over a bitmap (Whang et al., 1990). */
static void svc_add_source(struct track *t, struct track_service *s, const struct wire_addr *src)
{
    uint64_t h = track_hash_bytes(t, src->b, 16);
    s->bitmap[(h % TRACK_FLOOD_BITMAP_BITS) / 8] |= (uint8_t)(1u << (h % 8));
    if (s->exact_n <= TRACK_FLOOD_EXACT) {
        for (uint32_t i = 0; i < s->exact_n && i < TRACK_FLOOD_EXACT; i++)
            if (s->exact[i] == h)
                return;
        if (s->exact_n < TRACK_FLOOD_EXACT)
            s->exact[s->exact_n] = h;
        s->exact_n++;
    }
}

static uint32_t svc_sources(const struct track_service *s)
{
    if (s->exact_n <= TRACK_FLOOD_EXACT)
        return s->exact_n;
    unsigned zero = 0;
    for (unsigned i = 0; i < TRACK_FLOOD_BITMAP_BITS; i++)
        zero += !(s->bitmap[i / 8] & (1u << (i % 8)));
    if (zero == 0)
        zero = 1;
    double m = TRACK_FLOOD_BITMAP_BITS;
    double est = -m * log((double)zero / m);
    return est < TRACK_FLOOD_EXACT ? TRACK_FLOOD_EXACT + 1 : (uint32_t)(est + 0.5);
}

void track_aggr_unanswered_syn(struct track *t, const struct track_conn *c, tcp_time_t syn_time)
{
    if (t->cfg.syn_flood_rate == 0)
        return;
    int r = !c->orig;
    struct wire_endpoint ep = {.addr = r == 0 ? c->tuple.src : c->tuple.dst,
                               .port = r == 0 ? c->tuple.sport : c->tuple.dport};
    const struct wire_addr *src = c->orig == 0 ? &c->tuple.src : &c->tuple.dst;
    struct track_service *s = svc_get(t, &ep);
    if (!s)
        return;
    size_t w = t->cfg.syn_flood_window_s ? t->cfg.syn_flood_window_s : 1;
    uint64_t sec = syn_time / 1000000u;
    size_t i = (size_t)(sec % w);
    if (s->bucket_sec[i] != sec) {
        if (s->bucket_sec[i] > sec && s->bucket[i])
            return; /* older than the window */
        s->bucket_sec[i] = sec;
        s->bucket[i] = 0;
    }
    s->bucket[i]++;
    uint64_t total = 0;
    for (size_t k = 0; k < w; k++)
        if (s->bucket_sec[k] + w > sec && s->bucket_sec[k] <= sec)
            total += s->bucket[k];
    uint64_t threshold = (uint64_t)t->cfg.syn_flood_rate * w;
    if (!s->flooding && (total == 1 || s->episode_syns == 0)) {
        /* the window was empty: a new episode counts its own sources */
        s->exact_n = 0;
        s->episode_syns = 0;
        memset(s->bitmap, 0, sizeof s->bitmap);
    }
    svc_add_source(t, s, src);
    s->episode_syns++;
    if (!s->flooding && total >= threshold) {
        s->flooding = true;
        char ep_text[WIRE_ENDPOINT_STRLEN];
        track_raise_at(t, TRACK_ANOM_SYN_FLOOD, syn_time, &ep,
                       "%llu unanswered SYNs to %s within %zus (%.1f/s, threshold %u/s) from %u source%s",
                       (unsigned long long)total, wire_endpoint_str(&ep, ep_text), w, (double)total / (double)w,
                       t->cfg.syn_flood_rate, svc_sources(s), svc_sources(s) == 1 ? "" : "s");
    } else if (s->flooding && total < threshold / 2) {
        s->flooding = false; /* re-arm */
        s->episode_syns = 0;
    }
    s->last_t = syn_time;
}

/* ---- hosts ---- */

static void host_grow(struct track *t)
{
    size_t n = t->host_nbuckets * 2;
    struct track_host **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < t->host_nbuckets; i++)
        for (struct track_host *h = t->host_buckets[i], *next; h; h = next) {
            next = h->hnext;
            h->hnext = b[h->hash & (n - 1)];
            b[h->hash & (n - 1)] = h;
        }
    free(t->host_buckets);
    t->host_buckets = b;
    t->host_nbuckets = n;
}

void track_aggr_time_wait(struct track *t, const struct wire_addr *host, int delta, tcp_time_t now)
{
    uint64_t hv = track_hash_bytes(t, host->b, 16);
    struct track_host **pp = &t->host_buckets[hv & (t->host_nbuckets - 1)];
    while (*pp && !((*pp)->hash == hv && wire_addr_eq(&(*pp)->addr, host)))
        pp = &(*pp)->hnext;
    struct track_host *h = *pp;
    if (!h) {
        if (delta < 0)
            return;
        h = calloc(1, sizeof *h);
        if (!h)
            return;
        h->addr = *host;
        h->hash = hv;
        if (t->host_count >= t->host_nbuckets) {
            host_grow(t);
            pp = &t->host_buckets[hv & (t->host_nbuckets - 1)];
        }
        h->hnext = *pp;
        *pp = h;
        t->host_count++;
    }
    if (delta > 0) {
        h->time_wait++;
        if (t->cfg.time_wait_per_host && !h->alarmed && h->time_wait >= t->cfg.time_wait_per_host) {
            h->alarmed = true;
            struct wire_endpoint ep = {.addr = *host, .port = 0};
            char a[WIRE_ADDR_STRLEN];
            track_raise_at(t, TRACK_ANOM_TIME_WAIT_ACCUMULATION, now, &ep,
                           "%s holds %u connections in TIME-WAIT (threshold %u)", wire_addr_str(host, a),
                           h->time_wait, t->cfg.time_wait_per_host);
        }
        return;
    }
    if (h->time_wait)
        h->time_wait--;
    if (h->alarmed && h->time_wait < t->cfg.time_wait_per_host / 2)
        h->alarmed = false;
    if (h->time_wait == 0) {
        /* unlink and free */
        struct track_host **qq = &t->host_buckets[hv & (t->host_nbuckets - 1)];
        while (*qq != h)
            qq = &(*qq)->hnext;
        *qq = h->hnext;
        free(h);
        t->host_count--;
    }
}

uint32_t track_aggr_host_time_wait(const struct track *t, const struct wire_addr *host)
{
    uint64_t hv = track_hash_bytes(t, host->b, 16);
    for (struct track_host *h = t->host_buckets[hv & (t->host_nbuckets - 1)]; h; h = h->hnext)
        if (h->hash == hv && wire_addr_eq(&h->addr, host))
            return h->time_wait;
    return 0;
}
