/* Hash table of 32-bit references in cache-line buckets, growing by a
 * quarter at a time, incrementally.
 *
 * The connection tables (established, half-open, TIME-WAIT) look up a
 * 4-tuple for every segment and must stay fast and small at 1,000,000
 * entries, where the entries themselves are cold in the cache (and in the
 * TLB): hundreds of MB of control blocks. The caller names its entries by
 * non-zero references below 2^HASH_TABLE_REF_BITS (pool indices, see
 * pool.h), keeps one 32-bit link inside each entry and tells the table
 * where it is (next_of); it computes a well-mixed 32-bit hash of the key
 * itself (a keyed hash over the 4-tuple, so that remote peers cannot aim
 * at one bucket) and compares keys itself.
 *
 * A bucket is one 64-byte line of HASH_TABLE_LINE_SLOTS slots: each holds
 * a reference and 11 bits of its hash (a tag: a byte kept apart, 0 for an
 * empty slot, and 3 bits in the slot's spare top bits). A lookup compares
 * the line's tag bytes at once and touches only entries whose tag matches,
 * so looking up an absent key (every SYN) and removing an entry read one
 * line, not the entries. Entries beyond a full line go to an overflow chain
 * threaded through the entries' links (a link holds a reference, 4 bits of
 * tag and "has a successor", so the last entry is not read); removing from
 * a slot pulls the chain's head into it, so a line with free slots has no
 * chain. A line with a chain keeps a counting filter of the chain's
 * entries: 12 two-bit counters, one at the top of each slot (all full
 * then), of the chain's entries in each of 12 buckets of their hash; an
 * absent key whose counter is 0 does not walk the chain. The counts are
 * exact (a counter that reached 3 stays there until the chain empties), so
 * entries passing through a chain, as short-lived connections do in a line
 * of long-lived ones, leave no stale bits to walk for: at a million
 * entries, a walk reads each chained entry from memory. At
 * HASH_TABLE_MAX_LOAD, about 1 line in 7.5 has a chain, and an absent key
 * reads 0.06 entries on average (0.19 without the filter).
 *
 * The line of a hash is fastrange(hash * HASH_TABLE_MIX, lines), the top
 * 32 bits of the 64-bit product with the line count (Lemire 2019), so any
 * line count works and every bit of the hash counts (the multiplication is
 * Fibonacci hashing, Knuth TAOCP 6.4); tags come from the low bits of the
 * hash, which are independent of the line up to 2^18 lines. The table
 * keeps HASH_TABLE_MAX_LOAD entries a line: 7.1 bytes of lines an entry,
 * on top of the 4-byte link the entry carries. Beyond that load it grows
 * by a quarter, incrementally as in Redis's dict.c but paced by the count:
 * inserts move old lines to the new array (about one every two inserts)
 * so that the growth ends when the table is at that load again, and no
 * single insert costs O(n). fastrange is monotonic in the hash, so old
 * line i goes to a run of consecutive new lines, and a hash's line is in
 * the new array if its old line has been moved, in the old one otherwise:
 * a lookup still reads exactly one line. Lines live in segments found
 * through a directory per array, so that the old array gives back its
 * segments as they are moved while the new one gets its own as they are
 * filled: the table holds about count / HASH_TABLE_MAX_LOAD lines at every
 * size, never two whole arrays. Hashes are not stored: moving a line
 * recomputes them with hash_of. Removals never move entries between lines,
 * which is what makes removal during a walk safe (see hash_table_walk).
 * The table does not shrink.
 *
 * Sans-I/O, no global state; allocates only segments and directories
 * (aligned_alloc/calloc/free). Not thread-safe. */
#ifndef SYNACK_TCP_HASH_TABLE_H
#define SYNACK_TCP_HASH_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define HASH_TABLE_LINE_SLOTS 12
#define HASH_TABLE_MIN_LINES 1
/* Entries per line (of 12 slots) the table grows to keep: 9 is 7.1 bytes
 * an entry with 1 line in 7.5 overflowing (8: 8 bytes; 10: 6.4 bytes, 1
 * line in 4.5). */
#define HASH_TABLE_MAX_LOAD 9
/* Growth: lines + lines / HASH_TABLE_GROWTH_DIV (rounded up). Each growth
 * moves every entry once, so a smaller step costs more moves an insert
 * (here 4) and a larger one spreads lines' loads further apart. */
#define HASH_TABLE_GROWTH_DIV 4
/* Segments: a power of two of lines, at least 2^HASH_TABLE_SEGMENT_MIN_SHIFT
 * (8 KiB), and as few as 2^HASH_TABLE_DIR_BITS of them (a directory of 1
 * KiB that stays in the cache), so that the segments half moved while
 * growing hold at most 1/64 of the table. */
