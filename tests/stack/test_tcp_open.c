/* Opening a connection, one small test per rule: options of the SYN-ACK,
 * acknowledgment numbers, data around the handshake, simultaneous open,
 * old duplicates, resets, and the half-open entry of a listener
 * (RFC 9293 §3.5, §3.7.1, §3.10.7.1-§3.10.7.4; RFC 7323; RFC 2018). */
#include <errno.h>
#include <string.h>

#include "harness.h"

static int listen_on(struct harness *h, int backlog)
{
    int l = stack_socket(h->s);
    assert_true(l >= 0);
    assert_int_equal(stack_bind(h->s, l, &h->local), 0);
    assert_int_equal(stack_listen(h->s, l, backlog), 0);
    return l;
}

/* Active open up to the SYN: local 10.0.0.1:50000 -> 10.0.0.2:80. */
static int start_connect(struct harness *h, uint32_t *iss)
{
    int sd = stack_socket(h->s);
    assert_true(sd >= 0);
    h->local.port = 50000;
    h->remote.port = 80;
    assert_int_equal(stack_bind(h->s, sd, &h->local), 0);
    assert_int_equal(stack_connect(h->s, sd, &h->remote, h->now), -EINPROGRESS);
    const struct wire_seg *syn = harness_expect(h, "S", ANY, ANY, 0);
    *iss = syn->seq;
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_SYN_SENT);
    return sd;
}

static const struct wire_seg *syn_to_listener(struct harness *h, const struct wire_tcp_options *opts)
{
    listen_on(h, 16);
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, opts);
    return harness_expect(h, "S.", ANY, 1001, 0);
}

/* RFC 9293 §3.7.1: a SYN-ACK always carries our MSS; RFC 7323 §1.3 and
 * RFC 2018 §2: window scale, timestamps and SACK-permitted only if the SYN
 * offered them. */
static void test_synack_offers_only_mss_to_a_bare_syn(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    struct wire_tcp_options o = {.present = WIRE_OPT_MSS, .mss = 1000};
    const struct wire_seg *sa = syn_to_listener(h, &o);
    assert_int_equal(sa->opt.present, WIRE_OPT_MSS);
    assert_int_equal(sa->opt.mss, 1460);
    harness_free(h);
}

/* RFC 7323 §2.2: window scale in a SYN-ACK only if the SYN had it. */
static void test_synack_window_scale_only_if_offered(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    struct wire_tcp_options o = {.present = WIRE_OPT_MSS | WIRE_OPT_WSCALE, .mss = 1460, .wscale = 7};
    const struct wire_seg *sa = syn_to_listener(h, &o);
    assert_int_equal(sa->opt.present, WIRE_OPT_MSS | WIRE_OPT_WSCALE);
    assert_true(sa->opt.wscale <= WIRE_MAX_WSCALE);
    harness_free(h);
}

/* RFC 2018 §2: SACK-permitted in a SYN-ACK only if the SYN had it. */
static void test_synack_sack_permitted_only_if_offered(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    struct wire_tcp_options o = {.present = WIRE_OPT_MSS | WIRE_OPT_SACK_PERM, .mss = 1460};
    const struct wire_seg *sa = syn_to_listener(h, &o);
    assert_int_equal(sa->opt.present, WIRE_OPT_MSS | WIRE_OPT_SACK_PERM);
    harness_free(h);
}

/* RFC 7323 §3.2, §4.3: the SYN-ACK echoes the SYN's TSval in TSecr. */
static void test_synack_echoes_timestamp(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    struct wire_tcp_options o = {.present = WIRE_OPT_MSS | WIRE_OPT_TIMESTAMP, .mss = 1460, .ts_val = 0x12345678};
    const struct wire_seg *sa = syn_to_listener(h, &o);
    assert_int_equal(sa->opt.present, WIRE_OPT_MSS | WIRE_OPT_TIMESTAMP);
    assert_int_equal(sa->opt.ts_ecr, 0x12345678);
    harness_free(h);
}

