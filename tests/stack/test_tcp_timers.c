/* Timers in virtual time, one test per rule: SYN and SYN-ACK
 * retransmission, the RTO and its backoff, TIME-WAIT, FIN-WAIT-2 and
 * orphan timeouts, keepalive, delayed ACKs (RFC 9293 §3.8, RFC 6298,
 * RFC 1122 §4.2.3, Linux's knobs and defaults). */
#include <errno.h>
#include <string.h>

#include "harness.h"

static int start_connect(struct harness *h, uint32_t *iss)
{
    int sd = stack_socket(h->s);
    assert_true(sd >= 0);
    h->local.port = 50000;
    h->remote.port = 80;
    assert_int_equal(stack_bind(h->s, sd, &h->local), 0);
    assert_int_equal(stack_connect(h->s, sd, &h->remote, h->now), -EINPROGRESS);
    *iss = harness_expect(h, "S", ANY, ANY, 0)->seq;
    return sd;
}

/* Passive open whose final ACK comes `rtt` after the SYN-ACK: the first
 * RTT sample (RFC 6298 §2.2). Peer ISN 1000, peer MSS 1460. */
static int open_with_rtt(struct harness *h, uint32_t *iss, tcp_time_t rtt)
{
    int l = harness_listen(h, 16);
    struct wire_tcp_options o = {.present = WIRE_OPT_MSS, .mss = 1460};
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, &o);
    *iss = harness_expect(h, "S.", ANY, 1001, 0)->seq;
    harness_run_until(h, h->now + rtt);
    harness_inject(h, WIRE_ACK, 1001, *iss + 1, 65535, NULL, 0, NULL);
    int sd = stack_accept(h->s, l, NULL);
    assert_true(sd >= 0);
    return sd;
}

/* RFC 6298 §2.1, §5.5 with tcp_syn_retries=6 (Linux): SYNs at 0, 1, 3, 7,
 * 15, 31, 63 s, and connect() fails with ETIMEDOUT at 127 s. */
static void test_syn_retransmitted_then_connect_times_out(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    tcp_time_t t0 = h->now;
    uint32_t iss;
    int sd = start_connect(h, &iss);
    static const int at[] = {1, 3, 7, 15, 31, 63};
    harness_run_until(h, t0 + TCP_SEC(127) - 1);
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        harness_expect(h, "S", iss, ANY, 0);
        assert_int_equal(harness_last_out_time(h), t0 + TCP_SEC(at[i]));
    }
    harness_expect_nothing(h);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_SYN_SENT);
    assert_false(stack_poll(h->s, sd) & STACK_POLLERR);
    harness_run_until(h, t0 + TCP_SEC(127));
    harness_expect_nothing(h); /* no RST from SYN-SENT */
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_CLOSED);
    assert_true(stack_poll(h->s, sd) & STACK_POLLERR);
    assert_int_equal(stack_sock_error(h->s, sd), ETIMEDOUT);
    assert_int_equal(harness_counter(h, "TCPSynRetrans"), 6);
    assert_int_equal(harness_counter(h, "AttemptFails"), 1);
    assert_int_equal(harness_counter(h, "TCPAbortOnTimeout"), 1);
    assert_int_equal(stack_conn_count(h->s), 0);
    harness_free(h);
}

/* TCP_SYNCNT overrides tcp_syn_retries per socket (Linux tcp(7)): 2
 * retries, so SYNs at 0, 1, 3 s and ETIMEDOUT at 7 s. */
static void test_syncnt_limits_syn_retries(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    tcp_time_t t0 = h->now;
    int sd = stack_socket(h->s);
    h->local.port = 50000;
    h->remote.port = 80;
    assert_int_equal(stack_setsockopt(h->s, sd, STACK_TCP_SYNCNT, 2), 0);
    assert_int_equal(stack_bind(h->s, sd, &h->local), 0);
    assert_int_equal(stack_connect(h->s, sd, &h->remote, h->now), -EINPROGRESS);
    harness_expect(h, "S", ANY, ANY, 0);
    harness_run_until(h, t0 + TCP_SEC(7) - 1);
    harness_expect(h, "S", ANY, ANY, 0);
    harness_expect(h, "S", ANY, ANY, 0);
    harness_expect_nothing(h);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_SYN_SENT);
    harness_run_until(h, t0 + TCP_SEC(7));
    assert_int_equal(stack_sock_error(h->s, sd), ETIMEDOUT);
    harness_free(h);
}