#define HASH_TABLE_SEGMENT_MIN_SHIFT 7
#define HASH_TABLE_DIR_BITS 7
#define HASH_TABLE_MIX UINT32_C(0x9e3779b9) /* 2^32 / golden ratio, odd */
#define HASH_TABLE_REF_BITS 27
#define HASH_TABLE_REF_MASK ((UINT32_C(1) << HASH_TABLE_REF_BITS) - 1)
#define HASH_TABLE_LINK_TAG_BITS 4
#define HASH_TABLE_TAG_HIGH_BITS 3
#define HASH_TABLE_FILTER_SHIFT 30 /* a slot's counter of the chain filter */
#define HASH_TABLE_FILTER_MASK (UINT32_C(3) << HASH_TABLE_FILTER_SHIFT)
#define HASH_TABLE_FILTER_STUCK 3u /* a counter that stays until the chain empties */
_Static_assert(HASH_TABLE_REF_BITS + HASH_TABLE_TAG_HIGH_BITS == HASH_TABLE_FILTER_SHIFT,
               "a slot: reference, tag, filter counter");

/* A slot's tag: byte 1..255 from hash bits 1-8 (bit 0 is often forced),
 * and 3 more bits (9-11) kept above the reference. */
static inline uint32_t hash_table_tag_byte(uint32_t hash)
{
    uint32_t b = (hash >> 1) & 0xff;
    return b + (b == 0);
}
static inline uint32_t hash_table_tag_high(uint32_t hash)
{
    return (hash >> 9) & ((1u << HASH_TABLE_TAG_HIGH_BITS) - 1);
}
static inline uint32_t hash_table_slot_tag_high(uint32_t slot)
{
    return (slot >> HASH_TABLE_REF_BITS) & ((1u << HASH_TABLE_TAG_HIGH_BITS) - 1);
}

/* The slot whose top bits count the chain's entries in the filter bucket
 * of `hash` (from hash bits 13-20, scaled to 0..11). */
