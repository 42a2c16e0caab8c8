/* Hash table in cache-line buckets: 1M entries, full lines and overflow
 * chains, tag collisions, incremental growth, walks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/hash_table.h"

/* Fixed-seed PRNG (splitmix64). */
static uint64_t prng_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Entries are named by reference index + 1; the table finds their links
 * and hashes through the callbacks. */
struct entry {
    uint32_t id;
    bool present;
    uint32_t visits;
    uint32_t next; /* chain link */
    uint32_t hash;
};

static uint32_t *next_of(void *ctx, uint32_t ref)
{
    return &((struct entry *)ctx)[ref - 1].next;
}

static uint32_t hash_of(void *ctx, uint32_t ref)
{
    return ((struct entry *)ctx)[ref - 1].hash;
}

static void init(struct hash_table *t, size_t entries, struct entry *e)
{
    assert_int_equal(hash_table_init(t, entries, next_of, hash_of, e), 0);
}

static void put(struct hash_table *t, struct entry *e, uint32_t i, uint32_t hash)
{
    e[i].hash = hash;
    assert_int_equal(hash_table_insert(t, i + 1, hash), 0);
    e[i].present = true;
}

static void del(struct hash_table *t, struct entry *e, uint32_t i)
{
    assert_true(hash_table_remove(t, i + 1, e[i].hash));
    e[i].present = false;
}

/* Length of an overflow chain (tags ignored), and how often `ref` is in it. */
static size_t chain_length(const struct entry *e, uint32_t link, uint32_t ref, int *times)
{
    size_t n = 0;
    for (; link != 0; link = (link & 1) ? e[hash_table_link_ref(link) - 1].next : 0) {
        *times += hash_table_link_ref(link) == ref;
        n++;
    }
    return n;
}

/* Entries in a line's slots. */
static unsigned slots_used(const struct hash_table_line *line)
{
    unsigned n = 0;
    for (unsigned i = 0; i < HASH_TABLE_LINE_SLOTS; i++)
        n += line->tag[i] != 0;
    return n;
}

/* How many times entry i is among the candidates for its hash; its line
 * (slots and chain) holds it exactly as often, and every candidate has
 * its tag. */
static int times_found(const struct hash_table *t, const struct entry *e, uint32_t i)
{
    int found = 0, in_line = 0;
    struct hash_table_cursor c;
    uint32_t ref;
    if (hash_table_seek(t, e[i].hash, &c))
        while ((ref = hash_table_scan(t, &c, e[i].hash)) != 0) {
            uint32_t a = e[ref - 1].hash, b = e[i].hash; /* a slot's tag, or a link's */
            assert_true(hash_table_tag_byte(a) == hash_table_tag_byte(b) || hash_table_link_tag(a) == hash_table_link_tag(b));
            found += ref == i + 1;
        }
    if (t->dirs[0] == NULL)
        return found;
    const struct hash_table_line *line = hash_table_line_of(t, e[i].hash);
    for (unsigned k = 0; k < HASH_TABLE_LINE_SLOTS; k++)
        in_line += line->tag[k] != 0 && (line->slot[k] & HASH_TABLE_REF_MASK) == i + 1;
    chain_length(e, line->overflow, i + 1, &in_line);
    assert_int_equal(found, in_line);
    return found;
}

/* Calls fn on every line of both arrays that may hold entries: the old
 * array's lines not yet moved, the new one's lines in its segments. */
static void for_each_line(const struct hash_table *t, void (*fn)(const struct hash_table_line *line, void *arg),
                          void *arg)
{
    if (t->dirs[0] == NULL)
        return;
    for (size_t l = t->rehash_index; l < t->lines; l++)
        fn(hash_table_line_at(t, 0, l), arg);
    size_t filled = t->new_segments * (t->seg_mask[1] + 1);
    for (size_t l = 0; hash_table_rehashing(t) && l < t->new_lines && l < filled; l++)
        fn(hash_table_line_at(t, 1, l), arg);
}

struct line_check {
    const struct hash_table *t;
    const struct entry *e;
    size_t total;
};

static void check_line(const struct hash_table_line *line, void *arg)
{
    struct line_check *lc = arg;
    for (unsigned k = 0; k < HASH_TABLE_LINE_SLOTS; k++) {
        if (line->tag[k] == 0) {
            assert_int_equal(line->slot[k], 0);
            continue;
        }
        uint32_t ref = line->slot[k] & HASH_TABLE_REF_MASK, h = lc->e[ref - 1].hash;
        assert_int_equal(line->tag[k], hash_table_tag_byte(h));
        assert_int_equal(hash_table_slot_tag_high(line->slot[k]), hash_table_tag_high(h));
        assert_ptr_equal(hash_table_line_of(lc->t, h), line);
        lc->total++;
    }
    if (line->overflow != 0)
        assert_int_equal(slots_used(line), HASH_TABLE_LINE_SLOTS);
    uint32_t in_bucket[HASH_TABLE_LINE_SLOTS] = {0};
    for (uint32_t link = line->overflow; link != 0;) {
        uint32_t ref = hash_table_link_ref(link), next = lc->e[ref - 1].next;
        assert_int_equal((link >> 1) & 0xf, hash_table_link_tag(lc->e[ref - 1].hash));
        assert_int_equal(link & 1, next != 0);
        in_bucket[hash_table_filter_slot(lc->e[ref - 1].hash)]++;
        assert_ptr_equal(hash_table_line_of(lc->t, lc->e[ref - 1].hash), line);
        lc->total++;
        link = next;
    }
    /* The chain filter counts the chain's entries of each bucket exactly,
     * or is stuck at its top. */
    for (unsigned k = 0; line->overflow != 0 && k < HASH_TABLE_LINE_SLOTS; k++) {
        uint32_t n = hash_table_filter_count(line->slot[k]);
        if (n != HASH_TABLE_FILTER_STUCK)
            assert_int_equal(n, in_bucket[k]);
    }
}