/* All three offered: all three answered (RFC 7323 §1.3, RFC 2018 §2). */
static void test_synack_answers_every_offered_option(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    struct wire_tcp_options o = {.present = WIRE_OPT_MSS | WIRE_OPT_WSCALE | WIRE_OPT_SACK_PERM | WIRE_OPT_TIMESTAMP,
                                 .mss = 1460, .wscale = 7, .ts_val = 99};
    const struct wire_seg *sa = syn_to_listener(h, &o);
    assert_int_equal(sa->opt.present, WIRE_OPT_MSS | WIRE_OPT_WSCALE | WIRE_OPT_SACK_PERM | WIRE_OPT_TIMESTAMP);
    assert_int_equal(sa->opt.ts_ecr, 99);
    harness_free(h);
}

/* Our own SYN offers everything; its window is never scaled (RFC 7323
 * §2.2) and TSecr is 0 (RFC 7323 §3.2). */
static void test_syn_offers_options_unscaled_window(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    start_connect(h, &iss);
    const struct wire_seg *syn = &h->out[0];
    assert_int_equal(syn->opt.present, WIRE_OPT_MSS | WIRE_OPT_WSCALE | WIRE_OPT_SACK_PERM | WIRE_OPT_TIMESTAMP);
    assert_int_equal(syn->opt.mss, 1460);
    assert_int_equal(syn->opt.ts_ecr, 0);
    assert_false(syn->flags & WIRE_ACK);
    harness_free(h);
}

/* RFC 9293 §3.5, §3.10.7.2: SYN-ACK <SEQ=ISS><ACK=RCV.NXT=IRS+1>, and the
 * third segment acknowledges the peer's ISN + 1, from both ends, also when
 * the peer's ISN wraps (RFC 9293 §3.4: modulo 2^32). */
static void test_handshake_acks_peer_isn_plus_one(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = listen_on(h, 16);
    harness_inject(h, WIRE_SYN, 0xffffffffu, 0, 65535, NULL, 0, NULL);
    const struct wire_seg *sa = harness_expect(h, "S.", ANY, 0, 0);
    uint32_t iss = sa->seq;
    harness_inject(h, WIRE_ACK, 0, iss + 1, 65535, NULL, 0, NULL);
    harness_expect_nothing(h);
    assert_int_equal(harness_last_state(h, 40000), TCP_STATE_ESTABLISHED);
    assert_true(stack_accept(h->s, l, NULL) >= 0);
    harness_free(h);

    h = harness_new(NULL);
    int sd = start_connect(h, &iss);
    harness_inject(h, WIRE_SYN | WIRE_ACK, 5000, iss + 1, 65535, NULL, 0, NULL);
    harness_expect(h, ".", iss + 1, 5001, 0);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    harness_free(h);
}

/* RFC 9293 §3.10.2: data sent in SYN-SENT is queued; the SYN and its
 * retransmissions carry none (no TFO), and it leaves with the third
 * segment of the handshake. */
static void test_data_queued_in_syn_sent_leaves_with_third_segment(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = start_connect(h, &iss);
    assert_int_equal(stack_send(h->s, sd, "hello", 5, h->now), 5);
    harness_expect_nothing(h);
    harness_run_until(h, h->now + TCP_SEC(1));
    harness_expect(h, "S", iss, ANY, 0); /* the retransmitted SYN: still no data */
    harness_inject(h, WIRE_SYN | WIRE_ACK, 5000, iss + 1, 65535, NULL, 0, NULL);
    const struct wire_seg *third = harness_expect(h, "P.", iss + 1, 5001, 5);
    assert_memory_equal(third->payload, "hello", 5);
    harness_expect_nothing(h);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    harness_free(h);
}

/* RFC 9293 §3.10.7.2: text on a SYN may be queued, but without TCP Fast
 * Open Linux drops it: the SYN-ACK acknowledges the SYN only, carries no
 * data, and the peer sends its data again. */
static void test_synack_acks_only_the_syn_of_a_syn_with_data(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = listen_on(h, 16);
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, "early", 5, NULL);
    uint32_t iss = harness_expect(h, "S.", ANY, 1001, 0)->seq;
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, NULL);
    int sd = stack_accept(h->s, l, NULL);
    assert_true(sd >= 0);
    char buf[16];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), -EAGAIN);
    harness_free(h);
}

/* RFC 9293 §3.10.7.4 (SYN-RECEIVED, then "seventh, process the segment
 * text"): data on the third segment is delivered to the accepting side. */
