/* Connection scenarios from crafted captures: both sides' RFC 9293 states
 * through handshake, data, half-close, simultaneous open and close, RST
 * acceptance, port reuse, mid-stream pickup, one-direction captures; and
 * the anomalies with their evidence. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "track_test_util.h"

#define A true
#define B false

static struct tt_result result;

struct scenario {
    struct tt_gen g;
    struct tt_conv c;
    const char *path;
};

static void begin(struct scenario *s, const char *name, const char *a, const char *b)
{
    s->path = tt_path(name);
    assert_int_equal(tt_open(&s->g, s->path, TT_RAW), 0);
    tt_conv_init(&s->c, &s->g, a, b);
}

static void finish(struct scenario *s, const struct track_config *cfg)
{
    tt_close(&s->g);
    char err[256];
    assert_int_equal(tt_run(s->path, cfg, &result, err, sizeof err), 0);
}

static void handshake(struct tt_conv *c, double t)
{
    tt_send(c, t, A, "S", 1000, 0, 0, 64240);
    tt_send(c, t + 0.1, B, "S.", 5000, 1001, 0, 65160);
    tt_send(c, t + 0.2, A, ".", 1001, 5001, 0, 502);
}

static void assert_states(const struct track_conn_info *c, int orig, int resp)
{
    assert_string_equal(track_state_name(c->orig_state), track_state_name(orig));
    assert_string_equal(track_state_name(c->resp_state), track_state_name(resp));
}

/* States of (a, b) after each watched segment. */
static void assert_segment_states(size_t i, int a_state, int b_state)
{
    assert_true(i < result.nsegs);
    const struct track_segment_info *s = &result.segs[i];
    bool from_a = s->src.port == 40000;
    int a = from_a ? s->src_state : s->dst_state, b = from_a ? s->dst_state : s->src_state;
    assert_string_equal(track_state_name(a), track_state_name(a_state));
    assert_string_equal(track_state_name(b), track_state_name(b_state));
}

/* Runs once to learn the uid, then again watching it. */
static void finish_watched(struct scenario *s)
{
    finish(s, NULL);
    assert_true(result.nconns >= 1);
    struct track_config cfg;
    track_config_default(&cfg);
    char uid[TRACK_UID_LEN];
    memcpy(uid, result.conns[0].uid, sizeof uid);
    cfg.watch_uid = uid;
    char err[256];
    assert_int_equal(tt_run(s->path, &cfg, &result, err, sizeof err), 0);
    assert_true(result.conns[0].watched);
}

static void test_full_lifecycle_states(void **state)
{
    (void)state;
    struct scenario s;
    begin(&s, "life.pcap", "10.0.0.1:40000", "10.0.0.2:8080");
    handshake(&s.c, 1.0);
    tt_send(&s.c, 1.3, A, "P.", 1001, 5001, 100, 502);
    tt_send(&s.c, 1.4, B, "P.", 5001, 1101, 50, 509);
    tt_send(&s.c, 1.5, A, "F.", 1101, 5051, 0, 501);
    tt_send(&s.c, 1.6, B, ".", 5051, 1102, 0, 509);
    tt_send(&s.c, 1.7, B, "F.", 5051, 1102, 0, 509);
    tt_send(&s.c, 1.8, A, ".", 1102, 5052, 0, 501);
    finish_watched(&s);
    assert_int_equal(result.nsegs, 9);
    assert_segment_states(0, TCP_STATE_SYN_SENT, TRACK_STATE_UNKNOWN);
    assert_segment_states(1, TCP_STATE_ESTABLISHED, TCP_STATE_SYN_RECEIVED);
    assert_segment_states(2, TCP_STATE_ESTABLISHED, TCP_STATE_ESTABLISHED);
    assert_segment_states(5, TCP_STATE_FIN_WAIT_1, TCP_STATE_CLOSE_WAIT);
    assert_segment_states(6, TCP_STATE_FIN_WAIT_2, TCP_STATE_CLOSE_WAIT);
    assert_segment_states(7, TCP_STATE_TIME_WAIT, TCP_STATE_LAST_ACK);
    assert_segment_states(8, TCP_STATE_TIME_WAIT, TCP_STATE_CLOSED);
    const struct track_conn_info *c = &result.conns[0];
    assert_string_equal(track_conn_state_name(c->conn_state), "SF");
    assert_string_equal(c->history, "ShADdFaf");
    assert_int_equal(c->orig_bytes, 100);
    assert_int_equal(c->resp_bytes, 50);
}

