/* Output formats: Zeek's conn.log TSV header and rows, JSON lines with the
 * same field names, the anomaly log, the summary and the ladder diagrams. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "track/track_ladder.h"
#include "track/track_log.h"
#include "track/track_summary.h"
#include "track_test_util.h"

#define A true
#define B false

static struct tt_result result;

static const char *sample(void)
{
    static char path[320];
    if (path[0])
        return path;
    snprintf(path, sizeof path, "%s", tt_path("sample.pcap"));
    struct tt_gen g;
    assert_int_equal(tt_open(&g, path, TT_ETHER), 0);
    struct tt_conv c;
    tt_conv_init(&c, &g, "10.0.0.1:40000", "10.0.0.2:80");
    tt_send(&c, 1.0, A, "S", 1000, 0, 0, 64240);
    tt_send(&c, 1.1, B, "S.", 5000, 1001, 0, 65160);
    tt_send(&c, 1.2, A, ".", 1001, 5001, 0, 502);
    tt_send(&c, 1.3, A, "P.", 1001, 5001, 100, 502);
    tt_send(&c, 1.4, B, "P.", 5001, 1101, 300, 509);
    tt_send(&c, 1.5, A, "F.", 1101, 5301, 0, 501);
    tt_send(&c, 1.6, B, "F.", 5301, 1102, 0, 509);
    tt_send(&c, 1.7, A, ".", 1102, 5302, 0, 501);
    struct tt_conv d;
    tt_conv_init(&d, &g, "[fd00::3]:40001", "[fd00::2]:81");
    tt_send(&d, 2.0, A, "S", 7000, 0, 0, 64240);
    tt_send(&d, 3.0, A, "S", 7000, 0, 0, 64240);
    tt_send(&d, 5.0, A, "S", 7000, 0, 0, 64240);
    tt_close(&g);
    return path;
}

/* Renders with a writer into a string (caller frees). */
static char *render(void (*fn)(FILE *f, void *ctx), void *ctx)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    fn(f, ctx);
    fclose(f);
    return buf;
}

static void write_conn_log(FILE *f, void *ctx)
{
    struct track_log w;
    track_log_init(&w, f, *(enum track_log_format *)ctx, TRACK_LOG_CONN, 0);
    for (size_t i = 0; i < result.nconns; i++)
        track_log_conn(&w, &result.conns[i]);
    track_log_close(&w, 0);
}

static size_t count_char(const char *s, char ch)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == ch;
    return n;
}

static void test_tsv_header_and_rows(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(tt_run(sample(), NULL, &result, err, sizeof err), 0);
    enum track_log_format fmt = TRACK_LOG_TSV;
    char *out = render(write_conn_log, &fmt);
    const char *expect_header =
        "#separator \\x09\n"
        "#set_separator\t,\n"
        "#empty_field\t(empty)\n"
        "#unset_field\t-\n"
        "#path\tconn\n"
        "#open\t1970-01-01-00-00-00\n"
        "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\t"
        "resp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\t"
        "resp_pkts\tresp_ip_bytes\ttunnel_parents\torig_state\tresp_state\thandshake_rtt\tanomalies\n"
        "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\t"
        "count\tstring\tcount\tcount\tcount\tcount\tset[string]\tstring\tstring\tinterval\tset[string]\n";
    assert_memory_equal(out, expect_header, strlen(expect_header));
    const char *row = out + strlen(expect_header);
    char expect_row[512];
    snprintf(expect_row, sizeof expect_row,
             "1.000000\t%s\t10.0.0.1\t40000\t10.0.0.2\t80\ttcp\t-\t0.600000\t100\t300\tSF\t-\t-\t0\tShADdFf\t5\t"
             "304\t3\t424\t-\tTIME-WAIT\tCLOSED\t0.200000\t-\n",
             result.conns[0].uid);
    assert_memory_equal(row, expect_row, strlen(expect_row));
    const char *row2 = row + strlen(expect_row);
    char expect_row2[512];
    snprintf(expect_row2, sizeof expect_row2,
             "2.000000\t%s\tfd00::3\t40001\tfd00::2\t81\ttcp\t-\t3.000000\t0\t0\tS0\t-\t-\t0\tS\t3\t192\t0\t0\t-\t"
             "SYN-SENT\t-\t-\tSYN_retransmission,unanswered_SYN\n",
             result.conns[1].uid);
    assert_memory_equal(row2, expect_row2, strlen(expect_row2));
    assert_string_equal(row2 + strlen(expect_row2), "#close\t1970-01-01-00-00-00\n");
    /* Every row has the 25 columns of the header. */
    assert_int_equal(count_char(expect_row, '\t'), 24);
    free(out);
}

