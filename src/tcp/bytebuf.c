#include "tcp/bytebuf.h"

#include <stdlib.h>
#include <string.h>

#define BYTEBUF_MIN_CAP 64

void bytebuf_init(struct bytebuf *b, uint32_t limit)
{
    memset(b, 0, sizeof *b);
    b->limit = limit;
}

void bytebuf_free(struct bytebuf *b)
{
    free(b->data);
    b->data = NULL;
    b->cap = b->head = b->len = 0;
}

static int bytebuf_grow(struct bytebuf *b, uint32_t need)
{
    /* Small first: a request or a response fits a malloc size class that
     * the allocator's per-thread cache serves. */
    uint32_t cap = b->cap ? b->cap : BYTEBUF_MIN_CAP;
    while (cap < need)
        cap *= 2;
    if (cap == b->cap)
        return 0;
    uint8_t *data = malloc(cap);
    if (!data)
        return -1;
    if (b->len)
        bytebuf_copy_out(b, 0, data, b->len);
    free(b->data);
    b->data = data;
    b->cap = cap;
    b->head = 0;
    return 0;
}

uint32_t bytebuf_append(struct bytebuf *b, const void *src, uint32_t len)
{
    uint32_t space = bytebuf_space(b);
    if (len > space)
        len = space;
    if (!len || (b->len + len > b->cap && bytebuf_grow(b, b->len + len) < 0))
        return 0;
    uint32_t tail = (b->head + b->len) & (b->cap - 1);
    uint32_t first = b->cap - tail < len ? b->cap - tail : len;
    memcpy(b->data + tail, src, first);
    memcpy(b->data, (const uint8_t *)src + first, len - first);
    b->len += len;
    return len;
}

void bytebuf_copy_out(const struct bytebuf *b, uint32_t off, void *dst, uint32_t len)
{
    uint32_t start = (b->head + off) & (b->cap - 1);
    uint32_t first = b->cap - start < len ? b->cap - start : len;
    memcpy(dst, b->data + start, first);
    memcpy((uint8_t *)dst + first, b->data, len - first);
}

const uint8_t *bytebuf_view(const struct bytebuf *b, uint32_t off, uint32_t len, uint8_t *scratch)
{
    if (!len)
        return NULL;
    uint32_t start = (b->head + off) & (b->cap - 1);
    if (start + len <= b->cap)
        return b->data + start;
    bytebuf_copy_out(b, off, scratch, len);
    return scratch;
}

void bytebuf_consume(struct bytebuf *b, uint32_t len)
{
    if (len >= b->len) {
        bytebuf_free(b);
        return;
    }
    b->head = (b->head + len) & (b->cap - 1);
    b->len -= len;
}