static void test_simultaneous_open(void **state)
{
    (void)state;
    struct scenario s;
    /* RFC 9293 §3.5 Figure 7: SYNs cross, each side answers with SYN-ACK. */
    begin(&s, "simopen.pcap", "10.0.0.1:40000", "10.0.0.2:40001");
    tt_send(&s.c, 1.0, A, "S", 100, 0, 0, 64240);
    tt_send(&s.c, 1.01, B, "S", 300, 0, 0, 64240);
    tt_send(&s.c, 1.02, A, "S.", 100, 301, 0, 64240);
    tt_send(&s.c, 1.03, B, "S.", 300, 101, 0, 64240);
    finish_watched(&s);
    assert_int_equal(result.nconns, 1);
    assert_segment_states(0, TCP_STATE_SYN_SENT, TRACK_STATE_UNKNOWN);
    assert_segment_states(1, TCP_STATE_SYN_RECEIVED, TCP_STATE_SYN_RECEIVED);
    assert_segment_states(2, TCP_STATE_SYN_RECEIVED, TCP_STATE_ESTABLISHED);
    assert_segment_states(3, TCP_STATE_ESTABLISHED, TCP_STATE_ESTABLISHED);
    const struct track_conn_info *c = &result.conns[0];
    assert_true(tt_has_anomaly(c, TRACK_ANOM_SIMULTANEOUS_OPEN));
    assert_string_equal(c->history, "Ss");
    assert_string_equal(track_conn_state_name(c->conn_state), "S1");
}

static void test_simultaneous_close(void **state)
{
    (void)state;
    struct scenario s;
    /* RFC 9293 §3.6 Figure 13: FINs cross, both sides go through CLOSING
     * to TIME-WAIT. */
    begin(&s, "simclose.pcap", "10.0.0.1:40000", "10.0.0.2:8080");
    handshake(&s.c, 1.0);
    tt_send(&s.c, 2.0, A, "F.", 1001, 5001, 0, 502);
    tt_send(&s.c, 2.001, B, "F.", 5001, 1001, 0, 509);
    tt_send(&s.c, 2.1, A, ".", 1002, 5002, 0, 502);
    tt_send(&s.c, 2.101, B, ".", 5002, 1002, 0, 509);
    finish_watched(&s);
    assert_segment_states(3, TCP_STATE_FIN_WAIT_1, TCP_STATE_CLOSE_WAIT);
    assert_segment_states(4, TCP_STATE_CLOSING, TCP_STATE_CLOSING);
    assert_segment_states(5, TCP_STATE_CLOSING, TCP_STATE_TIME_WAIT);
    assert_segment_states(6, TCP_STATE_TIME_WAIT, TCP_STATE_TIME_WAIT);
    const struct track_conn_info *c = &result.conns[0];
    assert_states(c, TCP_STATE_TIME_WAIT, TCP_STATE_TIME_WAIT);
    assert_true(tt_has_anomaly(c, TRACK_ANOM_SIMULTANEOUS_CLOSE));
    assert_string_equal(track_conn_state_name(c->conn_state), "SF");
}

static void test_half_close(void **state)
{
    (void)state;
    struct scenario s;
    /* The client shuts down its sending side; the server keeps sending
     * (RFC 9293 §3.6: CLOSE-WAIT may still send). */
    begin(&s, "halfclose.pcap", "10.0.0.1:40000", "10.0.0.2:8080");
    handshake(&s.c, 1.0);
    tt_send(&s.c, 2.0, A, "F.", 1001, 5001, 0, 502);
    tt_send(&s.c, 2.1, B, ".", 5001, 1002, 0, 509);
    tt_send(&s.c, 3.0, B, "P.", 5001, 1002, 200, 509);
    tt_send(&s.c, 3.1, A, ".", 1002, 5201, 0, 502);
    tt_send(&s.c, 4.0, B, "P.", 5201, 1002, 200, 509);
    tt_send(&s.c, 4.1, A, ".", 1002, 5401, 0, 502);
    tt_send(&s.c, 5.0, B, "F.", 5401, 1002, 0, 509);
    tt_send(&s.c, 5.1, A, ".", 1002, 5402, 0, 502);
    finish_watched(&s);
    for (size_t i = 4; i <= 8; i++)
        assert_segment_states(i, TCP_STATE_FIN_WAIT_2, TCP_STATE_CLOSE_WAIT);
    assert_segment_states(9, TCP_STATE_TIME_WAIT, TCP_STATE_LAST_ACK);
    assert_segment_states(10, TCP_STATE_TIME_WAIT, TCP_STATE_CLOSED);
    const struct track_conn_info *c = &result.conns[0];
    assert_int_equal(c->resp_bytes, 400);
    assert_int_equal(c->anomalies, 0);
}

static void test_rst_in_window_closes(void **state)
{
    (void)state;
    struct scenario s;
    begin(&s, "rstin.pcap", "10.0.0.1:40000", "10.0.0.2:8080");
    handshake(&s.c, 1.0);
    tt_send(&s.c, 2.0, B, "R", 5001 + 100, 0, 0, 0); /* inside A's window of 502 */
    finish(&s, NULL);
    const struct track_conn_info *c = &result.conns[0];
    assert_states(c, TCP_STATE_CLOSED, TCP_STATE_CLOSED);
    assert_true(tt_has_anomaly(c, TRACK_ANOM_CONNECTION_RESET));
    assert_false(tt_has_anomaly(c, TRACK_ANOM_OUT_OF_WINDOW));
}

