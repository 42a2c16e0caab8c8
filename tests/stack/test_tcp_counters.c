/* Counters keep the meaning of their `netstat -s` / nstat names
 * (DESIGN.md §2): the TCP-MIB of RFC 4022 §3 and Linux's counters, one
 * test per definition. */
#include <errno.h>
#include <string.h>

#include "harness.h"

/* RFC 4022 tcpActiveOpens, tcpPassiveOpens, tcpCurrEstab: one of each for
 * an active and a passive open; the gauge returns to 0 after the close. */
static void test_open_counters(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    assert_int_equal(harness_counter(h, "ActiveOpens"), 1);
    assert_int_equal(harness_counter(h, "CurrEstab"), 1);
    harness_inject(h, WIRE_FIN | WIRE_ACK, 5001, iss + 1, 65535, NULL, 0, NULL);
    assert_int_equal(harness_counter(h, "CurrEstab"), 1); /* CLOSE-WAIT still counts */
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    assert_int_equal(harness_counter(h, "CurrEstab"), 0);
    harness_free(h);

    h = harness_new(NULL);
    int l;
    harness_passive_open(h, &l, &iss);
    assert_int_equal(harness_counter(h, "PassiveOpens"), 1);
    assert_int_equal(harness_counter(h, "ActiveOpens"), 0);
    assert_int_equal(harness_counter(h, "CurrEstab"), 1);
    harness_free(h);
}

/* RFC 4022 tcpInSegs: "The total number of segments received, including
 * those received in error" (Linux tcp_v4_rcv: "Count it even if it's
 * bad"): a TCP segment with a bad checksum moves InSegs and InErrs. */
static void test_in_segs_counts_segments_in_error(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint8_t pkt[128];
    size_t n = harness_build(h, pkt, sizeof pkt, WIRE_SYN, 1, 0, 65535, NULL, 0, NULL);
    pkt[20 + 16] ^= 0xff; /* TCP checksum */
    harness_inject_raw(h, pkt, n);
    assert_int_equal(harness_counter(h, "InErrs"), 1);
    assert_int_equal(harness_counter(h, "InCsumErrors"), 1);
    assert_int_equal(harness_counter(h, "InSegs"), 1);
    harness_free(h);
}

/* RFC 4022 tcpOutSegs: "excluding those containing only retransmitted
 * octets" (Linux __tcp_transmit_skb counts OUTSEGS only for new data or
 * pure control): retransmissions move RetransSegs, not OutSegs. */
static void test_out_segs_excludes_retransmissions(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    uint64_t out = harness_counter(h, "OutSegs");
    assert_int_equal(stack_send(h->s, sd, "x", 1, h->now), 1);
    harness_expect(h, "P.", iss + 1, 1001, 1);
    assert_int_equal(harness_counter(h, "OutSegs"), out + 1);
    harness_run_until(h, stack_next_timer(h->s));
    harness_expect(h, "P.", iss + 1, 1001, 1);
    assert_int_equal(harness_counter(h, "RetransSegs"), 1);
    assert_int_equal(harness_counter(h, "OutSegs"), out + 1);
    harness_free(h);
}

/* RFC 4022 tcpEstabResets: "the number of times TCP connections have made
 * a direct transition to the CLOSED state from either the ESTABLISHED
 * state or the CLOSE-WAIT state" (Linux tcp_set_state): a keepalive
 * timeout ends an ESTABLISHED connection, so it counts. */
static void test_estab_resets_counts_keepalive_timeout(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    assert_int_equal(stack_setsockopt(h->s, sd, STACK_TCP_KEEPIDLE, 10), 0);
    assert_int_equal(stack_setsockopt(h->s, sd, STACK_TCP_KEEPINTVL, 5), 0);
    assert_int_equal(stack_setsockopt(h->s, sd, STACK_TCP_KEEPCNT, 1), 0);
    assert_int_equal(stack_setsockopt(h->s, sd, STACK_SO_KEEPALIVE, 1), 0);
    harness_run_until(h, h->now + TCP_SEC(100));
    assert_int_equal(stack_sock_error(h->s, sd), ETIMEDOUT);
    assert_int_equal(harness_counter(h, "EstabResets"), 1);
    assert_int_equal(harness_counter(h, "CurrEstab"), 0);
    harness_free(h);
}

/* RFC 4022 tcpEstabResets, the same definition for a retransmission
 * timeout in ESTABLISHED (RFC 1122 §4.2.3.5 R2). */
static void test_estab_resets_counts_retransmission_timeout(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    assert_int_equal(stack_send(h->s, sd, "x", 1, h->now), 1);
    harness_run_until(h, h->now + TCP_SEC(7200));
    assert_int_equal(stack_sock_error(h->s, sd), ETIMEDOUT);
    assert_int_equal(harness_counter(h, "EstabResets"), 1);
    harness_free(h);
}

/* RFC 4022 tcpAttemptFails: SYN-SENT -> CLOSED and SYN-RECEIVED -> LISTEN
 * both count. */
static void test_attempt_fails(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    harness_listen(h, 16);
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, NULL);
    harness_expect(h, "S.", ANY, 1001, 0);
    harness_inject(h, WIRE_RST, 1001, 0, 0, NULL, 0, NULL);
    assert_int_equal(harness_counter(h, "AttemptFails"), 1);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_counters),
        cmocka_unit_test(test_in_segs_counts_segments_in_error),
        cmocka_unit_test(test_out_segs_excludes_retransmissions),
        cmocka_unit_test(test_estab_resets_counts_keepalive_timeout),
        cmocka_unit_test(test_estab_resets_counts_retransmission_timeout),
        cmocka_unit_test(test_attempt_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