/* The layout's invariants over both arrays: slots carry their entry's tag,
 * chain links their tag and "has a successor", a line has a chain only
 * when its slots are full, every entry is in the line of its hash; the
 * old array's moved segments are given back, the new one's allocated in
 * order, and the bytes counted are those held. */
static void check_lines(const struct hash_table *t, const struct entry *e)
{
    struct line_check lc = {.t = t, .e = e};
    for_each_line(t, check_line, &lc);
    assert_int_equal(lc.total, hash_table_count(t));
    if (t->dirs[0] == NULL)
        return;
    size_t bytes = 0;
    for (unsigned a = 0; a < (hash_table_rehashing(t) ? 2u : 1u); a++) {
        size_t lines = a == 0 ? t->lines : t->new_lines, per = t->seg_mask[a] + 1;
        size_t segments = (lines + per - 1) / per;
        assert_int_equal(per, (size_t)1 << t->seg_shift[a]);
        assert_true(segments <= (1u << HASH_TABLE_DIR_BITS));
        assert_true(t->seg_shift[a] == HASH_TABLE_SEGMENT_MIN_SHIFT || segments > (1u << (HASH_TABLE_DIR_BITS - 1)));
        for (size_t k = 0; k < segments; k++) {
            /* The old array gives back its moved segments; the new one has
             * its first new_segments. */
            bool there = a == 0 ? (k + 1) * per > t->rehash_index : k < t->new_segments;
            assert_true(there == (t->dirs[a][k] != NULL));
            if (t->dirs[a][k] != NULL) {
                assert_int_equal((uintptr_t)t->dirs[a][k] % 64, 0);
                bytes += (lines - k * per < per ? lines - k * per : per) * 64;
            }
        }
        bytes += segments * sizeof(void *);
    }
    if (!hash_table_rehashing(t)) {
        assert_int_equal(t->rehash_index, 0);
        assert_int_equal(t->new_lines, t->lines);
    }
    assert_int_equal(hash_table_bytes(t), bytes);
}

/* Walk callbacks. */
struct walk_state {
    struct hash_table *table;
    struct entry *entries;
    size_t n_entries;
    size_t visited;
    size_t stop_after; /* 0: never stop */
    bool remove_current;
};

static int count_visit(void *ctx, uint32_t ref)
{
    struct walk_state *ws = ctx;
    assert_true(ref >= 1 && ref <= ws->n_entries);
    struct entry *e = &ws->entries[ref - 1];
    assert_true(e >= ws->entries && e < ws->entries + ws->n_entries);
    assert_true(e->present);
    e->visits++;
    ws->visited++;
    if (ws->remove_current) {
        del(ws->table, ws->entries, ref - 1);
    }
    return ws->stop_after != 0 && ws->visited >= ws->stop_after;
}

static void check_walk_visits_each_once(struct hash_table *t, struct entry *entries, size_t count)
{
    struct walk_state ws = {.table = t, .entries = entries, .n_entries = count};
    for (size_t i = 0; i < count; i++)
        entries[i].visits = 0;
    hash_table_walk(t, count_visit, &ws);
    assert_int_equal(ws.visited, hash_table_count(t));
    for (size_t i = 0; i < count; i++)
        assert_int_equal(entries[i].visits, entries[i].present ? 1 : 0);
}

/* 1M random hashes: each found exactly once, through growths and removals
 * in random order. */
