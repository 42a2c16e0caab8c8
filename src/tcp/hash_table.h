/* Intrusive chained hash table with incremental rehashing.
 *
 * The connection tables (established, half-open, TIME-WAIT) look up a
 * 4-tuple for every segment and must stay fast at 1,000,000 entries. The
 * caller embeds a hash_node in its struct, computes a well-mixed 64-bit
 * hash of the key itself (keyed SipHash over the 4-tuple, so that remote
 * peers cannot aim at one chain) and compares keys itself: the table only
 * files nodes by hash and hands back the candidates with an equal hash.
 *
 * Buckets are singly linked chains; the bucket count is a power of two and
 * the bucket of a hash is the top bits of hash * HASH_TABLE_MIX (Fibonacci
 * hashing, Knuth TAOCP 6.4), so every bit of the hash counts: a caller that
 * forces the low bit (to keep 0 as "not hashed") or hashes small integers
 * still spreads over all buckets. The table doubles when an insert
 * would take the load above 1. Doubling is incremental, as in Redis's
 * dict.c: the old and the new bucket arrays live side by side and every
 * insert moves HASH_TABLE_REHASH_STEP old buckets to the new array, so no
 * single insert ever costs O(n) (a million-entry table does not stall) and
 * the move is finished long before the next doubling is due. Meanwhile a
 * hash's chain is in the old array if its old bucket has not been moved yet,
 * in the new one otherwise, so a lookup still reads exactly one chain.
 * Removals never move buckets, which is what makes removal during a walk
 * safe (see hash_table_walk). The table does not shrink.
 *
 * Sans-I/O, no global state; allocates only bucket arrays (calloc/free).
 * Not thread-safe. */
#ifndef SYNACK_TCP_HASH_TABLE_H
#define SYNACK_TCP_HASH_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Embed in the owning struct; recover the owner with offsetof. `hash` is
 * set by hash_table_insert and read-only afterwards. */
struct hash_node {
    struct hash_node *next;
    uint64_t hash;
};

#define HASH_TABLE_REHASH_STEP 4 /* old buckets moved per insert while doubling */
#define HASH_TABLE_MIN_BUCKETS 4
#define HASH_TABLE_MIX UINT64_C(0x9e3779b97f4a7c15) /* 2^64 / golden ratio, odd */

/* Internals are public only so the table can be embedded by value. */
struct hash_table {
    struct hash_node **buckets;     /* the table; the old one while rehashing */
    size_t mask;                    /* bucket count - 1 */
    unsigned shift;                 /* 64 - log2(bucket count) */
    struct hash_node **new_buckets; /* the doubled table, NULL unless rehashing */
    size_t rehash_index;            /* buckets[0 .. rehash_index) are moved and empty */
    size_t count;
};

/* Makes an empty table with at least `initial_buckets` buckets (rounded up
 * to a power of two, at least HASH_TABLE_MIN_BUCKETS). 0 or -ENOMEM; on
 * failure the table holds nothing and hash_table_free is still safe. */
int hash_table_init(struct hash_table *t, size_t initial_buckets);

/* Frees the bucket arrays, not the nodes; the table is left empty. */
void hash_table_free(struct hash_table *t);

/* Files `n` (not already in a table) under `hash`; equal hashes may repeat.
 * Grows the table when the load would exceed 1. Returns 0, or -ENOMEM only
 * if the table could not grow while already at 8 nodes per bucket: the node
 * is then not inserted. Below that, a failed growth just chains longer. */
int hash_table_insert(struct hash_table *t, struct hash_node *n, uint64_t hash);

/* Unlinks `n`, which must be in this table. O(chain length). */
void hash_table_remove(struct hash_table *t, struct hash_node *n);

/* Candidates for a key: the first node whose hash equals `hash`, then the
 * next such node in the chain; NULL when there are no more. The caller
 * compares the keys. */
struct hash_node *hash_table_first(const struct hash_table *t, uint64_t hash);
struct hash_node *hash_table_next(const struct hash_node *n);

static inline size_t hash_table_count(const struct hash_table *t)
{
    return t->count;
}

/* True while a doubling is in progress (for tests and `ss` statistics). */
static inline bool hash_table_rehashing(const struct hash_table *t)
{
    return t->new_buckets != NULL;
}

/* Calls fn(ctx, node) for every node, in no particular order, until fn
 * returns non-zero. fn may remove (and free) the node it was given, and
 * only that node; removing any other node, or inserting, during the walk
 * may make the walk skip nodes, visit one twice, or touch freed memory.
 * Each node present for the whole walk is visited exactly once, also in
 * the middle of a doubling. */
void hash_table_walk(const struct hash_table *t, int (*fn)(void *ctx, struct hash_node *n), void *ctx);

#endif
