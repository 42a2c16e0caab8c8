/* The sender's side of SACK, one test per rule: the scoreboard (RFC 2018
 * §4, RFC 6675 §3), loss detection by IsLost (RFC 6675 §4), SACK-based
 * recovery that resends only the holes while the pipe allows (RFC 6675
 * §5), and timeouts that skip SACKed data (RFC 6675 §5.1). */
#include <errno.h>
#include <string.h>

#include "harness.h"

#define MSS 1460u

static const struct wire_tcp_options syn_sack = {.present = WIRE_OPT_MSS | WIRE_OPT_SACK_PERM, .mss = MSS};

/* A passive connection with SACK permitted that has sent n full segments
 * (the first at *base); returns the descriptor. */
static int in_flight(struct harness *h, uint32_t *base, int n)
{
    int l;
    uint32_t iss;
    int sd = harness_passive_open_opts(h, &l, &iss, 16, &syn_sack);
    static uint8_t data[10 * MSS];
    memset(data, 's', sizeof data);
    size_t len = (size_t)n * MSS;
    assert_int_equal(stack_send(h->s, sd, data, len, h->now), (ssize_t)len);
    *base = iss + 1;
    for (int i = 0; i < n; i++) {
        const struct wire_seg *s = harness_next(h);
        assert_non_null(s);
        assert_int_equal(s->seq, *base + MSS * (uint32_t)i);
        assert_int_equal(s->payload_len, MSS);
    }
    harness_expect_nothing(h);
    return sd;
}

/* Segment i (0-based) of the flight. */
static uint32_t seg_at(uint32_t base, int i) { return base + MSS * (uint32_t)i; }

/* An ACK from the peer with SACK blocks [from, to) given as segment indexes. */
static void sack_ack(struct harness *h, uint32_t ack, uint32_t base, int nblocks, const int (*blocks)[2])
{
    struct wire_tcp_options o = {.present = WIRE_OPT_SACK, .sack_count = (uint8_t)nblocks};
    for (int i = 0; i < nblocks; i++)
        o.sack[i] = (struct wire_sack_block){seg_at(base, blocks[i][0]), seg_at(base, blocks[i][1])};
    harness_inject(h, WIRE_ACK, 1001, ack, 65535, NULL, 0, &o);
}

/* RFC 6675 §5: DupThresh duplicate ACKs that each SACK new data start
 * recovery; the first unacknowledged segment is resent at once. */
static void test_third_sacking_dup_ack_starts_recovery(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t b;
    in_flight(h, &b, 6);
    harness_inject(h, WIRE_ACK, 1001, seg_at(b, 1), 65535, NULL, 0, NULL); /* segment 0 arrived */
    sack_ack(h, seg_at(b, 1), b, 1, (const int[][2]){{2, 3}});
    sack_ack(h, seg_at(b, 1), b, 1, (const int[][2]){{2, 4}});
    assert_int_equal(harness_counter(h, "TCPSackRecovery"), 0);
    harness_skip_all(h);
    sack_ack(h, seg_at(b, 1), b, 1, (const int[][2]){{2, 5}});
    const struct wire_seg *s = harness_expect(h, "P.", seg_at(b, 1), 1001, MSS);
    (void)s;
    assert_int_equal(harness_counter(h, "TCPSackRecovery"), 1);
    assert_int_equal(harness_counter(h, "TCPFastRetrans"), 1);
    assert_int_equal(harness_counter(h, "TCPRenoRecovery"), 0);
    assert_int_equal(harness_counter(h, "TCPTimeouts"), 0);
    harness_free(h);
}

/* RFC 6675 §2: with SACK in use, an ACK that SACKs nothing new is not a
 * duplicate ACK: three repeats of the same block start nothing. */
static void test_repeated_sack_block_is_not_a_dup_ack(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t b;
    in_flight(h, &b, 6);
    for (int i = 0; i < 4; i++)
        sack_ack(h, b, b, 1, (const int[][2]){{2, 3}});
    assert_int_equal(harness_counter(h, "TCPFastRetrans"), 0);
    const struct wire_seg *s;
    while ((s = harness_next(h)))
        assert_true(seq_ge(s->seq, seg_at(b, 6))); /* nothing resent */
    harness_free(h);
}

/* RFC 6675 §4 IsLost, §5 step (b): one ACK that SACKs DupThresh segments
 * above the hole is enough; there is no need to wait for three ACKs. */
static void test_one_ack_sacking_three_segments_starts_recovery(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t b;
    in_flight(h, &b, 6);
    sack_ack(h, b, b, 1, (const int[][2]){{1, 4}});
    harness_expect(h, "P.", b, 1001, MSS);
    assert_int_equal(harness_counter(h, "TCPSackRecovery"), 1);
    harness_free(h);
}

/* RFC 6675 §5 (C), NextSeg rule 1: in recovery every hole the scoreboard
 * shows lost is resent once, while cwnd - pipe allows; SACKed segments
 * are never resent. An ACK beyond the recovery point ends recovery. */
