/* Intrusive hash table: 1M entries, collisions, incremental doubling, walks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

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

static void init(struct hash_table *t, size_t buckets, struct entry *e)
{
    assert_int_equal(hash_table_init(t, buckets, next_of, hash_of, e), 0);
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

/* Length of a chain from a link (tags ignored), and how often `ref` is in it. */
static size_t chain_length(const struct entry *e, uint32_t link, uint32_t ref, int *times)
{
    size_t n = 0;
    for (; link != 0; link = (link & 1) ? e[hash_table_link_ref(link) - 1].next : 0) {
        *times += hash_table_link_ref(link) == ref;
        n++;
    }
    return n;
}

/* How many times entry i is among the candidates for its hash; the chain
 * holds it exactly as often. */
static int times_found(const struct hash_table *t, const struct entry *e, uint32_t i)
{
    int found = 0, in_chain = 0;
    uint32_t cursor = hash_table_cursor(t, e[i].hash), ref;
    while ((ref = hash_table_scan(t, &cursor, e[i].hash)) != 0) {
        assert_int_equal(hash_table_tag(e[ref - 1].hash), hash_table_tag(e[i].hash));
        found += ref == i + 1;
    }
    chain_length(e, hash_table_cursor(t, e[i].hash), i + 1, &in_chain);
    assert_int_equal(found, in_chain);
    return found;
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
    check_walk_visits_each_once(&t, e, N);

    /* Re-insert the removed half, then remove everything. */
    for (uint32_t k = 0; k < N / 2; k++)
        put(&t, e, order[k], e[order[k]].hash);
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(times_found(&t, e, i), 1);
    for (uint32_t k = 0; k < N; k++)
        del(&t, e, order[k]);
    assert_int_equal(hash_table_count(&t), 0);
    for (uint32_t i = 0; i < N; i += 101)
        assert_int_equal(hash_table_cursor(&t, e[i].hash), 0);

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
    init(&t, 1024, e);

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
            check_walk_visits_each_once(&t, e, inserted);
        }
        was_rehashing = hash_table_rehashing(&t);
    }
    assert_true(rehash_phases >= 2); /* 1024 -> 2048 -> 4096 */
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

/* A hash != h that lands in h's bucket at every size up to 2^16 buckets:
 * its mixed value differs from h's only in the low 16 bits. */
static uint32_t bucket_neighbour(uint32_t h, uint32_t i)
{
    return ((h * HASH_TABLE_MIX) ^ (i + 1)) * mix_inverse();
}

/* Many entries with one hash, plus entries sharing their bucket but not
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
        put(&t, e, i, i < SAME ? h : bucket_neighbour(h, i));
    /* They really do share one chain (old or new array), and a lookup
     * skips the neighbours whose tag differs. */
    int unused = 0;
    assert_int_equal(chain_length(e, hash_table_cursor(&t, h), 0, &unused), SAME + NEIGHBOURS);
    size_t candidates = 0, tag_twins = 0;
    uint32_t cursor = hash_table_cursor(&t, h);
    while (hash_table_scan(&t, &cursor, h) != 0)
        candidates++;
    for (uint32_t i = SAME; i < SAME + NEIGHBOURS; i++)
        tag_twins += hash_table_tag(e[i].hash) == hash_table_tag(h);
    assert_int_equal(candidates, SAME + tag_twins);
    assert_true(tag_twins < NEIGHBOURS / 4);
    for (uint32_t i = 0; i < SAME; i += 2)
        del(&t, e, i);
    assert_false(hash_table_remove(&t, 1, h)); /* already out */
    for (uint32_t i = 0; i < SAME + NEIGHBOURS; i++)
        assert_int_equal(times_found(&t, e, i), e[i].present ? 1 : 0);
    check_walk_visits_each_once(&t, e, SAME + NEIGHBOURS);
    hash_table_free(&t);
    free(e);
}

static size_t longest_chain(const struct hash_table *t, const struct entry *e)
{
    size_t longest = 0;
    for (int table = 0; table < 2; table++) {
        const uint32_t *b = table == 0 ? t->buckets : t->new_buckets;
        size_t size = table == 0 ? t->mask + 1 : 2 * (t->mask + 1);
        for (size_t i = 0; b != NULL && i < size; i++) {
            size_t length = 0;
            int unused = 0;
            length = chain_length(e, b[i], 0, &unused);
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
        assert_true(longest_chain(&t, e) <= 4);
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
    /* Fill until a doubling of a table of >= 1024 buckets is under way. */
    while (n < N && !(hash_table_rehashing(&t) && t.mask >= 1023)) {
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
    assert_int_equal(t.mask + 1, 1024);
    assert_int_equal(hash_table_count(&t), 0);
    assert_int_equal(hash_table_bytes(&t), 4096);
    assert_int_equal(hash_table_cursor(&t, 5), 0);
    hash_table_free(&t);
    hash_table_free(&t); /* twice is harmless */
    assert_int_equal(hash_table_cursor(&t, 5), 0);
    struct walk_state ws = {.table = &t, .entries = x, .n_entries = 1};
    hash_table_walk(&t, count_visit, &ws); /* a freed table is empty */
    assert_int_equal(ws.visited, 0);
    assert_false(hash_table_remove(&t, 1, 5));
    assert_int_equal(hash_table_count(&t), 0);

    /* A freed table works again on insert. */
    put(&t, x, 0, 5);
    uint32_t cursor = hash_table_cursor(&t, 5);
    assert_int_equal(hash_table_scan(&t, &cursor, 5), 1);
    assert_int_equal(hash_table_scan(&t, &cursor, 5), 0);
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
        cmocka_unit_test(test_weak_hashes_spread),
        cmocka_unit_test(test_walk_mid_rehash),
        cmocka_unit_test(test_removal_during_rehash),
        cmocka_unit_test(test_million_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
