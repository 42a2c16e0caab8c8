/* Whole connections between two synack stacks wired back to back in
 * memory, in virtual time, over a link that delays, loses, duplicates and
 * reorders segments (seeded, so every run is the same): the bytes arrive
 * intact and in order both ways, both ends close, and once TIME-WAIT is
 * over nothing is left (RFC 9293 §3.4, §3.6, §3.8: reliability, flow
 * control, retransmission, connection close). Also data across the
 * wrap of the 32-bit sequence space (RFC 9293 §3.4). */
#include <errno.h>
#include <string.h>

#include "harness.h"

#define NET_MAX_PKTS 8192

struct net_pkt {
    uint8_t data[2048];
    size_t len;
    tcp_time_t at;
    int to;
};

struct net;
struct net_port {
    struct net *net;
    int self;
};

struct net {
    struct stack *s[2];
    struct net_port port[2];
    struct net_pkt *pkts; /* unordered; the earliest is searched */
    int npkts;
    tcp_time_t now;
    uint64_t rng;
    unsigned loss_pct, dup_pct, jitter_us, delay_us;
    uint64_t sent, lost;
};

static uint32_t net_rand(struct net *n)
{
    n->rng = n->rng * 6364136223846793005ull + 1442695040888963407ull; /* PCG-style LCG */
    return (uint32_t)(n->rng >> 33);
}

static void net_output(void *ctx, const uint8_t *pkt, size_t len)
{
    struct net_port *p = ctx;
    struct net *n = p->net;
    n->sent++;
    if (n->loss_pct && net_rand(n) % 100 < n->loss_pct) {
        n->lost++;
        return;
    }
    int copies = (n->dup_pct && net_rand(n) % 100 < n->dup_pct) ? 2 : 1;
    for (int i = 0; i < copies; i++) {
        assert_true(n->npkts < NET_MAX_PKTS);
        assert_true(len <= sizeof n->pkts[0].data);
        struct net_pkt *q = &n->pkts[n->npkts++];
        memcpy(q->data, pkt, len);
        q->len = len;
        q->to = 1 - p->self;
        q->at = n->now + n->delay_us + (n->jitter_us ? net_rand(n) % n->jitter_us : 0);
    }
}

static struct net *net_new(uint64_t seed, unsigned loss, unsigned dup, unsigned jitter_us, uint32_t rmem)
{
    struct net *n = calloc(1, sizeof *n);
    assert_non_null(n);
    n->pkts = calloc(NET_MAX_PKTS, sizeof *n->pkts);
    assert_non_null(n->pkts);
    n->rng = seed;
    n->loss_pct = loss;
    n->dup_pct = dup;
    n->jitter_us = jitter_us;
    n->delay_us = 10000; /* 10 ms each way */
    n->now = TCP_SEC(1000);
    for (int i = 0; i < 2; i++) {
        struct stack_config cfg;
        stack_config_default(&cfg);
        memset(cfg.secret, 20 + i, sizeof cfg.secret);
        if (rmem)
            cfg.tcp.tcp_rmem = rmem;
        n->port[i] = (struct net_port){n, i};
        struct stack_hooks hooks = {.ctx = &n->port[i], .output = net_output};
        n->s[i] = stack_new(&cfg, &hooks, n->now);
        assert_non_null(n->s[i]);
        struct wire_addr a = wire_addr_v4(0x0a000001 + (uint32_t)i);
        stack_set_local_addr(n->s[i], &a);
    }
    return n;
}

static void net_free(struct net *n)
{
    stack_free(n->s[0]);
    stack_free(n->s[1]);
    free(n->pkts);
    free(n);
}

/* Advances to the next event (a delivery or a timer) and handles it;
 * false when there is nothing left to happen. */
