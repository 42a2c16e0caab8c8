/* Data transfer, one test per rule: in-order delivery, cumulative ACKs,
 * out-of-order and duplicate segments, flow control with zero windows and
 * probes, the receive window's right edge, Nagle, FIN after data
 * (RFC 9293 §3.4, §3.7.4, §3.8.6, §3.10.7.4; RFC 5681 §4.2; RFC 1122 §4.2.2.17). */
#include <errno.h>
#include <string.h>

#include "harness.h"

static const struct wire_tcp_options mss1460 = {.present = WIRE_OPT_MSS, .mss = 1460};

/* RFC 9293 §3.10.7.4 seventh check: text in order goes to the user. */
static void test_in_order_delivery(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, "Hello, ", 7, NULL);
    harness_inject(h, WIRE_ACK, 1008, iss + 1, 65535, "wor", 3, NULL);
    harness_inject(h, WIRE_ACK | WIRE_PSH, 1011, iss + 1, 65535, "ld", 2, NULL);
    char buf[32];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 12);
    assert_memory_equal(buf, "Hello, world", 12);
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), -EAGAIN);
    harness_free(h);
}

/* RFC 9293 §3.4, §3.10.7.4 fifth check: one ACK covers everything below
 * it; nothing acknowledged is retransmitted and the timer stops. */
static void test_cumulative_ack(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open_opts(h, &l, &iss, 16, &mss1460);
    static uint8_t data[3 * 1460];
    memset(data, 'd', sizeof data);
    assert_int_equal(stack_send(h->s, sd, data, sizeof data, h->now), (ssize_t)sizeof data);
    harness_expect(h, ".", iss + 1, 1001, 1460);
    harness_expect(h, ".", iss + 1 + 1460, 1001, 1460);
    harness_expect(h, "P.", iss + 1 + 2 * 1460, 1001, 1460);
    struct stack_conn_info info;
    assert_true(harness_conn_info(h, 40000, &info));
    assert_int_equal(info.send_q, sizeof data);
    assert_int_equal(info.timer, STACK_TIMER_ON);
    harness_inject(h, WIRE_ACK, 1001, iss + 1 + 3 * 1460, 65535, NULL, 0, NULL);
    assert_true(harness_conn_info(h, 40000, &info));
    assert_int_equal(info.send_q, 0);
    assert_int_equal(info.timer, STACK_TIMER_OFF);
    harness_run_until(h, h->now + TCP_SEC(60));
    harness_expect_nothing(h);
    assert_int_equal(harness_counter(h, "RetransSegs"), 0);
    harness_free(h);
}

/* RFC 5681 §4.2, RFC 9293 §3.10.7.4: an out-of-order segment is answered
 * at once with a duplicate ACK (for RCV.NXT); its data is not delivered
 * ahead of the gap. */
static void test_out_of_order_segment_gets_immediate_dup_ack(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    harness_inject(h, WIRE_ACK, 1001 + 5, iss + 1, 65535, "world", 5, NULL);
    harness_expect(h, ".", iss + 1, 1001, 0);
    harness_inject(h, WIRE_ACK, 1001 + 10, iss + 1, 65535, "!", 1, NULL);
    harness_expect(h, ".", iss + 1, 1001, 0);
    harness_expect_nothing(h);
    char buf[16];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), -EAGAIN);
    /* the gap is filled */
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, "hello", 5, NULL);
    assert_true(stack_recv(h->s, sd, buf, sizeof buf, h->now) >= 5);
    assert_memory_equal(buf, "hello", 5);
    harness_free(h);
}

/* RFC 9293 §3.4, §3.10.7.4 first check: a segment already received is not
 * acceptable: it is acknowledged at once and never delivered twice. */
static void test_duplicate_segment_not_delivered_twice(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    harness_inject(h, WIRE_ACK | WIRE_PSH, 1001, iss + 1, 65535, "abc", 3, NULL);
    harness_inject(h, WIRE_ACK | WIRE_PSH, 1001, iss + 1, 65535, "abc", 3, NULL);
    harness_expect(h, ".", iss + 1, 1004, 0);
    char buf[16];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 3);
    assert_memory_equal(buf, "abc", 3);
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), -EAGAIN);
    harness_free(h);
}

