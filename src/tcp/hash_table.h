/* Intrusive chained hash table of 32-bit references, with incremental
 * rehashing.
 *
 * The connection tables (established, half-open, TIME-WAIT) look up a
 * 4-tuple for every segment and must stay fast and small at 1,000,000
 * entries. The caller names its entries by non-zero references below
 * 2^HASH_TABLE_REF_BITS (pool indices, see pool.h), keeps one 32-bit chain
 * link inside each entry and tells the table where it is (next_of); it
 * computes a well-mixed 32-bit hash of the key itself (keyed SipHash over
 * the 4-tuple, so that remote peers cannot aim at one chain) and compares
 * keys itself. Hashes are not stored: when the table doubles, hash_of
 * recomputes them. An entry costs its 4-byte link plus 4 to 8 bytes of
 * bucket array.
 *
 * A link (a bucket, or the link in an entry) holds the reference of the
 * entry it leads to, 4 bits of that entry's hash (a tag) and whether that
 * entry has a successor. A lookup skips entries whose tag differs without
 * comparing their keys, and ends at the last link without touching the
 * entry behind it: at a million entries the chains' entries are cold in
 * the cache, and a lookup for a new 4-tuple (every SYN) mostly reads the
 * bucket alone.
 *
 * Buckets are singly linked chains; the bucket count is a power of two and
 * the bucket of a hash is the top bits of hash * HASH_TABLE_MIX (Fibonacci
 * hashing, Knuth TAOCP 6.4), so every bit of the hash counts. The table
 * doubles when an insert would take the load above HASH_TABLE_MAX_LOAD.
 * Doubling is incremental, as in Redis's dict.c: the old and the new bucket arrays live
 * side by side and every insert moves HASH_TABLE_REHASH_STEP old buckets to
 * the new array, so no single insert ever costs O(n). Meanwhile a hash's
 * chain is in the old array if its old bucket has not been moved yet, in
 * the new one otherwise, so a lookup still reads exactly one chain.
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

#define HASH_TABLE_REHASH_STEP 8 /* old buckets moved per insert while doubling */
#define HASH_TABLE_MIN_BUCKETS 4
/* Entries per bucket before doubling. 2 saves 2-3 bytes an entry but costs
 * a fifth of the lifecycle rate with 1M connections held (cold chains). */
#define HASH_TABLE_MAX_LOAD 1
#define HASH_TABLE_MIX UINT32_C(0x9e3779b9) /* 2^32 / golden ratio, odd */
#define HASH_TABLE_REF_BITS 27
#define HASH_TABLE_TAG_BITS 4

/* A link: reference << 5 | tag << 1 | "the entry has a successor". */
static inline uint32_t hash_table_link_ref(uint32_t link)
{
    return link >> (HASH_TABLE_TAG_BITS + 1);
}
static inline uint32_t hash_table_tag(uint32_t hash)
{
    return (hash >> 1) & ((1u << HASH_TABLE_TAG_BITS) - 1); /* bit 0 is often forced */
}

/* Where the entry named `ref` keeps its chain link, and its hash. */
typedef uint32_t *(*hash_table_next_fn)(void *ctx, uint32_t ref);
typedef uint32_t (*hash_table_hash_fn)(void *ctx, uint32_t ref);

/* Internals are public only so the table can be embedded by value. */
struct hash_table {
    uint32_t *buckets;     /* the table; the old one while rehashing */
    size_t mask;           /* bucket count - 1 */
    unsigned shift;        /* 32 - log2(bucket count) */
    uint32_t *new_buckets; /* the doubled table, NULL unless rehashing */
    size_t rehash_index;   /* buckets[0 .. rehash_index) are moved and empty */
    size_t count;
    hash_table_next_fn next_of;
    hash_table_hash_fn hash_of;
    void *ctx;
};

/* Makes an empty table with at least `initial_buckets` buckets (rounded up
 * to a power of two, at least HASH_TABLE_MIN_BUCKETS). 0 or -ENOMEM; on
 * failure the table holds nothing and hash_table_free is still safe. */
int hash_table_init(struct hash_table *t, size_t initial_buckets, hash_table_next_fn next_of,
                    hash_table_hash_fn hash_of, void *ctx);

/* Frees the bucket arrays, not the entries; the table is left empty. */
void hash_table_free(struct hash_table *t);

/* Files `ref` (non-zero, below 2^HASH_TABLE_REF_BITS, not already in the
 * table) under `hash`. Grows the
 * table when the load would exceed 1. Returns 0, or -ENOMEM only if the
 * table could not grow while already at 8 entries per bucket: the entry is
 * then not inserted. Below that, a failed growth just chains longer. */
int hash_table_insert(struct hash_table *t, uint32_t ref, uint32_t hash);

/* Unlinks `ref`, filed under `hash`; false if it is not there. O(chain). */
bool hash_table_remove(struct hash_table *t, uint32_t ref, uint32_t hash);

/* Lookup: the chain of `hash` as a cursor for hash_table_scan. */
static inline uint32_t hash_table_cursor(const struct hash_table *t, uint32_t hash)
{
    if (t->buckets == NULL)
        return 0;
    uint32_t mixed = hash * HASH_TABLE_MIX;
    size_t i = mixed >> t->shift;
    if (t->new_buckets != NULL && i < t->rehash_index)
        return t->new_buckets[mixed >> (t->shift - 1)];
    return t->buckets[i];
}

/* The next entry of the chain whose tag matches `hash`, or 0 at the end;
 * the caller compares its key:
 *     for (c = hash_table_cursor(t, h); (ref = hash_table_scan(t, &c, h));)
 *         if (key_of(ref) == key) break;
 * hash_table_scan_with takes next_of as an argument, so that a caller
 * passing its own (static) function has it inlined. */
static inline uint32_t hash_table_scan_with(const struct hash_table *t, uint32_t *cursor, uint32_t hash,
                                            hash_table_next_fn next_of, void *ctx)
{
    uint32_t link = *cursor, tag = hash_table_tag(hash);
    (void)t;
    while (link != 0) {
        uint32_t ref = hash_table_link_ref(link);
        uint32_t next = (link & 1) ? *next_of(ctx, ref) : 0;
        if (((link >> 1) & ((1u << HASH_TABLE_TAG_BITS) - 1)) == tag) {
            *cursor = next;
            return ref;
        }
        link = next;
    }
    *cursor = 0;
    return 0;
}
static inline uint32_t hash_table_scan(const struct hash_table *t, uint32_t *cursor, uint32_t hash)
{
    return hash_table_scan_with(t, cursor, hash, t->next_of, t->ctx);
}

static inline size_t hash_table_count(const struct hash_table *t)
{
    return t->count;
}

/* True while a doubling is in progress (for tests and `ss` statistics). */
static inline bool hash_table_rehashing(const struct hash_table *t)
{
    return t->new_buckets != NULL;
}

/* Bytes of bucket arrays held (for bench memory). */
static inline size_t hash_table_bytes(const struct hash_table *t)
{
    size_t n = t->buckets ? t->mask + 1 : 0;
    if (t->new_buckets)
        n += 2 * (t->mask + 1);
    return n * sizeof(uint32_t);
}

/* Calls fn(ctx, ref) for every entry, in no particular order, until fn
 * returns non-zero. fn may remove (and free) the entry it was given, and
 * only that one; removing any other entry, or inserting, during the walk
 * may make the walk skip entries, visit one twice, or touch freed memory.
 * Each entry present for the whole walk is visited exactly once, also in
 * the middle of a doubling. */
void hash_table_walk(const struct hash_table *t, int (*fn)(void *ctx, uint32_t ref), void *ctx);

#endif