static void test_data_on_third_ack_is_delivered(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = listen_on(h, 16);
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, NULL);
    uint32_t iss = harness_expect(h, "S.", ANY, 1001, 0)->seq;
    harness_inject(h, WIRE_ACK | WIRE_PSH, 1001, iss + 1, 65535, "GET /", 5, NULL);
    int sd = stack_accept(h->s, l, NULL);
    assert_true(sd >= 0);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    char buf[16];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 5);
    assert_memory_equal(buf, "GET /", 5);
    /* and it is acknowledged (delayed ACK, RFC 9293 §3.8.6.3) */
    harness_run_until(h, h->now + TCP_MSEC(40));
    harness_expect(h, ".", iss + 1, 1006, 0);
    harness_free(h);
}

/* RFC 9293 §3.5 Figure 8, §3.10.7.3: a SYN in SYN-SENT means a
 * simultaneous open: SYN-RECEIVED, and a SYN-ACK that repeats our ISN;
 * the peer's SYN-ACK then completes the open. */
static void test_simultaneous_open(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = start_connect(h, &iss);
    harness_inject(h, WIRE_SYN, 5000, 0, 65535, NULL, 0, NULL);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_SYN_RECEIVED);
    assert_true(harness_saw_state(h, 80, TCP_STATE_SYN_SENT, TCP_STATE_SYN_RECEIVED));
    harness_expect(h, "S.", iss, 5001, 0); /* same ISN as the SYN */
    harness_inject(h, WIRE_SYN | WIRE_ACK, 5000, iss + 1, 65535, NULL, 0, NULL);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    assert_true(harness_saw_state(h, 80, TCP_STATE_SYN_RECEIVED, TCP_STATE_ESTABLISHED));
    harness_expect(h, ".", iss + 1, 5001, 0);
    harness_expect_nothing(h);
    assert_true(stack_poll(h->s, sd) & STACK_POLLOUT);
    /* the connection works */
    assert_int_equal(stack_send(h->s, sd, "x", 1, h->now), 1);
    harness_expect(h, "P.", iss + 1, 5001, 1);
    harness_free(h);
}

/* A simultaneous open where the peer's SYN-ACK is an ACK only: SYN-RECEIVED
 * -> ESTABLISHED on the ACK of our SYN (RFC 9293 §3.10.7.4 fifth check). */
static void test_simultaneous_open_completed_by_ack(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = start_connect(h, &iss);
    harness_inject(h, WIRE_SYN, 5000, 0, 65535, NULL, 0, NULL);
    harness_expect(h, "S.", iss, 5001, 0);
    harness_inject(h, WIRE_ACK, 5001, iss + 1, 65535, NULL, 0, NULL);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    harness_free(h);
}

/* RFC 9293 §3.5 Figure 9, §3.10.7.3: in SYN-SENT a SYN-ACK whose ACK is
 * not ours (an old duplicate) gets <SEQ=SEG.ACK><CTL=RST>, and the
 * connection stays in SYN-SENT; the right SYN-ACK still completes it. */
static void test_syn_sent_old_duplicate_synack_gets_rst(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = start_connect(h, &iss);
    harness_inject(h, WIRE_SYN | WIRE_ACK, 90000, iss + 1000, 65535, NULL, 0, NULL);
    harness_expect(h, "R", iss + 1000, ANY, 0);
    harness_expect_nothing(h);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_SYN_SENT);
    assert_int_equal(stack_sock_error(h->s, sd), 0);
    /* SEG.ACK =< ISS is just as bad */
    harness_inject(h, WIRE_SYN | WIRE_ACK, 90000, iss, 65535, NULL, 0, NULL);
    harness_expect(h, "R", iss, ANY, 0);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_SYN_SENT);
    harness_inject(h, WIRE_SYN | WIRE_ACK, 5000, iss + 1, 65535, NULL, 0, NULL);
    harness_expect(h, ".", iss + 1, 5001, 0);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    harness_free(h);
}

/* RFC 9293 §3.10.7.3: in SYN-SENT a RST without an ACK is dropped. */
static void test_syn_sent_rst_without_ack_ignored(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = start_connect(h, &iss);
    harness_inject(h, WIRE_RST, 0, 0, 0, NULL, 0, NULL);
    harness_expect_nothing(h);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_SYN_SENT);
    assert_int_equal(stack_sock_error(h->s, sd), 0);
    harness_free(h);
}

/* RFC 9293 §3.10.7.3 (first check: a RST with a bad ACK is dropped, never
 * answered) and RFC 5961 §3.2. */