static void test_json_lines(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(tt_run(sample(), NULL, &result, err, sizeof err), 0);
    enum track_log_format fmt = TRACK_LOG_JSON;
    char *out = render(write_conn_log, &fmt);
    assert_int_equal(count_char(out, '\n'), 2); /* no header in JSON */
    char expect[1024];
    snprintf(expect, sizeof expect,
             "{\"ts\":1.000000,\"uid\":\"%s\",\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":40000,\"id.resp_h\":\"10.0.0.2\","
             "\"id.resp_p\":80,\"proto\":\"tcp\",\"duration\":0.600000,\"orig_bytes\":100,\"resp_bytes\":300,"
             "\"conn_state\":\"SF\",\"missed_bytes\":0,\"history\":\"ShADdFf\",\"orig_pkts\":5,\"orig_ip_bytes\":304,"
             "\"resp_pkts\":3,\"resp_ip_bytes\":424,\"orig_state\":\"TIME-WAIT\",\"resp_state\":\"CLOSED\","
             "\"handshake_rtt\":0.200000}\n",
             result.conns[0].uid);
    assert_memory_equal(out, expect, strlen(expect));
    const char *second = out + strlen(expect);
    /* Unset fields are left out, as Zeek's JSON writer does. */
    assert_null(strstr(second, "resp_state"));
    assert_null(strstr(second, "handshake_rtt"));
    assert_non_null(strstr(second, "\"anomalies\":[\"SYN_retransmission\",\"unanswered_SYN\"]"));
    free(out);
}

static void write_anomaly_log(FILE *f, void *ctx)
{
    struct track_log w;
    track_log_init(&w, f, *(enum track_log_format *)ctx, TRACK_LOG_ANOMALY, 0);
    for (size_t i = 0; i < result.nanoms; i++)
        track_log_anomaly(&w, &result.anoms[i]);
    track_log_close(&w, 0);
}

static void test_anomaly_log(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(tt_run(sample(), NULL, &result, err, sizeof err), 0);
    enum track_log_format fmt = TRACK_LOG_TSV;
    char *out = render(write_anomaly_log, &fmt);
    assert_non_null(strstr(out, "#path\tanomaly\n"));
    assert_non_null(strstr(out, "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tname\taddl\tnotice\tpeer\tsource\n"));
    char line[512];
    snprintf(line, sizeof line,
             "5.000000\t%s\tfd00::3\t40001\tfd00::2\t81\tSYN_retransmission\torig sent its SYN 3 times, intervals "
             "1.000s 2.000s\tF\t-\tTCP\n",
             result.conns[1].uid);
    assert_non_null(strstr(out, line));
    free(out);
    fmt = TRACK_LOG_JSON;
    out = render(write_anomaly_log, &fmt);
    assert_non_null(strstr(out, "\"name\":\"unanswered_SYN\",\"addl\":\"orig sent 3 SYNs over 3.000s, no answer\""));
    free(out);
}

struct summary_ctx {
    const char *path;
    bool json;
};

