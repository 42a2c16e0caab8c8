/* Hash table in cache-line buckets that grows by a quarter, incrementally:
 * see hash_table.h. */
#include "tcp/hash_table.h"

#include <errno.h>
#include <stdlib.h>

#define HASH_TABLE_MAX_LOAD_ON_ENOMEM (8 * HASH_TABLE_MAX_LOAD) /* this full before refusing */
#define HASH_TABLE_MAX_LINES ((size_t)1 << 30) /* fastrange wants fewer than 2^32 */
/* Old lines moved by one insert at most: 1 at the normal pace, more only
 * to catch up after a segment could not be allocated. */
#define HASH_TABLE_MAX_MOVES 4
#define LINE_BYTES sizeof(struct hash_table_line)

/* Sets array a to `lines` lines in segments of the size for that many. */
static void array_shape(struct hash_table *t, unsigned a, size_t lines)
{
    unsigned shift = HASH_TABLE_SEGMENT_MIN_SHIFT;
    while ((lines - 1) >> shift >= ((size_t)1 << HASH_TABLE_DIR_BITS))
        shift++;
    t->seg_shift[a] = shift;
    t->seg_mask[a] = ((size_t)1 << shift) - 1;
}

static size_t segments_of(const struct hash_table *t, unsigned a, size_t lines)
{
    return (lines + t->seg_mask[a]) >> t->seg_shift[a];
}

/* Lines in segment k of array a, of `lines`: all but the last are full. */
static size_t segment_lines(const struct hash_table *t, unsigned a, size_t lines, size_t k)
{
    size_t rest = lines - (k << t->seg_shift[a]);
    return rest <= t->seg_mask[a] ? rest : t->seg_mask[a] + 1;
}

/* Segment k of array a, of `lines`, zeroed and 64-byte aligned. */
static bool segment_alloc(struct hash_table *t, unsigned a, size_t lines, size_t k)
{
    size_t bytes = segment_lines(t, a, lines, k) * LINE_BYTES;
    t->dirs[a][k] = aligned_alloc(LINE_BYTES, bytes);
    if (t->dirs[a][k] == NULL)
        return false;
    memset(t->dirs[a][k], 0, bytes);
    t->bytes += bytes;
    return true;
}

static void segment_free(struct hash_table *t, unsigned a, size_t lines, size_t k)
{
    if (t->dirs[a][k] == NULL)
        return;
    free(t->dirs[a][k]);
    t->dirs[a][k] = NULL;
    t->bytes -= segment_lines(t, a, lines, k) * LINE_BYTES;
}

/* Array a's directory, for `lines` lines' segments, none allocated yet. */
static bool dir_alloc(struct hash_table *t, unsigned a, size_t lines)
{
    array_shape(t, a, lines);
    size_t n = segments_of(t, a, lines);
    t->dirs[a] = calloc(n, sizeof *t->dirs[a]);
    if (t->dirs[a] == NULL)
        return false;
    t->bytes += n * sizeof *t->dirs[a];
    return true;
}

/* Frees array a's segments (those still there) and its directory. */
static void array_free(struct hash_table *t, unsigned a, size_t lines)
{
    if (t->dirs[a] == NULL)
        return;
    size_t n = segments_of(t, a, lines);
    for (size_t k = 0; k < n; k++)
        segment_free(t, a, lines, k);
    free(t->dirs[a]);
    t->dirs[a] = NULL;
    t->bytes -= n * sizeof *t->dirs[a];
}

/* Not growing: array 1 is array 0. */
static void arrays_same(struct hash_table *t)
{
    t->dirs[1] = t->dirs[0];
    t->seg_shift[1] = t->seg_shift[0];
    t->seg_mask[1] = t->seg_mask[0];
    t->new_lines = t->lines;
    t->new_segments = 0;
    t->rehash_index = 0;
}

static inline uint32_t link_of(uint32_t ref, uint32_t hash, bool more)
{
    return ref << (HASH_TABLE_LINK_TAG_BITS + 1) | hash_table_link_tag(hash) << 1 | (uint32_t)more;
}

/* Fills slot i, keeping its filter counter (the chain's, not the entry's). */
static inline void slot_set(struct hash_table_line *line, unsigned i, uint32_t ref, uint32_t hash)
{
    line->tag[i] = (uint8_t)hash_table_tag_byte(hash);
    line->slot[i] = (line->slot[i] & HASH_TABLE_FILTER_MASK) | ref | hash_table_tag_high(hash) << HASH_TABLE_REF_BITS;
}

