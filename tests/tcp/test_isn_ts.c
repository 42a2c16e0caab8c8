/* The numbers a connection shows the world: its ISN (RFC 6528 §3: a
 * 4-microsecond clock plus a keyed hash of the 4-tuple) and its TSval
 * offset (RFC 7323 §5.4), which is per pair of addresses as Linux's
 * secure_tcp_ts_off is, so that the connections between two hosts share
 * one timestamp clock (RFC 6191 reuse of TIME-WAIT tuples relies on it). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "tcp/tcp.h"

struct fixture {
    struct tcp_config cfg;
    struct tcp_counters stats;
    struct tcp_host h;
};

static void drop_output(void *ctx, const uint8_t *pkt, size_t len)
{
    (void)ctx, (void)pkt, (void)len;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    tcp_config_default(&f->cfg);
    uint8_t secret[32] = {42};
    struct tcp_host_ops ops = {.output = drop_output};
    assert_int_equal(tcp_host_init(&f->h, &f->cfg, &f->stats, &ops, secret, 0), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tcp_host_destroy(&f->h);
    free(f);
    return 0;
}

static struct wire_tuple tuple(uint32_t local, uint32_t remote, uint16_t lport, uint16_t rport)
{
    return (struct wire_tuple){wire_addr_v4(local), wire_addr_v4(remote), lport, rport};
}

/* Connections between the same two addresses share the offset whatever
 * their ports; a TSval of a later connection is therefore newer. */
static void test_ts_offset_is_per_address_pair(void **state)
{
    struct fixture *f = *state;
    struct wire_tuple a = tuple(0x0a000001, 0x0a000002, 40000, 80);
    struct wire_tuple b = tuple(0x0a000001, 0x0a000002, 51234, 443);
    uint32_t off = tcp_ts_offset(&f->h, &a);
    assert_int_equal(tcp_ts_offset(&f->h, &b), off);
    uint32_t old_tsval = tcp_ts_now(TCP_SEC(10)) + off;
    uint32_t new_tsval = tcp_ts_now(TCP_SEC(11)) + tcp_ts_offset(&f->h, &b);
    assert_true((int32_t)(new_tsval - old_tsval) > 0);
}

/* Every other pair of addresses sees its own offset (none learns another's,
 * nor our clock), and the cache never changes an answer: 4096 pairs through
 * its 64 slots, then the first ones again. */
static void test_ts_offsets_differ_by_pair_and_survive_the_cache(void **state)
{
    struct fixture *f = *state;
    enum { PAIRS = 4096 };
    uint32_t *off = malloc(PAIRS * sizeof *off);
    assert_non_null(off);
    for (uint32_t i = 0; i < PAIRS; i++) {
        struct wire_tuple t = tuple(0x0a000001, 0xc0a80000 + i, 80, 40000);
        off[i] = tcp_ts_offset(&f->h, &t);
    }
    int same = 0;
    for (uint32_t i = 1; i < PAIRS; i++)
        same += off[i] == off[i - 1];
    assert_true(same <= 1);
    for (uint32_t i = 0; i < PAIRS; i++) {
        struct wire_tuple t = tuple(0x0a000001, 0xc0a80000 + i, 80, 40000);
        assert_int_equal(tcp_ts_offset(&f->h, &t), off[i]);
    }
    /* the other direction is another pair */
    struct wire_tuple r = tuple(0xc0a80000, 0x0a000001, 40000, 80);
    assert_int_not_equal(tcp_ts_offset(&f->h, &r), off[0]);
    free(off);
}

/* RFC 6056 Algorithm 3's offset depends on the local address, the remote
 * address and the remote port, and the last one's cache never answers for
 * another destination. */
static void test_port_offset_per_destination_and_cached(void **state)
{
    struct fixture *f = *state;
    struct wire_addr local = wire_addr_v4(0x0a000001), other = wire_addr_v4(0x0a000002);
    struct wire_endpoint dest[4] = {{wire_addr_v4(0xc0a80001), 80}, {wire_addr_v4(0xc0a80001), 81},
                                    {wire_addr_v4(0xc0a80002), 80}, {wire_addr_v4(0xc0a80001), 80}};
    uint32_t first[4];
    for (int i = 0; i < 4; i++)
        first[i] = tcp_port_offset(&f->h, &local, &dest[i]);
    assert_int_equal(first[0], first[3]);
    assert_int_not_equal(first[0], first[1]);
    assert_int_not_equal(first[0], first[2]);
    assert_int_not_equal(tcp_port_offset(&f->h, &other, &dest[0]), first[0]);
    for (int i = 3; i >= 0; i--) { /* again, in another order, and twice in a row */
        assert_int_equal(tcp_port_offset(&f->h, &local, &dest[i]), first[i]);
        assert_int_equal(tcp_port_offset(&f->h, &local, &dest[i]), first[i]);
    }
    struct wire_addr v6;
    assert_true(wire_addr_parse("fd00::1", &v6));
    struct wire_endpoint dest6 = {v6, 80};
    assert_int_not_equal(tcp_port_offset(&f->h, &local, &dest6), first[0]);
}

static void test_ipv6_pairs_have_offsets_too(void **state)
{
    struct fixture *f = *state;
    struct wire_tuple a = {0}, b;
    a.src.b[0] = 0x20, a.src.b[1] = 0x01, a.src.b[15] = 1;
    a.dst.b[0] = 0x20, a.dst.b[1] = 0x01, a.dst.b[15] = 2;
    a.sport = 40000, a.dport = 80;
    b = a;
    b.sport = 40001;
    assert_int_equal(tcp_ts_offset(&f->h, &a), tcp_ts_offset(&f->h, &b));
    b.dst.b[15] = 3;
    assert_int_not_equal(tcp_ts_offset(&f->h, &a), tcp_ts_offset(&f->h, &b));
}

static void test_no_offset_without_timestamps(void **state)
{
    struct fixture *f = *state;
    f->cfg.tcp_timestamps = 0;
    struct wire_tuple a = tuple(0x0a000001, 0x0a000002, 40000, 80);
    assert_int_equal(tcp_ts_offset(&f->h, &a), 0);
}

/* RFC 6528 §3: the ISN runs with a 4 us clock, and F covers the ports. */
static void test_isn_follows_the_clock_and_the_ports(void **state)
{
    struct fixture *f = *state;
    struct wire_tuple a = tuple(0x0a000001, 0x0a000002, 40000, 80);
    uint32_t isn = tcp_isn(&f->h, &a, TCP_SEC(1));
    assert_int_equal(tcp_isn(&f->h, &a, TCP_SEC(1) + 400), isn + 100);
    struct wire_tuple b = tuple(0x0a000001, 0x0a000002, 40001, 80);
    uint32_t other = tcp_isn(&f->h, &b, TCP_SEC(1));
    assert_true(other - isn > 1000000u && isn - other > 1000000u); /* far apart, not sequential */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ts_offset_is_per_address_pair, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ts_offsets_differ_by_pair_and_survive_the_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipv6_pairs_have_offsets_too, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_offset_per_destination_and_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_offset_without_timestamps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_isn_follows_the_clock_and_the_ports, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
