/* Zeek's 13 conn_state codes, each from a capture crafted with the codec,
 * with the history letters Zeek writes for it and both sides' inferred
 * RFC 9293 states. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "track_test_util.h"

static struct tt_result result;

/* Runs one scenario: build writes segments through conv (client a =
 * 10.0.0.1:40000, server b = 10.0.0.2:server_port). */
static const struct track_conn_info *run(const char *name, uint16_t server_port,
                                         void (*build)(struct tt_conv *c))
{
    struct tt_gen g;
    const char *path = tt_path(name);
    assert_int_equal(tt_open(&g, path, TT_RAW), 0);
    struct tt_conv c;
    char b[64];
    snprintf(b, sizeof b, "10.0.0.2:%u", server_port);
    tt_conv_init(&c, &g, "10.0.0.1:40000", b);
    build(&c);
    tt_close(&g);
    char err[256];
    assert_int_equal(tt_run(path, NULL, &result, err, sizeof err), 0);
    assert_int_equal(result.nconns, 1);
    return &result.conns[0];
}

static void expect(const struct track_conn_info *c, enum track_conn_state cs, const char *history, int orig_state,
                   int resp_state)
{
    assert_string_equal(track_conn_state_name(c->conn_state), track_conn_state_name(cs));
    assert_string_equal(c->history, history);
    assert_string_equal(track_state_name(c->orig_state), track_state_name(orig_state));
    assert_string_equal(track_state_name(c->resp_state), track_state_name(resp_state));
}

#define A true
#define B false

static void handshake(struct tt_conv *c)
{
    tt_send(c, 1.0, A, "S", 1000, 0, 0, 64240);
    tt_send(c, 1.1, B, "S.", 5000, 1001, 0, 65160);
    tt_send(c, 1.2, A, ".", 1001, 5001, 0, 502);
}

static void build_s0(struct tt_conv *c)
{
    tt_send(c, 1.0, A, "S", 1000, 0, 0, 64240);
}

static void test_s0(void **state)
{
    (void)state;
    const struct track_conn_info *c = run("s0.pcap", 1001, build_s0);
    expect(c, TRACK_CS_S0, "S", TCP_STATE_SYN_SENT, TRACK_STATE_UNKNOWN);
    assert_false(c->has_duration); /* one packet: Zeek leaves duration unset */
    assert_int_equal(c->orig_pkts, 1);
    assert_int_equal(c->orig_ip_bytes, 44); /* 20 IP + 20 TCP + 4 MSS */
    assert_true(tt_has_anomaly(c, TRACK_ANOM_UNANSWERED_SYN));
}

static void build_s1(struct tt_conv *c)
{
    handshake(c);
}

static void test_s1(void **state)
{
    (void)state;
    const struct track_conn_info *c = run("s1.pcap", 1002, build_s1);
    expect(c, TRACK_CS_S1, "ShA", TCP_STATE_ESTABLISHED, TCP_STATE_ESTABLISHED);
    assert_true(c->has_handshake_rtt);
    assert_int_equal(c->handshake_rtt, 200000);
    assert_true(c->has_duration);
    assert_int_equal(c->duration, 200000);
    assert_int_equal(c->orig_bytes, 0);
    assert_int_equal(c->resp_bytes, 0);
}

static void build_sf(struct tt_conv *c)
{
    handshake(c);
    tt_send(c, 1.3, A, "P.", 1001, 5001, 100, 502);
    tt_send(c, 1.4, B, ".", 5001, 1101, 0, 509);
    tt_send(c, 1.5, B, "P.", 5001, 1101, 300, 509);
    tt_send(c, 1.6, A, ".", 1101, 5301, 0, 501);
    tt_send(c, 1.7, A, "F.", 1101, 5301, 0, 501);
    tt_send(c, 1.8, B, "F.", 5301, 1102, 0, 509);
    tt_send(c, 1.9, A, ".", 1102, 5302, 0, 501);
}