static void test_million_entries(void **state)
{
    (void)state;
    enum { N = 1000000 };
    struct entry *e = calloc(N, sizeof *e);
    uint32_t *order = calloc(N, sizeof *order);
    assert_non_null(e);
    assert_non_null(order);
    uint64_t rng = 42;
    struct hash_table t;
    init(&t, 16, e);

    for (uint32_t i = 0; i < N; i++) {
        e[i].id = i;
        put(&t, e, i, (uint32_t)prng_next(&rng));
        /* Spot checks while growths are under way. */
        if (i % 997 == 0)
            assert_int_equal(times_found(&t, e, i / 2), 1);
    }
    assert_int_equal(hash_table_count(&t), N);
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(times_found(&t, e, i), 1);
    check_lines(&t, e);
    check_walk_visits_each_once(&t, e, N);

    /* Remove in a random order (Fisher-Yates), half, then check all. */
    for (uint32_t i = 0; i < N; i++)
        order[i] = i;
    for (uint32_t i = N - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(prng_next(&rng) % (i + 1));
        uint32_t tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    for (uint32_t k = 0; k < N / 2; k++)
        del(&t, e, order[k]);
    assert_int_equal(hash_table_count(&t), N - N / 2);
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(times_found(&t, e, i), e[i].present ? 1 : 0);
    check_lines(&t, e);
    check_walk_visits_each_once(&t, e, N);

    /* Re-insert the removed half, then remove everything. */
    for (uint32_t k = 0; k < N / 2; k++)
        put(&t, e, order[k], e[order[k]].hash);
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(times_found(&t, e, i), 1);
    for (uint32_t k = 0; k < N; k++)
        del(&t, e, order[k]);
    assert_int_equal(hash_table_count(&t), 0);
    struct hash_table_cursor c;
    for (uint32_t i = 0; i < N; i += 101)
        assert_false(hash_table_seek(&t, e[i].hash, &c));

    hash_table_free(&t);
    free(order);
    free(e);
}

/* Insert until a growth starts, then remove, look up and insert while it
 * is under way. */
static void test_removal_during_rehash(void **state)
{
    (void)state;
    enum { N = 4096 };
    struct entry *e = calloc(N, sizeof *e);
    assert_non_null(e);
    uint64_t rng = 7;
    struct hash_table t;
    init(&t, 1024, e); /* 128 lines */

    uint32_t inserted = 0;
    int rehash_phases = 0;
    bool was_rehashing = false;
    while (inserted < N) {
        put(&t, e, inserted, (uint32_t)prng_next(&rng));
        inserted++;
        if (hash_table_rehashing(&t)) {
            if (!was_rehashing)
                rehash_phases++;
            /* Remove an older entry mid-rehash, re-check a random one. */
            uint32_t victim = (uint32_t)(prng_next(&rng) % inserted);
            if (e[victim].present)
                del(&t, e, victim);
            uint32_t probe = (uint32_t)(prng_next(&rng) % inserted);
            assert_int_equal(times_found(&t, e, probe), e[probe].present ? 1 : 0);
            check_lines(&t, e);
            check_walk_visits_each_once(&t, e, inserted);
        }
        was_rehashing = hash_table_rehashing(&t);
    }
    assert_true(rehash_phases >= 2); /* 128 -> 256 -> 512 lines */
    size_t present = 0;
    for (uint32_t i = 0; i < N; i++) {
        assert_int_equal(times_found(&t, e, i), e[i].present ? 1 : 0);
        present += e[i].present;
    }
    assert_int_equal(hash_table_count(&t), present);
    hash_table_free(&t);
    free(e);
}

/* The multiplicative inverse of HASH_TABLE_MIX modulo 2^32 (Newton). */
static uint32_t mix_inverse(void)
{
    uint32_t x = HASH_TABLE_MIX;
    for (int i = 0; i < 5; i++)
        x *= 2 - HASH_TABLE_MIX * x;
    return x;
}

/* The hash whose mixed value (hash * HASH_TABLE_MIX) is m. */
static uint32_t unmixed(uint32_t m)
{
    return m * mix_inverse();
}

/* A hash != h whose mixed value differs from h's only in the low 16 bits,
 * so in h's line unless a line boundary (a multiple of 2^32 / lines,
 * rounded up) falls in between; never when h's mixed value is below 2^16
 * (line 0) or above 2^32 - 2^16 (the last line), up to 2^16 lines. i
 * picks which. */
static uint32_t line_neighbour(uint32_t h, uint32_t i)
{
    return ((h * HASH_TABLE_MIX) ^ (i + 1)) * mix_inverse();
}

/* A hash of h's line whose tag byte is `byte` and whose high tag bits
 * are `high` (hash bits 1-13 are the low bits of the mixed value). */
static uint32_t line_neighbour_tagged(uint32_t h, uint32_t byte, uint32_t high)
{
    for (uint32_t i = 0;; i++) {
        uint32_t x = line_neighbour(h, i);
        if (hash_table_tag_byte(x) == byte && hash_table_tag_high(x) == high && x != h)
            return x;
    }
}

/* Counts next_of calls: a lookup that reads an entry's link shows here. */
static size_t links_read;
static uint32_t *next_of_counted(void *ctx, uint32_t ref)
{
    links_read++;
    return next_of(ctx, ref);
}

/* Candidates scan_with returns for `hash`, and the links it read. */
static size_t candidates(const struct hash_table *t, uint32_t hash, size_t *links)
{
    struct hash_table_cursor c;
    size_t n = 0;
    links_read = 0;
    if (hash_table_seek(t, hash, &c))
        while (hash_table_scan_with(t, &c, hash, next_of_counted, t->ctx) != 0)
            n++;
    *links = links_read;
    return n;
}

/* Many entries with one hash, plus entries sharing their line but not
 * their hash: all are found, and removal takes out exactly the one. */
static void test_collisions(void **state)
{
    (void)state;
    enum { SAME = 1000, NEIGHBOURS = 1000 };
    struct entry *e = calloc(SAME + NEIGHBOURS, sizeof *e);
    assert_non_null(e);
    const uint32_t h = unmixed(UINT32_C(0x00000abd)); /* line 0 at every size */
    assert_int_equal((uint32_t)(HASH_TABLE_MIX * mix_inverse()), 1);
    struct hash_table t;
    init(&t, 8, e);
    for (uint32_t i = 0; i < SAME + NEIGHBOURS; i++)
        put(&t, e, i, i < SAME ? h : line_neighbour(h, i));
    /* They really do share one line (old or new array): 12 slots and a
     * chain, and a lookup skips the neighbours whose tag differs. */
    const struct hash_table_line *line = hash_table_line_of(&t, h);
    int unused = 0;
    assert_int_equal(slots_used(line) + chain_length(e, line->overflow, 0, &unused), SAME + NEIGHBOURS);
    size_t tag_twins = 0, links;
    for (uint32_t i = SAME; i < SAME + NEIGHBOURS; i++) {
        uint32_t x = e[i].hash;
        bool in_slot = false;
        for (unsigned k = 0; k < HASH_TABLE_LINE_SLOTS; k++)
            in_slot |= (line->slot[k] & HASH_TABLE_REF_MASK) == i + 1;
        /* Slots compare 12 bits of tag, overflow links 4. */
        if (in_slot ? hash_table_tag_byte(x) == hash_table_tag_byte(h) && hash_table_tag_high(x) == hash_table_tag_high(h)
                    : hash_table_link_tag(x) == hash_table_link_tag(h))
            tag_twins++;
    }
    assert_int_equal(candidates(&t, h, &links), SAME + tag_twins);
    assert_true(tag_twins < NEIGHBOURS / 8);
    check_lines(&t, e);
    for (uint32_t i = 0; i < SAME; i += 2)
        del(&t, e, i);
    assert_false(hash_table_remove(&t, 1, h)); /* already out */
    for (uint32_t i = 0; i < SAME + NEIGHBOURS; i++)
        assert_int_equal(times_found(&t, e, i), e[i].present ? 1 : 0);
    check_lines(&t, e);
    check_walk_visits_each_once(&t, e, SAME + NEIGHBOURS);
    hash_table_free(&t);
    free(e);
}

/* The tag comparisons (SSE2 where built with it, and the portable SWAR
 * one) agree with a byte-by-byte one, whatever the bytes around (0, 0x80,
 * 0xff and near misses are where SWAR's borrows bite). */
static void test_line_match(void **state)
{
    (void)state;
    static const uint8_t edge[] = {0, 1, 2, 0x7f, 0x80, 0x81, 0xfe, 0xff};
    uint64_t rng = 5;
    struct hash_table_line line;
    for (int round = 0; round < 20000; round++) {
        memset(&line, 0, sizeof line);
        for (unsigned k = 0; k < HASH_TABLE_LINE_SLOTS; k++) {
            uint64_t r = prng_next(&rng);
            line.tag[k] = (uint8_t)(r & 1 ? edge[(r >> 1) % sizeof edge] : r >> 8);
        }
        line.overflow = (uint32_t)prng_next(&rng); /* the bytes after the tags never match */
        uint32_t byte = round < 256 ? (uint32_t)round : line.tag[prng_next(&rng) % HASH_TABLE_LINE_SLOTS];
        uint32_t want = 0;
        for (unsigned k = 0; k < HASH_TABLE_LINE_SLOTS; k++)
            want |= (uint32_t)(line.tag[k] == byte) << k;
        assert_int_equal(hash_table_line_match(&line, byte), want);
        assert_int_equal(hash_table_line_match_swar(&line, byte), want);
    }
}

/* A line fills its 12 slots before it chains; looking up an absent key in
 * a line with free slots reads no entry; tags are 11 bits in the slots;
 * an absent key walks the chain only if its filter counter is not 0, and
 * then does not read the last entry. */
static void test_full_line_overflows(void **state)
{
    (void)state;
    enum { N = HASH_TABLE_LINE_SLOTS + 5 };
    struct entry e[N + 1] = {{0}};
    const uint32_t h = UINT32_C(0x7654321f);
    struct hash_table t;
    init(&t, 64, e); /* 8 lines: no growth below 72 entries */
    const struct hash_table_line *line = hash_table_line_of(&t, h);
    /* Entries with h's tag byte but other high bits, then with another
     * tag byte: never candidates. */
    const uint32_t highs = 1u << HASH_TABLE_TAG_HIGH_BITS, byte = hash_table_tag_byte(h);
    for (uint32_t i = 0; i < HASH_TABLE_LINE_SLOTS - 1; i++)
        put(&t, e, i,
            i < highs - 1 ? line_neighbour_tagged(h, byte, (hash_table_tag_high(h) + 1 + i) % highs)
                          : line_neighbour_tagged(h, byte % 255 + 1, i % highs));
    size_t links;
    assert_int_equal(candidates(&t, h, &links), 0);
    assert_int_equal(links, 0);
    assert_int_equal(line->overflow, 0);
    /* An entry with the very same 11-bit tag is a candidate (the caller
     * compares keys). */
    uint32_t twin = line_neighbour_tagged(h, hash_table_tag_byte(h), hash_table_tag_high(h));
    put(&t, e, HASH_TABLE_LINE_SLOTS - 1, twin);
    assert_int_equal(slots_used(line), HASH_TABLE_LINE_SLOTS);
    assert_int_equal(candidates(&t, h, &links), 1);
    assert_int_equal(links, 0);
    /* The line is full: the rest chain, newest first. */
    for (uint32_t i = HASH_TABLE_LINE_SLOTS; i < N; i++)
        put(&t, e, i, line_neighbour(h, 100 + i));
    assert_int_equal(hash_table_link_ref(line->overflow), N);
    int unused = 0;
    assert_int_equal(chain_length(e, line->overflow, 0, &unused), N - HASH_TABLE_LINE_SLOTS);
    /* Absent keys: one whose filter counter is 0 reads no link; one whose
     * counter is not walks the chain, but does not read its last link. */
    uint32_t clear = 0, set = 0;
    for (uint32_t i = 5000; clear == 0 || set == 0; i++) {
        uint32_t x = line_neighbour(h, i);
        if (hash_table_filter_count(line->slot[hash_table_filter_slot(x)]) != 0)
            set = set ? set : x;
        else
            clear = clear ? clear : x;
    }
    assert_int_equal(candidates(&t, clear, &links), 0);
    assert_int_equal(links, 0);
    candidates(&t, set, &links);
    assert_int_equal(links, N - HASH_TABLE_LINE_SLOTS - 1);
    assert_false(hash_table_rehashing(&t));
    check_lines(&t, e);
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(times_found(&t, e, i), 1);
    hash_table_free(&t);
}

/* Entries passing through the chain of a line of long-lived ones (as
 * short-lived connections do) leave its filter as it was: however many
 * passed, only the buckets of the chain's entries are counted, and an
 * absent key of another bucket reads no link. Each pass also takes a
 * long-lived entry out of a slot and puts it back (into the chain: the
 * head moves into the slot). One filter bit a bucket, set and never
 * cleared, would have them all set after a few dozen passes. */
static void test_filter_forgets_entries_that_left(void **state)
{
    (void)state;
    enum { HELD = HASH_TABLE_LINE_SLOTS + 3, PASSING = 3000 };
    struct entry *e = calloc(HELD + PASSING, sizeof *e);
    assert_non_null(e);
    const uint32_t h = UINT32_C(0x2468ace1);
    struct hash_table t;
    init(&t, 64, e); /* 8 lines: no growth below 72 entries */
    for (uint32_t i = 0; i < HELD; i++)
        put(&t, e, i, line_neighbour(h, i));
    const struct hash_table_line *line = hash_table_line_of(&t, h);
    for (uint32_t p = 0; p < PASSING; p++) {
        uint32_t i = HELD + p, held = p % HELD;
        put(&t, e, i, line_neighbour(h, 1000 + p));
        del(&t, e, held);
        put(&t, e, held, e[held].hash);
        del(&t, e, i);
        if (p % 500 == 0)
            check_lines(&t, e);
    }
    check_lines(&t, e);
    int unused = 0;
    size_t chained = chain_length(e, line->overflow, 0, &unused), counted = 0;
    assert_int_equal(chained, HELD - HASH_TABLE_LINE_SLOTS);
    for (unsigned k = 0; k < HASH_TABLE_LINE_SLOTS; k++)
        counted += hash_table_filter_count(line->slot[k]) != 0;
    assert_true(counted <= chained);
    size_t skipped = 0;
    for (uint32_t k = 0; k < 200; k++) {
        uint32_t x = line_neighbour(h, 100000 + k);
        size_t links;
        candidates(&t, x, &links); /* tag twins may be candidates; keys tell */
        if (hash_table_filter_count(line->slot[hash_table_filter_slot(x)]) == 0) {
            assert_int_equal(links, 0);
            skipped++;
        }
    }
    assert_true(skipped >= 200 / 2);
    hash_table_free(&t);
    free(e);
}

/* Removal from the slots pulls the chain's head in; removal from the chain
 * (head, middle, last) relinks it; an absent reference is refused. */
static void test_remove_from_line_and_chain(void **state)
{
    (void)state;
    enum { N = HASH_TABLE_LINE_SLOTS + 6 };
    struct entry e[N] = {{0}};
    const uint32_t h = UINT32_C(0x0badcafd);
    struct hash_table t;
    init(&t, 64, e);
    for (uint32_t i = 0; i < N; i++)
        put(&t, e, i, line_neighbour(h, i));
    const struct hash_table_line *line = hash_table_line_of(&t, h);
    int unused = 0;
    assert_int_equal(chain_length(e, line->overflow, 0, &unused), 6);
    /* Chain: N, N-1, ..., N-5 (references). A slot entry goes: the head
     * (N) moves into its slot. */
    del(&t, e, 3);
    assert_int_equal(slots_used(line), HASH_TABLE_LINE_SLOTS);
    assert_int_equal(hash_table_link_ref(line->overflow), N - 1);
    assert_int_equal(times_found(&t, e, N - 1), 1);
    check_lines(&t, e);
    /* The chain's last (N-5), its head (N-1), one in the middle (N-3). */
    del(&t, e, N - 6);
    check_lines(&t, e);
    del(&t, e, N - 2);
    assert_int_equal(hash_table_link_ref(line->overflow), N - 2);
    del(&t, e, N - 4);
    check_lines(&t, e);
    assert_int_equal(chain_length(e, line->overflow, 0, &unused), 2);
    /* Not there: neither a reference in the line under another hash, nor
     * a removed one. */
    assert_false(hash_table_remove(&t, 1, line_neighbour(h, 999)));
    assert_false(hash_table_remove(&t, 4, e[3].hash));
    /* Emptying the slots drains the chain into them. */
    for (uint32_t i = 0; i < N; i++)
        if (e[i].present && slots_used(line) > 8)
            del(&t, e, i);
    assert_int_equal(line->overflow, 0);
    check_lines(&t, e);
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(times_found(&t, e, i), e[i].present ? 1 : 0);
    check_walk_visits_each_once(&t, e, N);
    hash_table_free(&t);
}

/* A walk that removes every entry of lines with chains (each removal from
 * a slot pulls a visited chain entry in) visits each entry once. */
static void test_walk_removing_overflowed_lines(void **state)
{
    (void)state;
    enum { LINES = 4, PER_LINE = 20, N = LINES * PER_LINE };
    struct entry e[N] = {{0}};
    struct hash_table t;
    init(&t, 512, e); /* 57 lines: no growth */
    for (uint32_t l = 0; l < LINES; l++)
        for (uint32_t i = 0; i < PER_LINE; i++)
            put(&t, e, l * PER_LINE + i, line_neighbour(UINT32_C(0x9000001) * (l + 1), i));
    check_lines(&t, e);
    struct walk_state drain = {.table = &t, .entries = e, .n_entries = N, .remove_current = true};
    hash_table_walk(&t, count_visit, &drain);
    assert_int_equal(drain.visited, N);
    assert_int_equal(hash_table_count(&t), 0);
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(e[i].visits, 1);
    hash_table_free(&t);
}

/* A growth in progress while lines overflow: inserts move old lines,
 * chains included, and lookups, removals and walks stay exact. */
static void test_growth_with_overflow(void **state)
{
    (void)state;
    enum { N = 600 };
    struct entry *e = calloc(N, sizeof *e);
    assert_non_null(e);
    struct hash_table t;
    init(&t, 8, e); /* 1 line */
    uint64_t rng = 3;
    /* A third share one hash's line at many sizes: long chains that split
     * (or not) as the table grows. */
    for (uint32_t i = 0; i < N; i++) {
        put(&t, e, i, i % 3 == 0 ? line_neighbour(UINT32_C(0x31337), i) : (uint32_t)prng_next(&rng));
        if (hash_table_rehashing(&t) && i % 7 == 0) {
            uint32_t victim = (uint32_t)(prng_next(&rng) % (i + 1));
            if (e[victim].present)
                del(&t, e, victim);
            check_lines(&t, e);
            check_walk_visits_each_once(&t, e, i + 1);
        }
    }
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(times_found(&t, e, i), e[i].present ? 1 : 0);
    check_lines(&t, e);
    hash_table_free(&t);
    free(e);
}

struct longest {
    const struct entry *e;
    size_t length;
};

static void note_length(const struct hash_table_line *line, void *arg)
{
    struct longest *lg = arg;
    int unused = 0;
    size_t length = slots_used(line) + chain_length(lg->e, line->overflow, 0, &unused);
    if (length > lg->length)
        lg->length = length;
}

static size_t longest_line(const struct hash_table *t, const struct entry *e)
{
    struct longest lg = {.e = e};
    for_each_line(t, note_length, &lg);
    return lg.length;
}

/* Hashes with a forced low bit (as the stack uses to keep 0 for "none"),
 * sequential integers, or only high bits still spread. */
static void test_weak_hashes_spread(void **state)
{
    (void)state;
    enum { N = 1 << 14 };
    struct entry *e = calloc(N, sizeof *e);
    assert_non_null(e);
    for (int kind = 0; kind < 3; kind++) {
        struct hash_table t;
        init(&t, N, e);
        for (uint32_t i = 0; i < N; i++)
            put(&t, e, i, kind == 0 ? (i << 1) | 1 : kind == 1 ? i : (i << 18) | 1);
        assert_false(hash_table_rehashing(&t));
        assert_true(longest_line(&t, e) <= HASH_TABLE_MAX_LOAD + 4);
        hash_table_free(&t);
    }
    free(e);
}

/* Walk in the middle of a growth; stop early; remove every entry from
 * inside the walk. */
static void test_walk_mid_rehash(void **state)
{
    (void)state;
    enum { N = 3000 };
    struct entry *e = calloc(N, sizeof *e);
    assert_non_null(e);
    uint64_t rng = 99;
    struct hash_table t;
    init(&t, 0, e);
    uint32_t n = 0;
    /* Fill until a growth of a table of >= 128 lines is a few lines in. */
    while (n < N && !(hash_table_rehashing(&t) && t.lines >= 128 && t.rehash_index >= 4)) {
        put(&t, e, n, (uint32_t)prng_next(&rng));
        n++;
    }
    assert_true(hash_table_rehashing(&t));
    assert_true(t.rehash_index > 0 && t.rehash_index < t.lines);
    check_walk_visits_each_once(&t, e, n);

    struct walk_state stop = {.table = &t, .entries = e, .n_entries = n, .stop_after = 10};
    hash_table_walk(&t, count_visit, &stop);
    assert_int_equal(stop.visited, 10);

    for (uint32_t i = 0; i < n; i++)
        e[i].visits = 0;
    struct walk_state drain = {.table = &t, .entries = e, .n_entries = n, .remove_current = true};
    hash_table_walk(&t, count_visit, &drain);
    assert_int_equal(drain.visited, n);
    assert_int_equal(hash_table_count(&t), 0);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(e[i].visits, 1);
        assert_false(e[i].present);
    }
    hash_table_free(&t);
    free(e);
}

