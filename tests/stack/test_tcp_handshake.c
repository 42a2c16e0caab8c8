/* Handshake, close and reset rules, one small test per behaviour: literal
 * segments in, expected segments and states out (RFC 9293 §3.5, §3.6, §3.10). */
#include <errno.h>
#include <string.h>

#include "harness.h"

/* RFC 9293 §3.5: passive open; SYN-ACK acks ISN+1 and carries no data. */
static void test_passive_open(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l, iss;
    uint32_t uiss;
    int sd = harness_passive_open(h, &l, &uiss);
    (void)iss;
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    assert_int_equal(stack_counters(h->s)->PassiveOpens, 1);
    assert_int_equal(stack_counters(h->s)->CurrEstab, 1);
    harness_free(h);
}

/* RFC 9293 §3.10.7.1: SYN to a closed port: <SEQ=0><ACK=ISN+1><CTL=RST,ACK>. */
static void test_syn_to_closed_port_gets_rst(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    harness_inject(h, WIRE_SYN, 777, 0, 65535, NULL, 0, NULL);
    harness_expect(h, "R.", 0, 778, 0);
    assert_int_equal(stack_counters(h->s)->OutRsts, 1);
    harness_free(h);
}

/* Active open, then the peer resets: connect fails ECONNREFUSED. */
static void test_active_open_refused(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int sd = stack_socket(h->s);
    struct wire_endpoint remote = h->remote;
    remote.port = 80;
    h->remote.port = 80;
    h->local.port = 50000;
    assert_int_equal(stack_bind(h->s, sd, &h->local), 0);
    assert_int_equal(stack_connect(h->s, sd, &remote, h->now), -EINPROGRESS);
    const struct wire_seg *syn = harness_expect(h, "S", ANY, ANY, 0);
    harness_inject(h, WIRE_RST | WIRE_ACK, 0, syn->seq + 1, 0, NULL, 0, NULL);
    assert_true(stack_poll(h->s, sd) & STACK_POLLERR);
    assert_int_equal(stack_sock_error(h->s, sd), ECONNREFUSED);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_CLOSED);
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    assert_int_equal(stack_conn_count(h->s), 0);
    harness_free(h);
}

/* Four-way close from the stack's side, then TIME-WAIT for 60 s. */
static void test_active_close_time_wait(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect(h, "F.", iss + 1, 5001, 0);
    harness_inject(h, WIRE_ACK, 5001, iss + 2, 65535, NULL, 0, NULL);
    assert_int_equal(harness_last_state(h, 80), TCP_STATE_FIN_WAIT_2);
    harness_inject(h, WIRE_FIN | WIRE_ACK, 5001, iss + 2, 65535, NULL, 0, NULL);
    harness_expect(h, ".", iss + 2, 5002, 0);
    assert_int_equal(harness_last_state(h, 80), TCP_STATE_TIME_WAIT);
    tcp_time_t tw_start = h->now;
    harness_run_until(h, tw_start + TCP_SEC(59));
    assert_int_equal(stack_conn_count(h->s), 1);
    harness_run_until(h, tw_start + TCP_SEC(60));
    assert_int_equal(harness_last_state(h, 80), TCP_STATE_CLOSED);
    assert_int_equal(stack_conn_count(h->s), 0);
    harness_free(h);
}

/* Linux tcp_check_req with tcp_oow_rate_limited: a half-open entry answers
 * out-of-window segments without data at most once per
 * tcp_invalid_ratelimit (500 ms), so a stream of them cannot make it an
 * ACK reflector. */
static void test_half_open_rate_limits_out_of_window_acks(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = harness_listen(h, 16);
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, NULL);
    uint32_t iss = harness_expect(h, "S.", ANY, 1001, 0)->seq;
    harness_inject(h, WIRE_ACK, 1001 + 500000, iss + 1, 65535, NULL, 0, NULL);
    harness_expect(h, ".", iss + 1, 1001, 0);
    for (int i = 0; i < 5; i++)
        harness_inject(h, WIRE_ACK, 1001 + 500000, iss + 1, 65535, NULL, 0, NULL);
    harness_expect_nothing(h);
    assert_int_equal(harness_counter(h, "TCPACKSkippedSeq"), 5);
    harness_run_until(h, h->now + TCP_MSEC(500));
    harness_inject(h, WIRE_ACK, 1001 + 500000, iss + 1, 65535, NULL, 0, NULL);
    harness_expect(h, ".", iss + 1, 1001, 0);
    /* the handshake still completes */
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, NULL);
    assert_true(stack_accept(h->s, l, NULL) >= 0);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_half_open_rate_limits_out_of_window_acks),
        cmocka_unit_test(test_passive_open),
        cmocka_unit_test(test_syn_to_closed_port_gets_rst),
        cmocka_unit_test(test_active_open_refused),
        cmocka_unit_test(test_active_close_time_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
