/* SYN cookies (RFC 4987 §3.6, Linux syncookies.c): encoding, rejection of
 * forged/expired/misdirected cookies, and the listener modes 0/1/2. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tcp/tcp.h"

static void noop_output(void *ctx, const uint8_t *pkt, size_t len)
{
    (void)ctx, (void)pkt, (void)len;
}

struct cookie_host {
    struct tcp_config cfg;
    struct tcp_counters stats;
    struct tcp_host host;
};

static struct cookie_host *cookie_host_new(uint8_t secret_byte)
{
    struct cookie_host *ch = calloc(1, sizeof *ch);
    assert_non_null(ch);
    tcp_config_default(&ch->cfg);
    uint8_t secret[32];
    memset(secret, secret_byte, sizeof secret);
    struct tcp_host_ops ops = {.output = noop_output};
    tcp_host_init(&ch->host, &ch->cfg, &ch->stats, &ops, secret, 0);
    return ch;
}

static void cookie_host_free(struct cookie_host *ch)
{
    tcp_host_destroy(&ch->host);
    free(ch);
}

static struct wire_tuple tuple(uint16_t rport)
{
    struct wire_tuple t = {.src = wire_addr_v4(0x0a000001), .dst = wire_addr_v4(0x0a000002), .sport = 80, .dport = rport};
    return t;
}

/* Every MSS index survives the round trip, for both families. */
static void test_cookie_round_trip_every_mss(void **state)
{
    (void)state;
    struct cookie_host *ch = cookie_host_new(1);
    struct wire_tuple t = tuple(40000);
    for (int v6 = 0; v6 <= 1; v6++) {
        for (unsigned i = 0; i < TCP_COOKIE_MSS_COUNT; i++) {
            uint16_t mss = tcp_cookie_mss(i, v6);
            assert_int_equal(tcp_cookie_mss_index(mss, v6), i);
            for (uint32_t isn = 0; isn < 0xf0000000u; isn += 0x0fedcba9u) {
                tcp_time_t now = TCP_SEC(3600) + isn % TCP_SEC(59);
                uint32_t cookie = tcp_cookie_make(&ch->host, &t, isn, i, now);
                assert_int_equal(tcp_cookie_check(&ch->host, &t, isn, cookie, now), (int)i);
                /* still valid a minute later */
                assert_int_equal(tcp_cookie_check(&ch->host, &t, isn, cookie, now + TCP_SEC(60)), (int)i);
            }
        }
    }
    /* MSS below the table maps to the smallest entry; above to the largest not above it */
    assert_int_equal(tcp_cookie_mss_index(100, false), 0);
    assert_int_equal(tcp_cookie_mss_index(1459, false), 2);
    assert_int_equal(tcp_cookie_mss_index(9000, false), 3);
    cookie_host_free(ch);
}

/* Forged, expired, wrong 4-tuple, wrong peer ISN, other host's key: rejected. */
static void test_cookie_rejections(void **state)
{
    (void)state;
    struct cookie_host *ch = cookie_host_new(1), *other = cookie_host_new(2);
    struct wire_tuple t = tuple(40000), t2 = tuple(40001);
    tcp_time_t now = TCP_SEC(7200);
    uint32_t isn = 123456789u;
    uint32_t cookie = tcp_cookie_make(&ch->host, &t, isn, 3, now);
    assert_int_equal(tcp_cookie_check(&ch->host, &t, isn, cookie, now), 3);
    assert_int_equal(tcp_cookie_check(&ch->host, &t2, isn, cookie, now), -1);
    assert_int_equal(tcp_cookie_check(&ch->host, &t, isn + 1, cookie, now), -1);
    assert_int_equal(tcp_cookie_check(&other->host, &t, isn, cookie, now), -1);
    /* replayed after expiry: two minutes later the counter is out of range */
    assert_int_equal(tcp_cookie_check(&ch->host, &t, isn, cookie, now + TCP_SEC(120)), -1);
    assert_int_equal(tcp_cookie_check(&ch->host, &t, isn, cookie, now + TCP_SEC(3600)), -1);
    /* blind forgeries: a sweep of guesses accepts at most a handful (2^-22 each) */
    int accepted = 0;
    for (uint32_t guess = 0; guess < 200000; guess++)
        accepted += tcp_cookie_check(&ch->host, &t, isn, guess * 2654435761u, now) >= 0;
    assert_true(accepted <= 2);
    cookie_host_free(ch);
    cookie_host_free(other);
}