static void test_syn_sent_rst_with_bad_ack_ignored(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = start_connect(h, &iss);
    harness_inject(h, WIRE_RST | WIRE_ACK, 0, iss + 2, 0, NULL, 0, NULL);
    harness_inject(h, WIRE_RST | WIRE_ACK, 0, iss, 0, NULL, 0, NULL);
    harness_expect_nothing(h);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_SYN_SENT);
    harness_free(h);
}

/* RFC 9293 §3.10.7.3: RST with an acceptable ACK: "connection reset",
 * CLOSED, connect() fails with ECONNREFUSED (Linux), AttemptFails. */
static void test_syn_sent_rst_with_acceptable_ack_refuses(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = start_connect(h, &iss);
    harness_inject(h, WIRE_RST | WIRE_ACK, 0, iss + 1, 0, NULL, 0, NULL);
    harness_expect_nothing(h);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_CLOSED);
    assert_true(stack_poll(h->s, sd) & STACK_POLLERR);
    assert_int_equal(stack_sock_error(h->s, sd), ECONNREFUSED);
    assert_int_equal(harness_counter(h, "AttemptFails"), 1);
    assert_int_equal(stack_conn_count(h->s), 0);
    harness_run_until(h, h->now + TCP_SEC(200));
    harness_expect_nothing(h); /* no retransmission timer left behind */
    harness_free(h);
}

/* RFC 9293 §3.10.7.4 (SYN-RECEIVED) / Linux tcp_check_req: the peer
 * repeats its SYN (our SYN-ACK was lost): the same SYN-ACK again. */
static void test_repeated_syn_repeats_synack(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = listen_on(h, 16);
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, NULL);
    uint32_t iss = harness_expect(h, "S.", ANY, 1001, 0)->seq;
    harness_run_until(h, h->now + TCP_MSEC(300));
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, NULL);
    harness_expect(h, "S.", iss, 1001, 0);
    harness_expect_nothing(h);
    assert_int_equal(stack_conn_count(h->s), 1);
    assert_int_equal(harness_last_state(h, 40000), TCP_STATE_SYN_RECEIVED);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, NULL);
    assert_int_equal(harness_last_state(h, 40000), TCP_STATE_ESTABLISHED);
    assert_true(stack_accept(h->s, l, NULL) >= 0);
    harness_free(h);
}

/* RFC 9293 §3.10.7.4 (SYN-RECEIVED, second check): a RST to a passively
 * opened half-open connection returns it to LISTEN; the listener goes on. */
static void test_rst_to_half_open_returns_to_listen(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = listen_on(h, 16);
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, NULL);
    harness_expect(h, "S.", ANY, 1001, 0);
    harness_inject(h, WIRE_RST, 1001, 0, 0, NULL, 0, NULL);
    harness_expect_nothing(h);
    assert_true(harness_saw_state(h, 40000, TCP_STATE_SYN_RECEIVED, TCP_STATE_LISTEN));
    assert_int_equal(stack_conn_count(h->s), 0);
    assert_int_equal(stack_sock_state(h->s, l), TCP_STATE_LISTEN);
    harness_run_until(h, h->now + TCP_SEC(100));
    harness_expect_nothing(h); /* no SYN-ACK timer left behind */
    /* the listener still takes connections */
    harness_inject(h, WIRE_SYN, 2000, 0, 65535, NULL, 0, NULL);
    harness_expect(h, "S.", ANY, 2001, 0);
    harness_free(h);
}

/* RFC 9293 §3.10.7.4 (SYN-RECEIVED, fifth check): an ACK that is not
 * ISS+1 gets <SEQ=SEG.ACK><CTL=RST>; the half-open entry stays and the
 * right ACK completes it (Linux tcp_check_req). */
static void test_bad_ack_to_half_open_gets_rst_entry_stays(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = listen_on(h, 16);
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, NULL);
    uint32_t iss = harness_expect(h, "S.", ANY, 1001, 0)->seq;
    harness_inject(h, WIRE_ACK, 1001, iss + 77, 65535, NULL, 0, NULL);
    harness_expect(h, "R", iss + 77, ANY, 0);
    harness_expect_nothing(h);
    assert_int_equal(stack_conn_count(h->s), 1);
    assert_int_equal(harness_last_state(h, 40000), TCP_STATE_SYN_RECEIVED);
    assert_int_equal(stack_accept(h->s, l, NULL), -EAGAIN);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, NULL);
    assert_true(stack_accept(h->s, l, NULL) >= 0);
    harness_free(h);
}