/* tcp_synack_retries=5 (Linux): SYN-ACKs at 0, 1, 3, 7, 15, 31 s; the
 * half-open entry is dropped at 63 s (SYN-RECEIVED -> CLOSED). */
static void test_synack_retransmitted_then_half_open_dropped(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = harness_listen(h, 16);
    tcp_time_t t0 = h->now;
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, NULL);
    uint32_t iss = harness_expect(h, "S.", ANY, 1001, 0)->seq;
    static const int at[] = {1, 3, 7, 15, 31};
    harness_run_until(h, t0 + TCP_SEC(63) - 1);
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        harness_expect(h, "S.", iss, 1001, 0);
        assert_int_equal(harness_last_out_time(h), t0 + TCP_SEC(at[i]));
    }
    harness_expect_nothing(h);
    assert_int_equal(stack_conn_count(h->s), 1);
    harness_run_until(h, t0 + TCP_SEC(63));
    harness_expect_nothing(h);
    assert_int_equal(stack_conn_count(h->s), 0);
    assert_true(harness_saw_state(h, 40000, TCP_STATE_SYN_RECEIVED, TCP_STATE_CLOSED));
    assert_int_equal(harness_counter(h, "TCPSynRetrans"), 5);
    assert_int_equal(stack_accept(h->s, l, NULL), -EAGAIN);
    /* a late final ACK now finds only the listener: RST (RFC 9293 §3.10.7.2) */
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, NULL);
    harness_expect(h, "R", iss + 1, ANY, 0);
    harness_free(h);
}

/* RFC 6298 §2.2-§2.3, §5.5: with a 100 ms first sample the RTO is
 * SRTT + max(G, 4*RTTVAR) = 100 + 200 ms; each expiry retransmits the
 * oldest segment and doubles it (300, 600, 1200 ms...); an ACK stops it. */
static void test_data_retransmitted_with_doubling_rto(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = open_with_rtt(h, &iss, TCP_MSEC(100));
    tcp_time_t t0 = h->now;
    assert_int_equal(stack_send(h->s, sd, "0123456789", 10, h->now), 10);
    harness_expect(h, "P.", iss + 1, 1001, 10);
    harness_run_until(h, t0 + TCP_MSEC(300 + 600 + 1200 + 2400) - 1);
    tcp_time_t prev = t0, gap = TCP_MSEC(300);
    for (int i = 0; i < 3; i++) {
        harness_expect(h, "P.", iss + 1, 1001, 10);
        assert_int_equal(harness_last_out_time(h) - prev, gap);
        prev = harness_last_out_time(h);
        gap *= 2;
    }
    harness_expect_nothing(h);
    assert_int_equal(harness_counter(h, "RetransSegs"), 3);
    assert_int_equal(harness_counter(h, "TCPTimeouts"), 3);
    harness_run_until(h, t0 + TCP_MSEC(300 + 600 + 1200 + 2400));
    harness_expect(h, "P.", iss + 1, 1001, 10);
    harness_inject(h, WIRE_ACK, 1001, iss + 11, 65535, NULL, 0, NULL);
    harness_run_until(h, h->now + TCP_SEC(600));
    harness_expect_nothing(h);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    harness_free(h);
}

/* RFC 1122 §4.2.3.5 (R2), tcp_retries2=15 (Linux): with a 300 ms RTO, 15
 * unanswered retransmissions fit the 924.6 s budget (see below); then the
 * connection fails with ETIMEDOUT; the RTO never
 * exceeds 120 s (Linux TCP_RTO_MAX, RFC 6298 §2.5). */
