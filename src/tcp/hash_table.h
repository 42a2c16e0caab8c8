/* Hash table of 32-bit references in cache-line buckets, with incremental
 * doubling.
 *
 * The connection tables (established, half-open, TIME-WAIT) look up a
 * 4-tuple for every segment and must stay fast and small at 1,000,000
 * entries, where the entries themselves are cold in the cache (and in the
 * TLB): hundreds of MB of control blocks. The caller names its entries by
 * non-zero references below 2^HASH_TABLE_REF_BITS (pool indices, see
 * pool.h), keeps one 32-bit link inside each entry and tells the table
 * where it is (next_of); it computes a well-mixed 32-bit hash of the key
 * itself (keyed SipHash over the 4-tuple, so that remote peers cannot aim
 * at one bucket) and compares keys itself.
 *
 * A bucket is one 64-byte line of HASH_TABLE_LINE_SLOTS slots: each holds
 * a reference and 13 bits of its hash (a tag: a byte kept apart, 0 for an
 * empty slot, and 5 bits in the slot's spare top bits). A lookup compares
 * the line's tag bytes at once and touches only entries whose tag matches,
 * so looking up an absent key (every SYN) and removing an entry read one
 * line, not the entries. Entries beyond a full line go to an overflow chain
 * threaded through the entries' links (a link holds a reference, 4 bits of
 * tag and "has a successor", so the last entry is not read); removing from
 * a slot pulls the chain's head into it, so a line with free slots has no
 * chain. At HASH_TABLE_MAX_LOAD entries a line on average (the most before
 * doubling), about 1 line in 16 overflows; an entry costs 8 to 16 bytes of
 * lines (up to 24 while doubling) and the 4-byte link it carries.
 *
 * The line count is a power of two and the line of a hash is the top bits
 * of hash * HASH_TABLE_MIX (Fibonacci hashing, Knuth TAOCP 6.4), so every
 * bit of the hash counts; tags come from the low bits of the hash, which
 * are independent of the line up to 2^18 lines. Hashes are not stored:
 * when the table doubles, hash_of recomputes them. Doubling is
 * incremental, as in Redis's dict.c: the old and the new line arrays live
 * side by side and every insert moves HASH_TABLE_REHASH_STEP old lines to
 * the new array, so no single insert ever costs O(n). Meanwhile a hash's
 * line is in the old array if its old line has not been moved yet, in the
 * new one otherwise, so a lookup still reads exactly one line. Removals
 * never move entries between lines, which is what makes removal during a
 * walk safe (see hash_table_walk). The table does not shrink.
 *
 * Sans-I/O, no global state; allocates only line arrays (calloc/free).
 * Not thread-safe. */
#ifndef SYNACK_TCP_HASH_TABLE_H
#define SYNACK_TCP_HASH_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HASH_TABLE_LINE_SLOTS 12
#define HASH_TABLE_REHASH_STEP 1 /* old lines moved per insert while doubling */
#define HASH_TABLE_MIN_LINES 2 /* shift < 32 */
/* Entries per line (of 12 slots) before doubling: 8 keeps a table of 1M
 * entries at 2^17 lines (8 MiB, 8.4 bytes an entry) with 1 line in 21
 * overflowing; 6 would double it to 16 MiB. */
#define HASH_TABLE_MAX_LOAD 8
#define HASH_TABLE_MIX UINT32_C(0x9e3779b9) /* 2^32 / golden ratio, odd */
#define HASH_TABLE_REF_BITS 27
#define HASH_TABLE_REF_MASK ((UINT32_C(1) << HASH_TABLE_REF_BITS) - 1)
#define HASH_TABLE_LINK_TAG_BITS 4

/* A slot's tag: byte 1..255 from hash bits 1-8 (bit 0 is often forced),
 * and 5 more bits (9-13) kept above the reference. */
static inline uint32_t hash_table_tag_byte(uint32_t hash)
{
    uint32_t b = (hash >> 1) & 0xff;
    return b + (b == 0);
}
static inline uint32_t hash_table_tag_high(uint32_t hash)
{
    return (hash >> 9) & 0x1f;
}