/* RFC 9293 §3.10.7.4: a segment that starts before RCV.NXT but runs past
 * it is trimmed: only the new part is delivered. */
static void test_overlapping_segment_delivers_only_new_bytes(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, "abc", 3, NULL);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, "abcdef", 6, NULL);
    char buf[16];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 6);
    assert_memory_equal(buf, "abcdef", 6);
    harness_free(h);
}

/* RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17: with a zero send window the
 * sender stops, probes the window (Linux: <SEQ=SND.UNA-1>, no data) with
 * a backed-off timer, keeps the connection while probes are answered, and
 * sends as soon as the window opens. */
static void test_zero_window_stop_probe_resume(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open_opts(h, &l, &iss, 16, &mss1460);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 0, NULL, 0, NULL);
    assert_int_equal(stack_send(h->s, sd, "waiting", 7, h->now), 7);
    harness_expect_nothing(h);
    tcp_time_t prev = h->now, gap = 0;
    for (int i = 0; i < 20; i++) {
        harness_run_until(h, stack_next_timer(h->s));
        harness_expect(h, ".", iss, 1001, 0);
        harness_expect_nothing(h);
        tcp_time_t g = harness_last_out_time(h) - prev;
        assert_true(g >= gap); /* backed off (bounded by the RTO cap) */
        gap = g;
        prev = harness_last_out_time(h);
        harness_inject(h, WIRE_ACK, 1001, iss + 1, 0, NULL, 0, NULL); /* still zero */
        harness_expect_nothing(h);
    }
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, NULL);
    const struct wire_seg *d = harness_expect(h, "P.", iss + 1, 1001, 7);
    assert_memory_equal(d->payload, "waiting", 7);
    harness_free(h);
}

/* RFC 9293 §3.8.6: the sender never exceeds the window the peer offers. */
static void test_sender_respects_offered_window(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = harness_listen(h, 16);
    harness_inject(h, WIRE_SYN, 1000, 0, 1000, NULL, 0, &mss1460);
    uint32_t iss = harness_expect(h, "S.", ANY, 1001, 0)->seq;
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 1000, NULL, 0, NULL);
    int sd = stack_accept(h->s, l, NULL);
    assert_true(sd >= 0);
    static uint8_t data[3000];
    memset(data, 'w', sizeof data);
    assert_int_equal(stack_send(h->s, sd, data, sizeof data, h->now), 3000);
    harness_expect(h, ".", iss + 1, 1001, 1000);
    harness_expect_nothing(h);
    harness_inject(h, WIRE_ACK, 1001, iss + 1001, 1000, NULL, 0, NULL);
    harness_expect(h, ".", iss + 1001, 1001, 1000);
    harness_expect_nothing(h);
    harness_free(h);
}

static uint32_t right_edge(const struct wire_seg *s) { return s->ack + s->window; }

/* RFC 9293 §3.8.6.2.2, RFC 7323 §2.4: the receiver must not shrink the
 * window: RCV.NXT + RCV.WND in its ACKs never moves left, as the buffer
 * fills, when data beyond the window arrives, and as the user reads. */
static void test_receive_window_right_edge_never_shrinks(void **state)
{
    (void)state;
    struct stack_config cfg;
    stack_config_default(&cfg);
    memset(cfg.secret, 7, sizeof cfg.secret);
    cfg.tcp.tcp_rmem = 4000;
    struct harness *h = harness_new(&cfg);
    int l = harness_listen(h, 16);
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, &mss1460);
    const struct wire_seg *sa = harness_expect(h, "S.", ANY, 1001, 0);
    uint32_t iss = sa->seq, edge = right_edge(sa);
    assert_int_equal(sa->window, 4000);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, NULL);
    int sd = stack_accept(h->s, l, NULL);
    assert_true(sd >= 0);
    static uint8_t data[1000];
    memset(data, 'r', sizeof data);
    for (uint32_t i = 0; i < 4; i++)
        harness_inject(h, WIRE_ACK, 1001 + 1000 * i, iss + 1, 65535, data, 1000, NULL);
    harness_inject(h, WIRE_ACK, 5001, iss + 1, 65535, "x", 1, NULL); /* beyond a zero window */
    harness_run_until(h, h->now + TCP_MSEC(200));
    char buf[4000];
    assert_int_equal(stack_recv(h->s, sd, buf, 1000, h->now), 1000);
    assert_int_equal(stack_recv(h->s, sd, buf, 1000, h->now), 1000);
    harness_inject(h, WIRE_ACK, 5001, iss + 1, 65535, data, 1000, NULL);
    harness_run_until(h, h->now + TCP_MSEC(200));
    int acks = 0;
    const struct wire_seg *s;
    while ((s = harness_next(h))) {
        assert_true(seq_ge(right_edge(s), edge));
        edge = right_edge(s);
        acks++;
    }
    assert_true(acks >= 4);
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 3000);
    harness_free(h);
}