static void test_data_retransmissions_give_up_with_etimedout(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = open_with_rtt(h, &iss, TCP_MSEC(100));
    assert_int_equal(stack_send(h->s, sd, "x", 1, h->now), 1);
    harness_expect(h, "P.", iss + 1, 1001, 1);
    tcp_time_t prev = h->now;
    harness_run_until(h, h->now + TCP_SEC(3600));
    int retransmissions = 0;
    const struct wire_seg *s;
    while ((s = harness_next(h))) {
        assert_int_equal(s->seq, iss + 1);
        assert_true(harness_last_out_time(h) - prev <= TCP_SEC(120));
        prev = harness_last_out_time(h);
        retransmissions++;
    }
    assert_int_equal(retransmissions, 15);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_CLOSED);
    char buf[4];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), -ETIMEDOUT);
    assert_int_equal(harness_counter(h, "TCPAbortOnTimeout"), 1);
    harness_free(h);
}

/* Linux tcp_retransmits_timed_out: tcp_retries2 is a time budget, the
 * 924.6 s that 15 doubling RTOs from 200 ms take (capped at 120 s), not a
 * count. A 2.7 s RTO (RTT 900 ms, RFC 6298 §2.2) fits only 12
 * retransmissions (2.7, 8.1, 18.9 ... 890.1 s); the timer at 1010.1 s gives up. */
static void test_retries2_is_a_time_budget(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = open_with_rtt(h, &iss, TCP_MSEC(900));
    assert_int_equal(stack_send(h->s, sd, "x", 1, h->now), 1);
    harness_expect(h, "P.", iss + 1, 1001, 1);
    tcp_time_t sent = h->now;
    harness_run_until(h, h->now + TCP_SEC(3600));
    static const int at[] = {2700, 8100, 18900, 40500, 83700, 170100, 290100, 410100, 530100, 650100, 770100, 890100}; /* ms */
    for (unsigned i = 0; i < sizeof at / sizeof at[0]; i++) {
        const struct wire_seg *s = harness_next(h);
        assert_non_null(s);
        assert_int_equal(s->seq, iss + 1);
        assert_int_equal(harness_last_out_time(h) - sent, TCP_MSEC(at[i]));
    }
    harness_expect_nothing(h);
    assert_true(harness_saw_state(h, 40000, TCP_STATE_ESTABLISHED, TCP_STATE_CLOSED));
    char buf[4];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), -ETIMEDOUT);
    harness_free(h);
}

/* RFC 7323 §4.1 (RTTM), Linux tcp_rtt_tsopt_us: Karn's rule leaves no
 * sample from a retransmitted segment, but the timestamp the ACK echoes
 * times the copy that arrived, so the RTO comes back down from its
 * backed-off value instead of staying doubled. */
static void test_timestamp_echo_times_a_retransmission(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = harness_listen(h, 16);
    struct wire_tcp_options o = {.present = WIRE_OPT_MSS | WIRE_OPT_TIMESTAMP, .mss = 1460, .ts_val = 7};
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, &o);
    const struct wire_seg *sa = harness_expect(h, "S.", ANY, 1001, 0);
    uint32_t iss = sa->seq;
    struct wire_tcp_options ts = {.present = WIRE_OPT_TIMESTAMP, .ts_val = 8, .ts_ecr = sa->opt.ts_val};
    harness_run_until(h, h->now + TCP_MSEC(100));
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, &ts);
    int sd = stack_accept(h->s, l, NULL);
    assert_true(sd >= 0);
    assert_int_equal(stack_send(h->s, sd, "a", 1, h->now), 1);
    harness_expect(h, "P.", iss + 1, 1001, 1);
    tcp_time_t t0 = h->now;
    harness_run_until(h, t0 + TCP_MSEC(950)); /* RTO 300 ms, then 600 ms */
    harness_expect(h, "P.", iss + 1, 1001, 1);
    assert_int_equal(harness_last_out_time(h) - t0, TCP_MSEC(300));
    uint32_t second_tsval = harness_expect(h, "P.", iss + 1, 1001, 1)->opt.ts_val;
    assert_int_equal(harness_last_out_time(h) - t0, TCP_MSEC(900));
    /* its ACK comes back 100 ms after the second copy left */
    harness_run_until(h, t0 + TCP_MSEC(1000));
    ts.ts_val = 9;
    ts.ts_ecr = second_tsval;
    harness_inject(h, WIRE_ACK, 1001, iss + 2, 65535, NULL, 0, &ts);
    /* RTO = 100 ms + max(4 * 37.5 ms, 200 ms) = 300 ms again, not 1.2 s */
    assert_int_equal(stack_send(h->s, sd, "b", 1, h->now), 1);
    harness_expect(h, "P.", iss + 2, 1001, 1);
    tcp_time_t t1 = h->now;
    harness_run_until(h, t1 + TCP_MSEC(400));
    harness_expect(h, "P.", iss + 2, 1001, 1);
    assert_int_equal(harness_last_out_time(h) - t1, TCP_MSEC(300));
    harness_free(h);
}