/* An entry filed under `hash` joins (+1) or leaves (-1) the chain of
 * `line`: its filter counter follows, unless stuck. */
static inline void filter_count(struct hash_table_line *line, uint32_t hash, int d)
{
    uint32_t *slot = &line->slot[hash_table_filter_slot(hash)];
    uint32_t n = hash_table_filter_count(*slot);
    if (n == HASH_TABLE_FILTER_STUCK || (d < 0 && n == 0))
        return;
    n = d > 0 ? n + 1 : n - 1;
    *slot = (*slot & ~HASH_TABLE_FILTER_MASK) | n << HASH_TABLE_FILTER_SHIFT;
}

/* Files `ref` in a free slot of `line`, or at the head of its overflow
 * chain, counting it in the chain filter (cleared first for a new
 * chain). */
static void line_put(struct hash_table *t, struct hash_table_line *line, uint32_t ref, uint32_t hash)
{
    uint32_t free_slots = hash_table_line_match(line, 0);
    if (free_slots != 0) {
        slot_set(line, (unsigned)__builtin_ctz(free_slots), ref, hash);
        return;
    }
    if (line->overflow == 0)
        for (unsigned i = 0; i < HASH_TABLE_LINE_SLOTS; i++)
            line->slot[i] &= ~HASH_TABLE_FILTER_MASK;
    filter_count(line, hash, +1);
    *t->next_of(t->ctx, ref) = line->overflow;
    line->overflow = link_of(ref, hash, line->overflow != 0);
}

/* Files an entry moved from the old array in its line of the new one. */
static void move_entry(struct hash_table *t, uint32_t ref)
{
    uint32_t hash = t->hash_of(t->ctx, ref);
    size_t i = hash_table_fastrange(hash * HASH_TABLE_MIX, t->new_lines);
    line_put(t, hash_table_line_at(t, 1, i), ref, hash);
}

/* The new array's segments up to the one of the last new line that old
 * line `o` spreads to (its largest mixed hash, by monotony), allocated in
 * order; false if one could not be. */
static bool new_segments_for(struct hash_table *t, size_t o)
{
    uint64_t last = ((((uint64_t)o + 1) << 32) + t->lines - 1) / t->lines - 1;
    size_t need = (size_t)((last * t->new_lines) >> 32 >> t->seg_shift[1]);
    while (t->new_segments <= need) {
        if (!segment_alloc(t, 1, t->new_lines, t->new_segments))
            return false;
        t->new_segments++;
    }
    return true;
}

/* Moves old line rehash_index to the new array, freeing its segment once
 * all of it is moved, and swaps the arrays after the last one. False if
 * a new segment could not be had (nothing moved). */
static bool move_line(struct hash_table *t)
{
    size_t o = t->rehash_index;
    if (!new_segments_for(t, o))
        return false;
    struct hash_table_line *old = hash_table_line_at(t, 0, o);
    /* hash_of reads every entry, cold at scale: ask for them all first. */
    for (unsigned i = 0; i < HASH_TABLE_LINE_SLOTS; i++)
        if (old->tag[i] != 0)
            __builtin_prefetch(t->next_of(t->ctx, old->slot[i] & HASH_TABLE_REF_MASK));
    for (unsigned i = 0; i < HASH_TABLE_LINE_SLOTS; i++)
        if (old->tag[i] != 0)
            move_entry(t, old->slot[i] & HASH_TABLE_REF_MASK);
    for (uint32_t link = old->overflow; link != 0;) {
        uint32_t ref = hash_table_link_ref(link);
        uint32_t *next = t->next_of(t->ctx, ref);
        link = *next;
        *next = 0;
        move_entry(t, ref);
    }
    *old = (struct hash_table_line){0};
    t->rehash_index = ++o;
    if ((o & t->seg_mask[0]) == 0 || o == t->lines)
        segment_free(t, 0, t->lines, (o - 1) >> t->seg_shift[0]);
    if (o == t->lines) {
        array_free(t, 0, t->lines);
        t->dirs[0] = t->dirs[1];
        t->seg_shift[0] = t->seg_shift[1];
        t->seg_mask[0] = t->seg_mask[1];
        t->lines = t->new_lines;
        arrays_same(t);
    }
    return true;
}

/* Moves old lines at the pace that ends the growth when the count reaches
 * grow_to: the share of old lines moved is the share of the way the
 * count (after this insert) has come from grow_from. */
