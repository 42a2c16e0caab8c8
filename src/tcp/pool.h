/* Fixed-size object pools with 32-bit indices, for the connection tables.
 *
 * A 48-byte malloc costs 64 bytes and a pointer costs 8; a table of a
 * million small entries pays that twice. Objects here live in blocks of
 * 2^shift objects (one malloc per block, like Linux's slab caches) and are
 * named by an index below POOL_INDEX_LIMIT, so links between them take 4
 * bytes. Objects never move: pointers stay valid until the object is freed.
 *
 * struct pool: any-order alloc and free through a free list threaded
 * through the free objects (LIFO, cache-warm; FIFO under ASan, so that a
 * use after free meets a poisoned object for as long as possible).
 *
 * struct ring: alloc at the tail, release at the head only (a FIFO whose
 * slots are the objects, for entries that all expire in allocation order:
 * TIME-WAIT). Indices are sequence numbers modulo POOL_INDEX_LIMIT; each
 * block carries a 64-bit tag for its owner (a time base).
 *
 * Sans-I/O, no globals; allocates only blocks (malloc/free). */
#ifndef SYNACK_TCP_POOL_H
#define SYNACK_TCP_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POOL_INDEX_BITS 24 /* with 3 bits of pool: a hash_table reference */
#define POOL_INDEX_LIMIT (UINT32_C(1) << POOL_INDEX_BITS)

struct pool {
    uint8_t **blocks;
    uint32_t nblocks, cap_blocks;
    uint32_t obj_size;
    unsigned shift;     /* objects per block: 1 << shift */
    uint32_t free_head; /* index + 1 of the first free object; 0: none */
    uint32_t free_tail; /* (FIFO mode) */
    uint32_t used;      /* objects handed out from fresh blocks so far */
    size_t live;
    size_t max_live; /* pool_alloc fails beyond this many (SIZE_MAX; tests lower it) */
};

/* obj_size >= 4, rounded up to 4; shift: log2 objects per block. */
void pool_init(struct pool *p, size_t obj_size, unsigned shift);
/* Frees every block (objects still in use included). */
void pool_destroy(struct pool *p);
/* A zeroed object and its index, or NULL when memory or indices run out. */
void *pool_alloc(struct pool *p, uint32_t *index);
void pool_free(struct pool *p, uint32_t index);
static inline void *pool_at(const struct pool *p, uint32_t index)
{
    return p->blocks[index >> p->shift] + (size_t)(index & ((1u << p->shift) - 1)) * p->obj_size;
}
/* What pool_init and ring_init make of obj_size. */
#define POOL_OBJ_SIZE(n) (((size_t)(n) + 3) & ~(size_t)3)
/* pool_at for a caller that knows the pool's shift and obj_size (exactly as
 * given to pool_init) as constants: neither is loaded, nothing multiplied
 * by a variable. The hot accessors of the connection tables use it. */
static inline void *pool_at_fixed(const struct pool *p, uint32_t index, unsigned shift, size_t obj_size)
{
    return p->blocks[index >> shift] + (size_t)(index & ((1u << shift) - 1)) * POOL_OBJ_SIZE(obj_size);
}

struct ring {
    uint8_t **blocks;   /* by block number modulo cap_blocks */
    uint64_t *tags;     /* one per block slot */
    uint32_t cap_blocks; /* power of two */
    uint32_t obj_size;
    unsigned shift;
    uint32_t head, tail; /* sequence numbers modulo POOL_INDEX_LIMIT */
};

void ring_init(struct ring *r, size_t obj_size, unsigned shift);
void ring_destroy(struct ring *r);
static inline uint32_t ring_count(const struct ring *r)
{
    return (r->tail - r->head) & (POOL_INDEX_LIMIT - 1);
}
static inline bool ring_empty(const struct ring *r) { return r->head == r->tail; }
/* A zeroed object at the tail and its index, or NULL. *fresh_block is set
 * when it is the first of its block (its tag is then the caller's to set). */
void *ring_push(struct ring *r, uint32_t *index, bool *fresh_block);
/* Releases the head object. */
void ring_pop(struct ring *r);
static inline void *ring_at(const struct ring *r, uint32_t index)
{
    return r->blocks[(index >> r->shift) & (r->cap_blocks - 1)] +
           (size_t)(index & ((1u << r->shift) - 1)) * r->obj_size;
}
/* ring_at with constant shift and obj_size, as pool_at_fixed. */
static inline void *ring_at_fixed(const struct ring *r, uint32_t index, unsigned shift, size_t obj_size)
{
    return r->blocks[(index >> shift) & (r->cap_blocks - 1)] +
           (size_t)(index & ((1u << shift) - 1)) * POOL_OBJ_SIZE(obj_size);
}
static inline uint64_t *ring_tag(const struct ring *r, uint32_t index)
{
    return &r->tags[(index >> r->shift) & (r->cap_blocks - 1)];
}
/* Slots left in the tail's block (so a caller can start a new block). */
static inline uint32_t ring_block_room(const struct ring *r)
{
    return (1u << r->shift) - (r->tail & ((1u << r->shift) - 1));
}

#endif