/* Active close to TIME-WAIT: returns the time TIME-WAIT began. */
static tcp_time_t close_to_time_wait(struct harness *h, uint32_t *iss)
{
    int sd = harness_active_open(h, iss);
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect(h, "F.", *iss + 1, 5001, 0);
    harness_inject(h, WIRE_ACK, 5001, *iss + 2, 65535, NULL, 0, NULL);
    harness_inject(h, WIRE_FIN | WIRE_ACK, 5001, *iss + 2, 65535, NULL, 0, NULL);
    harness_expect(h, ".", *iss + 2, 5002, 0);
    assert_int_equal(harness_last_state(h, 80), TCP_STATE_TIME_WAIT);
    return h->now;
}

/* RFC 9293 §3.10.7.4 (TIME-WAIT): a retransmitted FIN is acknowledged
 * again and restarts the 2 MSL timeout; TIME-WAIT lasts 60 s (Linux
 * TCP_TIMEWAIT_LEN). */
static void test_time_wait_60s_restarted_by_retransmitted_fin(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    tcp_time_t tw = close_to_time_wait(h, &iss);
    harness_run_until(h, tw + TCP_SEC(30));
    harness_inject(h, WIRE_FIN | WIRE_ACK, 5001, iss + 2, 65535, NULL, 0, NULL);
    harness_expect(h, ".", iss + 2, 5002, 0);
    harness_run_until(h, tw + TCP_SEC(30 + 60) - 1);
    assert_int_equal(stack_conn_count(h->s), 1);
    assert_int_equal(harness_last_state(h, 80), TCP_STATE_TIME_WAIT);
    harness_run_until(h, tw + TCP_SEC(30 + 60));
    assert_int_equal(stack_conn_count(h->s), 0);
    assert_int_equal(harness_last_state(h, 80), TCP_STATE_CLOSED);
    harness_expect_nothing(h);
    harness_free(h);
}

/* RFC 9293 §3.10.7.4 (TIME-WAIT, 2 MSL; Linux TCP_TIMEWAIT_LEN): without
 * a retransmitted FIN, TIME-WAIT ends exactly 60 s after it began. */
static void test_time_wait_lasts_60s(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    tcp_time_t tw = close_to_time_wait(h, &iss);
    harness_run_until(h, tw + TCP_SEC(60) - 1);
    assert_int_equal(stack_conn_count(h->s), 1);
    harness_run_until(h, tw + TCP_SEC(60));
    assert_int_equal(stack_conn_count(h->s), 0);
    harness_expect_nothing(h);
    harness_free(h);
}

/* Linux tcp_fin_timeout (60 s): an orphan (close() called) in FIN-WAIT-2
 * whose peer never sends its FIN is dropped quietly after 60 s. */
