/* A byte ring for send and receive buffers: allocated on first use (64 bytes
 * or the next power of two that holds the data), grown by doubling up to its
 * limit and freed when it empties, so idle connections cost no buffer memory
 * (DESIGN.md §1: buffers are separate from control blocks). */
#ifndef SYNACK_BYTEBUF_H
#define SYNACK_BYTEBUF_H

#include <stddef.h>
#include <stdint.h>

struct bytebuf {
    uint8_t *data;
    uint32_t cap;   /* allocated, power of two (0: nothing allocated) */
    uint32_t head;  /* index of the first byte */
    uint32_t len;   /* bytes held */
    uint32_t limit; /* most bytes it may hold */
};

void bytebuf_init(struct bytebuf *b, uint32_t limit);
void bytebuf_free(struct bytebuf *b);
static inline uint32_t bytebuf_len(const struct bytebuf *b) { return b->len; }
static inline uint32_t bytebuf_space(const struct bytebuf *b) { return b->limit > b->len ? b->limit - b->len : 0; }
/* Appends up to len bytes (bounded by the limit and memory); returns how many. */
uint32_t bytebuf_append(struct bytebuf *b, const void *src, uint32_t len);
/* Copies len bytes starting off bytes from the front into dst. */
void bytebuf_copy_out(const struct bytebuf *b, uint32_t off, void *dst, uint32_t len);
/* A pointer to len contiguous bytes at off: into the ring when they do not
 * wrap, else copied into scratch. */
const uint8_t *bytebuf_view(const struct bytebuf *b, uint32_t off, uint32_t len, uint8_t *scratch);
/* Drops len bytes from the front; frees the storage when it empties. */
void bytebuf_consume(struct bytebuf *b, uint32_t len);

#endif
