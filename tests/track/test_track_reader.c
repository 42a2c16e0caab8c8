/* The classic-pcap reader of track_capture.c against libpcap: the same
 * file read by track_capture_feed (our reader) and by pcap_next_ex (the
 * reference, frames handed to track_frame exactly as track_capture_feed
 * does for libpcap) must give the same connections and counters. Files
 * in both byte orders, micro- and nanosecond stamps, records longer than
 * the header's snapshot length, records across read-buffer refills, odd
 * timestamps, and a truncated tail. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "track/track.h"
#include "track/track_capture.h"
#include "track_test_util.h"

/* ---- writing captures by hand ---- */
struct file {
    uint8_t *b;
    size_t n, cap;
    bool big_endian, nanos;
};

static void put(struct file *f, const void *p, size_t n)
{
    if (f->n + n > f->cap) {
        f->cap = (f->n + n) * 2;
        f->b = realloc(f->b, f->cap);
        assert_non_null(f->b);
    }
    memcpy(f->b + f->n, p, n);
    f->n += n;
}

static void put32(struct file *f, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(f->big_endian ? v >> (24 - 8 * i) : v >> (8 * i));
    put(f, b, 4);
}

static void put16(struct file *f, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(f->big_endian ? v >> 8 : v), (uint8_t)(f->big_endian ? v : v >> 8)};
    put(f, b, 2);
}

static void file_header(struct file *f, uint32_t snaplen)
{
    put32(f, f->nanos ? 0xa1b23c4d : 0xa1b2c3d4);
    put16(f, 2);
    put16(f, 4);
    put32(f, 0);
    put32(f, 0);
    put32(f, snaplen);
    put32(f, 101); /* LINKTYPE_RAW */
}

/* frac is microseconds, or nanoseconds in a nanosecond file. */
static void record(struct file *f, uint32_t sec, uint32_t frac, const uint8_t *pkt, uint32_t caplen, uint32_t len)
{
    put32(f, sec);
    put32(f, frac);
    put32(f, caplen);
    put32(f, len);
    put(f, pkt, caplen);
}

/* Segment k of connection `conn`: a handshake, data both ways, a close. */
static size_t segment(uint8_t *buf, size_t cap, unsigned conn, unsigned k, uint32_t payload)
{
    static uint8_t data[2000];
    struct wire_seg s;
    memset(&s, 0, sizeof s);
    bool c2s = k % 2 == 0;
    struct wire_addr ca = wire_addr_v4(0x0a000000u + 1 + conn), sa = wire_addr_v4(0x0a640001);
    s.tuple.src = c2s ? ca : sa;
    s.tuple.dst = c2s ? sa : ca;
    s.tuple.sport = c2s ? (uint16_t)(40000 + conn) : 80;
    s.tuple.dport = c2s ? 80 : (uint16_t)(40000 + conn);
    s.ip_version = 4;
    static const uint8_t flags[] = {WIRE_SYN, WIRE_SYN | WIRE_ACK, WIRE_ACK, WIRE_PSH | WIRE_ACK,
                                    WIRE_PSH | WIRE_ACK, WIRE_FIN | WIRE_ACK, WIRE_FIN | WIRE_ACK, WIRE_ACK};
    s.flags = flags[k % 8];
    uint32_t isn_c = 1000 * conn, isn_s = 7000 * conn + 1;
    uint32_t req = k >= 4 ? payload : 0, resp = k >= 5 ? payload : 0;
    uint32_t fin_c = k >= 6 ? 1 : 0, fin_s = k >= 7 ? 1 : 0;
    if (c2s) {
        s.seq = isn_c + (k ? 1 : 0) + req;
        s.ack = isn_s + 1 + resp + fin_s;
    } else {
        s.seq = isn_s + (k > 1 ? 1 : 0) + resp;
        s.ack = isn_c + 1 + req + fin_c;
    }
    s.window = 1000;
    s.payload = data;
    s.payload_len = (k == 3 || k == 4) ? payload : 0;
    return wire_build(buf, cap, &s);
}

/* ---- running both readers ---- */
static struct tt_result ours, ref;