static void test_fin_wait_2_orphan_times_out(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect(h, "F.", iss + 1, 5001, 0);
    harness_inject(h, WIRE_ACK, 5001, iss + 2, 65535, NULL, 0, NULL);
    assert_int_equal(harness_last_state(h, 80), TCP_STATE_FIN_WAIT_2);
    tcp_time_t t = h->now;
    harness_run_until(h, t + TCP_SEC(60) - 1);
    assert_int_equal(harness_last_state(h, 80), TCP_STATE_FIN_WAIT_2);
    harness_run_until(h, t + TCP_SEC(60));
    assert_int_equal(harness_last_state(h, 80), TCP_STATE_CLOSED);
    assert_int_equal(stack_conn_count(h->s), 0);
    harness_expect_nothing(h);
    assert_int_equal(harness_counter(h, "TCPOrphanFinTimeout"), 1);
    harness_free(h);
}

/* RFC 9293 §3.6: a half-closed connection (shutdown(SHUT_WR), descriptor
 * still open) may stay in FIN-WAIT-2 as long as the peer wishes. */
static void test_fin_wait_2_with_descriptor_does_not_time_out(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = harness_active_open(h, &iss);
    assert_int_equal(stack_shutdown(h->s, sd, STACK_SHUT_WR, h->now), 0);
    harness_expect(h, "F.", iss + 1, 5001, 0);
    harness_inject(h, WIRE_ACK, 5001, iss + 2, 65535, NULL, 0, NULL);
    harness_run_until(h, h->now + TCP_SEC(3600));
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_FIN_WAIT_2);
    harness_expect_nothing(h);
    harness_free(h);
}

/* Linux tcp_orphan_retries (0 means 8): an orphan's FIN is retransmitted
 * with a doubling RTO, then the connection is dropped (no RST). */
static void test_orphan_fin_retransmissions_give_up(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = open_with_rtt(h, &iss, TCP_MSEC(100));
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect(h, "F.", iss + 1, 1001, 0);
    tcp_time_t prev = h->now, gap = 0;
    harness_run_until(h, h->now + TCP_SEC(3600));
    int n = 0;
    const struct wire_seg *s;
    while ((s = harness_next(h))) {
        char f[WIRE_FLAGS_STRLEN];
        assert_string_equal(wire_flags_str(s->flags, f), "F.");
        assert_int_equal(s->seq, iss + 1);
        tcp_time_t g = harness_last_out_time(h) - prev;
        if (gap)
            assert_int_equal(g, 2 * gap);
        gap = g;
        prev = harness_last_out_time(h);
        n++;
    }
    assert_int_equal(n, 8);
    assert_int_equal(stack_conn_count(h->s), 0);
    assert_int_equal(harness_last_state(h, 40000), TCP_STATE_CLOSED);
    assert_int_equal(harness_counter(h, "TCPAbortOnTimeout"), 1);
    harness_free(h);
}

/* RFC 1122 §4.2.3.6, RFC 9293 §3.8.4, Linux tcp_keepalive_timer: after
 * TCP_KEEPIDLE of silence a probe <SEQ=SND.UNA-1><ACK=RCV.NXT>, one every
 * TCP_KEEPINTVL; TCP_KEEPCNT unanswered probes: RST and ETIMEDOUT. */
static void test_keepalive_probes_then_etimedout(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    assert_int_equal(stack_setsockopt(h->s, sd, STACK_TCP_KEEPIDLE, 10), 0);
    assert_int_equal(stack_setsockopt(h->s, sd, STACK_TCP_KEEPINTVL, 5), 0);
    assert_int_equal(stack_setsockopt(h->s, sd, STACK_TCP_KEEPCNT, 3), 0);
    assert_int_equal(stack_setsockopt(h->s, sd, STACK_SO_KEEPALIVE, 1), 0);
    tcp_time_t t0 = h->now;
    harness_run_until(h, t0 + TCP_SEC(25) - 1);
    static const int at[] = {10, 15, 20};
    for (int i = 0; i < 3; i++) {
        harness_expect(h, ".", iss, 1001, 0); /* SND.UNA - 1 = ISS */
        assert_int_equal(harness_last_out_time(h), t0 + TCP_SEC(at[i]));
    }
    harness_expect_nothing(h);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    harness_run_until(h, t0 + TCP_SEC(25));
    harness_expect(h, "R.", iss + 1, 1001, 0);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_CLOSED);
    assert_int_equal(stack_sock_error(h->s, sd), ETIMEDOUT);
    assert_int_equal(harness_counter(h, "TCPKeepAlive"), 3);
    harness_free(h);
}

