/* Loss recovery, one test per rule: out-of-order reassembly (RFC 9293
 * §3.10.7.4), SACK blocks (RFC 2018 §3-§4), immediate ACKs around gaps
 * (RFC 5681 §4.2), fast retransmit (RFC 5681 §3.2) and NewReno partial
 * ACKs (RFC 6582 §3.2). */
#include <errno.h>
#include <string.h>

#include "harness.h"

static const struct wire_tcp_options syn_sack = {.present = WIRE_OPT_MSS | WIRE_OPT_SACK_PERM, .mss = 1460};
static const struct wire_tcp_options syn_sack_ts = {
    .present = WIRE_OPT_MSS | WIRE_OPT_SACK_PERM | WIRE_OPT_TIMESTAMP, .mss = 1460, .ts_val = 1};
static const struct wire_tcp_options mss1460 = {.present = WIRE_OPT_MSS, .mss = 1460};

static void expect_sack(const struct wire_seg *s, int n, const uint32_t (*blocks)[2])
{
    assert_true(s->opt.present & WIRE_OPT_SACK);
    assert_int_equal(s->opt.sack_count, n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(s->opt.sack[i].left, blocks[i][0]);
        assert_int_equal(s->opt.sack[i].right, blocks[i][1]);
    }
}

/* RFC 2018 §4: with SACK permitted, the duplicate ACK for an out-of-order
 * segment reports it; the first block is the one holding the segment that
 * triggered the ACK; blocks go once the data is acknowledged. */
static void test_sack_blocks_on_out_of_order_data(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open_opts(h, &l, &iss, 16, &syn_sack);
    static char data[400];
    for (int i = 0; i < 400; i++)
        data[i] = (char)('a' + i % 26);
    harness_inject(h, WIRE_ACK, 1101, iss + 1, 65535, data + 100, 100, NULL);
    expect_sack(harness_expect(h, ".", iss + 1, 1001, 0), 1, (const uint32_t[][2]){{1101, 1201}});
    harness_inject(h, WIRE_ACK, 1301, iss + 1, 65535, data + 300, 100, NULL);
    expect_sack(harness_expect(h, ".", iss + 1, 1001, 0), 2, (const uint32_t[][2]){{1301, 1401}, {1101, 1201}});
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, data, 100, NULL); /* fills the first hole */
    expect_sack(harness_expect(h, ".", iss + 1, 1201, 0), 1, (const uint32_t[][2]){{1301, 1401}});
    harness_inject(h, WIRE_ACK, 1201, iss + 1, 65535, data + 200, 100, NULL); /* fills the last */
    const struct wire_seg *a = harness_expect(h, ".", iss + 1, 1401, 0);
    assert_false(a->opt.present & WIRE_OPT_SACK);
    char buf[512];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 400);
    assert_memory_equal(buf, data, 400);
    harness_free(h);
}

/* RFC 2018 §2-§3: no SACK option unless SACK-permitted was agreed. */
static void test_no_sack_without_permission(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    harness_passive_open_opts(h, &l, &iss, 16, &mss1460);
    harness_inject(h, WIRE_ACK, 1101, iss + 1, 65535, "xxxx", 4, NULL);
    const struct wire_seg *a = harness_expect(h, ".", iss + 1, 1001, 0);
    assert_false(a->opt.present & WIRE_OPT_SACK);
    harness_free(h);
}

/* RFC 2018 §3: with timestamps in use at most 3 SACK blocks fit; the most
 * recent one comes first. */
