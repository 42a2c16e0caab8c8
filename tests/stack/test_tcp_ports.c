/* Ports and initial sequence numbers: ephemeral ports per RFC 6056
 * (Algorithm 3, Linux ip_local_port_range), bind conflicts, ISNs per
 * RFC 6528 (keyed hash of the 4-tuple plus a 4 µs clock). */
#include <errno.h>
#include <string.h>

#include "harness.h"

/* connect() from an unbound socket; returns the local port it got. */
static uint16_t connect_unbound(struct harness *h, uint32_t addr, uint16_t port)
{
    int sd = stack_socket(h->s);
    assert_true(sd >= 0);
    struct wire_endpoint remote = {.addr = wire_addr_v4(addr), .port = port};
    assert_int_equal(stack_connect(h->s, sd, &remote, h->now), -EINPROGRESS);
    struct wire_endpoint local;
    assert_int_equal(stack_getsockname(h->s, sd, &local), 0);
    const struct wire_seg *syn = harness_expect(h, "S", ANY, ANY, 0);
    assert_int_equal(syn->tuple.sport, local.port); /* the SYN leaves from it */
    return local.port;
}

/* RFC 6056 §3.3.3, Linux ip_local_port_range 32768..60999: ephemeral ports
 * come from the range, and destinations get different ports. */
static void test_ephemeral_ports_in_range_differ_per_destination(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint16_t a = connect_unbound(h, 0x0a000002, 80);
    uint16_t b = connect_unbound(h, 0x0a000003, 80);
    uint16_t c = connect_unbound(h, 0x0a000002, 443);
    uint16_t ports[] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        assert_in_range(ports[i], 32768, 60999);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(ports[i], ports[j]);
    }
    harness_free(h);
}

/* RFC 6056 §2.2: every connection to the same destination gets its own
 * port, all within the range. */
static void test_ephemeral_ports_unique_for_one_destination(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    enum { N = 300 };
    static uint16_t ports[N];
    for (int i = 0; i < N; i++) {
        ports[i] = connect_unbound(h, 0x0a000002, 80);
        assert_in_range(ports[i], 32768, 60999);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(ports[i], ports[j]);
    }
    harness_free(h);
}

/* A small range is used up exactly, then connect() fails with
 * EADDRNOTAVAIL (Linux __inet_hash_connect). */
static void test_ephemeral_range_exhausted(void **state)
{
    (void)state;
    struct stack_config cfg;
    stack_config_default(&cfg);
    memset(cfg.secret, 7, sizeof cfg.secret);
    cfg.ephemeral_lo = 40000;
    cfg.ephemeral_hi = 40009;
    struct harness *h = harness_new(&cfg);
    bool used[10] = {0};
    for (int i = 0; i < 10; i++) {
        uint16_t p = connect_unbound(h, 0x0a000002, 80);
        assert_in_range(p, 40000, 40009);
        assert_false(used[p - 40000]);
        used[p - 40000] = true;
    }
    int sd = stack_socket(h->s);
    struct wire_endpoint remote = {.addr = wire_addr_v4(0x0a000002), .port = 80};
    assert_int_equal(stack_connect(h->s, sd, &remote, h->now), -EADDRNOTAVAIL);
    harness_expect_nothing(h);
    harness_free(h);
}

/* bind(2) EADDRINUSE (Linux inet_csk_bind_conflict): a second bind to the
 * same address and port fails, also against a listener; after close() the
 * port is free again. */
static void test_second_bind_is_eaddrinuse(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int a = stack_socket(h->s), b = stack_socket(h->s);
    assert_int_equal(stack_bind(h->s, a, &h->local), 0);
    assert_int_equal(stack_bind(h->s, b, &h->local), -EADDRINUSE);
    struct wire_endpoint any = {.port = h->local.port};
    assert_int_equal(stack_bind(h->s, b, &any), -EADDRINUSE); /* wildcard overlaps */
    assert_int_equal(stack_listen(h->s, a, 4), 0);
    assert_int_equal(stack_bind(h->s, b, &h->local), -EADDRINUSE);
    assert_int_equal(stack_close(h->s, a, h->now), 0);
    assert_int_equal(stack_bind(h->s, b, &h->local), 0);
    harness_free(h);
}

/* bind to port 0 picks an ephemeral port (RFC 6056, Linux). */
static void test_bind_port_zero_picks_ephemeral(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int sd = stack_socket(h->s);
    struct wire_endpoint ep = {.addr = h->local.addr, .port = 0}, got;
    assert_int_equal(stack_bind(h->s, sd, &ep), 0);
    assert_int_equal(stack_getsockname(h->s, sd, &got), 0);
    assert_in_range(got.port, 32768, 60999);
    harness_free(h);
}

/* SYN sent from local 10.0.0.1:lport to 10.0.0.2:80 at time t; returns ISS.
 * The attempt is then aborted so the tuple is free again. */