/* RFC 9293 §3.10.7.2 (LISTEN, second check): an ACK to a listener with
 * no half-open entry: <SEQ=SEG.ACK><CTL=RST>. */
static void test_ack_to_listener_gets_rst(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = listen_on(h, 16);
    harness_inject(h, WIRE_ACK, 1001, 123456, 65535, NULL, 0, NULL);
    harness_expect(h, "R", 123456, ANY, 0);
    harness_expect_nothing(h);
    assert_int_equal(stack_conn_count(h->s), 0);
    assert_int_equal(stack_sock_state(h->s, l), TCP_STATE_LISTEN);
    harness_free(h);
}

/* RFC 9293 §3.10.7.2 (LISTEN, first check): a RST is ignored. */
static void test_rst_to_listener_ignored(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = listen_on(h, 16);
    int nstates = h->nstates;
    harness_inject(h, WIRE_RST, 1001, 0, 0, NULL, 0, NULL);
    harness_inject(h, WIRE_RST | WIRE_ACK, 1001, 5, 0, NULL, 0, NULL);
    harness_expect_nothing(h);
    assert_int_equal(h->nstates, nstates);
    assert_int_equal(stack_conn_count(h->s), 0);
    assert_int_equal(stack_sock_state(h->s, l), TCP_STATE_LISTEN);
    assert_int_equal(harness_counter(h, "OutRsts"), 0);
    harness_free(h);
}

/* RFC 9293 §3.10.7.4 eighth check (SYN-RECEIVED: "enter CLOSE-WAIT"): a
 * FIN on the third segment completes the open and half-closes it; the
 * accepted socket reads end of stream. */
static void test_fin_on_third_segment_gives_close_wait(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = listen_on(h, 16);
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, NULL);
    uint32_t iss = harness_expect(h, "S.", ANY, 1001, 0)->seq;
    harness_inject(h, WIRE_ACK | WIRE_FIN | WIRE_PSH, 1001, iss + 1, 65535, "bye", 3, NULL);
    int sd = stack_accept(h->s, l, NULL);
    assert_true(sd >= 0);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_CLOSE_WAIT);
    char buf[8];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 3);
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 0);
    harness_run_until(h, h->now + TCP_MSEC(40));
    harness_expect(h, ".", iss + 1, 1005, 0);
    harness_free(h);
}

/* RFC 9293 §3.10.7.3 (SYN-SENT, "continue processing at the sixth step"):
 * data on the SYN-ACK is delivered, and acknowledged in the third segment. */
static void test_data_on_synack_is_delivered(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = start_connect(h, &iss);
    harness_inject(h, WIRE_SYN | WIRE_ACK | WIRE_PSH, 5000, iss + 1, 65535, "banner", 6, NULL);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    char buf[8];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 6);
    assert_memory_equal(buf, "banner", 6);
    harness_run_until(h, h->now + TCP_MSEC(40));
    const struct wire_seg *a = harness_next(h);
    assert_non_null(a);
    assert_int_equal(a->ack, 5007);
    harness_free(h);
}

/* RFC 9293 §3.10.7.4 second check, which RFC 9293 applies to
 * SYN-RECEIVED as to the other synchronized states for stacks with RFC
 * 5961 (synack is one): an in-window RST that is not exactly at RCV.NXT
 * gets a challenge ACK and the half-open entry stays. (Linux
 * tcp_check_req resets the request sock on any in-window RST instead;
 * synack follows the RFC here.) */
static void test_inexact_rst_to_half_open_gets_challenge_ack(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = listen_on(h, 16);
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, NULL);
    uint32_t iss = harness_expect(h, "S.", ANY, 1001, 0)->seq;
    harness_inject(h, WIRE_RST, 1001 + 500, 0, 0, NULL, 0, NULL);
    harness_expect(h, ".", iss + 1, 1001, 0);
    assert_int_equal(stack_conn_count(h->s), 1);
    assert_int_equal(harness_last_state(h, 40000), TCP_STATE_SYN_RECEIVED);
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, NULL);
    assert_true(stack_accept(h->s, l, NULL) >= 0);
    harness_free(h);
}

