/* The invariant checker (src/tcp/tcp_check.c): quiet on healthy
 * connections, and it catches each deliberately corrupted one, so that a
 * build with -DSYNACK_INVARIANTS=ON cannot pass silently. The connections
 * are driven through tcp/'s own API with literal segments. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tcp/tcp.h"
#include "tcp/tcp_check.h"

#define T0 TCP_SEC(100)

struct fixture {
    struct tcp_config cfg;
    struct tcp_counters stats;
    struct tcp_host *h;
    struct tcp_conn *c;
    char why[512];
};

static void drop_output(void *ctx, const uint8_t *pkt, size_t len)
{
    (void)ctx;
    (void)pkt;
    (void)len;
}

static struct wire_tuple local_view(void)
{
    struct wire_tuple t = {0};
    t.src = wire_addr_v4(0x0a000001u);
    t.dst = wire_addr_v4(0x0a000002u);
    t.sport = 40000;
    t.dport = 80;
    return t;
}

/* A host with one active connection in SYN-SENT (descriptor 3). */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->h = calloc(1, sizeof *f->h);
    assert_non_null(f->h);
    tcp_config_default(&f->cfg);
    uint8_t secret[32] = {7};
    struct tcp_host_ops ops = {.output = drop_output};
    assert_int_equal(tcp_host_init(f->h, &f->cfg, &f->stats, &ops, secret, T0), 0);
    struct tcp_sockopts opt = {.linger = -1, .keepidle_s = 7200, .keepintvl_s = 75, .keepcnt = 9,
                               .syn_retries = 6};
    struct wire_tuple t = local_view();
    f->c = tcp_conn_new(f->h, &t, &opt, 131072, 131072);
    assert_non_null(f->c);
    f->c->sd = 3;
    assert_int_equal(tcp_connect(f->h, f->c, T0), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tcp_conn_free(f->c); /* descriptor-owned: freed first, it lives in the host's pool */
    tcp_host_destroy(f->h);
    free(f->h);
    free(f);
    return 0;
}

/* A segment from the peer of the fixture's connection. */
static struct wire_seg peer_segment(const struct fixture *f, uint8_t flags, uint32_t seq, uint32_t ack,
                                    uint16_t window)
{
    struct wire_seg seg = {0};
    struct wire_tuple local;
    tcp_entry_tuple(f->h, &f->c->e, &local);
    seg.tuple = wire_tuple_reverse(&local);
    seg.ip_version = 4;
    seg.flags = flags;
    seg.seq = seq;
    seg.ack = ack;
    seg.window = window;
    return seg;
}

/* The peer's SYN-ACK (RFC 9293 §3.10.7.3) with this ISN: ESTABLISHED. */
static void establish(struct fixture *f, uint32_t irs)
{
    struct wire_seg seg = peer_segment(f, WIRE_SYN | WIRE_ACK, irs, f->c->iss + 1, 65535);
    seg.opt.present = WIRE_OPT_MSS | WIRE_OPT_SACK_PERM | WIRE_OPT_WSCALE;
    seg.opt.mss = 1460;
    seg.opt.wscale = 7;
    tcp_host_input(f->h, &seg, T0 + TCP_MSEC(20));
    assert_int_equal(f->c->e.state, TCP_STATE_ESTABLISHED);
}

static const char *check(struct fixture *f)
{
    return tcp_check_host(f->h, f->why, sizeof f->why);
}

static void assert_caught(struct fixture *f, const char *words)
{
    const char *why = check(f);
    assert_non_null(why);
    if (!strstr(why, words))
        fail_msg("expected \"%s\" in: %s", words, why);
}

/* A healthy SYN-SENT connection and a healthy ESTABLISHED one pass. */
static void test_healthy_connections_pass(void **state)
{
    struct fixture *f = *state;
    assert_null(check(f));
    establish(f, 0x10000000u);
    assert_null(check(f));
    assert_int_equal(tcp_send(f->c, "hello", 5, T0 + TCP_MSEC(21)), 5);
    assert_null(check(f));
    assert_null(tcp_check_conn(f->c, f->why, sizeof f->why));
}

/* RFC 9293 §3.3.1: SND.UNA <= SND.NXT. */
static void test_catches_snd_nxt_below_snd_una(void **state)
{
    struct fixture *f = *state;
    f->c->snd_nxt = f->c->snd_una - 1;
    assert_caught(f, "SND.UNA");
}

/* RFC 9293 §3.10.2: nothing but the SYN leaves in SYN-SENT. */
static void test_catches_data_sent_in_syn_sent(void **state)
{
    struct fixture *f = *state;
    f->c->snd_max += 100;
    f->c->snd_nxt += 100;
    assert_caught(f, "more than the SYN");
}