static void test_sack_blocks_limited_with_timestamps(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = harness_listen(h, 16);
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, &syn_sack_ts);
    const struct wire_seg *sa = harness_expect(h, "S.", ANY, 1001, 0);
    uint32_t iss = sa->seq;
    struct wire_tcp_options ts = {.present = WIRE_OPT_TIMESTAMP, .ts_val = 2, .ts_ecr = sa->opt.ts_val};
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, &ts);
    assert_true(stack_accept(h->s, l, NULL) >= 0);
    const struct wire_seg *a = NULL;
    for (uint32_t i = 1; i <= 5; i++) {
        ts.ts_val = 2 + i;
        harness_inject(h, WIRE_ACK, 1001 + 20 * i, iss + 1, 65535, "0123456789", 10, &ts);
        a = harness_expect(h, ".", iss + 1, 1001, 0);
    }
    assert_int_equal(a->opt.sack_count, 3);
    assert_int_equal(a->opt.sack[0].left, 1101); /* the newest first */
    assert_int_equal(a->opt.sack[0].right, 1111);
    harness_free(h);
}

/* RFC 2018 §4: after the first block, "the SACK option SHOULD be filled
 * out by repeating the most recently reported SACK blocks" (Linux keeps
 * its selective_acks[] in that order): with five holes and room for
 * three blocks, the three newest runs are reported, newest first. */
static void test_sack_blocks_repeat_most_recent(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    harness_passive_open_opts(h, &l, &iss, 16, &syn_sack);
    const struct wire_seg *a = NULL;
    for (uint32_t i = 1; i <= 6; i++) {
        harness_inject(h, WIRE_ACK, 1001 + 20 * i, iss + 1, 65535, "0123456789", 10, NULL);
        a = harness_expect(h, ".", iss + 1, 1001, 0);
    }
    /* no timestamps: four blocks fit */
    expect_sack(a, 4, (const uint32_t[][2]){{1121, 1131}, {1101, 1111}, {1081, 1091}, {1061, 1071}});
    harness_free(h);
}

/* RFC 9293 §3.10.7.4 (segments ahead are held), RFC 5681 §4.2: a FIN that
 * arrives ahead of a hole waits with its data; the segment that fills the
 * hole gets an immediate ACK that covers the data and the FIN. */
static void test_fin_held_until_hole_fills(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open_opts(h, &l, &iss, 16, &syn_sack);
    harness_inject(h, WIRE_ACK | WIRE_FIN, 1006, iss + 1, 65535, "world", 5, NULL);
    harness_expect(h, ".", iss + 1, 1001, 0);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, "hello", 5, NULL);
    const struct wire_seg *a = harness_next(h);
    assert_non_null(a);
    assert_int_equal(a->ack, 1012); /* the data and the FIN */
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_CLOSE_WAIT);
    char buf[16];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 10);
    assert_memory_equal(buf, "helloworld", 10);
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 0);
    harness_free(h);
}

/* RFC 9293 §3.4, §3.10.7.4: overlapping out-of-order segments are
 * delivered once each byte, in order. */
static void test_overlapping_out_of_order_segments(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    const char *text = "abcdefghijklmnopqrstuvwxyz";
    harness_inject(h, WIRE_ACK, 1011, iss + 1, 65535, text + 10, 10, NULL);  /* k..t */
    harness_inject(h, WIRE_ACK, 1006, iss + 1, 65535, text + 5, 10, NULL);   /* f..o */
    harness_inject(h, WIRE_ACK, 1016, iss + 1, 65535, text + 15, 11, NULL);  /* p..z */
    harness_inject(h, WIRE_ACK, 1011, iss + 1, 65535, text + 10, 10, NULL);  /* k..t again */
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, text, 7, NULL);        /* a..g */
    char buf[64];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 26);
    assert_memory_equal(buf, text, 26);
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), -EAGAIN);
    harness_skip_all(h);
    harness_run_until(h, h->now + TCP_MSEC(100));
    const struct wire_seg *s, *last = NULL;
    while ((s = harness_next(h)))
        last = s;
    if (last)
        assert_int_equal(last->ack, 1027);
    harness_free(h);
}

/* RFC 9293 §3.8.6: out-of-order data beyond the advertised window is not
 * kept (only what lies inside it). */