/* RFC 1122 §4.2.3.6: an answered probe proves the peer alive; the next
 * probe comes a full idle time after the answer. */
static void test_keepalive_answer_keeps_connection(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    assert_int_equal(stack_setsockopt(h->s, sd, STACK_TCP_KEEPIDLE, 10), 0);
    assert_int_equal(stack_setsockopt(h->s, sd, STACK_TCP_KEEPINTVL, 5), 0);
    assert_int_equal(stack_setsockopt(h->s, sd, STACK_TCP_KEEPCNT, 3), 0);
    assert_int_equal(stack_setsockopt(h->s, sd, STACK_SO_KEEPALIVE, 1), 0);
    tcp_time_t t0 = h->now;
    for (int round = 0; round < 5; round++) {
        harness_run_until(h, t0 + TCP_SEC(10) * (tcp_time_t)(round + 1));
        harness_expect(h, ".", iss, 1001, 0);
        harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, NULL);
        harness_expect_nothing(h);
    }
    harness_run_until(h, t0 + TCP_SEC(59));
    harness_expect_nothing(h);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    assert_int_equal(stack_sock_error(h->s, sd), 0);
    harness_free(h);
}

/* RFC 1122 §4.2.3.6, RFC 9293 §3.10.7.4: the peer's keepalive probe
 * (SEG.SEQ = RCV.NXT-1, with or without one garbage byte) is outside the
 * window, so the stack answers it with an ACK and delivers nothing. */
static void test_peer_keepalive_probe_is_acked(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    harness_inject(h, WIRE_ACK, 1000, iss + 1, 65535, NULL, 0, NULL);
    harness_expect(h, ".", iss + 1, 1001, 0);
    harness_run_until(h, h->now + TCP_SEC(75)); /* the next probe, a keepalive interval later */
    harness_inject(h, WIRE_ACK, 1000, iss + 1, 65535, "g", 1, NULL);
    harness_expect(h, ".", iss + 1, 1001, 0);
    harness_expect_nothing(h);
    char buf[4];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), -EAGAIN);
    harness_free(h);
}

/* RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2: an ACK for data may be delayed
 * (less than 0.5 s); synack waits 40 ms like Linux (TCP_DELACK_MIN). */
static void test_delayed_ack_after_40ms(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    tcp_time_t t0 = h->now;
    harness_inject(h, WIRE_ACK | WIRE_PSH, 1001, iss + 1, 65535, "hello", 5, NULL);
    harness_expect_nothing(h);
    harness_run_until(h, t0 + TCP_MSEC(40) - 1);
    harness_expect_nothing(h);
    harness_run_until(h, t0 + TCP_MSEC(40));
    harness_expect(h, ".", iss + 1, 1006, 0);
    assert_int_equal(harness_last_out_time(h), t0 + TCP_MSEC(40));
    assert_int_equal(harness_counter(h, "TCPDelayedACKs"), 1);
    char buf[8];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 5);
    harness_free(h);
}

/* A delayed ACK rides on data the application sends meanwhile
 * (RFC 9293 §3.8.6.3): no separate ACK follows. */
static void test_delayed_ack_piggybacks_on_data(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    harness_inject(h, WIRE_ACK | WIRE_PSH, 1001, iss + 1, 65535, "ping", 4, NULL);
    harness_run_until(h, h->now + TCP_MSEC(10));
    assert_int_equal(stack_send(h->s, sd, "pong", 4, h->now), 4);
    harness_expect(h, "P.", iss + 1, 1005, 4);
    harness_run_until(h, h->now + TCP_MSEC(100));
    harness_expect_nothing(h);
    assert_int_equal(harness_counter(h, "TCPDelayedACKs"), 0);
    harness_free(h);
}

/* RFC 9293 §3.8.6.3, RFC 5681 §4.2, RFC 1122 §4.2.3.2: an ACK for at
 * least every second full-sized segment, at once. */