static bool net_step(struct net *n)
{
    tcp_time_t next = TCP_TIME_NEVER;
    int first = -1;
    for (int i = 0; i < n->npkts; i++)
        if (n->pkts[i].at < next) {
            next = n->pkts[i].at;
            first = i;
        }
    for (int i = 0; i < 2; i++) {
        tcp_time_t t = stack_next_timer(n->s[i]);
        if (t < next) {
            next = t;
            first = -1;
        }
    }
    if (next == TCP_TIME_NEVER)
        return false;
    if (next > n->now)
        n->now = next;
    if (first >= 0) {
        struct net_pkt p = n->pkts[first];
        n->pkts[first] = n->pkts[--n->npkts];
        stack_input(n->s[p.to], p.data, p.len, n->now);
    } else {
        for (int i = 0; i < 2; i++)
            stack_tick(n->s[i], n->now);
    }
    return true;
}

static uint8_t pattern(size_t i, int dir) { return (uint8_t)(i * 7u + (i >> 11) + (unsigned)dir * 101u); }

/* One direction's application: writes `total` bytes, then shutdown(WR);
 * reads everything the other side wrote, checking it. */
struct app {
    int sd;
    size_t total, sent, rcvd, expect;
    bool shut, eof, closed;
    int dir;
};

static void app_run(struct net *n, struct stack *s, struct app *a)
{
    if (a->sd < 0 || a->closed)
        return;
    static uint8_t buf[16384];
    while (a->sent < a->total) {
        size_t len = a->total - a->sent < sizeof buf ? a->total - a->sent : sizeof buf;
        for (size_t i = 0; i < len; i++)
            buf[i] = pattern(a->sent + i, a->dir);
        ssize_t w = stack_send(s, a->sd, buf, len, n->now);
        if (w == -EAGAIN)
            break;
        assert_true(w > 0);
        a->sent += (size_t)w;
    }
    if (a->sent == a->total && !a->shut) {
        assert_int_equal(stack_shutdown(s, a->sd, STACK_SHUT_WR, n->now), 0);
        a->shut = true;
    }
    for (;;) {
        ssize_t r = stack_recv(s, a->sd, buf, sizeof buf, n->now);
        if (r == -EAGAIN)
            break;
        if (r == 0) {
            a->eof = true;
            break;
        }
        if (r < 0)
            fail_msg("recv failed: %zd after %zu bytes", r, a->rcvd);
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] != pattern(a->rcvd + (size_t)i, 1 - a->dir))
                fail_msg("byte %zu is wrong", a->rcvd + (size_t)i);
        a->rcvd += (size_t)r;
    }
    if (a->shut && a->eof) {
        assert_int_equal(a->rcvd, a->expect);
        assert_int_equal(stack_close(s, a->sd, n->now), 0);
        a->closed = true;
    }
}

/* Client (stack 0) to server (stack 1): up bytes one way, down the other. */
static void transfer_rmem(uint64_t seed, unsigned loss, unsigned dup, unsigned jitter_us, size_t up, size_t down,
                          uint32_t rmem)
{
    struct net *n = net_new(seed, loss, dup, jitter_us, rmem);
    struct wire_endpoint srv = {.addr = wire_addr_v4(0x0a000002), .port = 80};
    int l = stack_socket(n->s[1]);
    assert_int_equal(stack_bind(n->s[1], l, &srv), 0);
    assert_int_equal(stack_listen(n->s[1], l, 8), 0);
    struct app client = {.sd = stack_socket(n->s[0]), .total = up, .expect = down, .dir = 0};
    struct app server = {.sd = -1, .total = down, .expect = up, .dir = 1};
    assert_int_equal(stack_connect(n->s[0], client.sd, &srv, n->now), -EINPROGRESS);
    tcp_time_t deadline = n->now + TCP_SEC(3600);
    while (!(client.closed && server.closed)) {
        if (!net_step(n) || n->now > deadline)
            fail_msg("transfer stalled: up %zu/%zu down %zu/%zu at %llu s", server.rcvd, up, client.rcvd, down,
                     (unsigned long long)(n->now / 1000000));
        if (server.sd < 0)
            server.sd = stack_accept(n->s[1], l, NULL);
        if (stack_sock_state(n->s[0], client.sd) != TCP_STATE_SYN_SENT)
            app_run(n, n->s[0], &client);
        app_run(n, n->s[1], &server);
    }
    assert_int_equal(stack_close(n->s[1], l, n->now), 0);
    /* everything winds down: TIME-WAIT, retransmitted FINs, timers */
    while (net_step(n))
        assert_true(n->now < deadline + TCP_SEC(3600));
    assert_int_equal(stack_conn_count(n->s[0]), 0);
    assert_int_equal(stack_conn_count(n->s[1]), 0);
    assert_int_equal(stack_counters(n->s[0])->CurrEstab, 0);
    assert_int_equal(stack_counters(n->s[1])->CurrEstab, 0);
    print_message("seed %llu loss %u%%: %llu segments, %llu lost, done at +%.1f s\n", (unsigned long long)seed, loss,
                  (unsigned long long)n->sent, (unsigned long long)n->lost,
                  (double)(n->now - TCP_SEC(1000)) / 1e6);
    net_free(n);
}