static void test_out_of_order_beyond_window_not_kept(void **state)
{
    (void)state;
    struct stack_config cfg;
    stack_config_default(&cfg);
    memset(cfg.secret, 7, sizeof cfg.secret);
    cfg.tcp.tcp_rmem = 4000;
    struct harness *h = harness_new(&cfg);
    int l;
    uint32_t iss;
    int sd = harness_passive_open_opts(h, &l, &iss, 16, &mss1460);
    static char data[5000];
    for (int i = 0; i < 5000; i++)
        data[i] = (char)(i * 13);
    harness_inject(h, WIRE_ACK, 1001 + 3500, iss + 1, 65535, data + 3500, 1000, NULL); /* 500 beyond */
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, data, 1460, NULL);
    harness_inject(h, WIRE_ACK, 1001 + 1460, iss + 1, 65535, data + 1460, 1460, NULL);
    harness_inject(h, WIRE_ACK, 1001 + 2920, iss + 1, 65535, data + 2920, 580, NULL);
    harness_skip_all(h);
    char buf[5000];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 4000);
    assert_memory_equal(buf, data, 4000);
    harness_free(h);
}

/* Reassembly memory is bounded (TCP_OOO_MAX_SEGS runs): a flood of tiny
 * out-of-order segments is counted and dropped past the bound, never
 * crashes, and the held data is still right when the holes fill. */
static void test_out_of_order_flood_is_bounded(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    static uint8_t data[2000];
    for (int i = 0; i < 2000; i++)
        data[i] = (uint8_t)(i * 7);
    for (uint32_t i = 1; i < 1000; i += 2) /* every odd byte */
        harness_inject(h, WIRE_ACK, 1001 + i, iss + 1, 65535, data + i, 1, NULL);
    harness_skip_all(h);
    assert_true(harness_counter(h, "TCPOFODrop") > 0);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, data, 1000, NULL); /* everything */
    uint8_t buf[2000];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 1000);
    assert_memory_equal(buf, data, 1000);
    harness_free(h);
}

/* Sends n full segments from a passive connection with peer MSS 1460. */
static int five_in_flight(struct harness *h, uint32_t *iss)
{
    int l;
    int sd = harness_passive_open_opts(h, &l, iss, 16, &mss1460);
    static uint8_t data[5 * 1460];
    memset(data, 'r', sizeof data);
    assert_int_equal(stack_send(h->s, sd, data, sizeof data, h->now), (ssize_t)sizeof data);
    for (int i = 0; i < 5; i++) {
        const struct wire_seg *s = harness_next(h);
        assert_non_null(s);
        assert_int_equal(s->seq, *iss + 1 + 1460u * (uint32_t)i);
    }
    harness_expect_nothing(h);
    return sd;
}

/* RFC 5681 §3.2: the third duplicate ACK (same ACK, no data, same window)
 * retransmits the missing segment at once; the first two do not. */
static void test_fast_retransmit_on_third_dup_ack(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    five_in_flight(h, &iss);
    uint32_t una = iss + 1 + 1460;
    harness_inject(h, WIRE_ACK, 1001, una, 65535, NULL, 0, NULL); /* first segment arrived */
    harness_inject(h, WIRE_ACK, 1001, una, 65535, NULL, 0, NULL); /* dup 1 */
    harness_inject(h, WIRE_ACK, 1001, una, 65535, NULL, 0, NULL); /* dup 2 */
    assert_int_equal(harness_counter(h, "TCPFastRetrans"), 0);
    const struct wire_seg *s = harness_next(h);
    if (s) /* RFC 3042 limited transmit may send new data, never a retransmission */
        assert_true(seq_ge(s->seq, iss + 1 + 5 * 1460));
    harness_skip_all(h);
    harness_inject(h, WIRE_ACK, 1001, una, 65535, NULL, 0, NULL); /* dup 3 */
    s = harness_next(h);
    assert_non_null(s);
    assert_int_equal(s->seq, una);
    assert_int_equal(s->payload_len, 1460);
    assert_int_equal(harness_counter(h, "TCPFastRetrans"), 1);
    assert_int_equal(harness_counter(h, "TCPTimeouts"), 0);
    harness_free(h);
}

/* RFC 5681 §3.2: an ACK that changes the window, or carries data, is not
 * a duplicate ACK. */