/* RFC 6298 §5.1: outstanding SYN, no retransmission timer. */
static void test_catches_missing_retransmission_timer(void **state)
{
    struct fixture *f = *state;
    tcp_conn_set_deadline(f->c, TCP_TIMER_RTX, TCP_TIME_NEVER);
    tcp_conn_arm_timer(f->c);
    assert_caught(f, "no retransmission timer");
}

/* The wheel node may run early (lazily), never after a deadline. */
static void test_catches_node_later_than_a_deadline(void **state)
{
    struct fixture *f = *state;
    tcp_conn_set_deadline(f->c, TCP_TIMER_RTX, T0 + 1); /* earlier, and not re-armed */
    assert_caught(f, "deadlines say");
}

/* Deadlines that move later or go off leave the node where it was; when it
 * runs with nothing due, it moves to the earliest deadline or, with none
 * left, the timers are freed. */
static void test_timers_run_early_then_follow_or_free(void **state)
{
    struct fixture *f = *state;
    tcp_time_t syn_rto = tcp_conn_timers(f->c)->node.expires;
    establish(f, 0x10000000u); /* the SYN's RTO is off: the node stays */
    assert_int_equal(tcp_conn_deadline(f->c, TCP_TIMER_RTX), TCP_TIME_NEVER);
    assert_int_not_equal(f->c->timers, 0);
    assert_null(check(f));
    f->c->opt.keepalive = true;
    tcp_conn_set_deadline(f->c, TCP_TIMER_KEEPALIVE, syn_rto + TCP_SEC(5));
    tcp_conn_arm_timer(f->c);
    assert_int_equal(tcp_conn_timers(f->c)->node.expires, syn_rto); /* later: not moved */
    assert_null(check(f));
    tcp_host_tick(f->h, syn_rto); /* nothing due: on to the keepalive */
    assert_int_equal(tcp_conn_timers(f->c)->node.expires, syn_rto + TCP_SEC(5));
    tcp_conn_set_deadline(f->c, TCP_TIMER_KEEPALIVE, TCP_TIME_NEVER);
    tcp_conn_arm_timer(f->c);
    assert_int_not_equal(f->c->timers, 0);
    tcp_host_tick(f->h, syn_rto + TCP_SEC(5)); /* nothing left: freed */
    assert_int_equal(f->c->timers, 0);
    assert_int_equal(f->h->timer_pool.live, 0);
    assert_null(check(f));
}

/* Establishes the fixture's connection and runs the SYN's lingering timer
 * node, so that the connection holds no timers; the time it ran. */
static tcp_time_t establish_idle(struct fixture *f)
{
    establish(f, 0x10000000u);
    tcp_time_t t = tcp_conn_timers(f->c)->node.expires;
    tcp_host_tick(f->h, t);
    assert_int_equal(f->c->timers, 0);
    return t;
}

/* ---- timers without memory ----
 * A control block's timers come from a pool; when it cannot give them, a
 * delayed ACK goes out at once and any other timer's connection is reset at
 * the end of the call (Linux tcp_out_of_memory: TCPAbortOnMemory). */
static void test_no_timer_memory_resets_the_sender(void **state)
{
    struct fixture *f = *state;
    tcp_time_t t = establish_idle(f);
    f->h->timer_pool.max_live = 0;
    assert_int_equal(tcp_send(f->c, "hello", 5, t), 5); /* sent, but no RTO can run */
    assert_true(f->c->timer_lost);
    tcp_host_reap(f->h);
    assert_int_equal(f->c->e.state, TCP_STATE_CLOSED);
    assert_int_equal(f->stats.TCPAbortOnMemory, 1);
    char buf[8];
    assert_int_equal(tcp_recv(f->c, buf, sizeof buf, t), -ENOMEM);
    assert_null(check(f));
}

static void test_no_timer_memory_acks_at_once(void **state)
{
    struct fixture *f = *state;
    tcp_time_t t = establish_idle(f);
    f->h->timer_pool.max_live = 0;
    uint64_t out = f->stats.OutSegs;
    struct wire_seg seg = peer_segment(f, WIRE_ACK | WIRE_PSH, 0x10000001u, f->c->snd_una, 65535);
    seg.payload = (const uint8_t *)"x";
    seg.payload_len = 1;
    tcp_host_input(f->h, &seg, t);
    assert_int_equal(f->stats.OutSegs, out + 1); /* the ACK, not delayed */
    assert_false(f->c->ack_pending);
    assert_int_equal(f->c->timers, 0);
    assert_int_equal(f->c->e.state, TCP_STATE_ESTABLISHED);
    assert_int_equal(f->stats.TCPAbortOnMemory, 0);
    assert_null(check(f));
}

/* The host's counts against what its table holds. */
static void test_catches_host_count_mismatch(void **state)
{
    struct fixture *f = *state;
    f->h->conns++;
    assert_caught(f, "host counts");
    f->h->conns--;
    f->h->tws++;
    assert_caught(f, "host counts");
    f->h->tws--;
    assert_null(check(f));
}

