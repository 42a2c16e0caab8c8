/* Resets and blind-injection defences, one test per rule: RFC 9293
 * §3.10.7.4 (second and fourth checks), RFC 5961 (§3 RST, §4 SYN, §5 ACK,
 * §7 rate limit), RFC 7323 §5 (PAWS), RFC 1337 (TIME-WAIT). */
#include <errno.h>
#include <string.h>

#include "harness.h"

/* RFC 9293 §3.10.7.4 second check, RFC 5961 §3.2: a RST exactly at
 * RCV.NXT resets: ESTABLISHED -> CLOSED, SO_ERROR = ECONNRESET. */
static void test_rst_at_rcv_nxt_resets(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    harness_inject(h, WIRE_RST, 5001, 0, 0, NULL, 0, NULL);
    harness_expect_nothing(h);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_CLOSED);
    unsigned ev = stack_poll(h->s, sd);
    assert_true(ev & STACK_POLLERR);
    assert_true(ev & STACK_POLLHUP);
    assert_int_equal(stack_sock_error(h->s, sd), ECONNRESET);
    assert_int_equal(stack_sock_error(h->s, sd), 0); /* read once */
    assert_int_equal(harness_counter(h, "EstabResets"), 1);
    assert_int_equal(harness_counter(h, "CurrEstab"), 0);
    assert_int_equal(stack_conn_count(h->s), 0);
    harness_free(h);
}

/* The same reset seen through RECEIVE: -ECONNRESET once, then end of
 * stream (RFC 9293 §3.10.3, Linux tcp_recvmsg). */
static void test_rst_reported_by_recv(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    harness_inject(h, WIRE_RST | WIRE_ACK, 1001, iss + 1, 0, NULL, 0, NULL);
    char buf[4];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), -ECONNRESET);
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 0);
    harness_free(h);
}

/* RFC 5961 §3.2: a RST inside the window but not at RCV.NXT gets a
 * challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT> and changes nothing. */
static void test_rst_in_window_not_exact_gets_challenge_ack(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    harness_inject(h, WIRE_RST, 5001 + 10, 0, 0, NULL, 0, NULL);
    harness_expect(h, ".", iss + 1, 5001, 0);
    harness_expect_nothing(h);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    assert_int_equal(stack_sock_error(h->s, sd), 0);
    assert_int_equal(harness_counter(h, "TCPChallengeACK"), 1);
    /* the peer's answer to the challenge: a RST at RCV.NXT */
    harness_inject(h, WIRE_RST, 5001, 0, 0, NULL, 0, NULL);
    assert_int_equal(stack_sock_error(h->s, sd), ECONNRESET);
    harness_free(h);
}

/* RFC 9293 §3.10.7.4 first check, RFC 5961 §3.2: a RST outside the window
 * (right of it, or left of RCV.NXT) is dropped silently. */
static void test_rst_out_of_window_ignored(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    harness_inject(h, WIRE_RST, 5001 + 100000, 0, 0, NULL, 0, NULL);
    harness_inject(h, WIRE_RST, 5000, 0, 0, NULL, 0, NULL);
    harness_inject(h, WIRE_RST | WIRE_ACK, 5001 - 70000, iss + 1, 0, NULL, 0, NULL);
    harness_expect_nothing(h);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    assert_int_equal(harness_counter(h, "TCPRstUnacceptable"), 3);
    assert_int_equal(harness_counter(h, "TCPChallengeACK"), 0);
    assert_int_equal(stack_send(h->s, sd, "x", 1, h->now), 1);
    harness_expect(h, "P.", iss + 1, 5001, 1);
    harness_free(h);
}

/* Linux tcp_reset: a RST in CLOSE-WAIT reports EPIPE (the peer already
 * said it was done sending). */
static void test_rst_in_close_wait_is_epipe(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    harness_inject(h, WIRE_FIN | WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, NULL);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_CLOSE_WAIT);
    harness_inject(h, WIRE_RST, 1002, 0, 0, NULL, 0, NULL);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_CLOSED);
    assert_int_equal(stack_sock_error(h->s, sd), EPIPE);
    harness_free(h);
}

