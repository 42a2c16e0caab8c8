/* Object pools and rings (tcp/pool.h): indices, reuse, zeroing, growth,
 * and a ring's blocks following its head and tail. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tcp/pool.h"

struct obj {
    uint32_t a, b, c; /* 12 bytes */
};

/* Objects keep distinct addresses and contents across block growth. */
static void test_pool_alloc_many(void **state)
{
    (void)state;
    enum { N = 10000 };
    struct pool p;
    pool_init(&p, sizeof(struct obj), 4); /* 16 per block: many blocks */
    uint32_t *idx = calloc(N, sizeof *idx);
    assert_non_null(idx);
    for (uint32_t i = 0; i < N; i++) {
        struct obj *o = pool_alloc(&p, &idx[i]);
        assert_non_null(o);
        assert_int_equal(o->a | o->b | o->c, 0); /* zeroed */
        o->a = i;
        o->c = ~i;
        assert_ptr_equal(pool_at(&p, idx[i]), o);
    }
    assert_int_equal(p.live, N);
    for (uint32_t i = 0; i < N; i++) {
        const struct obj *o = pool_at(&p, idx[i]);
        assert_int_equal(o->a, i);
        assert_int_equal(o->c, ~i);
    }
    free(idx);
    pool_destroy(&p);
    assert_int_equal(p.live, 0);
}

/* Freed objects come back (zeroed) before new blocks are taken. */
static void test_pool_reuse(void **state)
{
    (void)state;
    struct pool p;
    pool_init(&p, sizeof(struct obj), 3);
    uint32_t idx[8];
    for (int i = 0; i < 8; i++) {
        struct obj *o = pool_alloc(&p, &idx[i]);
        o->b = 7;
    }
    assert_int_equal(p.nblocks, 1);
    pool_free(&p, idx[3]);
    pool_free(&p, idx[5]);
    assert_int_equal(p.live, 6);
    uint32_t x, y;
    struct obj *o = pool_alloc(&p, &x);
    assert_int_equal(o->b, 0);
    pool_alloc(&p, &y);
    assert_true((x == idx[3] && y == idx[5]) || (x == idx[5] && y == idx[3]));
    assert_int_equal(p.nblocks, 1);
    pool_alloc(&p, &x); /* the ninth: a second block */
    assert_int_equal(p.nblocks, 2);
    assert_int_equal(x, 8);
    pool_destroy(&p);
}

/* Push at the tail, pop at the head, through many blocks and growth of the
 * block table; objects keep their contents and indices; emptied blocks go. */
static void test_ring_fifo(void **state)
{
    (void)state;
    struct ring r;
    ring_init(&r, sizeof(struct obj), 3); /* 8 per block */
    uint32_t next_pop = 0, pushed = 0;
    for (int round = 0; round < 50; round++) {
        int push = 37 + round % 11, pop = 30 + round % 13;
        for (int i = 0; i < push; i++) {
            uint32_t index;
            bool fresh;
            struct obj *o = ring_push(&r, &index, &fresh);
            assert_non_null(o);
            assert_int_equal(index, pushed & (POOL_INDEX_LIMIT - 1));
            assert_int_equal(fresh, (index & 7) == 0);
            if (fresh)
                *ring_tag(&r, index) = index;
            assert_int_equal(*ring_tag(&r, index), index & ~UINT32_C(7));
            o->a = pushed++;
        }
        for (int i = 0; i < pop && !ring_empty(&r); i++) {
            const struct obj *o = ring_at(&r, r.head);
            assert_int_equal(o->a, next_pop++);
            ring_pop(&r);
        }
        assert_int_equal(ring_count(&r), pushed - next_pop);
    }
    /* Only the blocks between head and tail are held. */
    uint32_t held = 0;
    for (uint32_t k = 0; k < r.cap_blocks; k++)
        held += r.blocks[k] != NULL;
    assert_true(held <= ring_count(&r) / 8 + 2);
    while (!ring_empty(&r))
        ring_pop(&r);
    held = 0;
    for (uint32_t k = 0; k < r.cap_blocks; k++)
        held += r.blocks[k] != NULL;
    assert_true(held <= 1);
    ring_destroy(&r);
}

/* ring_block_room lets a caller start a new block. */
static void test_ring_block_room(void **state)
{
    (void)state;
    struct ring r;
    ring_init(&r, sizeof(struct obj), 2); /* 4 per block */
    uint32_t index;
    bool fresh;
    assert_int_equal(ring_block_room(&r), 4);
    ring_push(&r, &index, &fresh);
    assert_int_equal(ring_block_room(&r), 3);
    while (ring_block_room(&r) != 4)
        ring_push(&r, &index, &fresh);
    ring_push(&r, &index, &fresh);
    assert_true(fresh);
    assert_int_equal(index, 4);
    ring_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_alloc_many),
        cmocka_unit_test(test_pool_reuse),
        cmocka_unit_test(test_ring_fifo),
        cmocka_unit_test(test_ring_block_room),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