static void test_ack_every_second_full_segment(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    harness_passive_open(h, &l, &iss);
    static uint8_t data[1460];
    memset(data, 'a', sizeof data);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, data, 1460, NULL);
    harness_expect_nothing(h);
    harness_inject(h, WIRE_ACK, 1001 + 1460, iss + 1, 65535, data, 1460, NULL);
    harness_expect(h, ".", iss + 1, 1001 + 2 * 1460, 0);
    harness_inject(h, WIRE_ACK, 1001 + 2 * 1460, iss + 1, 65535, data, 1460, NULL);
    harness_expect_nothing(h);
    harness_inject(h, WIRE_ACK, 1001 + 3 * 1460, iss + 1, 65535, data, 1460, NULL);
    harness_expect(h, ".", iss + 1, 1001 + 4 * 1460, 0);
    harness_run_until(h, h->now + TCP_MSEC(100));
    harness_expect_nothing(h); /* nothing left owed: no delayed ACK after it */
    harness_free(h);
}

/* RFC 9293 §3.10.7.4 (TIME-WAIT) and RFC 6191 / Linux tcp_timewait_state_process:
 * a new SYN above the old RCV.NXT may reopen the 4-tuple at once; an old
 * one (below RCV.NXT) only gets the TIME-WAIT ACK. The server side closed
 * first, so the TIME-WAIT entry is on the listener's port. */
static void test_time_wait_reopened_by_new_syn(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect(h, "F.", iss + 1, 1001, 0);
    harness_inject(h, WIRE_FIN | WIRE_ACK, 1001, iss + 2, 65535, NULL, 0, NULL);
    harness_expect(h, ".", iss + 2, 1002, 0);
    assert_int_equal(harness_last_state(h, 40000), TCP_STATE_TIME_WAIT);
    harness_run_until(h, h->now + TCP_SEC(5));
    harness_inject(h, WIRE_SYN, 900, 0, 65535, NULL, 0, NULL); /* old */
    harness_expect(h, ".", iss + 2, 1002, 0);
    assert_int_equal(harness_last_state(h, 40000), TCP_STATE_TIME_WAIT);
    harness_inject(h, WIRE_SYN, 100000, 0, 65535, NULL, 0, NULL); /* new */
    uint32_t iss2 = harness_expect(h, "S.", ANY, 100001, 0)->seq;
    assert_true(harness_saw_state(h, 40000, TCP_STATE_TIME_WAIT, TCP_STATE_CLOSED));
    harness_inject(h, WIRE_ACK, 100001, iss2 + 1, 65535, NULL, 0, NULL);
    assert_true(stack_accept(h->s, l, NULL) >= 0);
    assert_int_equal(harness_counter(h, "TCPTimeWaitRecycled"), 1);
    harness_free(h);
}

/* RFC 1122 §4.2.3.6: keepalives "MUST default to off": an idle connection
 * without SO_KEEPALIVE sends nothing, however long it idles. */
static void test_keepalive_off_by_default(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    harness_run_until(h, h->now + TCP_SEC(3 * 7200));
    harness_expect_nothing(h);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    harness_free(h);
}

/* RFC 1122 §4.2.3.6: keepalive probes only when no data is outstanding;
 * unacknowledged data is the retransmission timer's business. */
static void test_no_keepalive_probe_with_data_outstanding(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    assert_int_equal(stack_setsockopt(h->s, sd, STACK_TCP_KEEPIDLE, 1), 0);
    assert_int_equal(stack_setsockopt(h->s, sd, STACK_TCP_KEEPINTVL, 1), 0);
    assert_int_equal(stack_setsockopt(h->s, sd, STACK_SO_KEEPALIVE, 1), 0);
    assert_int_equal(stack_send(h->s, sd, "x", 1, h->now), 1);
    harness_run_until(h, h->now + TCP_SEC(60));
    const struct wire_seg *s;
    int n = 0;
    while ((s = harness_next(h))) {
        assert_int_equal(s->seq, iss + 1); /* the data and its retransmissions */
        assert_int_equal(s->payload_len, 1);
        n++;
    }
    assert_true(n >= 2);
    assert_int_equal(harness_counter(h, "TCPKeepAlive"), 0);
    harness_free(h);
}