static void test_cookie_timestamp_options(void **state)
{
    (void)state;
    int ws;
    bool sack;
    for (int w = -1; w <= 14; w++) {
        for (int s = 0; s <= 1; s++) {
            uint32_t now = 1000000 + (uint32_t)w * 7;
            uint32_t ts = tcp_cookie_ts_encode(now, w, s);
            assert_true(ts <= now);
            assert_true(now - ts < 128);
            assert_true(tcp_cookie_ts_decode(ts, &ws, &sack));
            assert_int_equal(ws, w);
            assert_int_equal(sack, s);
        }
    }
    assert_true(tcp_cookie_ts_decode(0x1f, &ws, &sack)); /* no window scale, SACK */
    assert_int_equal(ws, -1);
    assert_true(sack);
}

/* tcp_syncookies=2: every SYN gets a cookie, no half-open entry is kept,
 * and the client's data on the cookie ACK is delivered in full. */
static void test_cookie_handshake_with_data(void **state)
{
    (void)state;
    struct stack_config cfg;
    stack_config_default(&cfg);
    memset(cfg.secret, 9, sizeof cfg.secret);
    cfg.tcp.tcp_syncookies = 2;
    struct harness *h = harness_new(&cfg);
    int l = stack_socket(h->s);
    assert_int_equal(stack_bind(h->s, l, &h->local), 0);
    assert_int_equal(stack_listen(h->s, l, 8), 0);
    struct wire_tcp_options o = {.present = WIRE_OPT_MSS | WIRE_OPT_WSCALE | WIRE_OPT_SACK_PERM | WIRE_OPT_TIMESTAMP,
                                 .mss = 1460, .wscale = 7, .ts_val = 555};
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, &o);
    const struct wire_seg *synack = harness_expect(h, "S.", ANY, 1001, 0);
    assert_int_equal(stack_conn_count(h->s), 0); /* stateless */
    assert_int_equal(stack_counters(h->s)->SyncookiesSent, 1);
    assert_true(synack->opt.present & WIRE_OPT_WSCALE);
    assert_true(synack->opt.present & WIRE_OPT_TIMESTAMP);
    uint32_t iss = synack->seq, tsval = synack->opt.ts_val;
    struct wire_tcp_options ack_o = {.present = WIRE_OPT_TIMESTAMP, .ts_val = 556, .ts_ecr = tsval};
    harness_inject(h, WIRE_ACK | WIRE_PSH, 1001, iss + 1, 512, "hello", 5, &ack_o);
    assert_int_equal(stack_counters(h->s)->SyncookiesRecv, 1);
    int sd = stack_accept(h->s, l, NULL);
    assert_true(sd >= 0);
    char buf[16];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 5);
    assert_memory_equal(buf, "hello", 5);
    /* window scale survived: the peer's 512 is scaled by 2^7 */
    assert_int_equal(stack_send(h->s, sd, "x", 1, h->now), 1);
    const struct wire_seg *reply = harness_expect(h, "P.", iss + 1, 1006, 1);
    assert_true(reply->opt.present & WIRE_OPT_TIMESTAMP);
    assert_int_equal(stack_close(h->s, sd, h->now), 0);
    assert_int_equal(stack_close(h->s, l, h->now), 0);
    harness_free(h);
}

/* A forged cookie ACK is counted and answered with a RST; nothing is made. */
static void test_cookie_forged_ack(void **state)
{
    (void)state;
    struct stack_config cfg;
    stack_config_default(&cfg);
    cfg.tcp.tcp_syncookies = 2;
    struct harness *h = harness_new(&cfg);
    int l = stack_socket(h->s);
    assert_int_equal(stack_bind(h->s, l, &h->local), 0);
    assert_int_equal(stack_listen(h->s, l, 8), 0);
    harness_inject(h, WIRE_ACK, 1001, 0xdeadbeef, 512, NULL, 0, NULL);
    harness_expect(h, "R", 0xdeadbeef, ANY, 0);
    assert_int_equal(stack_counters(h->s)->SyncookiesFailed, 1);
    assert_int_equal(stack_accept(h->s, l, NULL), -EAGAIN);
    harness_free(h);
}