/* RFC 9293 §3.7.4 (Nagle): a small segment waits while data is
 * unacknowledged; TCP_NODELAY sends it at once. */
static void test_nagle_holds_small_segment(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open_opts(h, &l, &iss, 16, &mss1460);
    assert_int_equal(stack_send(h->s, sd, "a", 1, h->now), 1);
    harness_expect(h, "P.", iss + 1, 1001, 1);
    assert_int_equal(stack_send(h->s, sd, "b", 1, h->now), 1);
    harness_expect_nothing(h);
    harness_inject(h, WIRE_ACK, 1001, iss + 2, 65535, NULL, 0, NULL);
    harness_expect(h, "P.", iss + 2, 1001, 1);
    assert_int_equal(stack_setsockopt(h->s, sd, STACK_TCP_NODELAY, 1), 0);
    assert_int_equal(stack_send(h->s, sd, "c", 1, h->now), 1);
    harness_expect(h, "P.", iss + 3, 1001, 1);
    harness_free(h);
}

/* RFC 9293 §3.10.4: CLOSE: the FIN follows all queued data, and takes the
 * sequence number after it. */
static void test_fin_follows_queued_data(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open_opts(h, &l, &iss, 16, &mss1460);
    static uint8_t data[2000];
    memset(data, 'q', sizeof data);
    assert_int_equal(stack_send(h->s, sd, data, sizeof data, h->now), 2000);
    harness_expect(h, ".", iss + 1, 1001, 1460);
    assert_int_equal(stack_shutdown(h->s, sd, STACK_SHUT_WR, h->now), 0);
    const struct wire_seg *s = harness_next(h);
    assert_non_null(s);
    assert_int_equal(s->seq, iss + 1461);
    assert_int_equal(s->payload_len, 540);
    if (!(s->flags & WIRE_FIN)) {
        harness_inject(h, WIRE_ACK, 1001, iss + 2001, 65535, NULL, 0, NULL);
        harness_expect(h, "F.", iss + 2001, 1001, 0);
    }
    harness_inject(h, WIRE_ACK, 1001, iss + 2002, 65535, NULL, 0, NULL);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_FIN_WAIT_2);
    harness_free(h);
}

/* RFC 7323 §2.2-§2.3: with window scaling agreed, the peer's window field
 * (outside SYNs) is shifted by the peer's scale: 100 << 7 = 12800 bytes. */
static void test_peer_window_is_scaled(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = harness_listen(h, 16);
    struct wire_tcp_options o = {.present = WIRE_OPT_MSS | WIRE_OPT_WSCALE, .mss = 1460, .wscale = 7};
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, &o);
    const struct wire_seg *sa = harness_expect(h, "S.", ANY, 1001, 0);
    uint32_t iss = sa->seq;
    assert_true(sa->opt.present & WIRE_OPT_WSCALE);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 100, NULL, 0, NULL);
    int sd = stack_accept(h->s, l, NULL);
    assert_true(sd >= 0);
    static uint8_t data[20000];
    memset(data, 's', sizeof data);
    assert_int_equal(stack_send(h->s, sd, data, sizeof data, h->now), (ssize_t)sizeof data);
    uint32_t sent = 0;
    const struct wire_seg *s;
    while ((s = harness_next(h)))
        sent += s->payload_len;
    assert_true(sent > 100 * 64);     /* scaled, not 100 bytes */
    assert_true(sent <= 100u << 7);   /* and never beyond it */
    assert_true(sent >= (100u << 7) - 1460);
    harness_free(h);
}

