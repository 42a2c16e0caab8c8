/* Closing a connection, one test per rule: the four-way and three-way
 * close, half-close, simultaneous close, LAST-ACK retransmission, abortive
 * closes, and what the API returns afterwards (RFC 9293 §3.6, §3.10.4,
 * §3.10.7.4; RFC 2525 §2.17; Linux tcp_close). */
#include <errno.h>
#include <string.h>

#include "harness.h"

/* RFC 9293 §3.6 case 1, Figure 12: the stack closes first:
 * ESTABLISHED -> FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT; the FIN takes one
 * sequence number. */
static void test_active_close_four_way(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect(h, "F.", iss + 1, 5001, 0);
    assert_true(harness_saw_state(h, 80, TCP_STATE_ESTABLISHED, TCP_STATE_FIN_WAIT_1));
    harness_inject(h, WIRE_ACK, 5001, iss + 2, 65535, NULL, 0, NULL);
    harness_expect_nothing(h);
    assert_true(harness_saw_state(h, 80, TCP_STATE_FIN_WAIT_1, TCP_STATE_FIN_WAIT_2));
    harness_inject(h, WIRE_FIN | WIRE_ACK, 5001, iss + 2, 65535, NULL, 0, NULL);
    harness_expect(h, ".", iss + 2, 5002, 0);
    assert_true(harness_saw_state(h, 80, TCP_STATE_FIN_WAIT_2, TCP_STATE_TIME_WAIT));
    assert_int_equal(stack_conn_count(h->s), 1);
    harness_free(h);
}

/* RFC 9293 §3.6 case 2: the peer closes first: CLOSE-WAIT, our ACK (after
 * the delayed-ACK time), then the application's close: LAST-ACK, FIN, and
 * the peer's ACK ends it with no TIME-WAIT on this side. */
static void test_passive_close_four_way(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    harness_inject(h, WIRE_FIN | WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, NULL);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_CLOSE_WAIT);
    harness_run_until(h, h->now + TCP_MSEC(40));
    harness_expect(h, ".", iss + 1, 1002, 0);
    char buf[4];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 0);
    harness_run_until(h, h->now + TCP_SEC(1));
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect(h, "F.", iss + 1, 1002, 0);
    assert_true(harness_saw_state(h, 40000, TCP_STATE_CLOSE_WAIT, TCP_STATE_LAST_ACK));
    harness_inject(h, WIRE_ACK, 1002, iss + 2, 65535, NULL, 0, NULL);
    harness_expect_nothing(h);
    assert_true(harness_saw_state(h, 40000, TCP_STATE_LAST_ACK, TCP_STATE_CLOSED));
    assert_int_equal(stack_conn_count(h->s), 0);
    harness_free(h);
}

/* RFC 9293 §3.8.6.3 with Linux's delayed ACK: the application closes
 * within the delayed-ACK time, so the ACK of the peer's FIN rides on our
 * FIN: a three-segment close. */
static void test_prompt_close_merges_fin_and_ack(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    harness_inject(h, WIRE_FIN | WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, NULL);
    harness_expect_nothing(h);
    harness_run_until(h, h->now + TCP_MSEC(10));
    char buf[4];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 0);
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect(h, "F.", iss + 1, 1002, 0);
    harness_run_until(h, h->now + TCP_MSEC(100));
    harness_expect_nothing(h);
    harness_inject(h, WIRE_ACK, 1002, iss + 2, 65535, NULL, 0, NULL);
    assert_int_equal(stack_conn_count(h->s), 0);
    harness_free(h);
}

/* RFC 9293 §3.6, §3.10.4: half-close. shutdown(SHUT_WR) sends our FIN;
 * the peer, in CLOSE-WAIT, keeps sending; the data is read; its FIN ends
 * the connection into TIME-WAIT. */
static void test_half_close_peer_keeps_sending(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    assert_int_equal(stack_shutdown(h->s, sd, STACK_SHUT_WR, h->now), 0);
    harness_expect(h, "F.", iss + 1, 5001, 0);
    harness_inject(h, WIRE_ACK, 5001, iss + 2, 65535, NULL, 0, NULL);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_FIN_WAIT_2);
    harness_inject(h, WIRE_ACK | WIRE_PSH, 5001, iss + 2, 65535, "more", 4, NULL);
    harness_inject(h, WIRE_ACK | WIRE_PSH, 5005, iss + 2, 65535, "data", 4, NULL);
    harness_expect(h, ".", iss + 2, 5009, 0); /* second segment: ACK at once */
    char buf[16];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 8);
    assert_memory_equal(buf, "moredata", 8);
    harness_inject(h, WIRE_FIN | WIRE_ACK, 5009, iss + 2, 65535, NULL, 0, NULL);
    harness_expect(h, ".", iss + 2, 5010, 0);
    assert_int_equal(harness_last_state(h, 80), TCP_STATE_TIME_WAIT);
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 0);
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect_nothing(h);
    assert_int_equal(stack_conn_count(h->s), 1); /* the TIME-WAIT entry */
    harness_free(h);
}