/* RFC 9293 §3.10.7.4: out-of-order data only inside the window. */
static void test_catches_ooo_run_beyond_window(void **state)
{
    struct fixture *f = *state;
    establish(f, 0x10000000u);
    struct tcp_ooo *r = calloc(1, sizeof *r + 10);
    assert_non_null(r);
    r->seq = f->c->rcv_nxt + (8u << 20);
    r->len = 10;
    f->c->ooo = calloc(1, sizeof *f->c->ooo);
    assert_non_null(f->c->ooo);
    f->c->ooo->head = r;
    f->c->ooo->segs = 1;
    f->c->ooo->bytes = 10;
    assert_caught(f, "beyond the window edge");
    f->c->ooo->bytes = 11;
    r->seq = f->c->rcv_nxt + 5;
    assert_caught(f, "counted");
    f->c->ooo->bytes = 10;
    assert_null(check(f));
}

/* A FIN's sequence number is valid once the FIN went out. */
static void test_catches_fin_sent_without_fin_queued(void **state)
{
    struct fixture *f = *state;
    establish(f, 0x10000000u);
    f->c->fin_sent = true;
    f->c->fin_seq = f->c->snd_una;
    assert_caught(f, "FIN sent but never queued");
}

/* The receive queue within SO_RCVBUF. */
static void test_catches_receive_buffer_over_limit(void **state)
{
    struct fixture *f = *state;
    establish(f, 0x10000000u);
    assert_int_equal(bytebuf_append(&f->c->rcv, NULL, "0123456789", 10), 10);
    assert_null(check(f));
    f->c->rcv.limit = 5;
    assert_caught(f, "receive buffer holds 10 bytes");
    f->c->rcv.limit = 131072;
}

/* State facts: ESTABLISHED has not received a FIN. */
static void test_catches_state_flag_mismatch(void **state)
{
    struct fixture *f = *state;
    establish(f, 0x10000000u);
    f->c->fin_rcvd = true;
    assert_caught(f, "fin_rcvd=1");
}

/* Reported bug (tests/soak/FIXED_BUGS.md): after the SYN-ACK the active
 * opener keeps the RCV.ADV its SYN computed from RCV.NXT = 0, so for half
 * of all ISNs the window edge lies up to 2 GB ahead of RCV.NXT. */
static void test_bug_active_open_window_edge(void **state)
{
    struct fixture *f = *state;
    establish(f, 0x90000000u);
    const char *why = check(f);
    if (why)
        fail_msg("%s", why);
}

/* Reported bug: an old ACK's SACK blocks are clipped at SEG.ACK, not at
 * SND.UNA (RFC 6675 §3), and stay on the scoreboard below SND.UNA. */
static void test_bug_old_ack_sack_below_snd_una(void **state)
{
    struct fixture *f = *state;
    establish(f, 0x10000000u);
    static uint8_t data[8000];
    tcp_time_t now = T0 + TCP_MSEC(30);
    assert_int_equal(tcp_send(f->c, data, sizeof data, now), (ssize_t)sizeof data);
    uint32_t una = f->c->snd_una;
    assert_true(seq_gt(f->c->snd_max, una + 4000));
    struct wire_seg ack = peer_segment(f, WIRE_ACK, f->c->rcv_nxt, una + 3000, 1000); /* a newer ACK first */
    tcp_host_input(f->h, &ack, now + TCP_MSEC(20));
    assert_null(check(f));
    ack.ack = una + 1000; /* then an older one, SACKing what is already acked */
    ack.opt.present = WIRE_OPT_SACK;
    ack.opt.sack_count = 1;
    ack.opt.sack[0] = (struct wire_sack_block){una + 2000, una + 3000};
    tcp_host_input(f->h, &ack, now + TCP_MSEC(21));
    const char *why = check(f);
    if (why)
        fail_msg("%s", why);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_healthy_connections_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catches_snd_nxt_below_snd_una, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catches_data_sent_in_syn_sent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catches_missing_retransmission_timer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catches_host_count_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catches_ooo_run_beyond_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catches_node_later_than_a_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timers_run_early_then_follow_or_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_timer_memory_resets_the_sender, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_timer_memory_acks_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catches_fin_sent_without_fin_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catches_receive_buffer_over_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catches_state_flag_mismatch, setup, teardown),
    };
    const struct CMUnitTest bugs[] = {
        cmocka_unit_test_setup_teardown(test_bug_active_open_window_edge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bug_old_ack_sack_below_snd_una, setup, teardown),
    };
    /* `test_tcp_check bugs`: the reproducers of open bugs (ctest: disabled). */
    if (argc > 1 && !strcmp(argv[1], "bugs"))
        return cmocka_run_group_tests_name("tcp_check_bugs", bugs, NULL, NULL);
    return cmocka_run_group_tests_name("tcp_check", tests, NULL, NULL);
}