static void test_rst_out_of_window_ignored(void **state)
{
    (void)state;
    struct scenario s;
    /* RFC 9293 §3.10.7.4: an RST outside the receiver's window is dropped;
     * the connection goes on and closes normally. */
    begin(&s, "rstout.pcap", "10.0.0.1:40000", "10.0.0.2:8080");
    handshake(&s.c, 1.0);
    tt_send(&s.c, 2.0, B, "R", 5001 + 1000000, 0, 0, 0);
    tt_send(&s.c, 3.0, A, "P.", 1001, 5001, 10, 502);
    tt_send(&s.c, 3.1, B, ".", 5001, 1011, 0, 509);
    finish(&s, NULL);
    const struct track_conn_info *c = &result.conns[0];
    assert_states(c, TCP_STATE_ESTABLISHED, TCP_STATE_ESTABLISHED);
    assert_true(tt_has_anomaly(c, TRACK_ANOM_OUT_OF_WINDOW));
    assert_false(tt_has_anomaly(c, TRACK_ANOM_CONNECTION_RESET));
    const struct track_anomaly *a = tt_anomaly(&result, TRACK_ANOM_OUT_OF_WINDOW);
    assert_non_null(strstr(a->evidence, "outside"));
    /* Zeek takes every RST: its conn_state says RSTR. */
    assert_string_equal(track_conn_state_name(c->conn_state), "RSTR");
}

static void test_rst_to_syn_sent_needs_ack(void **state)
{
    (void)state;
    struct scenario s;
    /* RFC 9293 §3.10.7.3: in SYN-SENT an RST is acceptable only if it acks the SYN. */
    begin(&s, "rstsyn.pcap", "10.0.0.1:40000", "10.0.0.2:8080");
    tt_send(&s.c, 1.0, A, "S", 1000, 0, 0, 64240);
    tt_send(&s.c, 1.1, B, "R.", 0, 77, 0, 0);
    finish(&s, NULL);
    const struct track_conn_info *c = &result.conns[0];
    assert_string_equal(track_state_name(c->orig_state), "SYN-SENT");
    assert_true(tt_has_anomaly(c, TRACK_ANOM_OUT_OF_WINDOW));
    assert_false(tt_has_anomaly(c, TRACK_ANOM_CONNECTION_REFUSED));
}

static void test_port_reuse_after_time_wait(void **state)
{
    (void)state;
    struct scenario s;
    begin(&s, "reuse.pcap", "10.0.0.1:40000", "10.0.0.2:8080");
    handshake(&s.c, 1.0);
    tt_send(&s.c, 1.5, A, "F.", 1001, 5001, 0, 502);
    tt_send(&s.c, 1.6, B, "F.", 5001, 1002, 0, 509);
    tt_send(&s.c, 1.7, A, ".", 1002, 5002, 0, 502);
    /* 30 s later, within TIME-WAIT, a new SYN with a higher ISN (RFC 6191). */
    tt_send(&s.c, 31.0, A, "S", 90000, 0, 0, 64240);
    tt_send(&s.c, 31.1, B, "S.", 70000, 90001, 0, 65160);
    tt_send(&s.c, 31.2, A, ".", 90001, 70001, 0, 502);
    finish(&s, NULL);
    assert_int_equal(result.nconns, 2);
    const struct track_conn_info *old = &result.conns[0], *fresh = &result.conns[1];
    assert_string_not_equal(old->uid, fresh->uid);
    assert_string_equal(track_conn_state_name(old->conn_state), "SF");
    assert_states(old, TCP_STATE_TIME_WAIT, TCP_STATE_CLOSED);
    assert_string_equal(track_conn_state_name(fresh->conn_state), "S1");
    assert_string_equal(fresh->history, "ShA");
    assert_states(fresh, TCP_STATE_ESTABLISHED, TCP_STATE_ESTABLISHED);
    assert_true(tt_has_anomaly(fresh, TRACK_ANOM_PORT_REUSE));
    const struct track_anomaly *a = tt_anomaly(&result, TRACK_ANOM_PORT_REUSE);
    assert_non_null(strstr(a->evidence, old->uid));
    assert_non_null(strstr(a->evidence, "TIME-WAIT"));
    assert_int_equal(result.stats.reused, 1);
}

static void test_midstream_pickup(void **state)
{
    (void)state;
    struct scenario s;
    begin(&s, "midstream.pcap", "10.0.0.1:40000", "10.0.0.2:5555");
    tt_send(&s.c, 1.0, A, "P.", 777001, 888001, 100, 502);
    tt_send(&s.c, 1.1, B, "P.", 888001, 777101, 200, 509);
    tt_send(&s.c, 1.2, A, "F.", 777101, 888201, 0, 502);
    tt_send(&s.c, 1.3, B, "F.", 888201, 777102, 0, 509);
    tt_send(&s.c, 1.4, A, ".", 777102, 888202, 0, 502);
    finish(&s, NULL);
    const struct track_conn_info *c = &result.conns[0];
    assert_string_equal(c->history, "DdFfA"); /* the final ACK is A's first pure ACK */
    assert_string_equal(track_conn_state_name(c->conn_state), "SF");
    assert_states(c, TCP_STATE_TIME_WAIT, TCP_STATE_CLOSED);
    assert_int_equal(c->orig_bytes, 100);
    assert_int_equal(c->resp_bytes, 200);
}