/* RFC 9293 §3.6: after the peer's FIN the stack may go on sending from
 * CLOSE-WAIT, then close (LAST-ACK). */
static void test_close_wait_keeps_sending(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    harness_inject(h, WIRE_FIN | WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, NULL);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_CLOSE_WAIT);
    assert_int_equal(stack_send(h->s, sd, "reply", 5, h->now), 5);
    harness_expect(h, "P.", iss + 1, 1002, 5);
    harness_inject(h, WIRE_ACK, 1002, iss + 6, 65535, NULL, 0, NULL);
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect(h, "F.", iss + 6, 1002, 0);
    harness_inject(h, WIRE_ACK, 1002, iss + 7, 65535, NULL, 0, NULL);
    assert_int_equal(stack_conn_count(h->s), 0);
    harness_free(h);
}

/* RFC 9293 §3.6 Figure 13: simultaneous close. FIN-WAIT-1 receives a FIN
 * that does not acknowledge ours: CLOSING (and an ACK); the ACK of our FIN
 * then moves to TIME-WAIT. */
static void test_simultaneous_close(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect(h, "F.", iss + 1, 5001, 0);
    harness_inject(h, WIRE_FIN | WIRE_ACK, 5001, iss + 1, 65535, NULL, 0, NULL);
    harness_expect(h, ".", iss + 2, 5002, 0);
    assert_true(harness_saw_state(h, 80, TCP_STATE_FIN_WAIT_1, TCP_STATE_CLOSING));
    harness_inject(h, WIRE_ACK, 5002, iss + 2, 65535, NULL, 0, NULL);
    harness_expect_nothing(h);
    assert_true(harness_saw_state(h, 80, TCP_STATE_CLOSING, TCP_STATE_TIME_WAIT));
    tcp_time_t tw = h->now;
    harness_run_until(h, tw + TCP_SEC(60));
    assert_int_equal(stack_conn_count(h->s), 0);
    harness_free(h);
}

/* A FIN that acknowledges our FIN in FIN-WAIT-1: straight to TIME-WAIT
 * (RFC 9293 §3.10.7.4, eighth check). */
static void test_fin_ack_in_fin_wait_1_goes_to_time_wait(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect(h, "F.", iss + 1, 5001, 0);
    harness_inject(h, WIRE_FIN | WIRE_ACK, 5001, iss + 2, 65535, NULL, 0, NULL);
    harness_expect(h, ".", iss + 2, 5002, 0);
    assert_int_equal(harness_last_state(h, 80), TCP_STATE_TIME_WAIT);
    assert_false(harness_saw_state(h, 80, TCP_STATE_FIN_WAIT_1, TCP_STATE_CLOSING));
    harness_free(h);
}

/* RFC 9293 §3.10.8 (retransmission timeout) in LAST-ACK: the FIN is
 * retransmitted until acknowledged. */
static void test_last_ack_retransmits_fin(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    harness_inject(h, WIRE_FIN | WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, NULL);
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect(h, "F.", iss + 1, 1002, 0);
    harness_run_until(h, h->now + TCP_SEC(2));
    harness_expect(h, "F.", iss + 1, 1002, 0);
    assert_int_equal(harness_last_state(h, 40000), TCP_STATE_LAST_ACK);
    harness_skip_all(h);
    harness_inject(h, WIRE_ACK, 1002, iss + 2, 65535, NULL, 0, NULL);
    assert_int_equal(harness_last_state(h, 40000), TCP_STATE_CLOSED);
    harness_run_until(h, h->now + TCP_SEC(600));
    harness_expect_nothing(h);
    assert_int_equal(stack_conn_count(h->s), 0);
    harness_free(h);
}

/* RFC 2525 §2.17, RFC 9293 §3.10.4 (Linux tcp_close): close() with data
 * not yet read resets the connection instead of a FIN: <SEQ=SND.NXT>
 * <ACK=RCV.NXT><CTL=RST,ACK>, TCPAbortOnClose. */