/* tcp_syncookies=1: cookies only once the SYN queue is full; =0: dropped. */
static void test_cookie_modes_on_overflow(void **state)
{
    (void)state;
    for (int mode = 0; mode <= 1; mode++) {
        struct stack_config cfg;
        stack_config_default(&cfg);
        cfg.tcp.tcp_syncookies = mode;
        struct harness *h = harness_new(&cfg);
        int l = stack_socket(h->s);
        assert_int_equal(stack_bind(h->s, l, &h->local), 0);
        assert_int_equal(stack_listen(h->s, l, 2), 0);
        for (int i = 0; i < 4; i++) {
            h->remote.port = (uint16_t)(41000 + i);
            harness_inject(h, WIRE_SYN, 1000u * (uint32_t)i, 0, 65535, NULL, 0, NULL);
        }
        /* two half-open entries fill the queue (backlog 2) */
        harness_expect(h, "S.", ANY, 1, 0);
        harness_expect(h, "S.", ANY, 1001, 0);
        if (mode == 1) {
            harness_expect(h, "S.", ANY, 2001, 0);
            harness_expect(h, "S.", ANY, 3001, 0);
            assert_int_equal(stack_counters(h->s)->SyncookiesSent, 2);
            assert_int_equal(stack_counters(h->s)->TCPReqQFullDoCookies, 2);
        } else {
            harness_expect_nothing(h);
            assert_int_equal(stack_counters(h->s)->TCPReqQFullDrop, 2);
            assert_int_equal(stack_counters(h->s)->ListenDrops, 2);
        }
        assert_int_equal(stack_conn_count(h->s), 2);
        harness_free(h);
    }
}

/* Linux reqsk_timer_handler: while a SYN queue is more than half full of
 * entries that already timed out, they get 2 SYN-ACK retries, not 5: at
 * 7 s the flood's entries go until the queue is half full; the rest keep
 * the full schedule and go at 63 s. */
static void test_synq_prunes_old_entries_under_pressure(void **state)
{
    (void)state;
    struct stack_config cfg;
    stack_config_default(&cfg);
    cfg.tcp.tcp_syncookies = 0;
    struct harness *h = harness_new(&cfg);
    harness_listen(h, 16);
    tcp_time_t t0 = h->now;
    for (int i = 0; i < 16; i++) {
        h->remote.port = (uint16_t)(42000 + i);
        harness_inject(h, WIRE_SYN, 7000u * (uint32_t)i, 0, 65535, NULL, 0, NULL);
    }
    assert_int_equal(stack_conn_count(h->s), 16);
    harness_run_until(h, t0 + TCP_SEC(7) - 1);
    assert_int_equal(stack_conn_count(h->s), 16);
    harness_run_until(h, t0 + TCP_SEC(7));
    assert_int_equal(stack_conn_count(h->s), 8);
    harness_run_until(h, t0 + TCP_SEC(63) - 1);
    assert_int_equal(stack_conn_count(h->s), 8);
    harness_run_until(h, t0 + TCP_SEC(63));
    assert_int_equal(stack_conn_count(h->s), 0);
    /* a lightly loaded queue keeps the full tcp_synack_retries */
    h->remote.port = 43000;
    tcp_time_t t1 = h->now;
    harness_inject(h, WIRE_SYN, 1, 0, 65535, NULL, 0, NULL);
    harness_run_until(h, t1 + TCP_SEC(63) - 1);
    assert_int_equal(stack_conn_count(h->s), 1);
    harness_run_until(h, t1 + TCP_SEC(63));
    assert_int_equal(stack_conn_count(h->s), 0);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cookie_round_trip_every_mss),
        cmocka_unit_test(test_cookie_rejections),
        cmocka_unit_test(test_cookie_timestamp_options),
        cmocka_unit_test(test_cookie_handshake_with_data),
        cmocka_unit_test(test_cookie_forged_ack),
        cmocka_unit_test(test_cookie_modes_on_overflow),
        cmocka_unit_test(test_synq_prunes_old_entries_under_pressure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