static void on_conn(void *ctx, const struct track_conn_info *c)
{
    struct tt_result *r = ctx;
    if (r->nconns < TT_MAX_CONNS)
        r->conns[r->nconns++] = *c;
}

/* libpcap reads; frames go to the tracker as track_capture_feed gives
 * them when libpcap reads (track_capture.c). Returns 0 or -1 (read error). */
static int run_reference(const char *path, struct tt_result *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
    assert_non_null(p);
    struct track_config cfg;
    track_config_default(&cfg);
    struct track_sink sink = {.conn = on_conn, .ctx = r};
    struct track *t = track_new(&cfg, &sink);
    assert_non_null(t);
    int dlt = pcap_datalink(p), rc;
    struct pcap_pkthdr *h;
    const u_char *data;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        tcp_time_t now = 0;
        if (h->ts.tv_sec > 0 || (h->ts.tv_sec == 0 && h->ts.tv_usec > 0))
            now = (tcp_time_t)h->ts.tv_sec * 1000000u + (tcp_time_t)(h->ts.tv_usec % 1000000);
        track_frame(t, dlt, now, data, h->caplen, h->len);
    }
    if (rc != PCAP_ERROR_BREAK)
        snprintf(err, errlen, "%s", pcap_geterr(p));
    track_flush(t);
    r->stats = *track_get_stats(t);
    track_free(t);
    pcap_close(p);
    return rc == PCAP_ERROR_BREAK ? 0 : -1;
}

static void check_same(const char *path, bool expect_error)
{
    char err1[256] = "", err2[256] = "";
    int rc1 = tt_run(path, NULL, &ours, err1, sizeof err1);
    int rc2 = run_reference(path, &ref, err2, sizeof err2);
    assert_int_equal(rc1, expect_error ? -1 : 0);
    assert_int_equal(rc2, expect_error ? -1 : 0);
    if (expect_error) {
        assert_non_null(strstr(err1, "truncated"));
        assert_non_null(strstr(err2, "truncated"));
        return; /* tt_run keeps no results on an error; the frames read before are compared elsewhere */
    }
    assert_int_equal(ours.stats.frames, ref.stats.frames);
    assert_int_equal(ours.stats.frame_bytes, ref.stats.frame_bytes);
    assert_int_equal(ours.stats.segments, ref.stats.segments);
    assert_int_equal(ours.stats.truncated, ref.stats.truncated);
    assert_int_equal(ours.stats.garbage, ref.stats.garbage);
    assert_int_equal(ours.nconns, ref.nconns);
    for (size_t i = 0; i < ours.nconns; i++) {
        const struct track_conn_info *a = &ours.conns[i], *b = &ref.conns[i];
        assert_string_equal(a->uid, b->uid);
        assert_int_equal(a->ts, b->ts);
        assert_int_equal(a->duration, b->duration);
        assert_string_equal(a->history, b->history);
        assert_int_equal(a->orig_pkts, b->orig_pkts);
        assert_int_equal(a->resp_pkts, b->resp_pkts);
        assert_int_equal(a->orig_ip_bytes, b->orig_ip_bytes);
        assert_int_equal(a->resp_ip_bytes, b->resp_ip_bytes);
        assert_int_equal(a->orig_bytes, b->orig_bytes);
        assert_int_equal(a->resp_bytes, b->resp_bytes);
        assert_int_equal(a->conn_state, b->conn_state);
    }
}

/* conns connections of 8 segments, interleaved, payload bytes each. */
static void conversation_file(struct file *f, unsigned conns, uint32_t payload, uint32_t snaplen)
{
    uint8_t pkt[WIRE_MAX_HEADER + 2000];
    file_header(f, snaplen);
    uint32_t n = 0;
    for (unsigned k = 0; k < 8; k++)
        for (unsigned c = 0; c < conns; c++, n++) {
            size_t len = segment(pkt, sizeof pkt, c, k, payload);
            assert_true(len > 0);
            uint32_t us = n * 1500;
            uint32_t frac = f->nanos ? (us % 1000000) * 1000 + 123 : us % 1000000;
            uint32_t cap = (uint32_t)len < snaplen ? (uint32_t)len : snaplen;
            record(f, 1700000000u + us / 1000000, frac, pkt, cap, (uint32_t)len);
        }
}