static void test_window_update_is_not_a_dup_ack(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    five_in_flight(h, &iss);
    uint32_t una = iss + 1 + 1460;
    harness_inject(h, WIRE_ACK, 1001, una, 65535, NULL, 0, NULL);
    harness_inject(h, WIRE_ACK, 1001, una, 60000, NULL, 0, NULL);
    harness_inject(h, WIRE_ACK, 1001, una, 50000, NULL, 0, NULL);
    harness_inject(h, WIRE_ACK, 1001, una, 40000, NULL, 0, NULL);
    assert_int_equal(harness_counter(h, "TCPFastRetrans"), 0);
    harness_free(h);
}

/* RFC 6582 §3.2 step 3: in recovery, a partial ACK (covering the
 * retransmission but not everything sent before it) retransmits the next
 * hole at once; an ACK of everything ends recovery. */
static void test_newreno_partial_ack_retransmits_next_hole(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    five_in_flight(h, &iss);
    uint32_t una = iss + 1 + 1460;
    for (int i = 0; i < 4; i++)
        harness_inject(h, WIRE_ACK, 1001, una, 65535, NULL, 0, NULL);
    harness_skip_all(h); /* the fast retransmission of segment 2 */
    harness_inject(h, WIRE_ACK, 1001, una + 1460, 65535, NULL, 0, NULL); /* partial: segment 3 lost too */
    const struct wire_seg *s = harness_next(h);
    assert_non_null(s);
    assert_int_equal(s->seq, una + 1460);
    assert_int_equal(s->payload_len, 1460);
    harness_skip_all(h);
    harness_inject(h, WIRE_ACK, 1001, iss + 1 + 5 * 1460, 65535, NULL, 0, NULL); /* all */
    struct stack_conn_info info;
    assert_true(harness_conn_info(h, 40000, &info));
    assert_int_equal(info.send_q, 0);
    assert_int_equal(info.timer, STACK_TIMER_OFF);
    assert_int_equal(harness_counter(h, "TCPTimeouts"), 0);
    harness_free(h);
}

/* RFC 6298 §5.4 ("retransmit the earliest segment that has not been
 * acknowledged"), RFC 9293 §3.8.6.2.1 (SWS avoidance is about sending new
 * data, and the bytes were inside the offered window): when the ACK of a
 * small segment sent into a small window is lost, the RTO resends it.
 * Linux tcp_retransmit_skb always resends the head segment. */
static void test_rto_resends_segment_sent_into_small_window(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open_opts(h, &l, &iss, 16, &mss1460);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 104, NULL, 0, NULL); /* the window shrinks to 104 */
    static uint8_t data[3000];
    memset(data, 'k', sizeof data);
    assert_int_equal(stack_send(h->s, sd, data, sizeof data, h->now), 3000);
    harness_expect_nothing(h); /* sender SWS avoidance holds it */
    harness_run_until(h, stack_next_timer(h->s)); /* the override timer sends what fits */
    const struct wire_seg *s = harness_next(h);
    assert_non_null(s);
    assert_int_equal(s->seq, iss + 1);
    assert_int_equal(s->payload_len, 104);
    /* its ACK is lost: the RTO must resend those 104 bytes */
    harness_run_until(h, stack_next_timer(h->s));
    s = harness_next(h);
    assert_non_null(s);
    assert_int_equal(s->seq, iss + 1);
    assert_true(s->payload_len > 0 && s->payload_len <= 104);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    harness_free(h);
}

/* RFC 9293 §3.10.7.4 (an ACK is <SEQ=SND.NXT><ACK=RCV.NXT>, SND.NXT being
 * the next new sequence number) and BSD tcp_output / Linux: after a
 * timeout rewinds the sender to resend from SND.UNA, a pure ACK still
 * carries the highest sequence number sent (BSD: snd_max). With the
 * rewound value the ACK falls left of the peer's window, the peer drops
 * it (ACK field unread) and answers with an ACK of its own: when both ends
 * have rewound, that is an endless ACK war and neither side's data is
 * ever acknowledged (see test_tcp_transfer: test_two_stacks_recover_after_both_rewind). */