static void test_recovery_resends_only_the_holes(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t b;
    int sd = in_flight(h, &b, 10);
    /* segments 1 and 4 lost; the peer holds 0, 2-3 and 5-9 */
    harness_inject(h, WIRE_ACK, 1001, seg_at(b, 1), 65535, NULL, 0, NULL);
    sack_ack(h, seg_at(b, 1), b, 2, (const int[][2]){{5, 10}, {2, 4}});
    harness_expect(h, "P.", seg_at(b, 1), 1001, MSS);
    harness_expect(h, "P.", seg_at(b, 4), 1001, MSS);
    harness_expect_nothing(h);
    /* the repaired segment 1 arrives: a partial ACK; nothing else to resend */
    sack_ack(h, seg_at(b, 4), b, 1, (const int[][2]){{5, 10}});
    harness_expect_nothing(h);
    harness_inject(h, WIRE_ACK, 1001, seg_at(b, 10), 65535, NULL, 0, NULL);
    struct stack_conn_info info;
    assert_true(harness_conn_info(h, 40000, &info));
    assert_int_equal(info.send_q, 0);
    assert_int_equal(info.timer, STACK_TIMER_OFF);
    assert_int_equal(harness_counter(h, "RetransSegs"), 2);
    assert_int_equal(harness_counter(h, "TCPTimeouts"), 0);
    /* recovery is over: new data flows again */
    assert_int_equal(stack_send(h->s, sd, "more", 4, h->now), 4);
    harness_expect(h, "P.", seg_at(b, 10), 1001, 4);
    harness_free(h);
}

/* RFC 6675 §5 step 4.2: entering recovery, cwnd = ssthresh =
 * FlightSize / 2, so new data waits for the pipe to drain (no NewReno
 * inflation by further duplicate ACKs). */
static void test_recovery_halves_cwnd_and_sends_new_data_by_pipe(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t b;
    int sd = in_flight(h, &b, 10);
    static uint8_t more[10 * MSS];
    assert_int_equal(stack_send(h->s, sd, more, sizeof more, h->now), (ssize_t)sizeof more);
    harness_expect_nothing(h); /* cwnd full */
    /* segment 0 lost, 1-3 SACKed: recovery, cwnd = 5 segments; pipe = 0 resent + 4..9 = 7 */
    sack_ack(h, b, b, 1, (const int[][2]){{1, 4}});
    harness_expect(h, "P.", b, 1001, MSS);
    harness_expect_nothing(h);
    /* 1-7 SACKed: pipe = segment 0 resent + 8 and 9 = 3 segments; room for 2 new ones */
    sack_ack(h, b, b, 1, (const int[][2]){{1, 8}});
    harness_expect(h, ".", seg_at(b, 10), 1001, MSS);
    harness_expect(h, ".", seg_at(b, 11), 1001, MSS);
    harness_expect_nothing(h);
    harness_free(h);
}

/* RFC 6675 §5.1, Linux tcp_xmit_retransmit_queue: after a timeout the
 * segments are resent from SND.UNA, skipping those the peer SACKed. */
static void test_timeout_resend_skips_sacked_segments(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t b;
    in_flight(h, &b, 5);
    sack_ack(h, b, b, 1, (const int[][2]){{2, 3}}); /* only segment 2 got through */
    harness_expect_nothing(h);
    harness_run_until(h, h->now + TCP_MSEC(250)); /* RTO = 200 ms (Linux TCP_RTO_MIN) */
    harness_expect(h, ".", b, 1001, MSS);           /* the head */
    harness_expect_nothing(h);
    sack_ack(h, seg_at(b, 1), b, 1, (const int[][2]){{2, 3}});
    harness_expect(h, ".", seg_at(b, 1), 1001, MSS);
    harness_expect(h, ".", seg_at(b, 3), 1001, MSS); /* 2 skipped */
    harness_expect_nothing(h);
    assert_int_equal(harness_counter(h, "TCPTimeouts"), 1);
    harness_free(h);
}

/* The same when a block covers our FIN too (Linux's SACK blocks do): the
 * timeout resends only the hole, and neither the SACKed data nor the FIN. */
static void test_timeout_resend_skips_sacked_fin(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open_opts(h, &l, &iss, 16, &syn_sack);
    static char data[3000];
    assert_int_equal(stack_send(h->s, sd, data, sizeof data, h->now), 3000);
    assert_int_equal(stack_shutdown(h->s, sd, STACK_SHUT_WR, h->now), 0);
    harness_skip_all(h);
    uint32_t b = iss + 1;
    struct wire_tcp_options sack = {.present = WIRE_OPT_SACK, .sack_count = 1};
    sack.sack[0] = (struct wire_sack_block){b + MSS, b + 3000 + 1}; /* the rest and the FIN */
    harness_inject(h, WIRE_ACK, 1001, b, 65535, NULL, 0, &sack);
    harness_skip_all(h);
    harness_run_until(h, h->now + TCP_MSEC(250));
    harness_expect(h, ".", b, 1001, MSS);
    harness_expect_nothing(h);
    harness_inject(h, WIRE_ACK, 1001, b + 3001, 65535, NULL, 0, NULL);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_FIN_WAIT_2);
    harness_free(h);
}