/* An overflow link: reference << 5 | tag << 1 | "the entry has a successor". */
static inline uint32_t hash_table_link_ref(uint32_t link)
{
    return link >> (HASH_TABLE_LINK_TAG_BITS + 1);
}
static inline uint32_t hash_table_link_tag(uint32_t hash)
{
    return (hash >> 1) & ((1u << HASH_TABLE_LINK_TAG_BITS) - 1);
}

/* Where the entry named `ref` keeps its overflow link, and its hash. */
typedef uint32_t *(*hash_table_next_fn)(void *ctx, uint32_t ref);
typedef uint32_t (*hash_table_hash_fn)(void *ctx, uint32_t ref);

/* One bucket: slot i is empty when tag[i] is 0, otherwise it holds
 * slot[i] = reference | hash_table_tag_high << HASH_TABLE_REF_BITS. */
struct hash_table_line {
    uint8_t tag[HASH_TABLE_LINE_SLOTS];
    uint32_t overflow; /* link to the first entry beyond the slots; 0: none */
    uint32_t slot[HASH_TABLE_LINE_SLOTS];
};
_Static_assert(sizeof(struct hash_table_line) == 64, "a line is a cache line");

/* Internals are public only so the table can be embedded by value. */
struct hash_table {
    struct hash_table_line *lines; /* the table; the old one while rehashing */
    struct hash_table_line *new_lines; /* the doubled table, NULL unless rehashing */
    void *lines_mem, *new_lines_mem;   /* their allocations (lines are 64-byte aligned) */
    size_t mask;                       /* line count - 1 */
    unsigned shift;                    /* 32 - log2(line count) */
    size_t rehash_index;               /* lines[0 .. rehash_index) are moved and empty */
    size_t count;
    hash_table_next_fn next_of;
    hash_table_hash_fn hash_of;
    void *ctx;
};

/* Makes an empty table with room for at least `initial_entries` before it
 * doubles. 0 or -ENOMEM; on failure the table holds nothing and
 * hash_table_free is still safe. */
int hash_table_init(struct hash_table *t, size_t initial_entries, hash_table_next_fn next_of,
                    hash_table_hash_fn hash_of, void *ctx);

/* Frees the line arrays, not the entries; the table is left empty. */
void hash_table_free(struct hash_table *t);

/* Files `ref` (non-zero, below 2^HASH_TABLE_REF_BITS, not already in the
 * table) under `hash`. Grows the table when the load would exceed
 * HASH_TABLE_MAX_LOAD. Returns 0, or -ENOMEM only if the table could not
 * grow while already at 8 times that load: the entry is then not inserted.
 * Below that, a failed growth just makes longer overflow chains. */
int hash_table_insert(struct hash_table *t, uint32_t ref, uint32_t hash);

/* Takes out `ref`, filed under `hash`; false if it is not there. Reads one
 * line unless `ref` is in an overflow chain. */
bool hash_table_remove(struct hash_table *t, uint32_t ref, uint32_t hash);

/* The line that holds (or will hold) `hash`. */
static inline struct hash_table_line *hash_table_line_of(const struct hash_table *t, uint32_t hash)
{
    uint32_t mixed = hash * HASH_TABLE_MIX;
    size_t i = mixed >> t->shift;
    if (t->new_lines != NULL && i < t->rehash_index)
        return &t->new_lines[mixed >> (t->shift - 1)];
    return &t->lines[i];
}

/* Bit i set for each slot i whose tag byte is `byte` (SWAR: an exact
 * zero-byte test on tag ^ byte, then the bytes' high bits gathered by a
 * multiplication). */
static inline uint32_t hash_table_line_match(const struct hash_table_line *line, uint32_t byte)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), low7 = UINT64_C(0x7f7f7f7f7f7f7f7f);
    const uint64_t gather = UINT64_C(0x0102040810204080); /* byte k's bit 0 to bit 56 + k */
    uint64_t lo;
    uint32_t hi32;
    memcpy(&lo, line->tag, 8);
    memcpy(&hi32, line->tag + 8, 4);
    uint64_t hi = hi32;
    lo ^= ones * byte;
    hi ^= ones * byte;
    lo = ~(((lo & low7) + low7) | lo | low7) >> 7; /* bit 8k: byte k was 0 */
    hi = ~(((hi & low7) + low7) | hi | low7) >> 7;
    return (uint32_t)((lo * gather) >> 56) | (uint32_t)(((hi * gather) >> 56) & 0x0f) << 8;
}