/* RFC 7323 §2.2-§2.3: our window field is scaled by the shift we
 * announced in the SYN-ACK (never in the SYN-ACK itself). */
static void test_our_window_is_scaled(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = harness_listen(h, 16);
    struct wire_tcp_options o = {.present = WIRE_OPT_MSS | WIRE_OPT_WSCALE, .mss = 1460, .wscale = 0};
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, &o);
    const struct wire_seg *sa = harness_expect(h, "S.", ANY, 1001, 0);
    uint32_t iss = sa->seq;
    uint8_t shift = sa->opt.wscale;
    assert_true(shift > 0); /* a 128 KiB buffer needs a shift */
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, NULL);
    assert_true(stack_accept(h->s, l, NULL) >= 0);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, "a", 1, NULL);
    harness_inject(h, WIRE_ACK, 1002, iss + 1, 65535, "b", 1, NULL);
    const struct wire_seg *a = harness_expect(h, ".", iss + 1, 1003, 0);
    uint32_t wnd = (uint32_t)a->window << shift;
    assert_true(wnd > 65535u);      /* the scaled window offers the buffer */
    assert_true(wnd <= 131072u);
    harness_free(h);
}

/* RFC 6298 §5.4, RFC 5681 §3.1: on a timeout only the earliest
 * unacknowledged segment is retransmitted (cwnd = 1 SMSS); the rest follow
 * as ACKs open the window again. */
static void test_rto_retransmits_only_oldest_segment(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open_opts(h, &l, &iss, 16, &mss1460);
    static uint8_t data[3 * 1460];
    memset(data, 'o', sizeof data);
    assert_int_equal(stack_send(h->s, sd, data, sizeof data, h->now), (ssize_t)sizeof data);
    for (int i = 0; i < 3; i++)
        assert_non_null(harness_next(h));
    harness_run_until(h, stack_next_timer(h->s));
    harness_expect(h, ".", iss + 1, 1001, 1460);
    harness_expect_nothing(h);
    harness_inject(h, WIRE_ACK, 1001, iss + 1 + 1460, 65535, NULL, 0, NULL);
    harness_expect(h, ".", iss + 1 + 1460, 1001, 1460);
    harness_expect(h, "P.", iss + 1 + 2 * 1460, 1001, 1460);
    harness_free(h);
}

/* RFC 9293 §3.7.1, RFC 1122 §4.2.2.6: segments never exceed the peer's
 * MSS, and without an MSS option the peer gets 536 bytes. */
static void test_segments_honour_peer_mss(void **state)
{
    (void)state;
    static uint8_t data[3000];
    memset(data, 'm', sizeof data);
    for (int with = 0; with <= 1; with++) {
        struct harness *h = harness_new(NULL);
        int l;
        uint32_t iss;
        struct wire_tcp_options o = {.present = WIRE_OPT_MSS, .mss = 1000};
        int sd = harness_passive_open_opts(h, &l, &iss, 16, with ? &o : NULL);
        uint32_t mss = with ? 1000 : 536;
        assert_int_equal(stack_send(h->s, sd, data, 2 * mss, h->now), (ssize_t)(2 * mss));
        harness_expect(h, ".", iss + 1, 1001, mss);
        harness_expect(h, "P.", iss + 1 + mss, 1001, mss);
        harness_free(h);
    }
}

/* RFC 9293 §3.10.7.4 fifth check: the send window is updated only from a
 * segment newer than the last update (SND.WL1 < SEG.SEQ, or equal and
 * SND.WL2 =< SEG.ACK): a reordered old ACK with a zero window is ignored. */
static void test_old_segment_does_not_update_window(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open_opts(h, &l, &iss, 16, &mss1460);
    assert_int_equal(stack_send(h->s, sd, "0123456789", 10, h->now), 10);
    harness_expect(h, "P.", iss + 1, 1001, 10);
    harness_inject(h, WIRE_ACK, 1001, iss + 11, 65535, NULL, 0, NULL);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 0, NULL, 0, NULL); /* reordered, older */
    assert_int_equal(stack_send(h->s, sd, "x", 1, h->now), 1);
    harness_expect(h, "P.", iss + 11, 1001, 1);
    harness_free(h);
}