static void time_wait(struct harness *h, uint32_t *iss)
{
    int sd = harness_active_open(h, iss);
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect(h, "F.", *iss + 1, 5001, 0);
    harness_inject(h, WIRE_FIN | WIRE_ACK, 5001, *iss + 2, 65535, NULL, 0, NULL);
    harness_expect(h, ".", *iss + 2, 5002, 0);
    assert_int_equal(harness_last_state(h, 80), TCP_STATE_TIME_WAIT);
}

/* RFC 1337 (TIME-WAIT assassination) is what Linux does by default
 * (tcp_rfc1337=0): a RST at RCV.NXT ends TIME-WAIT (TCPTimeWaitKilled). */
static void test_rst_kills_time_wait_by_default(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    time_wait(h, &iss);
    harness_inject(h, WIRE_RST, 5002, 0, 0, NULL, 0, NULL);
    harness_expect_nothing(h);
    assert_int_equal(stack_conn_count(h->s), 0);
    assert_int_equal(harness_counter(h, "TCPTimeWaitKilled"), 1);
    harness_free(h);
}

/* RFC 1337 §3 fix 1, tcp_rfc1337=1: TIME-WAIT ignores RSTs. */
static void test_rfc1337_time_wait_ignores_rst(void **state)
{
    (void)state;
    struct stack_config cfg;
    stack_config_default(&cfg);
    memset(cfg.secret, 7, sizeof cfg.secret);
    cfg.tcp.tcp_rfc1337 = 1;
    struct harness *h = harness_new(&cfg);
    uint32_t iss;
    time_wait(h, &iss);
    harness_inject(h, WIRE_RST, 5002, 0, 0, NULL, 0, NULL);
    harness_expect_nothing(h);
    assert_int_equal(stack_conn_count(h->s), 1);
    harness_free(h);
}

/* RFC 5961 §4.2, RFC 9293 §3.10.7.4 fourth check: a SYN in a synchronized
 * state gets a challenge ACK and changes nothing. */
static void test_syn_in_established_gets_challenge_ack(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    harness_inject(h, WIRE_SYN, 5001, 0, 65535, NULL, 0, NULL);
    harness_expect(h, ".", iss + 1, 5001, 0);
    harness_expect_nothing(h);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    assert_int_equal(stack_sock_error(h->s, sd), 0);
    assert_int_equal(harness_counter(h, "TCPSYNChallenge"), 1);
    assert_int_equal(harness_counter(h, "TCPChallengeACK"), 1);
    harness_free(h);
}

/* RFC 5961 §4.2: "If the SYN bit is set, irrespective of the sequence
 * number, TCP MUST send an ACK (also referred to as challenge ACK)" —
 * counted and rate limited like any challenge ACK (Linux
 * tcp_validate_incoming: syn_challenge for out-of-window SYNs too). */
static void test_syn_out_of_window_gets_challenge_ack(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    harness_inject(h, WIRE_SYN, 5001 + 200000, 0, 65535, NULL, 0, NULL);
    harness_expect(h, ".", iss + 1, 5001, 0);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    assert_int_equal(harness_counter(h, "TCPSYNChallenge"), 1);
    assert_int_equal(harness_counter(h, "TCPChallengeACK"), 1);
    harness_free(h);
}

/* RFC 5961 §7, Linux tcp_challenge_ack_limit: at most N challenge ACKs per
 * second; the rest are suppressed and counted (TCPChallengeACKLimited). */
static void test_challenge_acks_rate_limited(void **state)
{
    (void)state;
    struct stack_config cfg;
    stack_config_default(&cfg);
    memset(cfg.secret, 7, sizeof cfg.secret);
    cfg.tcp.tcp_challenge_ack_limit = 3;
    struct harness *h = harness_new(&cfg);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    for (int i = 0; i < 5; i++)
        harness_inject(h, WIRE_RST, 5001 + 10 + (uint32_t)i, 0, 0, NULL, 0, NULL);
    for (int i = 0; i < 3; i++)
        harness_expect(h, ".", iss + 1, 5001, 0);
    harness_expect_nothing(h);
    assert_int_equal(harness_counter(h, "TCPChallengeACK"), 3);
    assert_int_equal(harness_counter(h, "TCPChallengeACKLimited"), 2);
    /* SYN challenges share the budget */
    harness_inject(h, WIRE_SYN, 5001, 0, 65535, NULL, 0, NULL);
    harness_expect_nothing(h);
    assert_int_equal(harness_counter(h, "TCPChallengeACKLimited"), 3);
    /* a second later, the budget is back */
    harness_run_until(h, h->now + TCP_SEC(1));
    harness_inject(h, WIRE_RST, 5001 + 10, 0, 0, NULL, 0, NULL);
    harness_expect(h, ".", iss + 1, 5001, 0);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    harness_free(h);
}