static void test_close_with_unread_data_sends_rst(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    harness_inject(h, WIRE_ACK | WIRE_PSH, 1001, iss + 1, 65535, "unread", 6, NULL);
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect(h, "R.", iss + 1, 1007, 0);
    harness_expect_nothing(h);
    assert_int_equal(harness_counter(h, "TCPAbortOnClose"), 1);
    assert_int_equal(stack_conn_count(h->s), 0);
    assert_int_equal(harness_last_state(h, 40000), TCP_STATE_CLOSED);
    harness_run_until(h, h->now + TCP_SEC(300));
    harness_expect_nothing(h);
    harness_free(h);
}

/* RFC 9293 §3.10.5 (ABORT) via SO_LINGER 0 (Linux TCPAbortOnLinger): RST,
 * no FIN, no TIME-WAIT. */
static void test_so_linger_zero_sends_rst(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    assert_int_equal(stack_setsockopt(h->s, sd, STACK_SO_LINGER, 0), 0);
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect(h, "R.", iss + 1, 5001, 0);
    harness_expect_nothing(h);
    assert_int_equal(harness_counter(h, "TCPAbortOnLinger"), 1);
    assert_int_equal(stack_conn_count(h->s), 0);
    harness_free(h);
}

/* RFC 9293 §3.10.5: ABORT sends <SEQ=SND.NXT><CTL=RST> in a synchronized
 * state and releases everything. */
static void test_abort_sends_rst(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    assert_int_equal(stack_send(h->s, sd, "abc", 3, h->now), 3);
    harness_expect(h, "P.", iss + 1, 5001, 3);
    assert_int_equal(stack_abort(h->s, sd, h->now), 0);
    const struct wire_seg *r = harness_next(h);
    assert_non_null(r);
    assert_true(r->flags & WIRE_RST);
    assert_int_equal(r->seq, iss + 4);
    assert_int_equal(stack_conn_count(h->s), 0);
    harness_free(h);
}

/* Linux TCPAbortOnData (tcp_rcv_state_process): new data for a connection
 * whose descriptor is closed cannot be delivered: the stack resets. */
static void test_data_for_orphan_gets_rst(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect(h, "F.", iss + 1, 5001, 0);
    harness_inject(h, WIRE_ACK, 5001, iss + 2, 65535, NULL, 0, NULL);
    assert_int_equal(harness_last_state(h, 80), TCP_STATE_FIN_WAIT_2);
    harness_inject(h, WIRE_ACK | WIRE_PSH, 5001, iss + 2, 65535, "late", 4, NULL);
    const struct wire_seg *r = harness_next(h);
    assert_non_null(r);
    assert_true(r->flags & WIRE_RST);
    assert_int_equal(r->seq, iss + 2);
    harness_expect_nothing(h);
    assert_int_equal(harness_counter(h, "TCPAbortOnData"), 1);
    assert_int_equal(stack_conn_count(h->s), 0);
    assert_int_equal(harness_last_state(h, 80), TCP_STATE_CLOSED);
    harness_free(h);
}

/* Linux TCPAbortOnData, the same for an orphan still in FIN-WAIT-1. */
static void test_data_for_orphan_in_fin_wait_1_gets_rst(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect(h, "F.", iss + 1, 5001, 0);
    harness_inject(h, WIRE_ACK | WIRE_PSH, 5001, iss + 1, 65535, "late", 4, NULL);
    const struct wire_seg *r = harness_next(h);
    assert_non_null(r);
    assert_true(r->flags & WIRE_RST);
    assert_int_equal(harness_counter(h, "TCPAbortOnData"), 1);
    assert_int_equal(stack_conn_count(h->s), 0);
    harness_free(h);
}

/* RFC 9293 §3.10.3: after the peer's FIN, RECEIVE returns the data still
 * queued, then end of stream (0) for good; poll shows POLLIN|POLLRDHUP. */
static void test_recv_returns_zero_after_fin(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    harness_inject(h, WIRE_FIN | WIRE_ACK | WIRE_PSH, 1001, iss + 1, 65535, "bye", 3, NULL);
    unsigned ev = stack_poll(h->s, sd);
    assert_true(ev & STACK_POLLIN);
    assert_true(ev & STACK_POLLRDHUP);
    char buf[8];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 3);
    assert_memory_equal(buf, "bye", 3);
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 0);
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 0);
    harness_free(h);
}