/* RFC 7323 §2.2: the window field of a SYN-ACK is never scaled; after the
 * SYN-ACK agrees on scaling, every window the stack sends is scaled by
 * the shift it announced in its SYN. */
static void test_active_open_window_scale_agreed(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int sd = stack_socket(h->s);
    h->local.port = 50000;
    h->remote.port = 80;
    assert_int_equal(stack_bind(h->s, sd, &h->local), 0);
    assert_int_equal(stack_connect(h->s, sd, &h->remote, h->now), -EINPROGRESS);
    const struct wire_seg *syn = harness_expect(h, "S", ANY, ANY, 0);
    uint32_t iss = syn->seq;
    uint8_t shift = syn->opt.wscale;
    struct wire_tcp_options o = {.present = WIRE_OPT_MSS | WIRE_OPT_WSCALE, .mss = 1460, .wscale = 3};
    harness_inject(h, WIRE_SYN | WIRE_ACK, 5000, iss + 1, 4000, NULL, 0, &o);
    const struct wire_seg *ack = harness_expect(h, ".", iss + 1, 5001, 0);
    assert_int_equal((uint32_t)ack->window << shift, 131072u >> shift << shift);
    /* the SYN-ACK's 4000 was unscaled: 4000 bytes may go, not 32000 */
    static uint8_t data[10000];
    memset(data, 'w', sizeof data);
    assert_int_equal(stack_send(h->s, sd, data, sizeof data, h->now), (ssize_t)sizeof data);
    uint32_t sent = 0;
    const struct wire_seg *s;
    while ((s = harness_next(h)))
        sent += s->payload_len;
    assert_true(sent <= 4000);
    assert_true(sent >= 2 * 1460);
    harness_free(h);
}

/* SEND with a full send buffer: -EAGAIN and no POLLOUT until ACKs make
 * room (stack.h; RFC 9293 §3.10.2 "insufficient resources"). */
static void test_send_buffer_full_is_eagain(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open_opts(h, &l, &iss, 16, &mss1460);
    assert_int_equal(stack_setsockopt(h->s, sd, STACK_SO_SNDBUF, 2000), 0);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 0, NULL, 0, NULL); /* zero window: nothing leaves */
    static uint8_t data[3000];
    memset(data, 'f', sizeof data);
    assert_int_equal(stack_send(h->s, sd, data, sizeof data, h->now), 2000);
    assert_int_equal(stack_send(h->s, sd, data, sizeof data, h->now), -EAGAIN);
    assert_false(stack_poll(h->s, sd) & STACK_POLLOUT);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, NULL);
    const struct wire_seg *seg;
    while ((seg = harness_next(h))) /* acknowledge whatever leaves */
        harness_inject(h, WIRE_ACK, 1001, seg->seq + seg->payload_len, 65535, NULL, 0, NULL);
    assert_true(stack_poll(h->s, sd) & STACK_POLLOUT);
    assert_int_equal(stack_send(h->s, sd, data, sizeof data, h->now), 2000);
    harness_free(h);
}

/* RFC 9293 §3.10.7.4 (SHLD-31: "Segments with higher beginning sequence
 * numbers SHOULD be held for later processing"), RFC 5681 §4.2 (an
 * immediate ACK when a segment fills the gap): the out-of-order data is
 * kept and delivered once the gap is filled, without a retransmission. */
static void test_out_of_order_segment_is_held(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    harness_inject(h, WIRE_ACK, 1006, iss + 1, 65535, "world", 5, NULL);
    harness_expect(h, ".", iss + 1, 1001, 0);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, "hello", 5, NULL);
    harness_expect(h, ".", iss + 1, 1011, 0);
    char buf[16];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 10);
    assert_memory_equal(buf, "helloworld", 10);
    harness_free(h);
}

/* RFC 9293 §3.8.6.2.2 (receiver SWS avoidance), Linux __tcp_select_window:
 * a window closed to zero is not reopened by a few bytes; it stays zero
 * until it can open by min(MSS, RCV.BUFF/2). Here the application reads
 * 100 bytes and the peer probes the window: the answer still says 0. */