static void transfer(uint64_t seed, unsigned loss, unsigned dup, unsigned jitter_us, size_t up, size_t down)
{
    transfer_rmem(seed, loss, dup, jitter_us, up, down, 0);
}

/* RFC 9293 §3.6, §3.8: a clean link, 300 KB up, 200 KB down, orderly
 * close both ways. */
static void test_transfer_clean_link(void **state)
{
    (void)state;
    transfer(1, 0, 0, 0, 300000, 200000);
}

/* RFC 9293 §3.8.1 (retransmission), RFC 6298: 5% loss both ways. */
static void test_transfer_lossy_link(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 4; seed++)
        transfer(seed, 5, 0, 0, 100000, 60000);
}

/* RFC 9293 §3.4, §3.10.7.4: duplicated and reordered segments (jitter
 * larger than the spacing of segments) are neither delivered twice nor
 * out of order. */
static void test_transfer_duplicating_reordering_link(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 4; seed++)
        transfer(seed, 2, 10, 8000, 100000, 60000);
}

/* RFC 9293 §3.8.6: receive buffers smaller than a segment force zero
 * windows, window probes and window updates all the way, also with loss. */
static void test_transfer_small_receive_buffers(void **state)
{
    (void)state;
    transfer_rmem(3, 0, 0, 0, 40000, 20000, 1000);
    transfer_rmem(4, 10, 5, 5000, 40000, 20000, 700);
}

/* RFC 9293 §3.5, §3.6: tiny transfers and empty ones: a connection with
 * no data at all still opens and closes cleanly both ways. */
static void test_transfer_empty_and_tiny(void **state)
{
    (void)state;
    transfer(7, 0, 0, 0, 0, 0);
    transfer(8, 0, 0, 0, 1, 0);
    transfer(9, 10, 0, 0, 0, 1);
}

/* RFC 9293 §3.4: sequence numbers are modulo 2^32. The connect time is
 * chosen so that the stack's ISS sits 100 below the wrap (RFC 6528 clock:
 * ISS grows by one every 4 µs); 1000 bytes then cross it. The peer's ISN
 * wraps too. */