/* A lookup in progress: the line's candidate slots, then its overflow chain. */
struct hash_table_cursor {
    const struct hash_table_line *line;
    uint32_t match; /* slots whose tag byte matches, not yet returned */
    uint32_t link;  /* the overflow chain still to scan */
};

/* Starts a lookup of `hash`; false if nothing can match (reads one line). */
static inline bool hash_table_seek(const struct hash_table *t, uint32_t hash, struct hash_table_cursor *c)
{
    if (t->lines == NULL) {
        c->line = NULL;
        c->match = c->link = 0;
        return false;
    }
    const struct hash_table_line *line = hash_table_line_of(t, hash);
    c->line = line;
    c->match = hash_table_line_match(line, hash_table_tag_byte(hash));
    c->link = line->overflow;
    return (c->match | c->link) != 0;
}

/* The next entry whose tag matches `hash`, or 0 at the end; the caller
 * compares its key:
 *     if (hash_table_seek(t, h, &c))
 *         while ((ref = hash_table_scan(t, &c, h)))
 *             if (key_of(ref) == key) break;
 * hash_table_scan_with takes next_of as an argument, so that a caller
 * passing its own (static) function has it inlined. */
static inline uint32_t hash_table_scan_with(const struct hash_table *t, struct hash_table_cursor *c, uint32_t hash,
                                            hash_table_next_fn next_of, void *ctx)
{
    (void)t;
    while (c->match != 0) {
        unsigned i = (unsigned)__builtin_ctz(c->match);
        c->match &= c->match - 1;
        uint32_t s = c->line->slot[i];
        if (s >> HASH_TABLE_REF_BITS == hash_table_tag_high(hash))
            return s & HASH_TABLE_REF_MASK;
    }
    uint32_t link = c->link, tag = hash_table_link_tag(hash);
    while (link != 0) {
        uint32_t ref = hash_table_link_ref(link);
        uint32_t next = (link & 1) ? *next_of(ctx, ref) : 0;
        if (((link >> 1) & ((1u << HASH_TABLE_LINK_TAG_BITS) - 1)) == tag) {
            c->link = next;
            return ref;
        }
        link = next;
    }
    c->link = 0;
    return 0;
}
static inline uint32_t hash_table_scan(const struct hash_table *t, struct hash_table_cursor *c, uint32_t hash)
{
    return hash_table_scan_with(t, c, hash, t->next_of, t->ctx);
}

/* Asks the CPU for the line of `hash` ahead of a lookup or removal (for
 * reading: x86-64 has no baseline prefetchw). always_inline: GCC 12 drops
 * the whole call of an inline function that does nothing but prefetch. */
__attribute__((always_inline)) static inline void hash_table_prefetch(const struct hash_table *t, uint32_t hash)
{
    if (t->lines != NULL)
        __builtin_prefetch(hash_table_line_of(t, hash));
}

static inline size_t hash_table_count(const struct hash_table *t)
{
    return t->count;
}

/* True while a doubling is in progress (for tests and `ss` statistics). */
static inline bool hash_table_rehashing(const struct hash_table *t)
{
    return t->new_lines != NULL;
}

/* Bytes of line arrays held, alignment slack included (for bench memory). */
static inline size_t hash_table_bytes(const struct hash_table *t)
{
    size_t n = t->lines ? t->mask + 2 : 0;
    if (t->new_lines)
        n += 2 * (t->mask + 1) + 1;
    return n * sizeof(struct hash_table_line);
}

/* Calls fn(ctx, ref) for every entry, in no particular order, until fn
 * returns non-zero. fn may remove (and free) the entry it was given, and
 * only that one; removing any other entry, or inserting, during the walk
 * may make the walk skip entries, visit one twice, or touch freed memory.
 * Each entry present for the whole walk is visited exactly once, also in
 * the middle of a doubling. */
void hash_table_walk(const struct hash_table *t, int (*fn)(void *ctx, uint32_t ref), void *ctx);

#endif