static void test_midstream_from_server_port_flips(void **state)
{
    (void)state;
    struct scenario s;
    /* The first packet comes from port 80: Zeek takes 80 as the responder
     * and marks the flip with '^'. */
    begin(&s, "midflip.pcap", "10.0.0.1:40000", "10.0.0.2:80");
    tt_send(&s.c, 1.0, B, "P.", 888001, 777001, 200, 509);
    tt_send(&s.c, 1.1, A, ".", 777001, 888201, 0, 502);
    finish(&s, NULL);
    const struct track_conn_info *c = &result.conns[0];
    assert_string_equal(c->history, "^dA");
    assert_int_equal(c->orig.port, 40000);
    assert_int_equal(c->resp.port, 80);
    assert_string_equal(track_conn_state_name(c->conn_state), "OTH");
    assert_states(c, TCP_STATE_ESTABLISHED, TCP_STATE_ESTABLISHED);
}

static void test_one_direction_capture(void **state)
{
    (void)state;
    struct scenario s;
    /* Only the client's half of the traffic was captured. */
    begin(&s, "onedir.pcap", "10.0.0.1:40000", "10.0.0.2:8080");
    tt_send(&s.c, 1.0, A, "S", 1000, 0, 0, 64240);
    tt_send(&s.c, 1.2, A, ".", 1001, 5001, 0, 502);
    tt_send(&s.c, 1.3, A, "P.", 1001, 5001, 100, 502);
    tt_send(&s.c, 1.5, A, "F.", 1101, 5301, 0, 501);
    finish(&s, NULL);
    const struct track_conn_info *c = &result.conns[0];
    /* The client's ACK of the server's SYN proves the SYN-ACK: the server
     * got to ESTABLISHED on that ACK and to CLOSE-WAIT on the FIN. */
    assert_states(c, TCP_STATE_FIN_WAIT_1, TCP_STATE_CLOSE_WAIT);
    assert_true(c->has_handshake_rtt);
    assert_int_equal(c->handshake_rtt, 200000);
    assert_true(tt_has_anomaly(c, TRACK_ANOM_POSSIBLE_SPLIT_ROUTING));
    assert_int_equal(c->resp_pkts, 0);
    assert_string_equal(track_conn_state_name(c->conn_state), "SH");
}

static void test_server_side_only_capture(void **state)
{
    (void)state;
    struct scenario s;
    begin(&s, "onedir2.pcap", "10.0.0.1:40000", "10.0.0.2:8080");
    tt_send(&s.c, 1.1, B, "S.", 5000, 1001, 0, 65160);
    tt_send(&s.c, 1.4, B, "P.", 5001, 1101, 300, 509);
    tt_send(&s.c, 1.8, B, "F.", 5301, 1102, 0, 509);
    finish(&s, NULL);
    const struct track_conn_info *c = result.conns[0].orig.port == 40000 ? &result.conns[0] : NULL;
    assert_non_null(c);
    /* Data from SYN-RECEIVED means the handshake's ACK arrived: both
     * established, then the server closes first. */
    assert_string_equal(track_state_name(c->resp_state), "FIN-WAIT-1");
    assert_string_equal(track_state_name(c->orig_state), "CLOSE-WAIT");
}

static void test_syn_retransmission_intervals(void **state)
{
    (void)state;
    struct scenario s;
    begin(&s, "synretx.pcap", "10.0.0.1:40000", "10.0.0.2:8080");
    double t = 1.0;
    for (int i = 0; i < 4; i++) {
        tt_send(&s.c, t, A, "S", 1000, 0, 0, 64240);
        t += 1 << i; /* 1, 2, 4 s: RFC 6298 §5.5 doubling */
    }
    tt_send(&s.c, 8.05, B, "S.", 5000, 1001, 0, 65160);
    tt_send(&s.c, 8.1, A, ".", 1001, 5001, 0, 502);
    finish(&s, NULL);
    const struct track_conn_info *c = &result.conns[0];
    assert_true(tt_has_anomaly(c, TRACK_ANOM_SYN_RETRANSMISSION));
    assert_false(tt_has_anomaly(c, TRACK_ANOM_UNANSWERED_SYN));
    const struct track_anomaly *a = tt_anomaly(&result, TRACK_ANOM_SYN_RETRANSMISSION);
    assert_non_null(strstr(a->evidence, "4 times"));
    assert_non_null(strstr(a->evidence, "intervals 1.000s 2.000s 4.000s"));
    /* Karn: the RTT is measured from the last SYN. */
    assert_int_equal(c->handshake_rtt, 100000);
    assert_string_equal(c->history, "ShA");
    assert_int_equal(c->orig_pkts, 5);
}