/* Over 30 growths from one line, with removals and re-insertions
 * interleaved while lines move: every entry is found exactly once all
 * along, and layout and walks hold in the middle and at the end of each
 * growth. */
static void test_many_growths_interleaved(void **state)
{
    (void)state;
    enum { N = 60000 };
    struct entry *e = calloc(N, sizeof *e);
    assert_non_null(e);
    uint64_t rng = 11;
    struct hash_table t;
    init(&t, 0, e);
    assert_int_equal(t.lines, 1);
    uint32_t inserted = 0;
    int growths = 0;
    bool was_rehashing = false, checked_mid = false;
    while (inserted < N) {
        put(&t, e, inserted, (uint32_t)prng_next(&rng));
        inserted++;
        if (hash_table_rehashing(&t)) {
            uint64_t r = prng_next(&rng);
            uint32_t v = (uint32_t)(r % inserted);
            if ((r >> 32) % 3 == 0 && e[v].present)
                del(&t, e, v);
            else if ((r >> 32) % 3 == 1 && !e[v].present)
                put(&t, e, v, e[v].hash); /* back in, while lines move */
            uint32_t probe = (uint32_t)((r >> 40) % inserted);
            assert_int_equal(times_found(&t, e, probe), e[probe].present ? 1 : 0);
            if (!checked_mid && t.rehash_index >= t.lines / 2) {
                check_lines(&t, e);
                check_walk_visits_each_once(&t, e, inserted);
                checked_mid = true;
            }
        } else if (was_rehashing) {
            growths++;
            check_lines(&t, e);
            checked_mid = false;
        }
        was_rehashing = hash_table_rehashing(&t);
    }
    assert_true(growths >= 30);
    assert_true(t.lines > (8u << HASH_TABLE_SEGMENT_MIN_SHIFT)); /* many segments, given back as they move */
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(times_found(&t, e, i), e[i].present ? 1 : 0);
    check_lines(&t, e);
    check_walk_visits_each_once(&t, e, N);
    hash_table_free(&t);
    free(e);
}

