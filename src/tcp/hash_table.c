/* Hash table in cache-line buckets with incremental doubling: see
 * hash_table.h. */
#include "tcp/hash_table.h"

#include <errno.h>
#include <stdlib.h>

#define HASH_TABLE_MAX_LOAD_ON_ENOMEM (8 * HASH_TABLE_MAX_LOAD) /* this full before refusing */
#define LINE_ALIGN sizeof(struct hash_table_line)

/* n zeroed lines, 64-byte aligned inside *mem (calloc's zero pages stay
 * lazy, which aligned_alloc + memset would not). */
static struct hash_table_line *lines_alloc(size_t n, void **mem)
{
    if (n > SIZE_MAX / LINE_ALIGN - 1)
        return NULL;
    *mem = calloc(n + 1, LINE_ALIGN);
    if (*mem == NULL)
        return NULL;
    uintptr_t p = ((uintptr_t)*mem + LINE_ALIGN - 1) & ~(uintptr_t)(LINE_ALIGN - 1);
    return (struct hash_table_line *)p;
}

/* Fibonacci hashing: the top bits of hash * MIX. Doubling splits old
 * line i into new lines 2i and 2i + 1. */
static inline size_t line_index(uint32_t hash, unsigned shift)
{
    return (size_t)((uint32_t)(hash * HASH_TABLE_MIX) >> shift);
}

static inline uint32_t link_of(uint32_t ref, uint32_t hash, bool more)
{
    return ref << (HASH_TABLE_LINK_TAG_BITS + 1) | hash_table_link_tag(hash) << 1 | (uint32_t)more;
}

static inline void slot_set(struct hash_table_line *line, unsigned i, uint32_t ref, uint32_t hash)
{
    line->tag[i] = (uint8_t)hash_table_tag_byte(hash);
    line->slot[i] = ref | hash_table_tag_high(hash) << HASH_TABLE_REF_BITS;
}

/* Files `ref` in a free slot of `line`, or at the head of its overflow chain. */
static void line_put(struct hash_table *t, struct hash_table_line *line, uint32_t ref, uint32_t hash)
{
    uint32_t free_slots = hash_table_line_match(line, 0);
    if (free_slots != 0) {
        slot_set(line, (unsigned)__builtin_ctz(free_slots), ref, hash);
        return;
    }
    *t->next_of(t->ctx, ref) = line->overflow;
    line->overflow = link_of(ref, hash, line->overflow != 0);
}

/* Moves up to `steps` old lines to the new array; swaps the arrays when
 * the last one is moved. */
static void rehash_step(struct hash_table *t, size_t steps)
{
    while (steps-- > 0 && t->rehash_index <= t->mask) {
        struct hash_table_line *old = &t->lines[t->rehash_index];
        for (unsigned i = 0; i < HASH_TABLE_LINE_SLOTS; i++) {
            if (old->tag[i] == 0)
                continue;
            uint32_t ref = old->slot[i] & HASH_TABLE_REF_MASK, hash = t->hash_of(t->ctx, ref);
            line_put(t, &t->new_lines[line_index(hash, t->shift - 1)], ref, hash);
        }
        for (uint32_t link = old->overflow; link != 0;) {
            uint32_t ref = hash_table_link_ref(link);
            uint32_t *next = t->next_of(t->ctx, ref);
            link = *next;
            *next = 0;
            uint32_t hash = t->hash_of(t->ctx, ref);
            line_put(t, &t->new_lines[line_index(hash, t->shift - 1)], ref, hash);
        }
        *old = (struct hash_table_line){0};
        t->rehash_index++;
    }
    if (t->rehash_index > t->mask) {
        free(t->lines_mem);
        t->lines = t->new_lines;
        t->lines_mem = t->new_lines_mem;
        t->mask = t->mask * 2 + 1;
        t->shift--;
        t->new_lines = NULL;
        t->new_lines_mem = NULL;
        t->rehash_index = 0;
    }
}

/* Starts doubling; false if the new array cannot be had. */
static bool grow_start(struct hash_table *t)
{
    size_t size = t->mask + 1;
    if (size > SIZE_MAX / 2 || t->shift <= 1)
        return false;
    struct hash_table_line *l = lines_alloc(size * 2, &t->new_lines_mem);
    if (l == NULL)
        return false;
    t->new_lines = l;
    t->rehash_index = 0;
    return true;
}

static int table_alloc(struct hash_table *t, size_t initial_entries)
{
    size_t size = HASH_TABLE_MIN_LINES;
    while (size * HASH_TABLE_MAX_LOAD < initial_entries) {
        if (size >= ((size_t)1 << 30))
            return -ENOMEM;
        size *= 2;
    }
    t->lines = lines_alloc(size, &t->lines_mem);
    if (t->lines == NULL)
        return -ENOMEM;
    t->mask = size - 1;
    t->shift = 32u - (unsigned)__builtin_ctzll((unsigned long long)size);
    return 0;
}

