#include "tcp/bytebuf.h"

#include <stdlib.h>
#include <string.h>

#define BYTEBUF_MIN_CAP 64

void bytebuf_init(struct bytebuf *b, uint32_t limit)
{
    b->ring = NULL;
    b->limit = limit;
}

/* The cache class of a capacity (a power of two, at least
 * BYTEBUF_MIN_CAP), or -1. */
static int cache_class(uint32_t cap)
{
    if (!bytebuf_cache_enabled() || cap > BYTEBUF_MIN_CAP << (BYTEBUF_CACHE_CLASSES - 1))
        return -1;
    return __builtin_ctz(cap) - __builtin_ctz(BYTEBUF_MIN_CAP);
}

static struct bytebuf_ring **ring_link(struct bytebuf_ring *r)
{
    return (struct bytebuf_ring **)(void *)r->data;
}

/* The most recently cached ring of class k (there is one). */
static struct bytebuf_ring *cache_pop(struct bytebuf_cache *cache, int k)
{
    struct bytebuf_ring *r = cache->head[k];
    memcpy(&cache->head[k], ring_link(r), sizeof cache->head[k]);
    cache->count[k]--;
    return r;
}

static struct bytebuf_ring *ring_alloc(struct bytebuf_cache *cache, uint32_t cap)
{
    int k = cache_class(cap);
    if (cache && k >= 0 && cache->head[k])
        return cache_pop(cache, k);
    return malloc(sizeof(struct bytebuf_ring) + cap);
}

static void ring_release(struct bytebuf_cache *cache, struct bytebuf_ring *r)
{
    int k = cache_class(r->cap);
    if (cache && k >= 0 && cache->count[k] < BYTEBUF_CACHE_DEPTH) {
        memcpy(ring_link(r), &cache->head[k], sizeof cache->head[k]);
        cache->head[k] = r;
        cache->count[k]++;
        return;
    }
    free(r);
}

void bytebuf_cache_destroy(struct bytebuf_cache *cache)
{
    for (int k = 0; k < BYTEBUF_CACHE_CLASSES; k++)
        while (cache->head[k])
            free(cache_pop(cache, k));
}

void bytebuf_free_ring(struct bytebuf *b, struct bytebuf_cache *cache)
{
    ring_release(cache, b->ring);
    b->ring = NULL;
}

static void ring_copy_out(const struct bytebuf_ring *r, uint32_t off, void *dst, uint32_t len)
{
    uint32_t start = (r->head + off) & (r->cap - 1);
    uint32_t first = r->cap - start < len ? r->cap - start : len;
    memcpy(dst, r->data + start, first);
    if (first < len) /* wrapped */
        memcpy((uint8_t *)dst + first, r->data, len - first);
}

static int bytebuf_grow(struct bytebuf *b, struct bytebuf_cache *cache, uint32_t need)
{
    /* Small first: a request or a response fits a malloc size class that
     * the allocator's per-thread cache serves. */
    struct bytebuf_ring *old = b->ring;
    uint32_t cap = old ? old->cap : BYTEBUF_MIN_CAP;
    while (cap < need)
        cap *= 2;
    if (old && cap == old->cap)
        return 0;
    struct bytebuf_ring *r = ring_alloc(cache, cap);
    if (!r)
        return -1;
    r->cap = cap;
    r->head = 0;
    r->len = 0;
    if (old) {
        ring_copy_out(old, 0, r->data, old->len);
        r->len = old->len;
        ring_release(cache, old);
    }
    b->ring = r;
    return 0;
}

uint32_t bytebuf_append(struct bytebuf *b, struct bytebuf_cache *cache, const void *src, uint32_t len)
{
    uint32_t space = bytebuf_space(b), have = bytebuf_len(b);
    if (len > space)
        len = space;
    if (!len || (have + len > bytebuf_cap(b) && bytebuf_grow(b, cache, have + len) < 0))
        return 0;
    struct bytebuf_ring *r = b->ring;
    uint32_t tail = (r->head + r->len) & (r->cap - 1);
    uint32_t first = r->cap - tail < len ? r->cap - tail : len;
    memcpy(r->data + tail, src, first);
    if (first < len) /* wrapped */
        memcpy(r->data, (const uint8_t *)src + first, len - first);
    r->len += len;
    return len;
}

void bytebuf_copy_out(const struct bytebuf *b, uint32_t off, void *dst, uint32_t len)
{
    if (len)
        ring_copy_out(b->ring, off, dst, len);
}

const uint8_t *bytebuf_view_wrapped(const struct bytebuf *b, uint32_t off, uint32_t len, uint8_t *scratch)
{
    ring_copy_out(b->ring, off, scratch, len);
    return scratch;
}