/* The table holds about count / HASH_TABLE_MAX_LOAD lines at every size,
 * in the middle of growths too (never two whole arrays at once), and
 * never much fewer. */
static void test_bytes_follow_count(void **state)
{
    (void)state;
    enum { N = 300000, FROM = 5000 };
    struct entry *e = calloc(N, sizeof *e);
    assert_non_null(e);
    uint64_t rng = 13;
    struct hash_table t;
    init(&t, 0, e);
    size_t mid_growth = 0;
    for (uint32_t i = 0; i < N; i++) {
        put(&t, e, i, (uint32_t)prng_next(&rng));
        size_t count = i + 1;
        if (count < FROM)
            continue;
        /* Lines for the count, a part-moved segment of the old array and a
         * part-filled one of the new array, and the directories. */
        size_t lines_max = count / HASH_TABLE_MAX_LOAD + t.seg_mask[0] + t.seg_mask[1] + 4;
        size_t dirs_max = (2u << HASH_TABLE_DIR_BITS) * sizeof(void *);
        /* The segments part moved are at most 1/64 of the table. */
        assert_true(t.seg_mask[0] + t.seg_mask[1] < count / HASH_TABLE_MAX_LOAD / 32 + (2u << HASH_TABLE_SEGMENT_MIN_SHIFT));
        assert_true(hash_table_bytes(&t) <= lines_max * 64 + dirs_max);
        /* At most a growth's worth more loaded. */
        size_t lines_min = count / (HASH_TABLE_MAX_LOAD + HASH_TABLE_MAX_LOAD / HASH_TABLE_GROWTH_DIV + 1);
        assert_true(hash_table_bytes(&t) >= lines_min * 64);
        mid_growth += hash_table_rehashing(&t);
    }
    assert_true(mid_growth > (N - FROM) / 2); /* growing most of the time */
    check_lines(&t, e);
    hash_table_free(&t);
    free(e);
}