static void test_sf(void **state)
{
    (void)state;
    const struct track_conn_info *c = run("sf.pcap", 1003, build_sf);
    /* The side that closed first ends in TIME-WAIT (RFC 9293 §3.6). */
    expect(c, TRACK_CS_SF, "ShADadFf", TCP_STATE_TIME_WAIT, TCP_STATE_CLOSED);
    assert_int_equal(c->orig_bytes, 100);
    assert_int_equal(c->resp_bytes, 300);
    assert_int_equal(c->orig_pkts, 6);
    assert_int_equal(c->resp_pkts, 4);
    assert_int_equal(c->orig_ip_bytes, 44 + 40 + 140 + 40 + 40 + 40);
    /* Zeek's duration stops at the last FIN, not the final ACK. */
    assert_int_equal(c->duration, 800000);
    assert_int_equal(c->missed_bytes, 0);
    assert_int_equal(c->anomalies, 0);
}

static void build_rej(struct tt_conv *c)
{
    tt_send(c, 1.0, A, "S", 1000, 0, 0, 64240);
    tt_send(c, 1.001, B, "R.", 0, 1001, 0, 0);
}

static void test_rej(void **state)
{
    (void)state;
    const struct track_conn_info *c = run("rej.pcap", 1004, build_rej);
    expect(c, TRACK_CS_REJ, "Sr", TCP_STATE_CLOSED, TCP_STATE_CLOSED);
    assert_true(tt_has_anomaly(c, TRACK_ANOM_CONNECTION_REFUSED));
}

static void build_s2(struct tt_conv *c)
{
    handshake(c);
    tt_send(c, 1.3, A, "F.", 1001, 5001, 0, 502);
    tt_send(c, 1.4, B, ".", 5001, 1002, 0, 509);
}

static void test_s2(void **state)
{
    (void)state;
    const struct track_conn_info *c = run("s2.pcap", 1005, build_s2);
    expect(c, TRACK_CS_S2, "ShAFa", TCP_STATE_FIN_WAIT_2, TCP_STATE_CLOSE_WAIT);
}

static void build_s3(struct tt_conv *c)
{
    handshake(c);
    tt_send(c, 1.3, B, "F.", 5001, 1001, 0, 509);
    tt_send(c, 1.4, A, ".", 1001, 5002, 0, 502);
}

static void test_s3(void **state)
{
    (void)state;
    const struct track_conn_info *c = run("s3.pcap", 1006, build_s3);
    expect(c, TRACK_CS_S3, "ShAf", TCP_STATE_CLOSE_WAIT, TCP_STATE_FIN_WAIT_2);
}

static void build_rsto(struct tt_conv *c)
{
    handshake(c);
    tt_send(c, 1.3, A, "R.", 1001, 5001, 0, 0);
}

static void test_rsto(void **state)
{
    (void)state;
    const struct track_conn_info *c = run("rsto.pcap", 1007, build_rsto);
    expect(c, TRACK_CS_RSTO, "ShAR", TCP_STATE_CLOSED, TCP_STATE_CLOSED);
    assert_true(tt_has_anomaly(c, TRACK_ANOM_CONNECTION_RESET));
}

static void build_rstr(struct tt_conv *c)
{
    handshake(c);
    tt_send(c, 1.3, B, "R", 5001, 0, 0, 0);
}

static void test_rstr(void **state)
{
    (void)state;
    const struct track_conn_info *c = run("rstr.pcap", 1008, build_rstr);
    expect(c, TRACK_CS_RSTR, "ShAr", TCP_STATE_CLOSED, TCP_STATE_CLOSED);
}

static void build_rstos0(struct tt_conv *c)
{
    tt_send(c, 1.0, A, "S", 1000, 0, 0, 64240);
    tt_send(c, 2.0, A, "R", 1001, 0, 0, 0);
}

static void test_rstos0(void **state)
{
    (void)state;
    const struct track_conn_info *c = run("rstos0.pcap", 1009, build_rstos0);
    expect(c, TRACK_CS_RSTOS0, "SR", TCP_STATE_CLOSED, TRACK_STATE_UNKNOWN);
}

