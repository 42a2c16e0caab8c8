/* The table's keyed tuple hash (tcp_tuple_hash): what the bucketized table
 * relies on. Every bit of the tuple moves the hash, the lines and tags it
 * picks stay even when an attacker varies only the fields it controls (a
 * SYN flood's source ports and addresses), and the key changes everything. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tcp/tcp.h"

#define BUCKETS 4096 /* top 12 bits of the hash, as a table's line index */
#define TUPLES 65536

static struct tcp_host *host_keyed(uint64_t seed)
{
    struct tcp_host *h = calloc(1, sizeof *h);
    assert_non_null(h);
    for (int i = 0; i < 4; i++) {
        seed = seed * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
        h->table_key[i] = seed ^ (seed >> 29);
    }
    return h;
}

static struct wire_tuple tuple_v4(uint32_t local, uint32_t remote, uint16_t lport, uint16_t rport)
{
    return (struct wire_tuple){wire_addr_v4(local), wire_addr_v4(remote), lport, rport};
}

/* Pearson's chi-square of n hashes over BUCKETS lines, and the fullest. */
struct spread {
    double chi2;
    unsigned max;
};

static struct spread spread_of(const uint32_t *hash, size_t n, unsigned shift, uint32_t mask)
{
    unsigned *count = calloc(mask + 1, sizeof *count);
    assert_non_null(count);
    for (size_t i = 0; i < n; i++)
        count[(hash[i] >> shift) & mask]++;
    double expect = (double)n / (mask + 1), chi2 = 0;
    unsigned max = 0;
    for (uint32_t b = 0; b <= mask; b++) {
        chi2 += (count[b] - expect) * (count[b] - expect) / expect;
        max = count[b] > max ? count[b] : max;
    }
    free(count);
    return (struct spread){chi2, max};
}

/* Even over lines (top bits) and tag bytes (bits 1-8): chi-square within
 * about 5 standard deviations of its mean (k - 1, sd sqrt(2(k - 1))), and
 * no line holding more than 3 times its share. */
static void assert_even(const uint32_t *hash, size_t n)
{
    struct spread lines = spread_of(hash, n, 20, BUCKETS - 1);
    assert_true(lines.chi2 < (BUCKETS - 1) + 5 * 90.5);
    assert_true(lines.max < 3 * n / BUCKETS);
    struct spread tags = spread_of(hash, n, 1, 0xff);
    assert_true(tags.chi2 < 255 + 5 * 22.6);
    for (size_t i = 0; i < n; i++)
        assert_true(hash[i] != 0); /* 0 means "none" to the table */
}

/* TUPLES tuples from nth(0..), hashed under a key from seed, spread evenly. */
static void assert_spread(uint64_t seed, struct wire_tuple (*nth)(uint32_t i))
{
    struct tcp_host *h = host_keyed(seed);
    uint32_t *hash = malloc(TUPLES * sizeof *hash);
    assert_non_null(hash);
    for (uint32_t i = 0; i < TUPLES; i++) {
        struct wire_tuple t = nth(i);
        hash[i] = tcp_tuple_hash(h, &t);
    }
    assert_even(hash, TUPLES);
    free(hash);
    free(h);
}

static struct wire_tuple by_source_port(uint32_t i)
{
    return tuple_v4(0x0a000001, 0xc0a80001, 80, (uint16_t)i);
}

static struct wire_tuple by_source_address(uint32_t i)
{
    return tuple_v4(0x0a000001, 0xc6120000 + i, 443, 40000);
}

static struct wire_tuple by_ipv6_low_bits(uint32_t i)
{
    struct wire_tuple t = {0};
    t.src.b[0] = 0x20, t.src.b[1] = 0x01, t.src.b[15] = 1;
    t.dst.b[0] = 0x20, t.dst.b[1] = 0x01, t.dst.b[14] = 9;
    t.sport = 80;
    t.dport = (uint16_t)(1024 + (i & 1023));
    t.dst.b[15] = (uint8_t)(i >> 10);
    t.dst.b[8] = (uint8_t)(i >> 13);
    return t;
}

static void test_source_ports_alone_spread_evenly(void **state)
{
    (void)state;
    assert_spread(1, by_source_port);
}

static void test_source_addresses_alone_spread_evenly(void **state)
{
    (void)state;
    assert_spread(2, by_source_address);
}

static void test_ipv6_low_bits_spread_evenly(void **state)
{
    (void)state;
    assert_spread(3, by_ipv6_low_bits);
}

/* Each of the 96 bits of an IPv4 tuple moves about half the hash's bits. */
static void test_every_tuple_bit_counts(void **state)
{
    (void)state;
    struct tcp_host *h = host_keyed(4);
    struct wire_tuple base = tuple_v4(0x0a000001, 0xc0a80001, 80, 51000);
    uint32_t h0 = tcp_tuple_hash(h, &base);
    for (int bit = 0; bit < 96; bit++) {
        struct wire_tuple t = base;
        if (bit < 32)
            t.src.b[12 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
        else if (bit < 64)
            t.dst.b[12 + (bit - 32) / 8] ^= (uint8_t)(1u << (bit % 8));
        else if (bit < 80)
            t.sport ^= (uint16_t)(1u << (bit - 64));
        else
            t.dport ^= (uint16_t)(1u << (bit - 80));
        int flipped = __builtin_popcount(h0 ^ tcp_tuple_hash(h, &t));
        assert_true(flipped >= 4 && flipped <= 28);
    }
    free(h);
}

/* Another key, other hashes: a peer that learns one host's collisions
 * learns nothing of the next. */
static void test_the_key_changes_every_hash(void **state)
{
    (void)state;
    struct tcp_host *a = host_keyed(5), *b = host_keyed(6);
    int same = 0;
    for (uint32_t i = 0; i < 4096; i++) {
        struct wire_tuple t = tuple_v4(0x0a000001, 0xc0a80001, 80, (uint16_t)(i + 1));
        same += tcp_tuple_hash(a, &t) == tcp_tuple_hash(b, &t);
        assert_int_equal(tcp_tuple_hash(a, &t), tcp_tuple_hash(a, &t));
    }
    assert_true(same <= 1);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source_ports_alone_spread_evenly),
        cmocka_unit_test(test_source_addresses_alone_spread_evenly),
        cmocka_unit_test(test_ipv6_low_bits_spread_evenly),
        cmocka_unit_test(test_every_tuple_bit_counts),
        cmocka_unit_test(test_the_key_changes_every_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
