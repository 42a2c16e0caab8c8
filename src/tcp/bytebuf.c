#include "tcp/bytebuf.h"

#include <stdlib.h>
#include <string.h>

#define BYTEBUF_MIN_CAP 64

void bytebuf_init(struct bytebuf *b, uint32_t limit)
{
    b->ring = NULL;
    b->limit = limit;
}

void bytebuf_free(struct bytebuf *b)
{
    free(b->ring);
    b->ring = NULL;
}

static void ring_copy_out(const struct bytebuf_ring *r, uint32_t off, void *dst, uint32_t len)
{
    uint32_t start = (r->head + off) & (r->cap - 1);
    uint32_t first = r->cap - start < len ? r->cap - start : len;
    memcpy(dst, r->data + start, first);
    memcpy((uint8_t *)dst + first, r->data, len - first);
}

static int bytebuf_grow(struct bytebuf *b, uint32_t need)
{
    /* Small first: a request or a response fits a malloc size class that
     * the allocator's per-thread cache serves. */
    struct bytebuf_ring *old = b->ring;
    uint32_t cap = old ? old->cap : BYTEBUF_MIN_CAP;
    while (cap < need)
        cap *= 2;
    if (old && cap == old->cap)
        return 0;
    struct bytebuf_ring *r = malloc(sizeof *r + cap);
    if (!r)
        return -1;
    r->cap = cap;
    r->head = 0;
    r->len = 0;
    if (old) {
        ring_copy_out(old, 0, r->data, old->len);
        r->len = old->len;
        free(old);
    }
    b->ring = r;
    return 0;
}

uint32_t bytebuf_append(struct bytebuf *b, const void *src, uint32_t len)
{
    uint32_t space = bytebuf_space(b), have = bytebuf_len(b);
    if (len > space)
        len = space;
    if (!len || (have + len > bytebuf_cap(b) && bytebuf_grow(b, have + len) < 0))
        return 0;
    struct bytebuf_ring *r = b->ring;
    uint32_t tail = (r->head + r->len) & (r->cap - 1);
    uint32_t first = r->cap - tail < len ? r->cap - tail : len;
    memcpy(r->data + tail, src, first);
    memcpy(r->data, (const uint8_t *)src + first, len - first);
    r->len += len;
    return len;
}

void bytebuf_copy_out(const struct bytebuf *b, uint32_t off, void *dst, uint32_t len)
{
    if (len)
        ring_copy_out(b->ring, off, dst, len);
}

const uint8_t *bytebuf_view(const struct bytebuf *b, uint32_t off, uint32_t len, uint8_t *scratch)
{
    if (!len)
        return NULL;
    const struct bytebuf_ring *r = b->ring;
    uint32_t start = (r->head + off) & (r->cap - 1);
    if (start + len <= r->cap)
        return r->data + start;
    ring_copy_out(r, off, scratch, len);
    return scratch;
}

void bytebuf_consume(struct bytebuf *b, uint32_t len)
{
    struct bytebuf_ring *r = b->ring;
    if (!r || len >= r->len) {
        bytebuf_free(b);
        return;
    }
    r->head = (r->head + len) & (r->cap - 1);
    r->len -= len;
}