/* RFC 9293 §3.10.7.4 fifth check, RFC 5961 §5.2: an ACK of something not
 * yet sent (SEG.ACK > SND.NXT): send an ACK, drop the segment (its data
 * is not delivered), return. */
static void test_ack_of_unsent_data_is_acked_and_dropped(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    harness_inject(h, WIRE_ACK | WIRE_PSH, 5001, iss + 1 + 1000, 65535, "evil", 4, NULL);
    harness_expect(h, ".", iss + 1, 5001, 0);
    harness_expect_nothing(h);
    char buf[8];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), -EAGAIN);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    /* nothing was taken as acknowledged */
    assert_int_equal(stack_send(h->s, sd, "x", 1, h->now), 1);
    harness_expect(h, "P.", iss + 1, 5001, 1);
    harness_free(h);
}

/* Linux tcp_invalid_ratelimit (tcp_oow_rate_limited): the ACKs that
 * answer ACKs of unsent data are rate-limited like those to out-of-window
 * segments (one per 500 ms), so that two confused ends cannot ACK each
 * other for ever; a segment with data is still answered. */
static void test_acks_of_unsent_data_are_rate_limited(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    harness_active_open(h, &iss);
    harness_inject(h, WIRE_ACK, 5001, iss + 1 + 1000, 65535, NULL, 0, NULL);
    harness_expect(h, ".", iss + 1, 5001, 0);
    harness_inject(h, WIRE_ACK, 5001, iss + 1 + 1000, 65535, NULL, 0, NULL);
    harness_expect_nothing(h);
    assert_int_equal(harness_counter(h, "TCPACKSkippedSeq"), 1);
    harness_inject(h, WIRE_ACK | WIRE_PSH, 5001, iss + 1 + 1000, 65535, "d", 1, NULL);
    harness_expect(h, ".", iss + 1, 5001, 0);
    harness_run_until(h, h->now + TCP_MSEC(500));
    harness_inject(h, WIRE_ACK, 5001, iss + 1 + 1000, 65535, NULL, 0, NULL);
    harness_expect(h, ".", iss + 1, 5001, 0);
    assert_int_equal(harness_counter(h, "TCPAckUnacceptable"), 4);
    harness_free(h);
}

/* RFC 5961 §5.2: SEG.ACK below SND.UNA - MAX.SND.WND is unacceptable: the
 * segment is dropped (its data too) and an ACK sent back. */
static void test_ack_below_max_window_is_dropped(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    harness_inject(h, WIRE_ACK | WIRE_PSH, 5001, iss + 1 - 100000, 65535, "evil", 4, NULL);
    harness_expect(h, ".", iss + 1, 5001, 0);
    harness_expect_nothing(h);
    char buf[8];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), -EAGAIN);
    harness_free(h);
}

/* RFC 9293 §3.10.7.4 fifth check, RFC 5961 §5.2: an old ACK within
 * MAX.SND.WND (SEG.ACK < SND.UNA) is only a duplicate: its data is still
 * processed. */
static void test_old_ack_within_max_window_keeps_data(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    assert_int_equal(stack_send(h->s, sd, "0123456789", 10, h->now), 10);
    harness_expect(h, "P.", iss + 1, 5001, 10);
    harness_inject(h, WIRE_ACK, 5001, iss + 11, 65535, NULL, 0, NULL);
    harness_inject(h, WIRE_ACK | WIRE_PSH, 5001, iss + 1, 65535, "data", 4, NULL);
    char buf[8];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 4);
    assert_memory_equal(buf, "data", 4);
    harness_free(h);
}

/* A passive open from a peer with timestamps (its TSval 1000, then 1001,
 * ISN 1000): the accepted descriptor; *iss is ours, *ts the peer's options
 * for what it sends next (TSval 1001, echoing ours). */