/* Linux: a connection reset while it waits in the accept queue is still
 * returned by accept(); the reset shows as ECONNRESET. */
static void test_reset_before_accept_reported_after_accept(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = listen_on(h, 16);
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, NULL);
    uint32_t iss = harness_expect(h, "S.", ANY, 1001, 0)->seq;
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, NULL);
    harness_inject(h, WIRE_RST, 1001, 0, 0, NULL, 0, NULL);
    assert_int_equal(stack_conn_count(h->s), 0);
    int sd = stack_accept(h->s, l, NULL);
    assert_true(sd >= 0);
    char buf[4];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), -ECONNRESET);
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect_nothing(h);
    harness_free(h);
}

/* Data that arrives before accept() is kept for the accepting socket
 * (RFC 9293 §3.10.7.4 seventh check: the connection exists already). */
static void test_data_before_accept_is_kept(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = listen_on(h, 16);
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, NULL);
    uint32_t iss = harness_expect(h, "S.", ANY, 1001, 0)->seq;
    harness_inject(h, WIRE_ACK, 1001, iss + 1, 65535, NULL, 0, NULL);
    harness_inject(h, WIRE_ACK | WIRE_PSH, 1001, iss + 1, 65535, "early", 5, NULL);
    harness_inject(h, WIRE_ACK | WIRE_PSH, 1006, iss + 1, 65535, "bird", 4, NULL);
    harness_expect(h, ".", iss + 1, 1010, 0);
    int sd = stack_accept(h->s, l, NULL);
    assert_true(sd >= 0);
    char buf[16];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 9);
    assert_memory_equal(buf, "earlybird", 9);
    harness_free(h);
}

/* TCP_MAXSEG (Linux tcp(7)) lowers the MSS announced in the SYN
 * (RFC 9293 §3.7.1). */
static void test_maxseg_clamps_announced_mss(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int sd = stack_socket(h->s);
    h->local.port = 50000;
    h->remote.port = 80;
    assert_int_equal(stack_setsockopt(h->s, sd, STACK_TCP_MAXSEG, 1000), 0);
    assert_int_equal(stack_bind(h->s, sd, &h->local), 0);
    assert_int_equal(stack_connect(h->s, sd, &h->remote, h->now), -EINPROGRESS);
    const struct wire_seg *syn = harness_expect(h, "S", ANY, ANY, 0);
    assert_int_equal(syn->opt.mss, 1000);
    harness_free(h);
}

/* RFC 9293 §3.10.7.1 (CLOSED): a segment without ACK to a closed port is
 * answered <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, SEG.LEN counting
 * the data and the FIN; one with ACK gets <SEQ=SEG.ACK><CTL=RST>; a RST
 * is never answered. */
static void test_closed_port_reset_numbers(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    harness_inject(h, WIRE_FIN | WIRE_PSH, 300, 0, 65535, "data", 4, NULL);
    harness_expect(h, "R.", 0, 305, 0);
    harness_inject(h, WIRE_ACK | WIRE_PSH, 300, 4242, 65535, "data", 4, NULL);
    harness_expect(h, "R", 4242, ANY, 0);
    harness_inject(h, WIRE_RST, 300, 0, 0, NULL, 0, NULL);
    harness_inject(h, WIRE_RST | WIRE_ACK, 300, 1, 0, NULL, 0, NULL);
    harness_expect_nothing(h);
    assert_int_equal(harness_counter(h, "NoSocketRsts"), 2);
    assert_int_equal(harness_counter(h, "OutRsts"), 2);
    harness_free(h);
}

/* RFC 9293 §3.10.7.4 second check (SYN-RECEIVED from an active OPEN): a
 * RST at RCV.NXT means the connection was refused: ECONNREFUSED. */
static void test_rst_in_simultaneous_open_refuses(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = start_connect(h, &iss);
    harness_inject(h, WIRE_SYN, 5000, 0, 65535, NULL, 0, NULL);
    harness_expect(h, "S.", iss, 5001, 0);
    harness_inject(h, WIRE_RST, 5001, 0, 0, NULL, 0, NULL);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_CLOSED);
    assert_int_equal(stack_sock_error(h->s, sd), ECONNREFUSED);
    assert_int_equal(stack_conn_count(h->s), 0);
    harness_free(h);
}

