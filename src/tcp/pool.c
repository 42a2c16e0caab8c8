/* Object pools and rings: see pool.h. */
#include "tcp/pool.h"

#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(POOL_ASAN)
#define POOL_ASAN 1
#endif
#ifdef POOL_ASAN
#include <sanitizer/asan_interface.h>
#define POOL_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define POOL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POOL_POISON(p, n) ((void)(p), (void)(n))
#define POOL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

void pool_init(struct pool *p, size_t obj_size, unsigned shift)
{
    memset(p, 0, sizeof *p);
    p->obj_size = (uint32_t)POOL_OBJ_SIZE(obj_size);
    p->shift = shift;
    p->max_live = SIZE_MAX;
}

void pool_destroy(struct pool *p)
{
    for (uint32_t i = 0; i < p->nblocks; i++) {
        POOL_UNPOISON(p->blocks[i], (size_t)p->obj_size << p->shift);
        free(p->blocks[i]);
    }
    free(p->blocks);
    pool_init(p, p->obj_size, p->shift);
}

/* The free list's link lives in a free object's first 4 bytes. */
static uint32_t *free_link(const struct pool *p, uint32_t index)
{
    return (uint32_t *)pool_at(p, index);
}

void *pool_alloc(struct pool *p, uint32_t *index)
{
    uint32_t i;
    if (p->live >= p->max_live)
        return NULL;
    if (p->free_head) {
        i = p->free_head - 1;
        uint32_t *link = free_link(p, i);
        POOL_UNPOISON(link, p->obj_size);
        p->free_head = *link;
        if (!p->free_head)
            p->free_tail = 0;
    } else {
        uint32_t per_block = 1u << p->shift;
        if (p->used >= POOL_INDEX_LIMIT)
            return NULL;
        if (p->used == p->nblocks * per_block) {
            if (p->nblocks == p->cap_blocks) {
                uint32_t cap = p->cap_blocks ? p->cap_blocks * 2 : 8;
                uint8_t **b = realloc(p->blocks, cap * sizeof *b);
                if (!b)
                    return NULL;
                p->blocks = b;
                p->cap_blocks = cap;
            }
            uint8_t *block = malloc((size_t)p->obj_size << p->shift);
            if (!block)
                return NULL;
            POOL_POISON(block, (size_t)p->obj_size << p->shift);
            p->blocks[p->nblocks++] = block;
        }
        i = p->used++;
    }
    void *obj = pool_at(p, i);
    POOL_UNPOISON(obj, p->obj_size);
    memset(obj, 0, p->obj_size);
    p->live++;
    *index = i;
    return obj;
}

void pool_free(struct pool *p, uint32_t index)
{
    uint32_t *link = free_link(p, index);
    *link = 0;
#ifdef POOL_ASAN
    if (p->free_tail) { /* FIFO: delay reuse */
        uint32_t *tail = free_link(p, p->free_tail - 1);
        POOL_UNPOISON(tail, 4);
        *tail = index + 1;
        POOL_POISON(tail, p->obj_size);
    } else {
        p->free_head = index + 1;
    }
    p->free_tail = index + 1;
#else
    *link = p->free_head;
    p->free_head = index + 1;
#endif
    POOL_POISON(link, p->obj_size);
    p->live--;
}

void ring_init(struct ring *r, size_t obj_size, unsigned shift)
{
    memset(r, 0, sizeof *r);
    r->obj_size = (uint32_t)POOL_OBJ_SIZE(obj_size);
    r->shift = shift;
}

void ring_destroy(struct ring *r)
{
    for (uint32_t i = 0; i < r->cap_blocks; i++) {
        if (r->blocks[i]) {
            POOL_UNPOISON(r->blocks[i], (size_t)r->obj_size << r->shift);
            free(r->blocks[i]);
        }
    }
    free(r->blocks);
    free(r->tags);
    ring_init(r, r->obj_size, r->shift);
}

/* Doubles the block table; live blocks keep their block numbers. */
static bool ring_grow(struct ring *r)
{
    uint32_t cap = r->cap_blocks ? r->cap_blocks * 2 : 8;
    if (((uint64_t)cap << r->shift) > POOL_INDEX_LIMIT)
        return false;
    uint8_t **b = calloc(cap, sizeof *b);
    uint64_t *t = calloc(cap, sizeof *t);
    if (!b || !t) {
        free(b);
        free(t);
        return false;
    }
    uint32_t block_mask = (POOL_INDEX_LIMIT >> r->shift) - 1;
    for (uint32_t k = 0; k < r->cap_blocks; k++) {
        if (!r->blocks[k])
            continue;
        /* The block number of slot k: the one in [head's block, +cap) */
        uint32_t head_block = r->head >> r->shift;
        uint32_t n = (head_block + ((k - head_block) & (r->cap_blocks - 1))) & block_mask;
        b[n & (cap - 1)] = r->blocks[k];
        t[n & (cap - 1)] = r->tags[k];
    }
    free(r->blocks);
    free(r->tags);
    r->blocks = b;
    r->tags = t;
    r->cap_blocks = cap;
    return true;
}

void *ring_push(struct ring *r, uint32_t *index, bool *fresh_block)
{
    uint32_t per_block = 1u << r->shift;
    uint32_t off = r->tail & (per_block - 1);
    *fresh_block = false;
    if (off == 0 || !r->blocks) {
        /* A new block: the table must hold every block from head's to tail's. */
        uint32_t blocks_used = ((r->tail - (r->head & ~(per_block - 1))) & (POOL_INDEX_LIMIT - 1)) >> r->shift;
        if ((blocks_used + 1 > r->cap_blocks || !r->blocks) && !ring_grow(r))
            return NULL;
        uint8_t **slot = &r->blocks[(r->tail >> r->shift) & (r->cap_blocks - 1)];
        if (!*slot) {
            *slot = malloc((size_t)r->obj_size << r->shift);
            if (!*slot)
                return NULL;
            POOL_POISON(*slot, (size_t)r->obj_size << r->shift);
            *fresh_block = true;
        }
    }
    uint32_t i = r->tail;
    void *obj = ring_at(r, i);
    POOL_UNPOISON(obj, r->obj_size);
    memset(obj, 0, r->obj_size);
    r->tail = (r->tail + 1) & (POOL_INDEX_LIMIT - 1);
    *index = i;
    return obj;
}

void ring_pop(struct ring *r)
{
    uint32_t per_block = 1u << r->shift;
    POOL_POISON(ring_at(r, r->head), r->obj_size);
    r->head = (r->head + 1) & (POOL_INDEX_LIMIT - 1);
    /* A block the head has left, and the tail too, is done. */
    if ((r->head & (per_block - 1)) == 0 || r->head == r->tail) {
        uint32_t last = (r->head - 1) & (POOL_INDEX_LIMIT - 1);
        bool tail_in_it = r->head == r->tail && (r->head & (per_block - 1)) != 0;
        if (!tail_in_it) {
            uint8_t **slot = &r->blocks[(last >> r->shift) & (r->cap_blocks - 1)];
            free(*slot);
            *slot = NULL;
        }
    }
}