static void rehash_pace(struct hash_table *t)
{
    uint64_t done = t->count + 1 > t->grow_from ? t->count + 1 - t->grow_from : 0;
    uint64_t span = t->grow_to - t->grow_from, old_lines = t->lines;
    uint64_t target = done >= span ? old_lines : (done * old_lines + span - 1) / span;
    for (int moves = 0; hash_table_rehashing(t) && t->rehash_index < target && moves < HASH_TABLE_MAX_MOVES; moves++)
        if (!move_line(t))
            return;
}

/* Starts growing by a quarter; false if the new directory cannot be had. */
static bool grow_start(struct hash_table *t)
{
    size_t lines = t->lines + (t->lines + HASH_TABLE_GROWTH_DIV - 1) / HASH_TABLE_GROWTH_DIV;
    if (lines > HASH_TABLE_MAX_LINES)
        return false;
    if (!dir_alloc(t, 1, lines)) {
        arrays_same(t);
        return false;
    }
    t->new_lines = lines;
    t->new_segments = 0;
    t->rehash_index = 0;
    t->grow_from = t->count;
    /* At least a line an insert, even when the count ran ahead (after
     * failed growths). */
    t->grow_to = HASH_TABLE_MAX_LOAD * lines;
    if (t->grow_to < t->count + t->lines)
        t->grow_to = t->count + t->lines;
    return true;
}

/* The count from which an insert has more to do than file its entry:
 * allocate (no storage), start a growth, or move the next old line (the
 * first count whose pace target exceeds rehash_index). */
static void set_check_at(struct hash_table *t)
{
    if (t->dirs[0] == NULL)
        t->check_at = 0;
    else if (!hash_table_rehashing(t))
        t->check_at = HASH_TABLE_MAX_LOAD * t->lines;
    else
        t->check_at = t->grow_from + (size_t)((uint64_t)t->rehash_index * (t->grow_to - t->grow_from) / t->lines);
}

static int table_alloc(struct hash_table *t, size_t initial_entries)
{
    size_t lines = initial_entries / HASH_TABLE_MAX_LOAD + (initial_entries % HASH_TABLE_MAX_LOAD != 0);
    if (lines < HASH_TABLE_MIN_LINES)
        lines = HASH_TABLE_MIN_LINES;
    if (lines > HASH_TABLE_MAX_LINES)
        return -ENOMEM;
    if (!dir_alloc(t, 0, lines))
        return -ENOMEM;
    for (size_t k = 0; k < segments_of(t, 0, lines); k++)
        if (!segment_alloc(t, 0, lines, k)) {
            array_free(t, 0, lines);
            return -ENOMEM;
        }
    t->lines = lines;
    arrays_same(t);
    return 0;
}

/* An empty table with no storage. */
static void table_reset(struct hash_table *t)
{
    t->dirs[0] = t->dirs[1] = NULL;
    t->seg_shift[0] = t->seg_shift[1] = 0;
    t->seg_mask[0] = t->seg_mask[1] = 0;
    t->lines = t->new_lines = 0;
    t->rehash_index = t->new_segments = 0;
    t->grow_from = t->grow_to = 0;
    t->check_at = 0;
    t->count = 0;
    t->bytes = 0;
}

int hash_table_init(struct hash_table *t, size_t initial_entries, hash_table_next_fn next_of,
                    hash_table_hash_fn hash_of, void *ctx)
{
    table_reset(t);
    t->next_of = next_of;
    t->hash_of = hash_of;
    t->ctx = ctx;
    int rc = table_alloc(t, initial_entries);
    set_check_at(t);
    return rc;
}

void hash_table_free(struct hash_table *t)
{
    if (hash_table_rehashing(t))
        array_free(t, 1, t->new_lines);
    array_free(t, 0, t->lines);
    table_reset(t);
}

static int insert_slow(struct hash_table *t)
{
    if (t->dirs[0] == NULL && table_alloc(t, 0) != 0) /* freed or failed init */
        return -ENOMEM;
    if (!hash_table_rehashing(t) && t->count >= HASH_TABLE_MAX_LOAD * t->lines)
        grow_start(t);
    if (hash_table_rehashing(t))
        rehash_pace(t);
    set_check_at(t);
    if (t->count >= HASH_TABLE_MAX_LOAD_ON_ENOMEM * t->lines)
        return -ENOMEM; /* and could not grow */
    return 0;
}