static void test_syn_ack_retransmission_and_half_open(void **state)
{
    (void)state;
    struct scenario s;
    begin(&s, "halfopen.pcap", "10.0.0.1:40000", "10.0.0.2:8080");
    tt_send(&s.c, 1.0, A, "S", 1000, 0, 0, 64240);
    tt_send(&s.c, 1.1, B, "S.", 5000, 1001, 0, 65160);
    tt_send(&s.c, 2.1, B, "S.", 5000, 1001, 0, 65160);
    tt_send(&s.c, 4.1, B, "S.", 5000, 1001, 0, 65160);
    finish(&s, NULL);
    const struct track_conn_info *c = &result.conns[0];
    assert_true(tt_has_anomaly(c, TRACK_ANOM_SYN_ACK_RETRANSMISSION));
    assert_true(tt_has_anomaly(c, TRACK_ANOM_HALF_OPEN));
    assert_non_null(strstr(tt_anomaly(&result, TRACK_ANOM_SYN_ACK_RETRANSMISSION)->evidence, "1.000s 2.000s"));
    /* The client stayed silent through the retransmissions: it never got
     * a SYN-ACK (it vanished), so it is still in SYN-SENT. */
    assert_states(c, TCP_STATE_SYN_SENT, TCP_STATE_SYN_RECEIVED);
}

static void test_stale_syn_ack(void **state)
{
    (void)state;
    struct scenario s;
    /* RFC 9293 §3.5 Figure 8: an old duplicate SYN got a SYN-ACK; the
     * client, opening with another ISN, answers it with RST and stays in
     * SYN-SENT. */
    begin(&s, "stale.pcap", "10.0.0.1:40000", "10.0.0.2:8080");
    tt_send(&s.c, 1.0, A, "S", 100, 0, 0, 64240);
    tt_send(&s.c, 1.1, B, "S.", 300, 91, 0, 65160);
    tt_send(&s.c, 1.2, A, "R", 91, 0, 0, 0);
    finish(&s, NULL);
    const struct track_conn_info *c = &result.conns[0];
    assert_true(tt_has_anomaly(c, TRACK_ANOM_STALE_SYN_ACK));
    assert_true(tt_has_anomaly(c, TRACK_ANOM_BAD_SYN_ACK));
    /* RFC 9293 §3.10.7.4: the passively opened side returns to LISTEN. */
    assert_states(c, TCP_STATE_SYN_SENT, TCP_STATE_LISTEN);
}

static void test_vanished_peer_keeps_its_state(void **state)
{
    (void)state;
    struct scenario s;
    /* The server vanishes: the client's FIN is retransmitted into silence,
     * so it never arrived and the server is still ESTABLISHED. */
    begin(&s, "vanish.pcap", "10.0.0.1:40000", "10.0.0.2:8080");
    handshake(&s.c, 1.0);
    tt_send(&s.c, 2.0, A, "F.", 1001, 5001, 0, 502);
    tt_send(&s.c, 2.2, A, "F.", 1001, 5001, 0, 502);
    tt_send(&s.c, 2.6, A, "F.", 1001, 5001, 0, 502);
    finish(&s, NULL);
    const struct track_conn_info *c = &result.conns[0];
    assert_states(c, TCP_STATE_FIN_WAIT_1, TCP_STATE_ESTABLISHED);
    assert_true(tt_has_anomaly(c, TRACK_ANOM_FIN_RETRANSMISSION));
    /* Sent once and never retransmitted, the FIN is taken as delivered. */
    begin(&s, "fin-once.pcap", "10.0.0.1:40000", "10.0.0.2:8080");
    handshake(&s.c, 1.0);
    tt_send(&s.c, 2.0, A, "F.", 1001, 5001, 0, 502);
    finish(&s, NULL);
    assert_states(&result.conns[0], TCP_STATE_FIN_WAIT_1, TCP_STATE_CLOSE_WAIT);
}

static void test_syn_cookie_is_stateless(void **state)
{
    (void)state;
    struct scenario s;
    /* A SYN-ACK never retransmitted though nobody answered: sent without
     * state (SYN cookie, RFC 4987 §3.6); the server holds only its listener. */
    begin(&s, "cookie.pcap", "198.51.100.7:1234", "10.0.0.2:80");
    tt_send(&s.c, 1.0, A, "S", 1000, 0, 0, 1024);
    tt_send(&s.c, 1.0001, B, "S.", 5000, 1001, 0, 65160);
    struct tt_conv later;
    tt_conv_init(&later, &s.g, "10.0.0.1:40000", "10.0.0.2:8080");
    handshake(&later, 10.0);
    finish(&s, NULL);
    const struct track_conn_info *c = tt_conn_by_port(&result, 1234);
    assert_string_equal(track_state_name(c->resp_state), "LISTEN");
    assert_false(tt_has_anomaly(c, TRACK_ANOM_HALF_OPEN));
}