static void write_summary(FILE *f, void *vctx)
{
    struct summary_ctx *ctx = vctx;
    struct track_config cfg;
    track_config_default(&cfg);
    struct track_summary_examples ex;
    memset(&ex, 0, sizeof ex);
    struct track *t = track_new(&cfg, NULL);
    assert_non_null(t);
    /* Feed through the capture reader by hand. */
    char err[256];
    struct tt_result *r = &result;
    (void)r;
    pcap_t *p = pcap_open_offline(ctx->path, err);
    assert_non_null(p);
    struct pcap_pkthdr *h;
    const u_char *data;
    while (pcap_next_ex(p, &h, &data) == 1)
        track_frame(t, pcap_datalink(p), (tcp_time_t)h->ts.tv_sec * 1000000u + (tcp_time_t)h->ts.tv_usec, data,
                    h->caplen, h->len);
    pcap_close(p);
    struct track_summary_snapshot *snap = track_summary_snapshot(t);
    track_flush(t);
    struct track_summary_opts o = {.json = ctx->json, .title = "end of capture"};
    assert_int_equal(track_summary_print(f, t, snap, NULL, &o), 0);
    track_summary_snapshot_free(snap);
    track_free(t);
}

static void test_summary_text_and_json(void **state)
{
    (void)state;
    struct summary_ctx ctx = {sample(), false};
    char *out = render(write_summary, &ctx);
    assert_non_null(strstr(out, "end of capture at 5.000000\n"));
    assert_non_null(strstr(out, "Frames: 11 "));
    assert_non_null(strstr(out, "conn_state: S0 1 SF 1\n"));
    assert_non_null(strstr(out, "TCP states of the 2 open connections, per host:"));
    /* Columns: only states that occur. */
    assert_non_null(strstr(out, "CLOSED   SYN-SENT  TIME-WAIT    unknown\n"));
    assert_non_null(strstr(out, "10.0.0.1                                      1          0          0          1          0\n"));
    assert_non_null(strstr(out, "fd00::2                                       1          0          0          0          1\n"));
    assert_non_null(strstr(out, "SYN_retransmission"));
    free(out);
    ctx.json = true;
    out = render(write_summary, &ctx);
    assert_non_null(strstr(out, "{\"kind\":\"summary\",\"t\":5.000000,\"frames\":11,"));
    assert_non_null(strstr(out, "\"conn_state\":{\"S0\":1,\"SF\":1}"));
    assert_non_null(strstr(out, "{\"kind\":\"host\",\"t\":5.000000,\"host\":\"10.0.0.1\",\"total\":1,\"states\":{\"TIME-WAIT\":1}}\n"));
    assert_non_null(strstr(out, "{\"kind\":\"anomaly_count\",\"name\":\"unanswered_SYN\",\"count\":1}\n"));
    free(out);
}

struct ladder_ctx {
    enum track_ladder_format fmt;
};

static void write_ladder(FILE *f, void *vctx)
{
    struct ladder_ctx *ctx = vctx;
    char err[256];
    assert_int_equal(tt_run(sample(), NULL, &result, err, sizeof err), 0);
    char uid[TRACK_UID_LEN];
    memcpy(uid, result.conns[0].uid, sizeof uid);
    struct track_config cfg;
    track_config_default(&cfg);
    cfg.watch_uid = uid;
    assert_int_equal(tt_run(sample(), &cfg, &result, err, sizeof err), 0);
    struct track_ladder l;
    track_ladder_init(&l, 0);
    for (size_t i = 0; i < result.nsegs; i++)
        track_ladder_add_segment(&l, &result.segs[i]);
    assert_int_equal(track_ladder_render(f, &l, ctx->fmt), -1); /* no conn yet */
    track_ladder_set_conn(&l, &result.conns[0]);
    assert_int_equal(track_ladder_render(f, &l, ctx->fmt), 0);
    track_ladder_free(&l);
}

