/* The byte rings of send and receive buffers (tcp/bytebuf.h): bytes come
 * out as they went in across the wrap, the storage is allocated on first
 * use, grown by doubling, freed when empty, and small rings go through the
 * owner's cache, bounded, instead of malloc and free. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "tcp/bytebuf.h"

static void test_bytes_come_out_in_order_across_the_wrap(void **state)
{
    (void)state;
    struct bytebuf_cache cache = {0};
    struct bytebuf b;
    bytebuf_init(&b, 1000);
    uint8_t in[100], out[100];
    for (int i = 0; i < 100; i++)
        in[i] = (uint8_t)i;
    assert_int_equal(bytebuf_append(&b, &cache, in, 50), 50); /* a 64-byte ring */
    assert_int_equal(bytebuf_cap(&b), 64);
    bytebuf_consume(&b, &cache, 40);
    assert_int_equal(bytebuf_append(&b, &cache, in + 50, 40), 40); /* wraps, no growth */
    assert_int_equal(bytebuf_cap(&b), 64);
    bytebuf_copy_out(&b, 0, out, 50);
    assert_memory_equal(out, in + 40, 50);
    assert_int_equal(bytebuf_append(&b, &cache, in, 100), 100); /* grows to 256, keeping order */
    assert_int_equal(bytebuf_cap(&b), 256);
    bytebuf_copy_out(&b, 0, out, 50);
    assert_memory_equal(out, in + 40, 50);
    bytebuf_copy_out(&b, 50, out, 100);
    assert_memory_equal(out, in, 100);
    bytebuf_free(&b, &cache);
    bytebuf_cache_destroy(&cache);
}

static void test_the_limit_bounds_appends(void **state)
{
    (void)state;
    struct bytebuf b;
    bytebuf_init(&b, 10);
    assert_int_equal(bytebuf_append(&b, NULL, "0123456789abc", 13), 10);
    assert_int_equal(bytebuf_space(&b), 0);
    assert_int_equal(bytebuf_append(&b, NULL, "x", 1), 0);
    bytebuf_consume(&b, NULL, 10); /* empty: freed */
    assert_null(b.ring);
    assert_int_equal(bytebuf_len(&b), 0);
}

/* An emptied small ring serves the next buffer of its size. */
static void test_an_emptied_ring_is_reused(void **state)
{
    (void)state;
    struct bytebuf_cache cache = {0};
    struct bytebuf a, b;
    bytebuf_init(&a, 4096);
    bytebuf_init(&b, 4096);
    assert_int_equal(bytebuf_append(&a, &cache, "request", 7), 7);
    const struct bytebuf_ring *first = a.ring;
    bytebuf_consume(&a, &cache, 7);
    assert_null(a.ring);
    assert_int_equal(bytebuf_append(&b, &cache, "response", 8), 8);
    if (bytebuf_cache_enabled()) {
        assert_ptr_equal(b.ring, first);
        assert_int_equal(cache.count[0], 0);
    } else {
        assert_int_equal(cache.count[0], 0); /* ASan: straight back to free() */
    }
    char out[8];
    bytebuf_copy_out(&b, 0, out, 8);
    assert_memory_equal(out, "response", 8);
    bytebuf_free(&b, &cache);
    bytebuf_cache_destroy(&cache);
}

/* At most BYTEBUF_CACHE_DEPTH rings a class; large rings are never kept. */
static void test_the_cache_is_bounded(void **state)
{
    (void)state;
    struct bytebuf_cache cache = {0};
    struct bytebuf b[BYTEBUF_CACHE_DEPTH + 4], big;
    static uint8_t data[4096];
    for (int i = 0; i < BYTEBUF_CACHE_DEPTH + 4; i++) {
        bytebuf_init(&b[i], 4096);
        assert_int_equal(bytebuf_append(&b[i], &cache, data, 100), 100); /* 128-byte rings */
    }
    for (int i = 0; i < BYTEBUF_CACHE_DEPTH + 4; i++)
        bytebuf_free(&b[i], &cache);
    assert_int_equal(cache.count[1], bytebuf_cache_enabled() ? BYTEBUF_CACHE_DEPTH : 0);
    bytebuf_init(&big, 65536);
    assert_int_equal(bytebuf_append(&big, &cache, data, sizeof data), sizeof data);
    bytebuf_free(&big, &cache);
    for (int k = 0; k < BYTEBUF_CACHE_CLASSES; k++)
        assert_true(cache.count[k] <= BYTEBUF_CACHE_DEPTH);
    assert_int_equal(cache.count[0] + cache.count[2] + cache.count[3], 0);
    bytebuf_cache_destroy(&cache); /* frees what it kept: valgrind and ASan see no leak */
    assert_int_equal(cache.count[1], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_come_out_in_order_across_the_wrap),
        cmocka_unit_test(test_the_limit_bounds_appends),
        cmocka_unit_test(test_an_emptied_ring_is_reused),
        cmocka_unit_test(test_the_cache_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