static void test_keepalive_zero_window_fin_retransmission(void **state)
{
    (void)state;
    struct scenario s;
    begin(&s, "misc.pcap", "10.0.0.1:40000", "10.0.0.2:8080");
    handshake(&s.c, 1.0);
    tt_send(&s.c, 7201.0, A, ".", 1000, 5001, 0, 502); /* SEG.SEQ = SND.NXT - 1 */
    tt_send(&s.c, 7201.1, B, ".", 5001, 1001, 0, 509);
    tt_send(&s.c, 7202.0, B, ".", 5001, 1001, 0, 0);   /* zero window */
    tt_send(&s.c, 7203.0, A, "F.", 1001, 5001, 0, 502);
    tt_send(&s.c, 7203.3, A, "F.", 1001, 5001, 0, 502); /* FIN again */
    finish(&s, NULL);
    const struct track_conn_info *c = &result.conns[0];
    assert_true(tt_has_anomaly(c, TRACK_ANOM_KEEPALIVE_PROBE));
    assert_true(tt_has_anomaly(c, TRACK_ANOM_ZERO_WINDOW));
    assert_true(tt_has_anomaly(c, TRACK_ANOM_FIN_RETRANSMISSION));
    assert_non_null(strstr(tt_anomaly(&result, TRACK_ANOM_FIN_RETRANSMISSION)->evidence, "0.300s"));
    assert_non_null(strchr(c->history, 'w')); /* Zeek's zero-window letter */
}

static void test_data_beyond_window(void **state)
{
    (void)state;
    struct scenario s;
    begin(&s, "beyond.pcap", "10.0.0.1:40000", "10.0.0.2:8080");
    handshake(&s.c, 1.0);
    tt_send(&s.c, 2.0, B, ".", 5001, 1001, 0, 1000); /* B offers 1000 bytes */
    tt_send(&s.c, 2.1, A, "P.", 1001 + 5000, 5001, 100, 502);
    finish(&s, NULL);
    assert_true(tt_has_anomaly(&result.conns[0], TRACK_ANOM_OUT_OF_WINDOW));
}

static void test_syn_flood(void **state)
{
    (void)state;
    struct tt_gen g;
    const char *path = tt_path("flood.pcap");
    assert_int_equal(tt_open(&g, path, TT_RAW), 0);
    /* 300 spoofed sources, 150 SYNs a second for 2 s; the server answers
     * each with a SYN-ACK that is never acked. */
    for (int i = 0; i < 300; i++) {
        struct tt_conv c;
        char a[64];
        snprintf(a, sizeof a, "198.51.%d.%d:%d", i / 200, i % 200 + 1, 1024 + i);
        tt_conv_init(&c, &g, a, "10.0.0.2:80");
        double t = 100.0 + i / 150.0;
        tt_send(&c, t, A, "S", 1000u + (uint32_t)i, 0, 0, 1024);
        tt_send(&c, t + 0.0001, B, "S.", 5000, 1001u + (uint32_t)i, 0, 65160);
    }
    /* One legitimate client completes its handshake. */
    struct tt_conv ok;
    tt_conv_init(&ok, &g, "10.0.0.1:40000", "10.0.0.2:80");
    handshake(&ok, 101.0);
    tt_close(&g);
    struct track_config cfg;
    track_config_default(&cfg);
    cfg.syn_flood_rate = 50;
    cfg.syn_flood_window_s = 2;
    char err[256];
    assert_int_equal(tt_run(path, &cfg, &result, err, sizeof err), 0);
    assert_int_equal(tt_anomaly_count(&result, TRACK_ANOM_SYN_FLOOD), 1);
    const struct track_anomaly *a = tt_anomaly(&result, TRACK_ANOM_SYN_FLOOD);
    assert_string_equal(a->uid, "");
    assert_int_equal(a->resp.port, 80);
    assert_non_null(strstr(a->evidence, "10.0.0.2:80"));
    /* 100 unanswered SYNs reach the threshold (50/s over 2 s). */
    assert_non_null(strstr(a->evidence, "100 unanswered SYNs"));
    unsigned sources = 0;
    const char *p = strstr(a->evidence, "from ");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "from %u", &sources), 1);
    assert_in_range(sources, 90, 110);
    assert_int_equal(tt_anomaly_count(&result, TRACK_ANOM_HALF_OPEN), 300);
    const struct track_conn_info *legit = tt_conn_by_port(&result, 40000);
    assert_false(tt_has_anomaly(legit, TRACK_ANOM_HALF_OPEN));
}