static void test_data_across_sequence_wrap(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    /* find this tuple's ISS now, then come back when it is 2^32 - 100 */
    int sd = stack_socket(h->s);
    h->local.port = 50000;
    h->remote.port = 80;
    assert_int_equal(stack_bind(h->s, sd, &h->local), 0);
    assert_int_equal(stack_connect(h->s, sd, &h->remote, h->now), -EINPROGRESS);
    uint32_t iss0 = harness_expect(h, "S", ANY, ANY, 0)->seq;
    assert_int_equal(stack_abort(h->s, sd, h->now), 0);
    uint32_t ahead = (uint32_t)(0u - 100u - iss0);
    harness_run_until(h, h->now + (tcp_time_t)ahead * 4);
    sd = stack_socket(h->s);
    struct wire_endpoint local = h->local;
    assert_int_equal(stack_setsockopt(h->s, sd, STACK_SO_REUSEADDR, 1), 0);
    assert_int_equal(stack_bind(h->s, sd, &local), 0);
    assert_int_equal(stack_connect(h->s, sd, &h->remote, h->now), -EINPROGRESS);
    uint32_t iss = harness_expect(h, "S", ANY, ANY, 0)->seq;
    assert_int_equal(iss, 0u - 100u);
    uint32_t irs = 0xffffff00u;
    struct wire_tcp_options o = {.present = WIRE_OPT_MSS, .mss = 1460};
    harness_inject(h, WIRE_SYN | WIRE_ACK, irs, iss + 1, 65535, NULL, 0, &o);
    harness_expect(h, ".", iss + 1, irs + 1, 0);
    static uint8_t data[1000];
    for (int i = 0; i < 1000; i++)
        data[i] = (uint8_t)i;
    assert_int_equal(stack_send(h->s, sd, data, sizeof data, h->now), 1000);
    const struct wire_seg *s = harness_expect(h, "P.", iss + 1, irs + 1, 1000);
    assert_memory_equal(s->payload, data, 1000);
    harness_inject(h, WIRE_ACK, irs + 1, iss + 1001, 65535, NULL, 0, NULL); /* acks across the wrap */
    struct stack_conn_info info;
    assert_true(harness_conn_info(h, 80, &info));
    assert_int_equal(info.send_q, 0);
    assert_int_equal(info.timer, STACK_TIMER_OFF);
    /* the peer's data across its wrap */
    harness_inject(h, WIRE_ACK, irs + 1, iss + 1001, 65535, data, 500, NULL);
    harness_inject(h, WIRE_ACK | WIRE_PSH, irs + 501, iss + 1001, 65535, data + 500, 500, NULL);
    harness_expect(h, ".", iss + 1001, irs + 1001, 0);
    static uint8_t got[1000];
    assert_int_equal(stack_recv(h->s, sd, got, sizeof got, h->now), 1000);
    assert_memory_equal(got, data, 1000);
    /* and a close across it */
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    harness_expect(h, "F.", iss + 1001, irs + 1001, 0);
    harness_inject(h, WIRE_FIN | WIRE_ACK, irs + 1001, iss + 1002, 65535, NULL, 0, NULL);
    harness_expect(h, ".", iss + 1002, irs + 1002, 0);
    assert_int_equal(harness_last_state(h, 80), TCP_STATE_TIME_WAIT);
    harness_free(h);
}

/* RFC 9293 §3.8.1, §3.10.7.4: when both ends have timed out and rewound to
 * resend, their ACKs must still be acceptable to each other, or each drops
 * the other's ACK (its ACK field unread) and answers with one of its own:
 * an endless ACK war (a packet storm here: seeds found by exploring the
 * lossy link) or no progress until ETIMEDOUT. The root cause is shown
 * alone by test_tcp_recovery: test_pure_ack_after_rto_carries_highest_seq. */
static void test_two_stacks_recover_after_both_rewind(void **state)
{
    (void)state;
    transfer(4, 30, 5, 5000, 50000, 30000);  /* was: ETIMEDOUT, ACKs ping-pong unread */
    transfer(3, 10, 20, 30000, 50000, 30000); /* was: > 8192 ACKs in flight */
    /* a full 500-byte window: ACKs at SEQ = RCV.NXT + RCV.WND must count
     * (test_tcp_recovery: test_pure_ack_at_right_window_edge_is_accepted) */
    transfer_rmem(14, 5, 50, 50000, 50000, 30000, 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transfer_clean_link),
        cmocka_unit_test(test_transfer_lossy_link),
        cmocka_unit_test(test_transfer_duplicating_reordering_link),
        cmocka_unit_test(test_transfer_small_receive_buffers),
        cmocka_unit_test(test_transfer_empty_and_tiny),
        cmocka_unit_test(test_data_across_sequence_wrap),
        cmocka_unit_test(test_two_stacks_recover_after_both_rewind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
