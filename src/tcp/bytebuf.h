/* A byte ring for send and receive buffers: allocated on first use (64 bytes
 * or the next power of two that holds the data), grown by doubling up to its
 * limit and freed when it empties, so idle connections cost no buffer memory
 * (DESIGN.md §1: buffers are separate from control blocks). The ring's
 * bookkeeping lives at the front of its storage: an empty buffer is a NULL
 * pointer and a limit, 12 bytes of the control block. */
#ifndef SYNACK_BYTEBUF_H
#define SYNACK_BYTEBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bytebuf_ring {
    uint32_t cap;  /* power of two */
    uint32_t head; /* index of the first byte */
    uint32_t len;  /* bytes held (> 0) */
    uint8_t data[];
};

struct bytebuf {
    struct bytebuf_ring *ring; /* NULL: empty, nothing allocated */
    uint32_t limit;            /* most bytes it may hold */
} __attribute__((packed, aligned(4)));

/* Rings of the smallest capacities that emptied lately, kept for the next
 * buffer instead of a free() and a malloc(): a connection carrying one
 * request and one response empties four. A free ring's first bytes of
 * data link it to the next of its class. */
#define BYTEBUF_CACHE_CLASSES 4 /* capacities 64, 128, 256 and 512 */
#define BYTEBUF_CACHE_DEPTH 16  /* rings kept per class */
struct bytebuf_cache {
    struct bytebuf_ring *head[BYTEBUF_CACHE_CLASSES];
    uint8_t count[BYTEBUF_CACHE_CLASSES];
};
void bytebuf_cache_destroy(struct bytebuf_cache *cache);
/* Under ASan nothing is cached, so that a use after free meets freed memory. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BYTEBUF_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(BYTEBUF_ASAN)
#define BYTEBUF_ASAN 1
#endif
static inline bool bytebuf_cache_enabled(void)
{
#ifdef BYTEBUF_ASAN
    return false;
#else
    return true;
#endif
}

/* Every call that may allocate or free takes the owner's cache (NULL:
 * malloc and free alone). */
void bytebuf_init(struct bytebuf *b, uint32_t limit);
void bytebuf_free_ring(struct bytebuf *b, struct bytebuf_cache *cache); /* b->ring != NULL */
/* Inline: most buffers are empty (nothing allocated) when freed. */
static inline void bytebuf_free(struct bytebuf *b, struct bytebuf_cache *cache)
{
    if (b->ring)
        bytebuf_free_ring(b, cache);
}
static inline uint32_t bytebuf_len(const struct bytebuf *b) { return b->ring ? b->ring->len : 0; }
static inline uint32_t bytebuf_cap(const struct bytebuf *b) { return b->ring ? b->ring->cap : 0; }
static inline uint32_t bytebuf_space(const struct bytebuf *b)
{
    uint32_t len = bytebuf_len(b);
    return b->limit > len ? b->limit - len : 0;
}
/* Appends up to len bytes (bounded by the limit and memory); returns how many. */
uint32_t bytebuf_append(struct bytebuf *b, struct bytebuf_cache *cache, const void *src, uint32_t len);
/* Copies len bytes starting off bytes from the front into dst. */
void bytebuf_copy_out(const struct bytebuf *b, uint32_t off, void *dst, uint32_t len);
/* A pointer to len contiguous bytes at off: into the ring when they do not
 * wrap, else copied into scratch. Inline, as bytebuf_consume: once or more
 * for every segment. */
const uint8_t *bytebuf_view_wrapped(const struct bytebuf *b, uint32_t off, uint32_t len, uint8_t *scratch);
static inline const uint8_t *bytebuf_view(const struct bytebuf *b, uint32_t off, uint32_t len, uint8_t *scratch)
{
    if (!len)
        return NULL;
    struct bytebuf_ring *r = b->ring;
    uint32_t start = (r->head + off) & (r->cap - 1);
    if (start + len <= r->cap)
        return r->data + start;
    return bytebuf_view_wrapped(b, off, len, scratch);
}
/* Drops len bytes from the front; frees the storage when it empties. */
static inline void bytebuf_consume(struct bytebuf *b, struct bytebuf_cache *cache, uint32_t len)
{
    struct bytebuf_ring *r = b->ring;
    if (!r)
        return;
    if (len >= r->len) {
        bytebuf_free_ring(b, cache);
        return;
    }
    r->head = (r->head + len) & (r->cap - 1);
    r->len -= len;
}

#endif