static void test_pure_ack_after_rto_carries_highest_seq(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open_opts(h, &l, &iss, 16, &mss1460);
    static uint8_t data[3 * 1460];
    memset(data, 'a', sizeof data);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, data, 1000, NULL); /* the peer's data: RCV.NXT 2001 */
    assert_int_equal(stack_send(h->s, sd, data, sizeof data, h->now), (ssize_t)sizeof data);
    harness_skip_all(h); /* A, B, C: the peer gets them all, its ACK is lost */
    harness_run_until_output(h);
    const struct wire_seg *s = harness_next(h);
    assert_non_null(s);
    assert_int_equal(s->seq, iss + 1); /* A again: the sender rewound */
    harness_skip_all(h);
    /* the peer rewound too: its ACK (of everything) starts left of RCV.NXT */
    harness_inject(h, WIRE_ACK, 1501, iss + 1 + 3 * 1460, 65535, NULL, 0, NULL);
    s = harness_next(h);
    assert_non_null(s);
    assert_int_equal(s->ack, 2001);
    assert_int_equal(s->seq, iss + 1 + 3 * 1460); /* not iss + 1461 */
    harness_free(h);
}

/* Linux tcp_sequence (`!after(seq, rcv_nxt + window)`) and BSD accept a
 * zero-length segment whose SEQ is exactly the right edge of the window,
 * RCV.NXT + RCV.WND, which RFC 9293 §3.10.7.4's table (RCV.NXT =< SEG.SEQ
 * < RCV.NXT+RCV.WND) refuses. It is what a peer that filled our window,
 * and lost some of it, puts in every pure ACK; refusing it discards the
 * ACK field and answers with an ACK, and two such ends ACK each other for
 * ever (test_tcp_transfer: test_two_stacks_recover_after_both_rewind). */
static void test_pure_ack_at_right_window_edge_is_accepted(void **state)
{
    (void)state;
    struct stack_config cfg;
    stack_config_default(&cfg);
    memset(cfg.secret, 7, sizeof cfg.secret);
    cfg.tcp.tcp_rmem = 4000;
    struct harness *h = harness_new(&cfg);
    int l;
    uint32_t iss;
    int sd = harness_passive_open_opts(h, &l, &iss, 16, &mss1460);
    static uint8_t data[100];
    memset(data, 'e', sizeof data);
    assert_int_equal(stack_send(h->s, sd, data, 100, h->now), 100);
    harness_expect(h, "P.", iss + 1, 1001, 100);
    /* the peer sent 4000 bytes (all lost) and acknowledges ours */
    harness_inject(h, WIRE_ACK, 1001 + 4000, iss + 101, 65535, NULL, 0, NULL);
    struct stack_conn_info info;
    assert_true(harness_conn_info(h, 40000, &info));
    assert_int_equal(info.send_q, 0);
    assert_int_equal(info.timer, STACK_TIMER_OFF);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sack_blocks_on_out_of_order_data),
        cmocka_unit_test(test_no_sack_without_permission),
        cmocka_unit_test(test_sack_blocks_limited_with_timestamps),
        cmocka_unit_test(test_sack_blocks_repeat_most_recent),
        cmocka_unit_test(test_fin_held_until_hole_fills),
        cmocka_unit_test(test_overlapping_out_of_order_segments),
        cmocka_unit_test(test_out_of_order_beyond_window_not_kept),
        cmocka_unit_test(test_out_of_order_flood_is_bounded),
        cmocka_unit_test(test_fast_retransmit_on_third_dup_ack),
        cmocka_unit_test(test_window_update_is_not_a_dup_ack),
        cmocka_unit_test(test_newreno_partial_ack_retransmits_next_hole),
        cmocka_unit_test(test_rto_resends_segment_sent_into_small_window),
        cmocka_unit_test(test_pure_ack_after_rto_carries_highest_seq),
        cmocka_unit_test(test_pure_ack_at_right_window_edge_is_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