static uint32_t isn_at(struct harness *h, uint16_t lport, tcp_time_t t)
{
    if (t > h->now)
        harness_run_until(h, t);
    int sd = stack_socket(h->s);
    struct wire_endpoint local = {.addr = h->local.addr, .port = lport};
    struct wire_endpoint remote = {.addr = h->remote.addr, .port = 80};
    assert_int_equal(stack_bind(h->s, sd, &local), 0);
    assert_int_equal(stack_connect(h->s, sd, &remote, h->now), -EINPROGRESS);
    uint32_t iss = harness_expect(h, "S", ANY, ANY, 0)->seq;
    assert_int_equal(stack_abort(h->s, sd, h->now), 0);
    harness_expect_nothing(h); /* no RST from SYN-SENT (RFC 9293 §3.10.5) */
    assert_int_equal(stack_conn_count(h->s), 0);
    return iss;
}

/* RFC 6528 §3: ISN = M + F(4-tuple, secret), M a 4 µs timer: for one
 * tuple, the ISN grows by exactly the elapsed time / 4 µs (mod 2^32). */
static void test_isn_grows_with_4us_clock(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    tcp_time_t t0 = h->now;
    uint32_t a = isn_at(h, 50000, t0);
    uint32_t b = isn_at(h, 50000, t0 + TCP_SEC(1));
    uint32_t c = isn_at(h, 50000, t0 + TCP_SEC(1) + 4);
    uint32_t d = isn_at(h, 50000, t0 + TCP_SEC(3600));
    assert_int_not_equal(a, b);
    assert_int_equal(b - a, 250000u);
    assert_int_equal(c - b, 1u);
    assert_int_equal(d - a, (uint32_t)(TCP_SEC(3600) / 4));
    harness_free(h);
}

/* RFC 6528 §3: F is a keyed hash of the 4-tuple, so ISNs of different
 * tuples at the same moment are unrelated (not close to each other). */
static void test_isn_unrelated_across_tuples(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t prev = isn_at(h, 50000, h->now);
    for (uint16_t p = 50001; p < 50010; p++) {
        uint32_t isn = isn_at(h, p, h->now);
        uint32_t dist = isn - prev;
        if (dist > 0x80000000u)
            dist = 0u - dist;
        assert_true(dist > 0x10000u); /* not a counter step away */
        prev = isn;
    }
    harness_free(h);
}

/* RFC 6528 §3: the secret key makes F unpredictable: another host secret,
 * another ISN for the same tuple and time. */
static void test_isn_depends_on_secret(void **state)
{
    (void)state;
    struct harness *h1 = harness_new(NULL);
    struct stack_config cfg;
    stack_config_default(&cfg);
    memset(cfg.secret, 8, sizeof cfg.secret);
    struct harness *h2 = harness_new(&cfg);
    assert_int_equal(h1->now, h2->now);
    assert_int_not_equal(isn_at(h1, 50000, h1->now), isn_at(h2, 50000, h2->now));
    harness_free(h1);
    harness_free(h2);
}

/* The passive side too: the SYN-ACK's ISN for one tuple follows the same
 * 4 µs clock (RFC 6528 §3). */
static void test_synack_isn_grows_with_clock(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    harness_listen(h, 16);
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, NULL);
    uint32_t a = harness_expect(h, "S.", ANY, 1001, 0)->seq;
    harness_inject(h, WIRE_RST, 1001, 0, 0, NULL, 0, NULL);
    harness_run_until(h, h->now + TCP_MSEC(400));
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, NULL);
    uint32_t b = harness_expect(h, "S.", ANY, 1001, 0)->seq;
    assert_int_equal(b - a, 100000u);
    harness_inject(h, WIRE_RST, 1001, 0, 0, NULL, 0, NULL);
    harness_free(h);
}

/* Linux inet_csk_bind_conflict: a port still held by a TIME-WAIT entry
 * cannot be bound again without SO_REUSEADDR (the classic "Address
 * already in use" of a restarted server); with SO_REUSEADDR it can. */
static void test_bind_port_in_time_wait(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect(h, "F.", iss + 1, 1001, 0);
    harness_inject(h, WIRE_FIN | WIRE_ACK, 1001, iss + 2, 65535, NULL, 0, NULL);
    assert_int_equal(harness_last_state(h, 40000), TCP_STATE_TIME_WAIT);
    assert_int_equal(stack_close(h->s, l, h->now), 0);
    int a = stack_socket(h->s);
    assert_int_equal(stack_bind(h->s, a, &h->local), -EADDRINUSE);
    int b = stack_socket(h->s);
    assert_int_equal(stack_setsockopt(h->s, b, STACK_SO_REUSEADDR, 1), 0);
    assert_int_equal(stack_bind(h->s, b, &h->local), 0);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ephemeral_ports_in_range_differ_per_destination),
        cmocka_unit_test(test_ephemeral_ports_unique_for_one_destination),
        cmocka_unit_test(test_ephemeral_range_exhausted),
        cmocka_unit_test(test_second_bind_is_eaddrinuse),
        cmocka_unit_test(test_bind_port_zero_picks_ephemeral),
        cmocka_unit_test(test_isn_grows_with_4us_clock),
        cmocka_unit_test(test_isn_unrelated_across_tuples),
        cmocka_unit_test(test_isn_depends_on_secret),
        cmocka_unit_test(test_synack_isn_grows_with_clock),
        cmocka_unit_test(test_bind_port_in_time_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