int hash_table_insert(struct hash_table *t, uint32_t ref, uint32_t hash)
{
    if (t->count >= t->check_at && insert_slow(t) != 0)
        return -ENOMEM;
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
    uint32_t hash = t->hash_of(t->ctx, ref);
    slot_set(line, i, ref, hash);
    filter_count(line, hash, -1);
}

/* The slot of `line` that holds ref (filed under hash), or -1. */
static int slot_of(const struct hash_table_line *line, uint32_t ref, uint32_t hash)
{
    uint32_t want = ref | hash_table_tag_high(hash) << HASH_TABLE_REF_BITS;
    for (uint32_t m = hash_table_line_match(line, hash_table_tag_byte(hash)); m != 0; m &= m - 1) {
        unsigned i = (unsigned)__builtin_ctz(m);
        if ((line->slot[i] & ~HASH_TABLE_FILTER_MASK) == want)
            return (int)i;
    }
    return -1;
}

/* The link in `line`'s overflow chain that names ref, or NULL; *before:
 * the link naming its predecessor (NULL for the head). */
static uint32_t *chain_link_to(const struct hash_table *t, struct hash_table_line *line, uint32_t ref,
                               uint32_t **before)
{
    uint32_t *pp = &line->overflow;
    *before = NULL;
    while (*pp != 0 && hash_table_link_ref(*pp) != ref) {
        *before = pp;
        pp = t->next_of(t->ctx, hash_table_link_ref(*pp));
    }
    return *pp != 0 ? pp : NULL;
}

bool hash_table_remove(struct hash_table *t, uint32_t ref, uint32_t hash)
{
    if (t->dirs[0] == NULL)
        return false;
    struct hash_table_line *line = hash_table_line_of(t, hash);
    int i = slot_of(line, ref, hash);
    if (i >= 0) {
        line->tag[i] = 0;
        if (line->overflow != 0)
            promote(t, line, (unsigned)i); /* the slot keeps its filter counter */
        else
            line->slot[i] = 0;
        t->count--;
        return true;
    }
    uint32_t *before, *pp = chain_link_to(t, line, ref, &before);
    if (pp == NULL) /* not in this table */
        return false;
    uint32_t *link = t->next_of(t->ctx, ref);
    *pp = *link;
    if (*link == 0 && before != NULL)
        *before &= ~UINT32_C(1); /* the predecessor is now last */
    *link = 0;
    filter_count(line, hash, -1);
    t->count--;
    return true;
}

bool hash_table_replace(struct hash_table *t, uint32_t ref, uint32_t new_ref, uint32_t hash)
{
    if (t->dirs[0] == NULL)
        return false;
    struct hash_table_line *line = hash_table_line_of(t, hash);
    int i = slot_of(line, ref, hash);
    if (i >= 0) {
        line->slot[i] = (line->slot[i] & ~HASH_TABLE_REF_MASK) | new_ref;
        return true;
    }
    uint32_t *before, *pp = chain_link_to(t, line, ref, &before);
    if (pp == NULL) /* not in this table */
        return false;
    const uint32_t keep = (UINT32_C(1) << (HASH_TABLE_LINK_TAG_BITS + 1)) - 1; /* tag, "has a successor" */
    uint32_t *old_link = t->next_of(t->ctx, ref);
    *t->next_of(t->ctx, new_ref) = *old_link;
    *old_link = 0;
    *pp = new_ref << (HASH_TABLE_LINK_TAG_BITS + 1) | (*pp & keep);
    return true;
}

/* Walks an array's lines [from, to); true if fn asked to stop. A line's
 * overflow chain goes first (its next reference read before fn runs, so
 * fn may unlink its entry), then its slots: removing a slot's entry pulls
 * the chain's head into that slot, already visited. */
static bool walk_lines(const struct hash_table *t, unsigned a, size_t from, size_t to,
                       int (*fn)(void *ctx, uint32_t ref), void *ctx)
{
    for (size_t l = from; l < to; l++) {
        const struct hash_table_line *line = hash_table_line_at(t, a, l);
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
    if (t->dirs[0] == NULL)
        return;
    /* Removal never moves entries between lines, so both arrays stay as
     * they are: the old one's lines not yet moved, the new one's lines in
     * the segments it has so far. */
    if (walk_lines(t, 0, t->rehash_index, t->lines, fn, ctx))
        return;
    if (hash_table_rehashing(t)) {
        size_t filled = t->new_segments << t->seg_shift[1];
        walk_lines(t, 1, 0, filled < t->new_lines ? filled : t->new_lines, fn, ctx);
    }
}