static void test_receiver_sws_avoidance(void **state)
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
    static uint8_t data[1000];
    memset(data, 'z', sizeof data);
    for (uint32_t i = 0; i < 4; i++)
        harness_inject(h, WIRE_ACK, 1001 + 1000 * i, iss + 1, 65535, data, 1000, NULL);
    harness_run_until(h, h->now + TCP_MSEC(100));
    const struct wire_seg *s, *last = NULL;
    while ((s = harness_next(h)))
        last = s;
    assert_non_null(last);
    assert_int_equal(last->ack, 5001);
    assert_int_equal(last->window, 0);
    char buf[100];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 100);
    harness_expect_nothing(h); /* no window update for 100 bytes */
    harness_inject(h, WIRE_ACK, 5000, iss + 1, 65535, NULL, 0, NULL); /* zero-window probe */
    const struct wire_seg *a = harness_expect(h, ".", iss + 1, 5001, 0);
    assert_int_equal(a->window, 0);
    harness_free(h);
}

/* RFC 9293 §3.8.6.2.1 (sender SWS avoidance and its override timeout),
 * RFC 1122 §4.2.2.17, Linux tcp_check_probe_timer: with data queued,
 * nothing in flight and a usable window too small to send into, the sender
 * must not wait forever for a window update that may be lost: a timer
 * sends a probe or the part that fits. */
static void test_small_window_does_not_stall_sender(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open_opts(h, &l, &iss, 16, &mss1460);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 100, NULL, 0, NULL);
    static uint8_t data[3000];
    memset(data, 'q', sizeof data);
    assert_int_equal(stack_send(h->s, sd, data, sizeof data, h->now), 3000);
    harness_run_until(h, h->now + TCP_SEC(10));
    const struct wire_seg *s = harness_next(h);
    assert_non_null(s); /* something goes out: a probe or <= 100 bytes */
    assert_true(s->payload_len <= 100);
    harness_free(h);
}

/* RFC 7323 §2.3: a shift above 14 "MUST use 14 instead": with the peer's
 * window field 1 and its announced shift 15, the usable window is
 * 1 << 14 = 16384 bytes, never 32768, however far cwnd grows. */
static void test_window_scale_above_14_is_taken_as_14(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = harness_listen(h, 16);
    struct wire_tcp_options o = {.present = WIRE_OPT_MSS | WIRE_OPT_WSCALE, .mss = 1460, .wscale = 15};
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, &o);
    uint32_t iss = harness_expect(h, "S.", ANY, 1001, 0)->seq;
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 1, NULL, 0, NULL);
    int sd = stack_accept(h->s, l, NULL);
    assert_true(sd >= 0);
    static uint8_t data[200000];
    memset(data, 'w', sizeof data);
    assert_int_equal(stack_send(h->s, sd, data, 131072, h->now), 131072);
    uint32_t acked = iss + 1, end = iss + 1, max_flight = 0;
    for (int round = 0; round < 40; round++) {
        const struct wire_seg *s;
        while ((s = harness_next(h)))
            if (seq_gt(s->seq + s->payload_len, end))
                end = s->seq + s->payload_len;
        if (end - acked > max_flight)
            max_flight = end - acked;
        if (end == acked)
            break;
        acked = seq_min(acked + 1460, end); /* one ACK per segment lets cwnd grow */
        harness_inject(h, WIRE_ACK, 1001, acked, 1, NULL, 0, NULL);
    }
    assert_true(max_flight <= 16384);
    assert_true(max_flight > 16384 - 1460);
    harness_free(h);
}

/* Zero-window probes that nobody answers (the peer vanished while its
 * window was closed): Linux tcp_probe_timer gives up after tcp_retries2
 * unanswered probes with ETIMEDOUT (RFC 1122 §4.2.2.17 only asks to keep
 * the connection while the probes are answered). */