static void test_ladder_text(void **state)
{
    (void)state;
    struct ladder_ctx ctx = {TRACK_LADDER_TEXT};
    char *out = render(write_ladder, &ctx);
    const char *expect[] = {
        "      time  10.0.0.1:40000                                                           10.0.0.2:80\n",
        "  0.000000  SYN-SENT      -- [S] seq 0 win 64240 -------------------------------->  -\n",
        "  0.100000  ESTABLISHED   <------------------------- [S.] seq 0 ack 1 win 65160 --  SYN-RECEIVED\n",
        "  0.200000                -- [.] seq 1 ack 1 win 502 ---------------------------->  ESTABLISHED\n",
        "  0.300000                -- [P.] seq 1:101 ack 1 win 502 length 100 ------------>  \n",
        "  0.500000  FIN-WAIT-1    -- [F.] seq 101 ack 301 win 501 ----------------------->  CLOSE-WAIT\n",
        "  0.600000  TIME-WAIT     <----------------------- [F.] seq 301 ack 102 win 509 --  LAST-ACK\n",
        "  0.700000                -- [.] seq 102 ack 302 win 501 ------------------------>  CLOSED\n",
        "final: 10.0.0.1:40000 TIME-WAIT, 10.0.0.2:80 CLOSED\n",
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
        if (!strstr(out, expect[i])) {
            print_error("missing line: %s\nin:\n%s", expect[i], out);
            fail();
        }
    free(out);
}

static void test_ladder_mermaid_and_svg(void **state)
{
    (void)state;
    struct ladder_ctx ctx = {TRACK_LADDER_MERMAID};
    char *out = render(write_ladder, &ctx);
    assert_non_null(strstr(out, "sequenceDiagram\n    participant O as 10.0.0.1:40000\n    participant R as 10.0.0.2:80\n"));
    assert_non_null(strstr(out, "    R->>O: 0.100000 [S.] seq 0 ack 1 win 65160\n    Note left of O: ESTABLISHED\n"
                                "    Note right of R: SYN-RECEIVED\n"));
    free(out);
    ctx.fmt = TRACK_LADDER_SVG;
    out = render(write_ladder, &ctx);
    assert_non_null(strstr(out, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_non_null(strstr(out, ">TIME-WAIT</text>"));
    assert_non_null(strstr(out, ">[F.] seq 301 ack 102 win 509</text>"));
    assert_non_null(strstr(out, "</svg>\n"));
    free(out);
}

static void test_names_tables(void **state)
{
    (void)state;
    assert_string_equal(track_state_name(TCP_STATE_SYN_RECEIVED), "SYN-RECEIVED");
    assert_string_equal(track_state_name(TRACK_STATE_UNKNOWN), "-");
    assert_string_equal(track_conn_state_name(TRACK_CS_RSTOS0), "RSTOS0");
    assert_int_equal(track_conn_state_parse("SHR"), TRACK_CS_SHR);
    assert_int_equal(track_conn_state_parse("nope"), -1);
    assert_int_equal(track_anomaly_parse("SYN_after_close"), TRACK_ANOM_SYN_AFTER_CLOSE);
    assert_int_equal(track_anomaly_scope(TRACK_ANOM_SYN_FLOOD), 'S');
    assert_true(TRACK_ANOM_COUNT <= 64); /* they fit the per-connection mask */
    for (int k = 0; k < TRACK_ANOM_COUNT; k++)
        assert_int_equal(track_anomaly_parse(track_anomaly_name((enum track_anomaly_kind)k)), k);
    assert_string_equal(track_counter_name(0), "frames");
    assert_int_equal(track_ladder_format_parse("svg"), TRACK_LADDER_SVG);
    assert_int_equal(track_ladder_format_parse("png"), -1);
    char buf[TRACK_TIME_STRLEN];
    assert_string_equal(track_time_str(1700000000123456ULL, buf), "1700000000.123456");
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
        cmocka_unit_test(test_tsv_header_and_rows), cmocka_unit_test(test_json_lines),
        cmocka_unit_test(test_anomaly_log),         cmocka_unit_test(test_summary_text_and_json),
        cmocka_unit_test(test_ladder_text),         cmocka_unit_test(test_ladder_mermaid_and_svg),
        cmocka_unit_test(test_names_tables),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