/* RSTRH and SHR start with the responder's SYN-ACK: the first packet comes
 * from a likely server port (80), so Zeek flips the roles ('^'). */
static void build_rstrh(struct tt_conv *c)
{
    tt_send(c, 1.0, B, "S.", 5000, 1001, 0, 65160);
    tt_send(c, 1.5, B, "R", 5001, 0, 0, 0);
}

static void test_rstrh(void **state)
{
    (void)state;
    const struct track_conn_info *c = run("rstrh.pcap", 80, build_rstrh);
    expect(c, TRACK_CS_RSTRH, "^hr", TRACK_STATE_UNKNOWN, TCP_STATE_CLOSED);
    assert_int_equal(c->orig.port, 40000);
    assert_int_equal(c->resp.port, 80);
}

static void build_sh(struct tt_conv *c)
{
    tt_send(c, 1.0, A, "S", 1000, 0, 0, 64240);
    tt_send(c, 1.5, A, "F", 1001, 0, 0, 64240);
}

static void test_sh(void **state)
{
    (void)state;
    const struct track_conn_info *c = run("sh.pcap", 1011, build_sh);
    expect(c, TRACK_CS_SH, "SF", TCP_STATE_FIN_WAIT_1, TRACK_STATE_UNKNOWN);
}

static void build_shr(struct tt_conv *c)
{
    tt_send(c, 1.0, B, "S.", 5000, 1001, 0, 65160);
    tt_send(c, 1.5, B, "F.", 5001, 1001, 0, 65160);
}

static void test_shr(void **state)
{
    (void)state;
    const struct track_conn_info *c = run("shr.pcap", 80, build_shr);
    expect(c, TRACK_CS_SHR, "^hf", TRACK_STATE_UNKNOWN, TCP_STATE_FIN_WAIT_1);
}

static void build_oth(struct tt_conv *c)
{
    tt_send(c, 1.0, A, "P.", 1001, 5001, 100, 502);
}

static void test_oth(void **state)
{
    (void)state;
    const struct track_conn_info *c = run("oth.pcap", 5555, build_oth);
    /* Mid-stream pickup: both sides taken as ESTABLISHED. */
    expect(c, TRACK_CS_OTH, "D", TCP_STATE_ESTABLISHED, TCP_STATE_ESTABLISHED);
}

/* Zeek's scaled letters: 'T' for retransmitted payload, 'G' for a content
 * gap (acked data never seen), 'W' for zero windows. */
static void build_rxmit_gap(struct tt_conv *c)
{
    handshake(c);
    tt_send(c, 1.3, A, "P.", 1001, 5001, 100, 502);
    tt_send(c, 1.5, A, "P.", 1001, 5001, 100, 502);  /* retransmitted */
    /* 1101:1201 was lost before the capture point */
    tt_send(c, 1.7, A, "P.", 1201, 5001, 100, 502);
    tt_send(c, 1.8, B, ".", 5001, 1301, 0, 0);        /* acks it all, window 0 */
}

static void test_retransmission_and_gap_letters(void **state)
{
    (void)state;
    const struct track_conn_info *c = run("gap.pcap", 1020, build_rxmit_gap);
    expect(c, TRACK_CS_S1, "ShADTawG", TCP_STATE_ESTABLISHED, TCP_STATE_ESTABLISHED);
    assert_int_equal(c->missed_bytes, 100);
    assert_int_equal(c->orig_bytes, 300); /* from sequence numbers, as Zeek counts */
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
        cmocka_unit_test(test_s0),     cmocka_unit_test(test_s1),     cmocka_unit_test(test_sf),
        cmocka_unit_test(test_rej),    cmocka_unit_test(test_s2),     cmocka_unit_test(test_s3),
        cmocka_unit_test(test_rsto),   cmocka_unit_test(test_rstr),   cmocka_unit_test(test_rstos0),
        cmocka_unit_test(test_rstrh),  cmocka_unit_test(test_sh),     cmocka_unit_test(test_shr),
        cmocka_unit_test(test_oth),
        cmocka_unit_test(test_retransmission_and_gap_letters),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