/* RFC 1122 §4.2.2.13: a SYN may reopen a connection from TIME-WAIT only
 * if the new incarnation's ISN is "larger than the largest sequence
 * number it used on the previous connection incarnation" (Linux
 * tcp_timewait_state_process: tcp_tw_isn = tw_snd_nxt + 65535 + 2). Here
 * the old connection sent 600 KB in no time, so the 4 µs clock alone has
 * not moved the ISN past it. */
static void test_time_wait_reopen_isn_above_old_sequence_space(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    struct wire_tcp_options o = {.present = WIRE_OPT_MSS, .mss = 1460};
    int sd = harness_passive_open_opts(h, &l, &iss, 16, &o);
    static uint8_t data[16384];
    memset(data, 'b', sizeof data);
    size_t total = 600000, sent = 0;
    uint32_t end = iss + 1;
    while (sent < total || end != iss + 1 + total) {
        while (sent < total) {
            size_t len = total - sent < sizeof data ? total - sent : sizeof data;
            ssize_t w = stack_send(h->s, sd, data, len, h->now);
            if (w <= 0)
                break;
            sent += (size_t)w;
        }
        const struct wire_seg *s;
        while ((s = harness_next(h)))
            if (seq_gt(s->seq + s->payload_len, end))
                end = s->seq + s->payload_len;
        harness_inject(h, WIRE_ACK, 1001, end, 65535, NULL, 0, NULL);
    }
    uint32_t old_snd_nxt = iss + 1 + (uint32_t)total + 1; /* after our FIN */
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect(h, "F.", old_snd_nxt - 1, 1001, 0);
    harness_inject(h, WIRE_FIN | WIRE_ACK, 1001, old_snd_nxt, 65535, NULL, 0, NULL);
    harness_expect(h, ".", old_snd_nxt, 1002, 0);
    assert_int_equal(harness_last_state(h, 40000), TCP_STATE_TIME_WAIT);
    harness_inject(h, WIRE_SYN, 100000, 0, 65535, NULL, 0, NULL);
    uint32_t iss2 = harness_expect(h, "S.", ANY, 100001, 0)->seq;
    assert_true(seq_gt(iss2, old_snd_nxt));
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_syn_retransmitted_then_connect_times_out),
        cmocka_unit_test(test_syncnt_limits_syn_retries),
        cmocka_unit_test(test_synack_retransmitted_then_half_open_dropped),
        cmocka_unit_test(test_data_retransmitted_with_doubling_rto),
        cmocka_unit_test(test_data_retransmissions_give_up_with_etimedout),
        cmocka_unit_test(test_retries2_is_a_time_budget),
        cmocka_unit_test(test_timestamp_echo_times_a_retransmission),
        cmocka_unit_test(test_time_wait_60s_restarted_by_retransmitted_fin),
        cmocka_unit_test(test_time_wait_lasts_60s),
        cmocka_unit_test(test_fin_wait_2_orphan_times_out),
        cmocka_unit_test(test_fin_wait_2_with_descriptor_does_not_time_out),
        cmocka_unit_test(test_orphan_fin_retransmissions_give_up),
        cmocka_unit_test(test_keepalive_probes_then_etimedout),
        cmocka_unit_test(test_keepalive_answer_keeps_connection),
        cmocka_unit_test(test_peer_keepalive_probe_is_acked),
        cmocka_unit_test(test_delayed_ack_after_40ms),
        cmocka_unit_test(test_delayed_ack_piggybacks_on_data),
        cmocka_unit_test(test_ack_every_second_full_segment),
        cmocka_unit_test(test_time_wait_reopened_by_new_syn),
        cmocka_unit_test(test_keepalive_off_by_default),
        cmocka_unit_test(test_no_keepalive_probe_with_data_outstanding),
        cmocka_unit_test(test_time_wait_reopen_isn_above_old_sequence_space),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