static void test_no_flood_below_threshold(void **state)
{
    (void)state;
    struct tt_gen g;
    const char *path = tt_path("noflood.pcap");
    assert_int_equal(tt_open(&g, path, TT_RAW), 0);
    for (int i = 0; i < 30; i++) {
        struct tt_conv c;
        char a[64];
        snprintf(a, sizeof a, "198.51.100.%d:%d", i + 1, 2000 + i);
        tt_conv_init(&c, &g, a, "10.0.0.2:80");
        tt_send(&c, 100.0 + i, A, "S", 1000, 0, 0, 1024);
    }
    tt_close(&g);
    char err[256];
    assert_int_equal(tt_run(path, NULL, &result, err, sizeof err), 0);
    assert_int_equal(tt_anomaly_count(&result, TRACK_ANOM_SYN_FLOOD), 0);
    assert_int_equal(tt_anomaly_count(&result, TRACK_ANOM_UNANSWERED_SYN), 30);
}

static void test_close_wait_leak(void **state)
{
    (void)state;
    struct scenario s;
    begin(&s, "cwleak.pcap", "10.0.0.1:40000", "10.0.0.2:8080");
    handshake(&s.c, 1.0);
    tt_send(&s.c, 2.0, A, "F.", 1001, 5001, 0, 502);
    tt_send(&s.c, 2.1, B, ".", 5001, 1002, 0, 509); /* B acks the FIN and says nothing more */
    /* Other traffic goes on for five minutes. */
    struct tt_conv other;
    tt_conv_init(&other, &s.g, "10.0.0.9:50000", "10.0.0.8:8080");
    handshake(&other, 300.0);
    finish(&s, NULL);
    const struct track_conn_info *c = tt_conn_by_port(&result, 40000);
    assert_non_null(c);
    assert_true(tt_has_anomaly(c, TRACK_ANOM_CLOSE_WAIT_LEAK));
    assert_true(tt_has_anomaly(c, TRACK_ANOM_LONG_FIN_WAIT_2));
    const struct track_anomaly *a = tt_anomaly(&result, TRACK_ANOM_CLOSE_WAIT_LEAK);
    assert_int_equal(a->side, 1); /* the responder leaks */
    assert_int_equal(a->t, 62100000); /* FIN acked at 2.1 s + 60 s */
    assert_states(c, TCP_STATE_FIN_WAIT_2, TCP_STATE_CLOSE_WAIT);
    assert_int_equal(result.stats.expired, 1);
}

static void test_no_leak_while_half_closed_side_talks(void **state)
{
    (void)state;
    struct scenario s;
    begin(&s, "cwtalk.pcap", "10.0.0.1:40000", "10.0.0.2:8080");
    handshake(&s.c, 1.0);
    tt_send(&s.c, 2.0, A, "F.", 1001, 5001, 0, 502);
    tt_send(&s.c, 2.1, B, ".", 5001, 1002, 0, 509);
    uint32_t seq = 5001;
    for (int i = 1; i <= 5; i++) {
        tt_send(&s.c, 2.1 + 40.0 * i, B, "P.", seq, 1002, 10, 509);
        seq += 10;
        tt_send(&s.c, 2.2 + 40.0 * i, A, ".", 1002, seq, 0, 502);
    }
    tt_send(&s.c, 250.0, B, "F.", seq, 1002, 0, 509);
    tt_send(&s.c, 250.1, A, ".", 1002, seq + 1, 0, 502);
    finish(&s, NULL);
    const struct track_conn_info *c = &result.conns[0];
    assert_false(tt_has_anomaly(c, TRACK_ANOM_CLOSE_WAIT_LEAK));
    assert_true(tt_has_anomaly(c, TRACK_ANOM_LONG_FIN_WAIT_2)); /* the client did wait that long */
    assert_states(c, TCP_STATE_TIME_WAIT, TCP_STATE_CLOSED);
}

static void test_time_wait_accumulation(void **state)
{
    (void)state;
    struct tt_gen g;
    const char *path = tt_path("tw.pcap");
    assert_int_equal(tt_open(&g, path, TT_RAW), 0);
    for (int i = 0; i < 5; i++) {
        struct tt_conv c;
        char a[64];
        snprintf(a, sizeof a, "10.0.0.1:%d", 41000 + i);
        tt_conv_init(&c, &g, a, "10.0.0.2:8080");
        double t = 1.0 + i;
        handshake(&c, t);
        tt_send(&c, t + 0.3, A, "F.", 1001, 5001, 0, 502);
        tt_send(&c, t + 0.4, B, "F.", 5001, 1002, 0, 509);
        tt_send(&c, t + 0.5, A, ".", 1002, 5002, 0, 502);
    }
    tt_close(&g);
    struct track_config cfg;
    track_config_default(&cfg);
    cfg.time_wait_per_host = 4;
    char err[256];
    assert_int_equal(tt_run(path, &cfg, &result, err, sizeof err), 0);
    assert_int_equal(tt_anomaly_count(&result, TRACK_ANOM_TIME_WAIT_ACCUMULATION), 1);
    const struct track_anomaly *a = tt_anomaly(&result, TRACK_ANOM_TIME_WAIT_ACCUMULATION);
    assert_non_null(strstr(a->evidence, "10.0.0.1 holds 4 connections in TIME-WAIT"));
    assert_int_equal(a->t, 4400000); /* the 4th enters TIME-WAIT on the peer's FIN */
}