static int accept_with_timestamps(struct harness *h, uint32_t *iss, struct wire_tcp_options *ts)
{
    int l = harness_listen(h, 16);
    *ts = (struct wire_tcp_options){.present = WIRE_OPT_MSS | WIRE_OPT_TIMESTAMP, .mss = 1460, .ts_val = 1000};
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, ts);
    const struct wire_seg *sa = harness_expect(h, "S.", ANY, 1001, 0);
    *iss = sa->seq;
    ts->present = WIRE_OPT_TIMESTAMP;
    ts->ts_val = 1001;
    ts->ts_ecr = sa->opt.ts_val;
    harness_inject(h, WIRE_ACK, 1001, *iss + 1, 65535, NULL, 0, ts);
    int sd = stack_accept(h->s, l, NULL);
    assert_true(sd >= 0);
    return sd;
}

/* RFC 7323 §5.3 (PAWS, R1): with timestamps in use, a segment whose TSval
 * is older than TS.Recent is not acceptable: ACK it and drop it, data and
 * all (Linux counts TCPPAWSEstab). */
static void test_paws_drops_segment_with_old_timestamp(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    struct wire_tcp_options ts;
    int sd = accept_with_timestamps(h, &iss, &ts);
    ts.ts_val = 1002;
    harness_inject(h, WIRE_ACK | WIRE_PSH, 1001, iss + 1, 65535, "new", 3, &ts);
    ts.ts_val = 900; /* an old duplicate from a previous wrap of the sequence space */
    harness_inject(h, WIRE_ACK | WIRE_PSH, 1004, iss + 1, 65535, "old", 3, &ts);
    const struct wire_seg *ack = harness_expect(h, ".", iss + 1, 1004, 0);
    assert_int_equal(ack->opt.ts_ecr, 1002);
    char buf[8];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 3);
    assert_memory_equal(buf, "new", 3);
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), -EAGAIN);
    assert_int_equal(harness_counter(h, "TCPPAWSEstab"), 1);
    harness_free(h);
}

/* The ACKs PAWS sends to pure ACKs are rate-limited, as Linux's
 * tcp_validate_incoming does (tcp_oow_rate_limited): two ends whose
 * TS.Recent ran ahead of each other's clock would ACK each other forever
 * (fuzz/repro/fuzz_stack-ack-storm-paws). */
static void test_paws_acks_to_pure_acks_are_rate_limited(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    struct wire_tcp_options ts;
    accept_with_timestamps(h, &iss, &ts);
    ts.ts_val = 900;
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, &ts);
    harness_expect(h, ".", iss + 1, 1001, 0);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, &ts); /* at once: held back */
    harness_expect_nothing(h);
    assert_int_equal(harness_counter(h, "TCPPAWSEstab"), 2);
    harness_free(h);
}

/* RFC 9293 §3.5.3 (SHLD-2): a RST may carry data (a diagnostic); it still
 * resets, and the text is not delivered as data. */
static void test_rst_with_data_resets(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    harness_inject(h, WIRE_RST | WIRE_ACK, 5001, iss + 1, 0, "bye now", 7, NULL);
    harness_expect_nothing(h);
    char buf[8];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), -ECONNRESET);
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 0);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rst_at_rcv_nxt_resets),
        cmocka_unit_test(test_rst_reported_by_recv),
        cmocka_unit_test(test_rst_in_window_not_exact_gets_challenge_ack),
        cmocka_unit_test(test_rst_out_of_window_ignored),
        cmocka_unit_test(test_rst_in_close_wait_is_epipe),
        cmocka_unit_test(test_rst_kills_time_wait_by_default),
        cmocka_unit_test(test_rfc1337_time_wait_ignores_rst),
        cmocka_unit_test(test_syn_in_established_gets_challenge_ack),
        cmocka_unit_test(test_syn_out_of_window_gets_challenge_ack),
        cmocka_unit_test(test_challenge_acks_rate_limited),
        cmocka_unit_test(test_ack_of_unsent_data_is_acked_and_dropped),
        cmocka_unit_test(test_acks_of_unsent_data_are_rate_limited),
        cmocka_unit_test(test_ack_below_max_window_is_dropped),
        cmocka_unit_test(test_old_ack_within_max_window_keeps_data),
        cmocka_unit_test(test_paws_drops_segment_with_old_timestamp),
        cmocka_unit_test(test_paws_acks_to_pure_acks_are_rate_limited),
        cmocka_unit_test(test_rst_with_data_resets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