/* An empty table with no storage. */
static void table_reset(struct hash_table *t)
{
    t->lines = t->new_lines = NULL;
    t->lines_mem = t->new_lines_mem = NULL;
    t->mask = 0;
    t->shift = 32;
    t->rehash_index = 0;
    t->count = 0;
}

int hash_table_init(struct hash_table *t, size_t initial_entries, hash_table_next_fn next_of,
                    hash_table_hash_fn hash_of, void *ctx)
{
    table_reset(t);
    t->next_of = next_of;
    t->hash_of = hash_of;
    t->ctx = ctx;
    return table_alloc(t, initial_entries);
}

void hash_table_free(struct hash_table *t)
{
    free(t->lines_mem);
    free(t->new_lines_mem);
    table_reset(t);
}

int hash_table_insert(struct hash_table *t, uint32_t ref, uint32_t hash)
{
    if (t->lines == NULL && table_alloc(t, 0) != 0) /* freed or failed init */
        return -ENOMEM;
    if (t->new_lines != NULL) {
        rehash_step(t, HASH_TABLE_REHASH_STEP);
    } else if (t->count >= HASH_TABLE_MAX_LOAD * (t->mask + 1)) {
        if (grow_start(t))
            rehash_step(t, HASH_TABLE_REHASH_STEP);
        else if (t->count >= HASH_TABLE_MAX_LOAD_ON_ENOMEM * (t->mask + 1))
            return -ENOMEM;
    }
    line_put(t, hash_table_line_of(t, hash), ref, hash);
    t->count++;
    return 0;
}

/* Slot i of `line` was emptied: the overflow chain's head moves into it. */
static void promote(struct hash_table *t, struct hash_table_line *line, unsigned i)
{
    uint32_t ref = hash_table_link_ref(line->overflow);
    uint32_t *next = t->next_of(t->ctx, ref);
    line->overflow = *next;
    *next = 0;
    slot_set(line, i, ref, t->hash_of(t->ctx, ref));
}

bool hash_table_remove(struct hash_table *t, uint32_t ref, uint32_t hash)
{
    if (t->lines == NULL)
        return false;
    struct hash_table_line *line = hash_table_line_of(t, hash);
    uint32_t want = ref | hash_table_tag_high(hash) << HASH_TABLE_REF_BITS;
    for (uint32_t m = hash_table_line_match(line, hash_table_tag_byte(hash)); m != 0; m &= m - 1) {
        unsigned i = (unsigned)__builtin_ctz(m);
        if (line->slot[i] == want) {
            line->tag[i] = 0;
            line->slot[i] = 0;
            if (line->overflow != 0)
                promote(t, line, i);
            t->count--;
            return true;
        }
    }
    /* pp: the link to the current entry; before: the link to its predecessor. */
    uint32_t *before = NULL, *pp = &line->overflow;
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

/* Walks one array's lines from line `from`; true if fn asked to stop.
 * A line's overflow chain goes first (its next reference read before fn
 * runs, so fn may unlink its entry), then its slots: removing a slot's
 * entry pulls the chain's head into that slot, already visited. */
static bool walk_lines(const struct hash_table *t, const struct hash_table_line *lines, size_t from, size_t mask,
                       int (*fn)(void *ctx, uint32_t ref), void *ctx)
{
    for (size_t l = from; l <= mask; l++) {
        const struct hash_table_line *line = &lines[l];
        for (uint32_t link = line->overflow, next; link != 0; link = next) {
            uint32_t ref = hash_table_link_ref(link);
            next = (link & 1) ? *t->next_of(t->ctx, ref) : 0;
            if (fn(ctx, ref) != 0)
                return true;
        }
        for (unsigned i = 0; i < HASH_TABLE_LINE_SLOTS; i++)
            if (line->tag[i] != 0 && fn(ctx, line->slot[i] & HASH_TABLE_REF_MASK) != 0)
                return true;
    }
    return false;
}

void hash_table_walk(const struct hash_table *t, int (*fn)(void *ctx, uint32_t ref), void *ctx)
{
    if (t->lines == NULL)
        return;
    /* Removal never moves entries between lines, so both arrays stay as they are. */
    if (walk_lines(t, t->lines, t->rehash_index, t->mask, fn, ctx))
        return;
    if (t->new_lines != NULL)
        walk_lines(t, t->new_lines, 0, t->mask * 2 + 1, fn, ctx);
}