/* RFC 9293 §3.10.5 (ABORT in SYN-RECEIVED: "Send a reset segment
 * <SEQ=SND.NXT><CTL=RST>"), as Linux tcp_need_reset (TCPF_SYN_RECV). */
static void test_abort_in_syn_received_sends_rst(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = start_connect(h, &iss);
    harness_inject(h, WIRE_SYN, 5000, 0, 65535, NULL, 0, NULL);
    harness_expect(h, "S.", iss, 5001, 0);
    assert_int_equal(stack_abort(h->s, sd, h->now), 0);
    const struct wire_seg *r = harness_next(h);
    assert_non_null(r);
    assert_true(r->flags & WIRE_RST);
    assert_int_equal(r->seq, iss + 1);
    assert_int_equal(stack_conn_count(h->s), 0);
    harness_free(h);
}

/* RFC 9293 §3.5, §3.10.2: in a simultaneous open with data already queued,
 * the SYN-ACK still carries none; the data leaves once ESTABLISHED. */
static void test_simultaneous_open_with_queued_data(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    uint32_t iss;
    int sd = start_connect(h, &iss);
    assert_int_equal(stack_send(h->s, sd, "queued", 6, h->now), 6);
    harness_inject(h, WIRE_SYN, 5000, 0, 65535, NULL, 0, NULL);
    harness_expect(h, "S.", iss, 5001, 0);
    harness_expect_nothing(h);
    harness_inject(h, WIRE_SYN | WIRE_ACK, 5000, iss + 1, 65535, NULL, 0, NULL);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    const struct wire_seg *s;
    uint32_t data = 0;
    while ((s = harness_next(h))) {
        assert_int_equal(s->ack, 5001);
        if (s->payload_len) {
            assert_int_equal(s->seq, iss + 1);
            assert_memory_equal(s->payload, "queued", 6);
        }
        data += s->payload_len;
    }
    assert_int_equal(data, 6);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synack_offers_only_mss_to_a_bare_syn),
        cmocka_unit_test(test_synack_window_scale_only_if_offered),
        cmocka_unit_test(test_synack_sack_permitted_only_if_offered),
        cmocka_unit_test(test_synack_echoes_timestamp),
        cmocka_unit_test(test_synack_answers_every_offered_option),
        cmocka_unit_test(test_syn_offers_options_unscaled_window),
        cmocka_unit_test(test_handshake_acks_peer_isn_plus_one),
        cmocka_unit_test(test_data_queued_in_syn_sent_leaves_with_third_segment),
        cmocka_unit_test(test_synack_acks_only_the_syn_of_a_syn_with_data),
        cmocka_unit_test(test_data_on_third_ack_is_delivered),
        cmocka_unit_test(test_simultaneous_open),
        cmocka_unit_test(test_simultaneous_open_completed_by_ack),
        cmocka_unit_test(test_simultaneous_open_with_queued_data),
        cmocka_unit_test(test_syn_sent_old_duplicate_synack_gets_rst),
        cmocka_unit_test(test_syn_sent_rst_without_ack_ignored),
        cmocka_unit_test(test_syn_sent_rst_with_bad_ack_ignored),
        cmocka_unit_test(test_syn_sent_rst_with_acceptable_ack_refuses),
        cmocka_unit_test(test_repeated_syn_repeats_synack),
        cmocka_unit_test(test_rst_to_half_open_returns_to_listen),
        cmocka_unit_test(test_bad_ack_to_half_open_gets_rst_entry_stays),
        cmocka_unit_test(test_ack_to_listener_gets_rst),
        cmocka_unit_test(test_rst_to_listener_ignored),
        cmocka_unit_test(test_fin_on_third_segment_gives_close_wait),
        cmocka_unit_test(test_data_on_synack_is_delivered),
        cmocka_unit_test(test_inexact_rst_to_half_open_gets_challenge_ack),
        cmocka_unit_test(test_reset_before_accept_reported_after_accept),
        cmocka_unit_test(test_data_before_accept_is_kept),
        cmocka_unit_test(test_maxseg_clamps_announced_mss),
        cmocka_unit_test(test_closed_port_reset_numbers),
        cmocka_unit_test(test_rst_in_simultaneous_open_refuses),
        cmocka_unit_test(test_abort_in_syn_received_sends_rst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