static void write_and_check(struct file *f, const char *name, bool expect_error)
{
    const char *path = tt_path(name);
    tt_write_file(path, f->b, f->n);
    check_same(path, expect_error);
    free(f->b);
}

static void test_little_endian_micro(void **state)
{
    (void)state;
    struct file f = {0};
    conversation_file(&f, 20, 300, 65535);
    write_and_check(&f, "le-us.pcap", false);
    assert_int_equal(ours.nconns, 20);
}

static void test_big_endian_micro(void **state)
{
    (void)state;
    struct file f = {.big_endian = true};
    conversation_file(&f, 20, 300, 65535);
    write_and_check(&f, "be-us.pcap", false);
    assert_int_equal(ours.nconns, 20);
}

static void test_nanoseconds_both_orders(void **state)
{
    (void)state;
    struct file f = {.nanos = true};
    conversation_file(&f, 10, 100, 65535);
    write_and_check(&f, "le-ns.pcap", false);
    struct file g = {.nanos = true, .big_endian = true};
    conversation_file(&g, 10, 100, 65535);
    write_and_check(&g, "be-ns.pcap", false);
    assert_int_equal(ours.nconns, 10);
}

/* The header says 80 bytes, the records hold more: libpcap keeps the
 * first 80 and skips the rest of each; so must we. */
static void test_records_longer_than_snaplen(void **state)
{
    (void)state;
    struct file f = {0};
    uint8_t pkt[WIRE_MAX_HEADER + 2000];
    file_header(&f, 80);
    for (unsigned k = 0; k < 8; k++) {
        size_t len = segment(pkt, sizeof pkt, 1, k, 500);
        record(&f, 1700000000u, k * 1000, pkt, (uint32_t)len, (uint32_t)len);
    }
    write_and_check(&f, "over-snaplen.pcap", false);
    assert_int_equal(ours.stats.frames, 8);
    assert_true(ours.stats.truncated > 0);
}

/* More than a read buffer (1 MiB): records straddle the refills. */
static void test_file_larger_than_the_buffer(void **state)
{
    (void)state;
    struct file f = {0};
    conversation_file(&f, 1000, 1400, 65535);
    assert_true(f.n > (2u << 20));
    write_and_check(&f, "large.pcap", false);
    assert_int_equal(ours.stats.frames, 8000);
    assert_int_equal(ours.nconns, 1000);
}

/* Microseconds past a second, stamps before 1970 (negative seconds in
 * libpcap's signed fields), zero. */
static void test_odd_timestamps(void **state)
{
    (void)state;
    struct file f = {0};
    uint8_t pkt[WIRE_MAX_HEADER + 2000];
    file_header(&f, 65535);
    static const uint32_t secs[] = {1700000000u, 1700000000u, 0, 0xfffffff0u, 1700000001u, 0x80000000u, 5, 6};
    static const uint32_t fracs[] = {1500000, 0xffffffffu, 0, 7, 999999, 1, 2000000000u, 3};
    for (unsigned k = 0; k < 8; k++) {
        size_t len = segment(pkt, sizeof pkt, 2, k, 10);
        record(&f, secs[k], fracs[k], pkt, (uint32_t)len, (uint32_t)len);
    }
    write_and_check(&f, "odd-times.pcap", false);
    assert_int_equal(ours.stats.frames, 8);
}

static void test_truncated_tail(void **state)
{
    (void)state;
    struct file f = {0};
    conversation_file(&f, 3, 200, 65535);
    f.n -= 5;
    write_and_check(&f, "cut.pcap", true);
    struct file g = {0};
    conversation_file(&g, 3, 200, 65535);
    g.n -= 40 + 16 - 7; /* the last record cut inside its header */
    write_and_check(&g, "cut-header.pcap", true);
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
        cmocka_unit_test(test_little_endian_micro),       cmocka_unit_test(test_big_endian_micro),
        cmocka_unit_test(test_nanoseconds_both_orders),   cmocka_unit_test(test_records_longer_than_snaplen),
        cmocka_unit_test(test_file_larger_than_the_buffer), cmocka_unit_test(test_odd_timestamps),
        cmocka_unit_test(test_truncated_tail),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