/* RFC 9293 §3.10.2: SEND after CLOSE (shutdown(SHUT_WR)): "connection
 * closing" — EPIPE. */
static void test_send_after_shutdown_wr_is_epipe(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    assert_int_equal(stack_shutdown(h->s, sd, STACK_SHUT_WR, h->now), 0);
    harness_expect(h, "F.", iss + 1, 5001, 0);
    assert_int_equal(stack_send(h->s, sd, "x", 1, h->now), -EPIPE);
    harness_inject(h, WIRE_ACK, 5001, iss + 2, 65535, NULL, 0, NULL);
    assert_int_equal(stack_send(h->s, sd, "x", 1, h->now), -EPIPE);
    harness_expect_nothing(h);
    harness_free(h);
}

/* stack.h and Linux tcp_sendmsg: once a reset has been reported
 * (ECONNRESET), later sends fail with EPIPE (RFC 9293 §3.10.2: "connection
 * does not exist" after the reset). */
static void test_send_after_reset_is_epipe(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    harness_inject(h, WIRE_RST, 5001, 0, 0, NULL, 0, NULL);
    assert_int_equal(stack_send(h->s, sd, "x", 1, h->now), -ECONNRESET);
    assert_int_equal(stack_send(h->s, sd, "x", 1, h->now), -EPIPE);
    harness_free(h);
}

/* RFC 9293 §3.10.4: CLOSE in SYN-SENT deletes the TCB; nothing is sent,
 * and a late SYN-ACK finds no connection (RST, §3.10.7.1). */
static void test_close_in_syn_sent(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int sd = stack_socket(h->s);
    h->local.port = 50000;
    h->remote.port = 80;
    assert_int_equal(stack_bind(h->s, sd, &h->local), 0);
    assert_int_equal(stack_connect(h->s, sd, &h->remote, h->now), -EINPROGRESS);
    uint32_t iss = harness_expect(h, "S", ANY, ANY, 0)->seq;
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect_nothing(h);
    assert_int_equal(stack_conn_count(h->s), 0);
    harness_run_until(h, h->now + TCP_SEC(200));
    harness_expect_nothing(h);
    harness_inject(h, WIRE_SYN | WIRE_ACK, 5000, iss + 1, 65535, NULL, 0, NULL);
    harness_expect(h, "R", iss + 1, ANY, 0);
    harness_free(h);
}

/* Linux inet_csk_listen_stop: closing a listener resets the connections
 * still waiting in its accept queue and drops its half-open entries. */
static void test_listener_close_resets_unaccepted(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = harness_listen(h, 16);
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, NULL);
    uint32_t iss = harness_expect(h, "S.", ANY, 1001, 0)->seq;
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, NULL);
    h->remote.port = 40001;
    harness_inject(h, WIRE_SYN, 3000, 0, 65535, NULL, 0, NULL);
    harness_expect(h, "S.", ANY, 3001, 0);
    assert_int_equal(stack_conn_count(h->s), 2);
    assert_int_equal(stack_close(h->s, l, h->now), 0);
    harness_expect(h, "R.", iss + 1, 1001, 0);
    harness_expect_nothing(h);
    assert_int_equal(stack_conn_count(h->s), 0);
    harness_run_until(h, h->now + TCP_SEC(100));
    harness_expect_nothing(h);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_active_close_four_way),
        cmocka_unit_test(test_passive_close_four_way),
        cmocka_unit_test(test_prompt_close_merges_fin_and_ack),
        cmocka_unit_test(test_half_close_peer_keeps_sending),
        cmocka_unit_test(test_close_wait_keeps_sending),
        cmocka_unit_test(test_simultaneous_close),
        cmocka_unit_test(test_fin_ack_in_fin_wait_1_goes_to_time_wait),
        cmocka_unit_test(test_last_ack_retransmits_fin),
        cmocka_unit_test(test_close_with_unread_data_sends_rst),
        cmocka_unit_test(test_so_linger_zero_sends_rst),
        cmocka_unit_test(test_abort_sends_rst),
        cmocka_unit_test(test_data_for_orphan_gets_rst),
        cmocka_unit_test(test_data_for_orphan_in_fin_wait_1_gets_rst),
        cmocka_unit_test(test_recv_returns_zero_after_fin),
        cmocka_unit_test(test_send_after_shutdown_wr_is_epipe),
        cmocka_unit_test(test_send_after_reset_is_epipe),
        cmocka_unit_test(test_close_in_syn_sent),
        cmocka_unit_test(test_listener_close_resets_unaccepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
