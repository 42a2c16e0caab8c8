/* Intrusive hash table with incremental doubling: see hash_table.h. */
#include "tcp/hash_table.h"

#include <errno.h>
#include <stdlib.h>

#define HASH_TABLE_MAX_LOAD_ON_ENOMEM 8 /* chain this long before refusing */

static uint32_t *buckets_alloc(size_t n)
{
    if (n > SIZE_MAX / sizeof(uint32_t))
        return NULL;
    return calloc(n, sizeof(uint32_t));
}

/* Fibonacci hashing: the top bits of hash * MIX. Doubling splits old
 * bucket i into new buckets 2i and 2i + 1. */
static inline size_t bucket_of(uint32_t hash, unsigned shift)
{
    return (size_t)((uint32_t)(hash * HASH_TABLE_MIX) >> shift);
}

/* The chain head that holds (or will hold) `hash`: an old bucket below
 * rehash_index has been moved to the new array. */
static inline uint32_t *chain_of(const struct hash_table *t, uint32_t hash)
{
    size_t i = bucket_of(hash, t->shift);
    if (t->new_buckets != NULL && i < t->rehash_index)
        return &t->new_buckets[bucket_of(hash, t->shift - 1)];
    return &t->buckets[i];
}

static inline uint32_t link_of(uint32_t ref, uint32_t hash, bool more)
{
    return ref << (HASH_TABLE_TAG_BITS + 1) | hash_table_tag(hash) << 1 | (uint32_t)more;
}

/* Puts `ref` at the head of the chain at `*chain`. */
static inline void push_front(struct hash_table *t, uint32_t *chain, uint32_t ref, uint32_t hash)
{
    *t->next_of(t->ctx, ref) = *chain;
    *chain = link_of(ref, hash, *chain != 0);
}

/* Moves up to `steps` old buckets to the new array; swaps the arrays when
 * the last one is moved. */
static void rehash_step(struct hash_table *t, size_t steps)
{
    while (steps-- > 0 && t->rehash_index <= t->mask) {
        uint32_t link = t->buckets[t->rehash_index];
        t->buckets[t->rehash_index] = 0;
        while (link != 0) {
            uint32_t ref = hash_table_link_ref(link);
            uint32_t next = *t->next_of(t->ctx, ref);
            uint32_t hash = t->hash_of(t->ctx, ref);
            push_front(t, &t->new_buckets[bucket_of(hash, t->shift - 1)], ref, hash);
            link = next;
        }
        t->rehash_index++;
    }
    if (t->rehash_index > t->mask) {
        free(t->buckets);
        t->buckets = t->new_buckets;
        t->mask = t->mask * 2 + 1;
        t->shift--;
        t->new_buckets = NULL;
        t->rehash_index = 0;
    }
}

/* Starts doubling; false if the new array cannot be had. */
static bool grow_start(struct hash_table *t)
{
    size_t size = t->mask + 1;
    if (size > SIZE_MAX / 2 || t->shift <= 1)
        return false;
    uint32_t *b = buckets_alloc(size * 2);
    if (b == NULL)
        return false;
    t->new_buckets = b;
    t->rehash_index = 0;
    return true;
}

static int table_alloc(struct hash_table *t, size_t initial_buckets)
{
    size_t size = HASH_TABLE_MIN_BUCKETS;
    while (size < initial_buckets) {
        if (size >= ((size_t)1 << 31))
            return -ENOMEM;
        size *= 2;
    }
    t->buckets = buckets_alloc(size);
    if (t->buckets == NULL)
        return -ENOMEM;
    t->mask = size - 1;
    t->shift = 32u - (unsigned)__builtin_ctzll((unsigned long long)size);
    return 0;
}

/* An empty table with no storage. */
static void table_reset(struct hash_table *t)
{
    t->buckets = NULL;
    t->mask = 0;
    t->shift = 32;
    t->new_buckets = NULL;
    t->rehash_index = 0;
    t->count = 0;
}

int hash_table_init(struct hash_table *t, size_t initial_buckets, hash_table_next_fn next_of,
                    hash_table_hash_fn hash_of, void *ctx)
{
    table_reset(t);
    t->next_of = next_of;
    t->hash_of = hash_of;
    t->ctx = ctx;
    return table_alloc(t, initial_buckets);
}

void hash_table_free(struct hash_table *t)
{
    free(t->buckets);
    free(t->new_buckets);
    table_reset(t);
}

int hash_table_insert(struct hash_table *t, uint32_t ref, uint32_t hash)
{
    if (t->buckets == NULL && table_alloc(t, 0) != 0) /* freed or failed init */
        return -ENOMEM;
    if (t->new_buckets != NULL) {
        rehash_step(t, HASH_TABLE_REHASH_STEP);
    } else if (t->count >= HASH_TABLE_MAX_LOAD * (t->mask + 1)) {
        if (grow_start(t))
            rehash_step(t, HASH_TABLE_REHASH_STEP);
        else if (t->count / HASH_TABLE_MAX_LOAD_ON_ENOMEM >= t->mask + 1)
            return -ENOMEM;
    }
    push_front(t, chain_of(t, hash), ref, hash);
    t->count++;
    return 0;
}

bool hash_table_remove(struct hash_table *t, uint32_t ref, uint32_t hash)
{
    if (t->buckets == NULL)
        return false;
    /* pp: the link to the current entry; before: the link to its predecessor. */
    uint32_t *before = NULL, *pp = chain_of(t, hash);
    while (*pp != 0 && hash_table_link_ref(*pp) != ref) {
        before = pp;
        pp = t->next_of(t->ctx, hash_table_link_ref(*pp));
    }
    if (*pp == 0) /* not in this table */
        return false;
    uint32_t *link = t->next_of(t->ctx, ref);
    *pp = *link;
    if (*link == 0 && before != NULL)
        *before &= ~UINT32_C(1); /* the predecessor is now last */
    *link = 0;
    t->count--;
    return true;
}

/* Walks one array's chains from bucket `from`; true if fn asked to stop.
 * The next reference is read before fn runs, so fn may unlink its entry. */
static bool walk_buckets(const struct hash_table *t, uint32_t *buckets, size_t from, size_t mask,
                         int (*fn)(void *ctx, uint32_t ref), void *ctx)
{
    for (size_t i = from; i <= mask; i++) {
        for (uint32_t link = buckets[i], next; link != 0; link = next) {
            uint32_t ref = hash_table_link_ref(link);
            next = (link & 1) ? *t->next_of(t->ctx, ref) : 0;
            if (fn(ctx, ref) != 0)
                return true;
        }
    }
    return false;
}

void hash_table_walk(const struct hash_table *t, int (*fn)(void *ctx, uint32_t ref), void *ctx)
{
    if (t->buckets == NULL)
        return;
    /* Removal never moves buckets, so both arrays stay as they are. */
    if (walk_buckets(t, t->buckets, t->rehash_index, t->mask, fn, ctx))
        return;
    if (t->new_buckets != NULL)
        walk_buckets(t, t->new_buckets, 0, t->mask * 2 + 1, fn, ctx);
}
