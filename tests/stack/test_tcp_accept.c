/* The listener's accept queue, bounded like Linux's: backlog N holds N+1
 * connections; a final ACK to a full queue is dropped (the entry stays
 * half-open and its SYN-ACK is repeated) or, with tcp_abort_on_overflow,
 * reset; SYNs are dropped while the queue is full (RFC 9293 §3.10.7.2;
 * Linux sk_acceptq_is_full, tcp_check_req, tcp_conn_request). */
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

/* Peer on `port` sends a SYN (ISN = port * 1000); returns our ISS. */
static uint32_t syn_from(struct harness *h, uint16_t port)
{
    h->remote.port = port;
    uint32_t isn = (uint32_t)port * 1000u;
    harness_inject(h, WIRE_SYN, isn, 0, 65535, NULL, 0, NULL);
    return harness_expect(h, "S.", ANY, isn + 1, 0)->seq;
}

static void ack_from(struct harness *h, uint16_t port, uint32_t iss)
{
    h->remote.port = port;
    harness_inject(h, WIRE_ACK, (uint32_t)port * 1000u + 1, iss + 1, 65535, NULL, 0, NULL);
}

struct listener_view {
    int sd;
    struct stack_conn_info info;
};

static void find_listener(void *ctx, const struct stack_conn_info *info)
{
    struct listener_view *v = ctx;
    if (info->state == TCP_STATE_LISTEN && info->sd == v->sd)
        v->info = *info;
}

static struct stack_conn_info listener_info(struct harness *h, int l)
{
    struct listener_view v = {.sd = l};
    stack_walk(h->s, find_listener, &v);
    assert_int_equal(v.info.state, TCP_STATE_LISTEN);
    return v.info;
}

/* Linux sk_acceptq_is_full (queue length > backlog): listen(2) lets three
 * established connections wait; the next SYN is dropped, unanswered and
 * without a cookie (ListenOverflows, ListenDrops). */
static void test_backlog_n_holds_n_plus_one(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = listen_on(h, 2);
    for (uint16_t p = 40001; p <= 40003; p++)
        ack_from(h, p, syn_from(h, p));
    harness_expect_nothing(h);
    struct stack_conn_info info = listener_info(h, l);
    assert_int_equal(info.recv_q, 3);
    assert_int_equal(info.send_q, 2);
    assert_true(stack_poll(h->s, l) & STACK_POLLIN);
    h->remote.port = 40004;
    harness_inject(h, WIRE_SYN, 4000, 0, 65535, NULL, 0, NULL);
    harness_expect_nothing(h);
    assert_int_equal(harness_counter(h, "ListenOverflows"), 1);
    assert_int_equal(harness_counter(h, "ListenDrops"), 1);
    assert_int_equal(harness_counter(h, "SyncookiesSent"), 0);
    assert_int_equal(stack_conn_count(h->s), 3);
    struct wire_endpoint peer;
    for (uint16_t p = 40001; p <= 40003; p++) {
        int sd = stack_accept(h->s, l, &peer);
        assert_true(sd >= 0);
        assert_int_equal(peer.port, p); /* in order of arrival */
        assert_true(wire_addr_eq(&peer.addr, &h->remote.addr));
    }
    assert_int_equal(stack_accept(h->s, l, NULL), -EAGAIN);
    assert_false(stack_poll(h->s, l) & STACK_POLLIN);
    harness_free(h);
}

/* Linux tcp_check_req with tcp_abort_on_overflow=0: the final ACK that
 * finds the accept queue full is dropped; the entry stays half-open, its
 * SYN-ACK is retransmitted, and once accept() makes room the peer's next
 * ACK completes the connection. */
static void test_final_ack_to_full_queue_dropped_then_completes(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = listen_on(h, 2);
    ack_from(h, 40001, syn_from(h, 40001));
    ack_from(h, 40002, syn_from(h, 40002));
    tcp_time_t t_syn = h->now;
    uint32_t iss3 = syn_from(h, 40003);
    uint32_t iss4 = syn_from(h, 40004);
    ack_from(h, 40003, iss3);
    ack_from(h, 40004, iss4); /* queue holds 3 > backlog 2: dropped */
    harness_expect_nothing(h);
    assert_int_equal(harness_counter(h, "ListenOverflows"), 1);
    assert_int_equal(harness_counter(h, "ListenDrops"), 1);
    assert_int_equal(harness_last_state(h, 40004), TCP_STATE_SYN_RECEIVED);
    assert_int_equal(stack_conn_count(h->s), 4);
    /* a new SYN meanwhile is dropped */
    h->remote.port = 40005;
    harness_inject(h, WIRE_SYN, 5000, 0, 65535, NULL, 0, NULL);
    harness_expect_nothing(h);
    assert_int_equal(harness_counter(h, "ListenOverflows"), 2);
    /* the SYN-ACK timer asks again (Linux reqsk_timer_handler resends even
     * when the ACK came, inet_rsk(req)->acked) */
    harness_run_until(h, t_syn + TCP_SEC(1));
    harness_expect(h, "S.", iss4, 40004001, 0);
    harness_expect_nothing(h);
    /* accept() makes room; the peer's answer to the SYN-ACK completes it */
    assert_true(stack_accept(h->s, l, NULL) >= 0);
    ack_from(h, 40004, iss4);
    harness_expect_nothing(h);
    assert_int_equal(harness_last_state(h, 40004), TCP_STATE_ESTABLISHED);
    struct wire_endpoint peer;
    int sd, last = -1;
    while ((sd = stack_accept(h->s, l, &peer)) >= 0)
        last = peer.port;
    assert_int_equal(last, 40004);
    harness_run_until(h, h->now + TCP_SEC(100));
    harness_expect_nothing(h); /* no SYN-ACK timer left for it */
    harness_free(h);
}