/* Walk callback: removes the entries whose id has the given parity. */
struct thinning {
    struct hash_table *table;
    struct entry *entries;
    size_t visited;
    uint32_t parity;
};

static int thin_visit(void *ctx, uint32_t ref)
{
    struct thinning *th = ctx;
    struct entry *x = &th->entries[ref - 1];
    assert_true(x->present);
    x->visits++;
    th->visited++;
    if ((x->id & 1) == th->parity)
        del(th->table, th->entries, ref - 1);
    return 0;
}

/* Walks that remove half the entries they are given, a third of the way
 * into growths of tables of a few to many segments: each entry is visited
 * once, exactly the chosen ones go, and the growths go on. */
static void test_walks_removing_during_growths(void **state)
{
    (void)state;
    enum { N = 40000 };
    struct entry *e = calloc(N, sizeof *e);
    assert_non_null(e);
    uint64_t rng = 17;
    struct hash_table t;
    init(&t, 0, e);
    int walks = 0;
    size_t walked_at = 0;
    for (uint32_t i = 0; i < N; i++) {
        e[i].id = i;
        put(&t, e, i, (uint32_t)prng_next(&rng));
        if (!hash_table_rehashing(&t) || t.lines < 16 || t.lines == walked_at || t.rehash_index < t.lines / 3)
            continue;
        walked_at = t.lines;
        struct thinning th = {.table = &t, .entries = e, .parity = (uint32_t)walks & 1};
        size_t before = hash_table_count(&t), going = 0;
        for (uint32_t k = 0; k <= i; k++) {
            e[k].visits = 0;
            going += e[k].present && (e[k].id & 1) == th.parity;
        }
        hash_table_walk(&t, thin_visit, &th);
        assert_int_equal(th.visited, before);
        assert_int_equal(hash_table_count(&t), before - going);
        for (uint32_t k = 0; k <= i; k++) {
            assert_true(e[k].visits <= 1);
            assert_int_equal(times_found(&t, e, k), e[k].present ? 1 : 0);
        }
        check_lines(&t, e);
        walks++;
    }
    assert_true(walks >= 15);
    check_walk_visits_each_once(&t, e, N);
    hash_table_free(&t);
    free(e);
}

