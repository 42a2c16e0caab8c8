/* Hash table in cache-line buckets: 1M entries, full lines and overflow
 * chains, tag collisions, incremental doubling, walks. */
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
    if (t->lines == NULL)
        return found;
    const struct hash_table_line *line = hash_table_line_of(t, e[i].hash);
    for (unsigned k = 0; k < HASH_TABLE_LINE_SLOTS; k++)
        in_line += line->tag[k] != 0 && (line->slot[k] & HASH_TABLE_REF_MASK) == i + 1;
    chain_length(e, line->overflow, i + 1, &in_line);
    assert_int_equal(found, in_line);
    return found;
}

/* The layout's invariants over both arrays: slots carry their entry's tag,
 * chain links their tag and "has a successor", a line has a chain only
 * when its slots are full, and every entry is in the line of its hash. */
static void check_lines(const struct hash_table *t, const struct entry *e)
{
    size_t total = 0;
    for (int table = 0; table < 2; table++) {
        const struct hash_table_line *lines = table == 0 ? t->lines : t->new_lines;
        size_t from = table == 0 ? t->rehash_index : 0, size = table == 0 ? t->mask + 1 : 2 * (t->mask + 1);
        for (size_t l = 0; lines != NULL && l < size; l++) {
            const struct hash_table_line *line = &lines[l];
            if (l < from) { /* moved */
                assert_int_equal(slots_used(line) + (line->overflow != 0), 0);
                continue;
            }
            for (unsigned k = 0; k < HASH_TABLE_LINE_SLOTS; k++) {
                if (line->tag[k] == 0) {
                    assert_int_equal(line->slot[k], 0);
                    continue;
                }
                uint32_t ref = line->slot[k] & HASH_TABLE_REF_MASK, h = e[ref - 1].hash;
                assert_int_equal(line->tag[k], hash_table_tag_byte(h));
                assert_int_equal(line->slot[k] >> HASH_TABLE_REF_BITS, hash_table_tag_high(h));
                assert_ptr_equal(hash_table_line_of(t, h), line);
                total++;
            }
            if (line->overflow != 0)
                assert_int_equal(slots_used(line), HASH_TABLE_LINE_SLOTS);
            for (uint32_t link = line->overflow; link != 0;) {
                uint32_t ref = hash_table_link_ref(link), next = e[ref - 1].next;
                assert_int_equal((link >> 1) & 0xf, hash_table_link_tag(e[ref - 1].hash));
                assert_int_equal(link & 1, next != 0);
                assert_ptr_equal(hash_table_line_of(t, e[ref - 1].hash), line);
                total++;
                link = next;
            }
        }
    }
    assert_int_equal(total, hash_table_count(t));
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

/* 1M random hashes: each found exactly once, through doublings and removals
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
        /* Spot checks while doublings are under way. */
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

/* Insert until a doubling starts, then remove, look up and insert while it
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

/* A hash != h that lands in h's line at every size up to 2^16 lines: its
 * mixed value differs from h's only in the low 16 bits. i picks which. */
static uint32_t line_neighbour(uint32_t h, uint32_t i)
{
    return ((h * HASH_TABLE_MIX) ^ (i + 1)) * mix_inverse();
}

/* A hash of h's line whose tag byte is `byte` and whose 5 high tag bits
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
    const uint32_t h = UINT32_C(0x12340abd);
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
        /* Slots compare 13 bits of tag, overflow links 4. */
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

/* The SWAR tag comparison agrees with a byte-by-byte one, whatever the
 * bytes around (0, 0x80, 0xff and near misses are where borrows bite). */
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
    }
}

/* A line fills its 12 slots before it chains; looking up an absent key in
 * a line with free slots reads no entry; tags are 13 bits in the slots. */
