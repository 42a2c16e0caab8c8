/* Intrusive hash table with incremental doubling: see hash_table.h. */
#include "tcp/hash_table.h"

#include <errno.h>
#include <stdlib.h>

#define HASH_TABLE_MAX_LOAD_ON_ENOMEM 8 /* chain this long before refusing */

static struct hash_node **buckets_alloc(size_t n)
{
    if (n > SIZE_MAX / sizeof(struct hash_node *))
        return NULL;
    return calloc(n, sizeof(struct hash_node *));
}

/* Fibonacci hashing: the top bits of hash * MIX. Doubling splits old
 * bucket i into new buckets 2i and 2i + 1. */
static inline size_t bucket_of(uint64_t hash, unsigned shift)
{
    return (size_t)((hash * HASH_TABLE_MIX) >> shift);
}

/* The chain that holds (or will hold) `hash`: an old bucket below
 * rehash_index has been moved to the new array. */
static inline struct hash_node **chain_of(const struct hash_table *t, uint64_t hash)
{
    size_t i = bucket_of(hash, t->shift);
    if (t->new_buckets != NULL && i < t->rehash_index)
        return &t->new_buckets[bucket_of(hash, t->shift - 1)];
    return &t->buckets[i];
}

/* Moves up to `steps` old buckets to the new array; swaps the arrays when
 * the last one is moved. */
static void rehash_step(struct hash_table *t, size_t steps)
{
    while (steps-- > 0 && t->rehash_index <= t->mask) {
        struct hash_node *n = t->buckets[t->rehash_index];
        t->buckets[t->rehash_index] = NULL;
        while (n != NULL) {
            struct hash_node *next = n->next;
            struct hash_node **chain = &t->new_buckets[bucket_of(n->hash, t->shift - 1)];
            n->next = *chain;
            *chain = n;
            n = next;
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
    struct hash_node **b = buckets_alloc(size * 2);
    if (b == NULL)
        return false;
    t->new_buckets = b;
    t->rehash_index = 0;
    return true;
}

int hash_table_init(struct hash_table *t, size_t initial_buckets)
{
    t->buckets = NULL;
    t->mask = 0;
    t->shift = 64;
    t->new_buckets = NULL;
    t->rehash_index = 0;
    t->count = 0;
    size_t size = HASH_TABLE_MIN_BUCKETS;
    while (size < initial_buckets) {
        if (size > SIZE_MAX / 2 / sizeof(struct hash_node *))
            return -ENOMEM;
        size *= 2;
    }
    t->buckets = buckets_alloc(size);
    if (t->buckets == NULL)
        return -ENOMEM;
    t->mask = size - 1;
    t->shift = 64u - (unsigned)__builtin_ctzll((unsigned long long)size);
    return 0;
}

void hash_table_free(struct hash_table *t)
{
    free(t->buckets);
    free(t->new_buckets);
    t->buckets = NULL;
    t->mask = 0;
    t->shift = 64;
    t->new_buckets = NULL;
    t->rehash_index = 0;
    t->count = 0;
}

int hash_table_insert(struct hash_table *t, struct hash_node *n, uint64_t hash)
{
    if (t->buckets == NULL && hash_table_init(t, 0) != 0) /* freed or failed init */
        return -ENOMEM;
    if (t->new_buckets != NULL) {
        rehash_step(t, HASH_TABLE_REHASH_STEP);
    } else if (t->count >= t->mask + 1) { /* load would exceed 1 */
        if (grow_start(t))
            rehash_step(t, HASH_TABLE_REHASH_STEP);
        else if (t->count / HASH_TABLE_MAX_LOAD_ON_ENOMEM >= t->mask + 1)
            return -ENOMEM;
    }
    struct hash_node **chain = chain_of(t, hash);
    n->hash = hash;
    n->next = *chain;
    *chain = n;
    t->count++;
    return 0;
}

void hash_table_remove(struct hash_table *t, struct hash_node *n)
{
    if (t->buckets == NULL)
        return;
    struct hash_node **pp = chain_of(t, n->hash);
    while (*pp != NULL && *pp != n)
        pp = &(*pp)->next;
    if (*pp == NULL) /* not in this table */
        return;
    *pp = n->next;
    n->next = NULL;
    t->count--;
}

struct hash_node *hash_table_first(const struct hash_table *t, uint64_t hash)
{
    if (t->buckets == NULL)
        return NULL;
    for (struct hash_node *n = *chain_of(t, hash); n != NULL; n = n->next)
        if (n->hash == hash)
            return n;
    return NULL;
}

struct hash_node *hash_table_next(const struct hash_node *n)
{
    for (struct hash_node *m = n->next; m != NULL; m = m->next)
        if (m->hash == n->hash)
            return m;
    return NULL;
}

/* Walks one array's chains from bucket `from`; true if fn asked to stop.
 * The next pointer is read before fn runs, so fn may unlink its node. */
static bool walk_buckets(struct hash_node **buckets, size_t from, size_t mask,
                         int (*fn)(void *ctx, struct hash_node *n), void *ctx)
{
    for (size_t i = from; i <= mask; i++) {
        for (struct hash_node *n = buckets[i], *next; n != NULL; n = next) {
            next = n->next;
            if (fn(ctx, n) != 0)
                return true;
        }
    }
    return false;
}

void hash_table_walk(const struct hash_table *t, int (*fn)(void *ctx, struct hash_node *n), void *ctx)
{
    if (t->buckets == NULL)
        return;
    /* Removal never moves buckets, so both arrays stay as they are. */
    if (walk_buckets(t->buckets, t->rehash_index, t->mask, fn, ctx))
        return;
    if (t->new_buckets != NULL)
        walk_buckets(t->new_buckets, 0, t->mask * 2 + 1, fn, ctx);
}