/* Linux tcp_abort_on_overflow=1: the final ACK to a full accept queue is
 * answered <SEQ=SEG.ACK><CTL=RST> and the half-open entry is dropped. */
static void test_abort_on_overflow_resets_final_ack(void **state)
{
    (void)state;
    struct stack_config cfg;
    stack_config_default(&cfg);
    memset(cfg.secret, 7, sizeof cfg.secret);
    cfg.tcp.tcp_abort_on_overflow = 1;
    struct harness *h = harness_new(&cfg);
    int l = listen_on(h, 2);
    ack_from(h, 40001, syn_from(h, 40001));
    ack_from(h, 40002, syn_from(h, 40002));
    uint32_t iss3 = syn_from(h, 40003);
    uint32_t iss4 = syn_from(h, 40004);
    ack_from(h, 40003, iss3);
    ack_from(h, 40004, iss4);
    harness_expect(h, "R", iss4 + 1, ANY, 0);
    harness_expect_nothing(h);
    assert_true(harness_saw_state(h, 40004, TCP_STATE_SYN_RECEIVED, TCP_STATE_CLOSED));
    assert_int_equal(stack_conn_count(h->s), 3);
    assert_int_equal(harness_counter(h, "ListenOverflows"), 1);
    for (int i = 0; i < 3; i++)
        assert_true(stack_accept(h->s, l, NULL) >= 0);
    harness_run_until(h, h->now + TCP_SEC(100));
    harness_expect_nothing(h);
    harness_free(h);
}

/* Linux listen(fd, 0): the accept queue still holds one connection. */
static void test_backlog_zero_holds_one(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = listen_on(h, 0);
    ack_from(h, 40001, syn_from(h, 40001));
    h->remote.port = 40002;
    harness_inject(h, WIRE_SYN, 40002000, 0, 65535, NULL, 0, NULL);
    harness_expect_nothing(h);
    assert_true(stack_accept(h->s, l, NULL) >= 0);
    assert_int_equal(stack_accept(h->s, l, NULL), -EAGAIN);
    harness_free(h);
}

/* stack.h: stack_free "frees everything" — including connections still
 * waiting in an accept queue (ASan: no double free, no leak). */
static void test_stack_free_with_unaccepted_connection(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    listen_on(h, 16);
    ack_from(h, 40001, syn_from(h, 40001));
    assert_int_equal(stack_conn_count(h->s), 1);
    harness_free(h);
}

/* stack.h ("Frees everything, sending nothing"): stack_free releases every
 * kind of entry (descriptor-owned connection, orphan in FIN-WAIT-1,
 * TIME-WAIT, half-open) without sending anything. */
static void test_stack_free_releases_everything(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = listen_on(h, 16);
    ack_from(h, 40001, syn_from(h, 40001));
    ack_from(h, 40002, syn_from(h, 40002));
    uint32_t iss3 = syn_from(h, 40003);
    ack_from(h, 40003, iss3);
    syn_from(h, 40004); /* stays half-open */
    int a = stack_accept(h->s, l, NULL), b = stack_accept(h->s, l, NULL), c = stack_accept(h->s, l, NULL);
    assert_true(a >= 0 && b >= 0 && c >= 0);
    assert_int_equal(stack_close(h->s, b, h->now), 0); /* orphan, FIN-WAIT-1 */
    assert_int_equal(stack_close(h->s, c, h->now), 0);
    h->remote.port = 40003;
    harness_inject(h, WIRE_FIN | WIRE_ACK, 40003001, iss3 + 2, 65535, NULL, 0, NULL); /* TIME-WAIT */
    assert_int_equal(harness_last_state(h, 40003), TCP_STATE_TIME_WAIT);
    harness_skip_all(h);
    int nout = h->nout;
    assert_int_equal(stack_conn_count(h->s), 4);
    stack_free(h->s);
    assert_int_equal(h->nout, nout);
    h->s = NULL;
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backlog_n_holds_n_plus_one),
        cmocka_unit_test(test_final_ack_to_full_queue_dropped_then_completes),
        cmocka_unit_test(test_abort_on_overflow_resets_final_ack),
        cmocka_unit_test(test_backlog_zero_holds_one),
        cmocka_unit_test(test_stack_free_releases_everything),
        cmocka_unit_test(test_stack_free_with_unaccepted_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