static void test_unanswered_zero_window_probes_give_up(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l;
    uint32_t iss;
    int sd = harness_passive_open_opts(h, &l, &iss, 16, &mss1460);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 0, NULL, 0, NULL);
    assert_int_equal(stack_send(h->s, sd, "stuck", 5, h->now), 5);
    harness_run_until(h, h->now + TCP_SEC(4 * 3600));
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_CLOSED);
    assert_int_equal(stack_sock_error(h->s, sd), ETIMEDOUT);
    harness_free(h);
}

/* A connection whose peer closed its window, with data stuck behind it,
 * closed by its user: an orphan probing a zero window. */
static struct harness *orphan_behind_zero_window(uint32_t *iss)
{
    struct harness *h = harness_new(NULL);
    int l;
    int sd = harness_passive_open_opts(h, &l, iss, 16, &mss1460);
    harness_inject(h, WIRE_ACK, 1001, *iss + 1, 0, NULL, 0, NULL);
    assert_int_equal(stack_send(h->s, sd, "stuck", 5, h->now), 5);
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    return h;
}

/* The same for an orphan: close() with data stuck behind a zero window
 * and a silent peer must not hold the connection (and its memory) for
 * ever (Linux: tcp_orphan_retries for probes of an orphan). */
static void test_orphan_behind_zero_window_is_released(void **state)
{
    (void)state;
    uint32_t iss;
    struct harness *h = orphan_behind_zero_window(&iss);
    harness_run_until(h, h->now + TCP_SEC(4 * 3600));
    assert_int_equal(stack_conn_count(h->s), 0);
    harness_free(h);
}

/* Linux tcp_probe_timer for an orphan (tcp_orphan_retries, "alive"): a
 * peer that answers every probe but never opens its window does not hold
 * a closed connection for ever; once the probe interval reaches
 * TCP_RTO_MAX the orphan is dropped. */
static void test_orphan_behind_answered_zero_window_is_released(void **state)
{
    (void)state;
    uint32_t iss;
    struct harness *h = orphan_behind_zero_window(&iss);
    tcp_time_t start = h->now;
    int answered = 0;
    while (stack_conn_count(h->s) > 0 && h->now < start + TCP_SEC(3600)) {
        harness_run_until(h, h->now + TCP_SEC(1));
        const struct wire_seg *s;
        while ((s = harness_next(h))) {
            harness_inject(h, WIRE_ACK, 1001, iss + 1, 0, NULL, 0, NULL); /* still closed */
            answered++;
        }
    }
    assert_int_equal(stack_conn_count(h->s), 0);
    assert_true(answered >= 8);
    assert_true(h->now - start < TCP_SEC(600));
    assert_int_equal(harness_counter(h, "TCPAbortOnTimeout"), 1);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_delivery),
        cmocka_unit_test(test_orphan_behind_answered_zero_window_is_released),
        cmocka_unit_test(test_cumulative_ack),
        cmocka_unit_test(test_out_of_order_segment_gets_immediate_dup_ack),
        cmocka_unit_test(test_duplicate_segment_not_delivered_twice),
        cmocka_unit_test(test_overlapping_segment_delivers_only_new_bytes),
        cmocka_unit_test(test_zero_window_stop_probe_resume),
        cmocka_unit_test(test_sender_respects_offered_window),
        cmocka_unit_test(test_receive_window_right_edge_never_shrinks),
        cmocka_unit_test(test_nagle_holds_small_segment),
        cmocka_unit_test(test_fin_follows_queued_data),
        cmocka_unit_test(test_peer_window_is_scaled),
        cmocka_unit_test(test_our_window_is_scaled),
        cmocka_unit_test(test_rto_retransmits_only_oldest_segment),
        cmocka_unit_test(test_segments_honour_peer_mss),
        cmocka_unit_test(test_old_segment_does_not_update_window),
        cmocka_unit_test(test_active_open_window_scale_agreed),
        cmocka_unit_test(test_send_buffer_full_is_eagain),
        cmocka_unit_test(test_out_of_order_segment_is_held),
        cmocka_unit_test(test_receiver_sws_avoidance),
        cmocka_unit_test(test_small_window_does_not_stall_sender),
        cmocka_unit_test(test_window_scale_above_14_is_taken_as_14),
        cmocka_unit_test(test_unanswered_zero_window_probes_give_up),
        cmocka_unit_test(test_orphan_behind_zero_window_is_released),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