static void test_init_and_free(void **state)
{
    (void)state;
    struct entry x[1] = {0};
    struct hash_table t;
    init(&t, 1000, x);
    assert_int_equal(t.lines, (1000 + HASH_TABLE_MAX_LOAD - 1) / HASH_TABLE_MAX_LOAD);
    assert_int_equal((uintptr_t)t.dirs[0][0] % 64, 0);
    assert_int_equal(hash_table_count(&t), 0);
    assert_int_equal(hash_table_bytes(&t), t.lines * 64 + sizeof(void *)); /* one segment */
    struct hash_table_cursor c;
    assert_false(hash_table_seek(&t, 5, &c));
    hash_table_free(&t);
    hash_table_free(&t); /* twice is harmless */
    assert_int_equal(hash_table_bytes(&t), 0);
    assert_false(hash_table_seek(&t, 5, &c));
    struct walk_state ws = {.table = &t, .entries = x, .n_entries = 1};
    hash_table_walk(&t, count_visit, &ws); /* a freed table is empty */
    assert_int_equal(ws.visited, 0);
    assert_false(hash_table_remove(&t, 1, 5));
    assert_int_equal(hash_table_count(&t), 0);

    /* A freed table works again on insert. */
    put(&t, x, 0, 5);
    assert_true(hash_table_seek(&t, 5, &c));
    assert_int_equal(hash_table_scan(&t, &c, 5), 1);
    assert_int_equal(hash_table_scan(&t, &c, 5), 0);
    hash_table_prefetch(&t, 5);
    del(&t, x, 0);
    assert_false(hash_table_remove(&t, 1, 5)); /* not in the table */
    assert_int_equal(hash_table_count(&t), 0);
    hash_table_free(&t);

    assert_int_equal(hash_table_init(&t, SIZE_MAX, next_of, hash_of, x), -ENOMEM);
    assert_int_equal(hash_table_init(&t, SIZE_MAX / 4, next_of, hash_of, x), -ENOMEM);
    hash_table_free(&t);
}