static void test_eviction_when_table_full(void **state)
{
    (void)state;
    struct tt_gen g;
    const char *path = tt_path("evict.pcap");
    assert_int_equal(tt_open(&g, path, TT_RAW), 0);
    for (int i = 0; i < 5; i++) {
        struct tt_conv c;
        char a[64];
        snprintf(a, sizeof a, "10.0.0.1:%d", 42000 + i);
        tt_conv_init(&c, &g, a, "10.0.0.2:8080");
        handshake(&c, 1.0 + i);
    }
    tt_close(&g);
    struct track_config cfg;
    track_config_default(&cfg);
    cfg.max_conns = 2;
    char err[256];
    assert_int_equal(tt_run(path, &cfg, &result, err, sizeof err), 0);
    assert_int_equal(result.nconns, 5);
    assert_int_equal(result.stats.evicted, 3);
    assert_int_equal(result.stats.peak_active, 2);
    assert_int_equal(result.conns[0].orig.port, 42000); /* least recently active first */
    assert_true(tt_has_anomaly(&result.conns[0], TRACK_ANOM_EVICTED));
    assert_false(tt_has_anomaly(&result.conns[4], TRACK_ANOM_EVICTED));
}

static void test_expiry_then_midstream(void **state)
{
    (void)state;
    struct scenario s;
    begin(&s, "expire.pcap", "10.0.0.1:40000", "10.0.0.2:8080");
    handshake(&s.c, 1.0);
    tt_send(&s.c, 2.0, A, "F.", 1001, 5001, 0, 502);
    tt_send(&s.c, 2.1, B, "F.", 5001, 1002, 0, 509);
    tt_send(&s.c, 2.2, A, ".", 1002, 5002, 0, 502);
    /* Long after TIME-WAIT's 120 s, a stray ACK: a new, partial connection. */
    tt_send(&s.c, 500.0, A, ".", 1002, 5002, 0, 502);
    finish(&s, NULL);
    assert_int_equal(result.nconns, 2);
    assert_int_equal(result.stats.expired, 1);
    assert_string_equal(track_conn_state_name(result.conns[1].conn_state), "OTH");
    assert_string_equal(result.conns[1].history, "A");
}

static void test_ipv6_connection(void **state)
{
    (void)state;
    struct scenario s;
    begin(&s, "v6.pcap", "[2001:db8::1]:40000", "[2001:db8::2]:443");
    handshake(&s.c, 1.0);
    tt_send(&s.c, 1.3, B, "R.", 5001, 1001, 0, 0);
    finish(&s, NULL);
    const struct track_conn_info *c = &result.conns[0];
    char a[WIRE_ADDR_STRLEN];
    assert_string_equal(wire_addr_str(&c->resp.addr, a), "2001:db8::2");
    assert_string_equal(track_conn_state_name(c->conn_state), "RSTR");
    assert_int_equal(c->orig_ip_bytes, 64 + 60);
}

static int teardown(void **state)
{
    (void)state;
    tt_tmp_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_lifecycle_states),
        cmocka_unit_test(test_simultaneous_open),
        cmocka_unit_test(test_simultaneous_close),
        cmocka_unit_test(test_half_close),
        cmocka_unit_test(test_rst_in_window_closes),
        cmocka_unit_test(test_rst_out_of_window_ignored),
        cmocka_unit_test(test_rst_to_syn_sent_needs_ack),
        cmocka_unit_test(test_port_reuse_after_time_wait),
        cmocka_unit_test(test_midstream_pickup),
        cmocka_unit_test(test_midstream_from_server_port_flips),
        cmocka_unit_test(test_one_direction_capture),
        cmocka_unit_test(test_server_side_only_capture),
        cmocka_unit_test(test_syn_retransmission_intervals),
        cmocka_unit_test(test_syn_ack_retransmission_and_half_open),
        cmocka_unit_test(test_stale_syn_ack),
        cmocka_unit_test(test_vanished_peer_keeps_its_state),
        cmocka_unit_test(test_syn_cookie_is_stateless),
        cmocka_unit_test(test_keepalive_zero_window_fin_retransmission),
        cmocka_unit_test(test_data_beyond_window),
        cmocka_unit_test(test_syn_flood),
        cmocka_unit_test(test_no_flood_below_threshold),
        cmocka_unit_test(test_close_wait_leak),
        cmocka_unit_test(test_no_leak_while_half_closed_side_talks),
        cmocka_unit_test(test_time_wait_accumulation),
        cmocka_unit_test(test_eviction_when_table_full),
        cmocka_unit_test(test_expiry_then_midstream),
        cmocka_unit_test(test_ipv6_connection),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