static void test_full_line_overflows(void **state)
{
    (void)state;
    enum { N = HASH_TABLE_LINE_SLOTS + 5 };
    struct entry e[N + 1] = {{0}};
    const uint32_t h = UINT32_C(0x7654321f);
    struct hash_table t;
    init(&t, 64, e); /* 8 lines: no doubling below 64 entries */
    const struct hash_table_line *line = hash_table_line_of(&t, h);
    /* Entries with h's tag byte but other high bits: never candidates. */
    for (uint32_t i = 0; i < HASH_TABLE_LINE_SLOTS - 1; i++)
        put(&t, e, i, line_neighbour_tagged(h, hash_table_tag_byte(h), (hash_table_tag_high(h) + 1 + i) % 32));
    size_t links;
    assert_int_equal(candidates(&t, h, &links), 0);
    assert_int_equal(links, 0);
    assert_int_equal(line->overflow, 0);
    /* An entry with the very same 13-bit tag is a candidate (the caller
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
    /* The chain's last link is not read. */
    candidates(&t, line_neighbour(h, 5000), &links);
    assert_int_equal(links, N - HASH_TABLE_LINE_SLOTS - 1);
    assert_false(hash_table_rehashing(&t));
    check_lines(&t, e);
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(times_found(&t, e, i), 1);
    hash_table_free(&t);
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
    init(&t, 512, e); /* 64 lines: no doubling */
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

/* A doubling in progress while lines overflow: every insert moves one old
 * line, chains included, and lookups, removals and walks stay exact. */
static void test_doubling_with_overflow(void **state)
{
    (void)state;
    enum { N = 600 };
    struct entry *e = calloc(N, sizeof *e);
    assert_non_null(e);
    struct hash_table t;
    init(&t, 8, e); /* 2 lines */
    uint64_t rng = 3;
    /* A third share one hash's line at every size: long chains that split
     * (or not) as the table doubles. */
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

static size_t longest_line(const struct hash_table *t, const struct entry *e)
{
    size_t longest = 0;
    for (int table = 0; table < 2; table++) {
        const struct hash_table_line *lines = table == 0 ? t->lines : t->new_lines;
        size_t size = table == 0 ? t->mask + 1 : 2 * (t->mask + 1);
        for (size_t i = 0; lines != NULL && i < size; i++) {
            int unused = 0;
            size_t length = slots_used(&lines[i]) + chain_length(e, lines[i].overflow, 0, &unused);
            if (length > longest)
                longest = length;
        }
    }
    return longest;
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

/* Walk in the middle of a doubling; stop early; remove every entry from
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
    /* Fill until a doubling of a table of >= 128 lines is under way. */
    while (n < N && !(hash_table_rehashing(&t) && t.mask >= 127)) {
        put(&t, e, n, (uint32_t)prng_next(&rng));
        n++;
    }
    assert_true(hash_table_rehashing(&t));
    assert_true(t.rehash_index > 0 && t.rehash_index <= t.mask);
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

static void test_init_and_free(void **state)
{
    (void)state;
    struct entry x[1] = {0};
    struct hash_table t;
    init(&t, 1000, x);
    assert_int_equal(t.mask + 1, 128); /* 1000 / HASH_TABLE_MAX_LOAD, up to a power of two */
    assert_int_equal((uintptr_t)t.lines % 64, 0);
    assert_int_equal(hash_table_count(&t), 0);
    assert_int_equal(hash_table_bytes(&t), 129 * 64); /* a line of alignment slack */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_free),
        cmocka_unit_test(test_collisions),
        cmocka_unit_test(test_line_match),
        cmocka_unit_test(test_full_line_overflows),
        cmocka_unit_test(test_remove_from_line_and_chain),
        cmocka_unit_test(test_walk_removing_overflowed_lines),
        cmocka_unit_test(test_doubling_with_overflow),
        cmocka_unit_test(test_weak_hashes_spread),
        cmocka_unit_test(test_walk_mid_rehash),
        cmocka_unit_test(test_removal_during_rehash),
        cmocka_unit_test(test_million_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