static inline unsigned hash_table_filter_slot(uint32_t hash)
{
    return (unsigned)((((hash >> 13) & 0xff) * HASH_TABLE_LINE_SLOTS) >> 8);
}
static inline uint32_t hash_table_filter_count(uint32_t slot)
{
    return slot >> HASH_TABLE_FILTER_SHIFT;
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

/* One bucket: slot i is empty (and 0 but for its counter) when tag[i] is
 * 0, otherwise it holds slot[i] = reference | hash_table_tag_high <<
 * HASH_TABLE_REF_BITS, and, while the line has a chain, the filter's
 * counter i: how many entries of the chain have hash_table_filter_slot i
 * (HASH_TABLE_FILTER_STUCK: at least that many, since it got there). */
struct hash_table_line {
    _Alignas(64) uint8_t tag[HASH_TABLE_LINE_SLOTS];
    uint32_t overflow; /* link to the first entry beyond the slots; 0: none */
    uint32_t slot[HASH_TABLE_LINE_SLOTS];
};
_Static_assert(sizeof(struct hash_table_line) == 64 && _Alignof(struct hash_table_line) == 64,
               "a line is a cache line");

/* Internals are public only so the table can be embedded by value. Line i
 * of array a is dirs[a][i >> seg_shift[a]][i & seg_mask[a]]; every
 * segment holds 2^seg_shift[a] lines but the last, which holds the rest. */
struct hash_table {
    /* [0] the table, the old one while growing; [1] the grown one, the
     * same as [0] unless growing (so hash_table_line_of can read both). */
    struct hash_table_line **dirs[2];
    size_t seg_mask[2]; /* lines in a segment - 1 */
    unsigned seg_shift[2];
    size_t lines, new_lines;          /* their line counts */
    size_t rehash_index;  /* old lines [0, rehash_index) are moved (their segments freed); 0 unless growing */
    size_t new_segments;  /* array 1's segments allocated so far, in order */
    size_t grow_from, grow_to; /* the count when the growth started, and when it is to end */
    size_t check_at; /* the count from which an insert grows the table or moves lines */
    size_t count;
    size_t bytes; /* segments and directories */
    hash_table_next_fn next_of;
    hash_table_hash_fn hash_of;
    void *ctx;
};

/* Makes an empty table with room for at least `initial_entries` before it
 * grows. 0 or -ENOMEM; on failure the table holds nothing and
 * hash_table_free is still safe. */
int hash_table_init(struct hash_table *t, size_t initial_entries, hash_table_next_fn next_of,
                    hash_table_hash_fn hash_of, void *ctx);

/* Frees the line arrays, not the entries; the table is left empty. */
void hash_table_free(struct hash_table *t);

/* Files `ref` (non-zero, below 2^HASH_TABLE_REF_BITS, not already in the
 * table) under `hash`. Grows the table when the load would exceed
 * HASH_TABLE_MAX_LOAD. Returns 0, or -ENOMEM only if the table could not
 * grow while already at 8 times that load: the entry is then not inserted.
 * Below that, a failed growth just makes longer overflow chains (and is
 * tried again on the next insert). */
int hash_table_insert(struct hash_table *t, uint32_t ref, uint32_t hash);

/* Takes out `ref`, filed under `hash`; false if it is not there. Reads one
 * line unless `ref` is in an overflow chain. */
bool hash_table_remove(struct hash_table *t, uint32_t ref, uint32_t hash);

/* Puts `new_ref` where `ref` is (same hash: one key passing from one entry
 * to the next, as Linux's inet_ehash_insert does with a request socket's
 * child and inet_twsk_hashdance with a TIME-WAIT socket): its slot or its
 * place in the chain, tag and filter bits unchanged, `new_ref`'s link
 * taking `ref`'s. Never allocates, grows or moves lines. True if `ref` was
 * there (and is no longer). */
bool hash_table_replace(struct hash_table *t, uint32_t ref, uint32_t new_ref, uint32_t hash);

/* The address of line i of array a (as an integer: the segment of a
 * moved line is gone, NULL). */
static inline uintptr_t hash_table_line_addr(const struct hash_table *t, unsigned a, size_t i)
{
    return (uintptr_t)t->dirs[a][i >> t->seg_shift[a]] + (i & t->seg_mask[a]) * sizeof(struct hash_table_line);
}

/* Line i of array a, which must be there. */
static inline struct hash_table_line *hash_table_line_at(const struct hash_table *t, unsigned a, size_t i)
{
    return (struct hash_table_line *)hash_table_line_addr(t, a, i);
}

/* fastrange: the line of a mixed hash among `lines`. Monotonic in `mixed`. */
static inline size_t hash_table_fastrange(uint32_t mixed, size_t lines)
{
    return (size_t)(((uint64_t)mixed * lines) >> 32);
}

/* The line that holds (or will hold) `hash`: in the grown array if its
 * old line is moved. Mid-growth both addresses are computed (as integers:
 * a moved line's segment is gone) and one is picked without a branch. */
static inline struct hash_table_line *hash_table_line_of(const struct hash_table *t, uint32_t hash)
{
    uint32_t mixed = hash * HASH_TABLE_MIX;
    size_t i = hash_table_fastrange(mixed, t->lines);
    uintptr_t old = hash_table_line_addr(t, 0, i);
    if (t->new_lines == t->lines) /* not growing: a branch that rarely changes */
        return (struct hash_table_line *)old;
    size_t j = hash_table_fastrange(mixed, t->new_lines);
    uintptr_t grown = hash_table_line_addr(t, 1, j);
    /* Without a branch: which array a hash lands in is random. */
    uintptr_t moved = (uintptr_t)0 - (uintptr_t)(i < t->rehash_index);
    return (struct hash_table_line *)((grown & moved) | (old & ~moved));
}

/* Bit i set for each slot i whose tag byte is `byte`, portably (SWAR: an
 * exact zero-byte test on tag ^ byte, then the bytes' high bits gathered
 * by a multiplication). */
static inline uint32_t hash_table_line_match_swar(const struct hash_table_line *line, uint32_t byte)
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

/* The same with SSE2 where there is (x86-64 always has it): one compare
 * of the line's first 16 bytes, the 4 after the tags masked off. */
static inline uint32_t hash_table_line_match(const struct hash_table_line *line, uint32_t byte)
{
#if defined(__SSE2__)
    __m128i bytes = _mm_load_si128((const __m128i *)(const void *)line);
    __m128i eq = _mm_cmpeq_epi8(bytes, _mm_set1_epi8((char)byte));
    return (uint32_t)_mm_movemask_epi8(eq) & ((1u << HASH_TABLE_LINE_SLOTS) - 1);
#else
    return hash_table_line_match_swar(line, byte);
#endif
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
    if (t->dirs[0] == NULL) {
        c->line = NULL;
        c->match = c->link = 0;
        return false;
    }
    const struct hash_table_line *line = hash_table_line_of(t, hash);
    c->line = line;
    c->match = hash_table_line_match(line, hash_table_tag_byte(hash));
    c->link = line->overflow;
    if (c->link != 0 && hash_table_filter_count(line->slot[hash_table_filter_slot(hash)]) == 0)
        c->link = 0;
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
        if (hash_table_slot_tag_high(s) == hash_table_tag_high(hash))
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
    if (t->dirs[0] != NULL)
        __builtin_prefetch(hash_table_line_of(t, hash));
}

static inline size_t hash_table_count(const struct hash_table *t)
{
    return t->count;
}

/* True while a growth is in progress (for tests and `ss` statistics). */
static inline bool hash_table_rehashing(const struct hash_table *t)
{
    return t->dirs[1] != t->dirs[0];
}

/* Bytes of segments and directories held (for bench memory and `ss`). */
static inline size_t hash_table_bytes(const struct hash_table *t)
{
    return t->bytes;
}

/* Calls fn(ctx, ref) for every entry, in no particular order, until fn
 * returns non-zero. fn may remove (and free) the entry it was given, and
 * only that one; removing any other entry, or inserting, during the walk
 * may make the walk skip entries, visit one twice, or touch freed memory.
 * Each entry present for the whole walk is visited exactly once, also in
 * the middle of a growth. */
void hash_table_walk(const struct hash_table *t, int (*fn)(void *ctx, uint32_t ref), void *ctx);

#endif