/* Replacing an entry by another of the same hash (a half-open entry by its
 * child, a control block by its TIME-WAIT entry) keeps its place, in a
 * slot or anywhere in a chain, and never grows the table. */
static void test_replace_in_slots_and_chains(void **state)
{
    (void)state;
    enum { SAME = 40, SPARE = SAME };
    struct entry *e = calloc(SAME + SPARE, sizeof *e);
    assert_non_null(e);
    const uint32_t h = unmixed(UINT32_C(0x00000abd)); /* line 0 at every size */
    struct hash_table t;
    init(&t, 8, e);
    for (uint32_t i = 0; i < SAME; i++)
        put(&t, e, i, h); /* one line: 12 in slots, the rest chained */
    check_lines(&t, e);
    size_t count = hash_table_count(&t), bytes = hash_table_bytes(&t);
    /* every third, slot and chain alike: 12 and 39, the chain's two ends, among them */
    for (uint32_t i = 0; i < SAME; i += 3) {
        uint32_t n = SAME + i;
        e[n].hash = e[i].hash;
        assert_true(hash_table_replace(&t, i + 1, n + 1, e[i].hash));
        e[i].present = false;
        e[n].present = true;
        assert_int_equal(e[i].next, 0);
    }
    assert_false(hash_table_replace(&t, 1, 2, h)); /* 1 is out: nothing changes */
    assert_int_equal(hash_table_count(&t), count);
    assert_int_equal(hash_table_bytes(&t), bytes);
    for (uint32_t i = 0; i < SAME + SPARE; i++)
        assert_int_equal(times_found(&t, e, i), e[i].present ? 1 : 0);
    check_lines(&t, e);
    check_walk_visits_each_once(&t, e, SAME + SPARE);
    hash_table_free(&t);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_free),
        cmocka_unit_test(test_collisions),
        cmocka_unit_test(test_replace_in_slots_and_chains),
        cmocka_unit_test(test_line_match),
        cmocka_unit_test(test_full_line_overflows),
        cmocka_unit_test(test_remove_from_line_and_chain),
        cmocka_unit_test(test_filter_forgets_entries_that_left),
        cmocka_unit_test(test_walk_removing_overflowed_lines),
        cmocka_unit_test(test_growth_with_overflow),
        cmocka_unit_test(test_weak_hashes_spread),
        cmocka_unit_test(test_walk_mid_rehash),
        cmocka_unit_test(test_removal_during_rehash),
        cmocka_unit_test(test_many_growths_interleaved),
        cmocka_unit_test(test_bytes_follow_count),
        cmocka_unit_test(test_walks_removing_during_growths),
        cmocka_unit_test(test_million_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