/* RFC 2018 §4, RFC 6675 §3: blocks outside what was sent are ignored and
 * counted, and start nothing. */
static void test_sack_beyond_snd_max_is_ignored(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t b;
    in_flight(h, &b, 4);
    for (int i = 0; i < 3; i++)
        sack_ack(h, b, b, 1, (const int[][2]){{2, 9}});
    assert_int_equal(harness_counter(h, "TCPSACKDiscard"), 3);
    assert_int_equal(harness_counter(h, "TCPFastRetrans"), 0);
    harness_expect_nothing(h);
    harness_free(h);
}

/* RFC 2883: a D-SACK block (below the cumulative ACK) reports a duplicate
 * and is not taken as data held. */
static void test_dsack_block_is_not_held_data(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t b;
    in_flight(h, &b, 4);
    for (int i = 0; i < 3; i++)
        sack_ack(h, seg_at(b, 1), b, 1, (const int[][2]){{0, 1}});
    assert_int_equal(harness_counter(h, "TCPSACKDiscard"), 0);
    assert_int_equal(harness_counter(h, "TCPDSACKRecv"), 3);
    assert_int_equal(harness_counter(h, "TCPSackRecovery"), 0);
    harness_free(h);
}

/* RFC 2883 §4: a segment received twice is reported in the ACK it gets,
 * as the first SACK block, below the cumulative ACK. */
static void test_duplicate_segment_gets_a_dsack(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    harness_passive_open_opts(h, &l, &iss, 16, &syn_sack);
    harness_inject(h, WIRE_ACK | WIRE_PSH, 1001, iss + 1, 65535, "0123456789", 10, NULL);
    harness_run_until(h, h->now + TCP_MSEC(100));
    harness_skip_all(h); /* the delayed ACK */
    harness_inject(h, WIRE_ACK | WIRE_PSH, 1001, iss + 1, 65535, "0123456789", 10, NULL);
    const struct wire_seg *a = harness_expect(h, ".", iss + 1, 1011, 0);
    assert_true(a->opt.present & WIRE_OPT_SACK);
    assert_int_equal(a->opt.sack_count, 1);
    assert_int_equal(a->opt.sack[0].left, 1001);
    assert_int_equal(a->opt.sack[0].right, 1011);
    /* a partial duplicate: the old part is reported, the new part taken */
    harness_inject(h, WIRE_ACK | WIRE_PSH, 1006, iss + 1, 65535, "56789abcde", 10, NULL);
    a = harness_expect(h, ".", iss + 1, 1016, 0);
    assert_int_equal(a->opt.sack_count, 1);
    assert_int_equal(a->opt.sack[0].left, 1006);
    assert_int_equal(a->opt.sack[0].right, 1011);
    assert_int_equal(harness_counter(h, "TCPDSACKOldSent"), 2);
    /* the next ACK carries no D-SACK */
    harness_inject(h, WIRE_ACK | WIRE_PSH, 1016, iss + 1, 65535, "f", 1, NULL);
    harness_run_until(h, h->now + TCP_MSEC(100));
    a = harness_expect(h, ".", iss + 1, 1017, 0);
    assert_false(a->opt.present & WIRE_OPT_SACK);
    harness_free(h);
}

/* A peer without SACK: recovery is NewReno (RFC 6582), counted apart. */
static void test_without_sack_recovery_is_newreno(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    static const struct wire_tcp_options mss = {.present = WIRE_OPT_MSS, .mss = MSS};
    int sd = harness_passive_open_opts(h, &l, &iss, 16, &mss);
    static uint8_t data[5 * MSS];
    assert_int_equal(stack_send(h->s, sd, data, sizeof data, h->now), (ssize_t)sizeof data);
    harness_skip_all(h);
    for (int i = 0; i < 4; i++)
        harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, NULL);
    assert_int_equal(harness_counter(h, "TCPRenoRecovery"), 1);
    assert_int_equal(harness_counter(h, "TCPSackRecovery"), 0);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_third_sacking_dup_ack_starts_recovery),
        cmocka_unit_test(test_repeated_sack_block_is_not_a_dup_ack),
        cmocka_unit_test(test_one_ack_sacking_three_segments_starts_recovery),
        cmocka_unit_test(test_recovery_resends_only_the_holes),
        cmocka_unit_test(test_recovery_halves_cwnd_and_sends_new_data_by_pipe),
        cmocka_unit_test(test_timeout_resend_skips_sacked_segments),
        cmocka_unit_test(test_timeout_resend_skips_sacked_fin),
        cmocka_unit_test(test_sack_beyond_snd_max_is_ignored),
        cmocka_unit_test(test_dsack_block_is_not_held_data),
        cmocka_unit_test(test_duplicate_segment_gets_a_dsack),
        cmocka_unit_test(test_without_sack_recovery_is_newreno),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
