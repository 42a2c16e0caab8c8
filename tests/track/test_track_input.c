/* Capture input: every link type, pcapng, snaplen-truncated frames, bad
 * checksums, garbage frames (counted, never fatal) and corrupted files
 * (one clear error, never a crash). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <string.h>

#include "track_test_util.h"

#define A true
#define B false

static struct tt_result result;

/* A full connection: handshake, data both ways, FIN exchange. */
static void conversation(struct tt_conv *c, double t, uint32_t len)
{
    tt_send(c, t, A, "S", 1000, 0, 0, 64240);
    tt_send(c, t + 0.1, B, "S.", 5000, 1001, 0, 65160);
    tt_send(c, t + 0.2, A, ".", 1001, 5001, 0, 502);
    tt_send(c, t + 0.3, A, "P.", 1001, 5001, len, 502);
    tt_send(c, t + 0.4, B, "P.", 5001, 1001 + len, len, 509);
    tt_send(c, t + 0.5, A, "F.", 1001 + len, 5001 + len, 0, 501);
    tt_send(c, t + 0.6, B, "F.", 5001 + len, 1002 + len, 0, 509);
    tt_send(c, t + 0.7, A, ".", 1002 + len, 5002 + len, 0, 501);
}

static void check_sf(const struct track_conn_info *c, uint32_t len)
{
    assert_non_null(c);
    assert_string_equal(track_conn_state_name(c->conn_state), "SF");
    assert_string_equal(c->history, "ShADdFf");
    assert_int_equal(c->orig_bytes, len);
    assert_int_equal(c->resp_bytes, len);
    assert_int_equal(c->missed_bytes, 0);
    assert_string_equal(track_state_name(c->orig_state), "TIME-WAIT");
    assert_string_equal(track_state_name(c->resp_state), "CLOSED");
}

static void run_link(enum tt_link link, const char *name, bool v6)
{
    struct tt_gen g;
    const char *path = tt_path(name);
    assert_int_equal(tt_open(&g, path, link), 0);
    struct tt_conv c;
    tt_conv_init(&c, &g, "10.0.0.1:40000", "10.0.0.2:8080");
    conversation(&c, 1.0, 100);
    if (v6) {
        struct tt_conv c6;
        tt_conv_init(&c6, &g, "[fd00::1]:40001", "[fd00::2]:8081");
        conversation(&c6, 2.0, 200);
    }
    tt_close(&g);
    char err[256];
    assert_int_equal(tt_run(path, NULL, &result, err, sizeof err), 0);
    assert_int_equal(result.nconns, v6 ? 2 : 1);
    check_sf(tt_conn_by_port(&result, 40000), 100);
    if (v6)
        check_sf(tt_conn_by_port(&result, 40001), 200);
    assert_int_equal(result.stats.garbage, 0);
    assert_int_equal(result.stats.bad_tcp_checksum, 0);
    assert_int_equal(result.stats.segments, v6 ? 16 : 8);
}

static void test_link_raw(void **state)
{
    (void)state;
    run_link(TT_RAW, "raw.pcap", true);
}

static void test_link_ipv4(void **state)
{
    (void)state;
    run_link(TT_IPV4, "ipv4.pcap", false);
}

static void test_link_ethernet(void **state)
{
    (void)state;
    run_link(TT_ETHER, "ether.pcap", true);
}

static void test_link_vlan(void **state)
{
    (void)state;
    run_link(TT_VLAN, "vlan.pcap", true);
}

static void test_link_qinq(void **state)
{
    (void)state;
    run_link(TT_QINQ, "qinq.pcap", true);
}

static void test_link_sll(void **state)
{
    (void)state;
    run_link(TT_SLL, "sll.pcap", true);
}

static void test_link_sll2(void **state)
{
    (void)state;
    run_link(TT_SLL2, "sll2.pcap", true);
}

static void test_link_null(void **state)
{
    (void)state;
    run_link(TT_NULL, "null.pcap", true);
}

static void test_link_loop(void **state)
{
    (void)state;
    run_link(TT_LOOP, "loop.pcap", true);
}

/* ---- pcapng, written by hand: SHB, IDB, EPBs (pcapng spec §4) ---- */

static size_t put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
    return 4;
}

static void test_pcapng(void **state)
{
    (void)state;
    /* Craft the packets into a raw pcap first, then re-wrap them. */
    struct tt_gen g;
    const char *tmp = tt_path("ng-src.pcap");
    assert_int_equal(tt_open(&g, tmp, TT_ETHER), 0);
    struct tt_conv c;
    tt_conv_init(&c, &g, "10.0.0.1:40000", "10.0.0.2:8080");
    conversation(&c, 1.0, 100);
    tt_close(&g);

    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *in = pcap_open_offline(tmp, errbuf);
    assert_non_null(in);
    static uint8_t out[65536];
    size_t n = 0;
    /* Section Header Block */
    n += put32(out + n, 0x0a0d0d0a);
    n += put32(out + n, 28);
    n += put32(out + n, 0x1a2b3c4d);
    out[n++] = 1, out[n++] = 0, out[n++] = 0, out[n++] = 0; /* version 1.0 */
    n += put32(out + n, 0xffffffff);
    n += put32(out + n, 0xffffffff); /* section length unknown */
    n += put32(out + n, 28);
    /* Interface Description Block: Ethernet */
    n += put32(out + n, 1);
    n += put32(out + n, 20);
    out[n++] = DLT_EN10MB, out[n++] = 0, out[n++] = 0, out[n++] = 0;
    n += put32(out + n, 65535);
    n += put32(out + n, 20);
    struct pcap_pkthdr *h;
    const u_char *data;
    while (pcap_next_ex(in, &h, &data) == 1) {
        uint32_t padded = (h->caplen + 3) & ~3u;
        uint32_t blen = 32 + padded;
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        n += put32(out + n, 6);
        n += put32(out + n, blen);
        n += put32(out + n, 0);
        n += put32(out + n, (uint32_t)(ts >> 32));
        n += put32(out + n, (uint32_t)ts);
        n += put32(out + n, h->caplen);
        n += put32(out + n, h->len);
        memset(out + n, 0, padded);
        memcpy(out + n, data, h->caplen);
        n += padded;
        n += put32(out + n, blen);
    }
    pcap_close(in);
    const char *path = tt_path("capture.pcapng");
    tt_write_file(path, out, n);
    char err[256];
    assert_int_equal(tt_run(path, NULL, &result, err, sizeof err), 0);
    assert_int_equal(result.nconns, 1);
    check_sf(&result.conns[0], 100);
    assert_int_equal(result.conns[0].ts, 1000000);
}

static void test_snaplen_truncated_frames_still_track(void **state)
{
    (void)state;
    struct tt_gen g;
    const char *path = tt_path("snap.pcap");
    assert_int_equal(tt_open(&g, path, TT_ETHER), 0);
    g.snaplen = 64; /* Ethernet + IPv4 + TCP with MSS: headers only */
    struct tt_conv c;
    tt_conv_init(&c, &g, "10.0.0.1:40000", "10.0.0.2:8080");
    conversation(&c, 1.0, 1000);
    tt_close(&g);
    char err[256];
    assert_int_equal(tt_run(path, NULL, &result, err, sizeof err), 0);
    check_sf(&result.conns[0], 1000);
    assert_int_equal(result.stats.truncated, 2);
    assert_int_equal(result.stats.unchecked, 2);
    assert_int_equal(result.stats.garbage, 0);
    /* Zeek's IP byte counts come from the IP header, not the capture. */
    assert_int_equal(result.conns[0].orig_ip_bytes, 44 + 40 + 1040 + 40 + 40);
}

static void test_bad_checksums_tracked_by_default(void **state)
{
    (void)state;
    struct tt_gen g;
    const char *path = tt_path("csum.pcap");
    assert_int_equal(tt_open(&g, path, TT_ETHER), 0);
    struct tt_conv c;
    tt_conv_init(&c, &g, "10.0.0.1:40000", "10.0.0.2:8080");
    tt_send(&c, 1.0, A, "S", 1000, 0, 0, 64240);
    tt_send(&c, 1.1, B, "S.", 5000, 1001, 0, 65160);
    tt_send(&c, 1.2, A, ".", 1001, 5001, 0, 502);
    tt_send(&c, 1.5, A, "F.", 1001, 5001, 0, 501);
    g.corrupt_next_checksum = true; /* the responder's FIN */
    tt_send(&c, 1.6, B, "F.", 5001, 1002, 0, 509);
    tt_send(&c, 1.7, A, ".", 1002, 5002, 0, 501);
    tt_close(&g);
    char err[256];
    /* Default: counted, tracked anyway (offloaded checksums are common). */
    assert_int_equal(tt_run(path, NULL, &result, err, sizeof err), 0);
    assert_int_equal(result.stats.bad_tcp_checksum, 1);
    assert_string_equal(track_conn_state_name(result.conns[0].conn_state), "SF");
    assert_string_equal(result.conns[0].history, "ShAFf");
    /* Zeek's way: 'c' in the history and the segment dropped. */
    struct track_config cfg;
    track_config_default(&cfg);
    cfg.verify_checksums = true;
    assert_int_equal(tt_run(path, &cfg, &result, err, sizeof err), 0);
    assert_string_equal(result.conns[0].history, "ShAFc");
    assert_string_equal(track_conn_state_name(result.conns[0].conn_state), "S2");
    assert_true(tt_has_anomaly(&result.conns[0], TRACK_ANOM_BAD_TCP_CHECKSUM));
    assert_int_equal(result.conns[0].resp_pkts, 1);
}

static void put16be(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* A minimal IPv4 header (checksum not filled: parsing is lenient). */
static size_t ipv4(uint8_t *p, uint8_t proto, uint16_t total, uint8_t ihl_words)
{
    memset(p, 0, 20);
    p[0] = (uint8_t)(0x40 | ihl_words);
    put16be(p + 2, total);
    p[8] = 64;
    p[9] = proto;
    p[12] = 10, p[15] = 1;
    p[16] = 10, p[19] = 2;
    return 20;
}

static void test_garbage_frames_counted_never_fatal(void **state)
{
    (void)state;
    struct tt_gen g;
    const char *path = tt_path("garbage.pcap");
    assert_int_equal(tt_open(&g, path, TT_ETHER), 0);
    uint8_t f[200];
    static const uint8_t macs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
    tcp_time_t t = 500000;
    /* ARP */
    memset(f, 0, sizeof f);
    memcpy(f, macs, 12);
    put16be(f + 12, 0x0806);
    tt_write_raw(&g, t++, f, 42, 42);
    /* too short for an Ethernet header */
    tt_write_raw(&g, t++, f, 10, 10);
    /* IPv4 with IHL 3 */
    put16be(f + 12, 0x0800);
    ipv4(f + 14, 6, 40, 3);
    tt_write_raw(&g, t++, f, 54, 54);
    /* IPv4 claiming 1000 bytes in a 60-byte frame */
    ipv4(f + 14, 6, 1000, 5);
    tt_write_raw(&g, t++, f, 60, 60);
    /* UDP */
    ipv4(f + 14, 17, 28, 5);
    tt_write_raw(&g, t++, f, 60, 60);
    /* a fragment */
    ipv4(f + 14, 6, 40, 5);
    put16be(f + 14 + 6, 0x2000); /* MF */
    tt_write_raw(&g, t++, f, 60, 60);
    /* TCP with data offset 15 in a 20-byte segment */
    ipv4(f + 14, 6, 40, 5);
    memset(f + 34, 0, 20);
    put16be(f + 34, 1234);
    put16be(f + 36, 80);
    f[34 + 12] = 0xf0;
    tt_write_raw(&g, t++, f, 54, 54);
    /* IP version 7 */
    f[14] = 0x75;
    tt_write_raw(&g, t++, f, 54, 54);
    /* TCP with ports 0 */
    ipv4(f + 14, 6, 40, 5);
    memset(f + 34, 0, 20);
    f[34 + 12] = 0x50;
    f[34 + 13] = 0x02;
    tt_write_raw(&g, t++, f, 54, 54);
    /* Then a real connection, with Ethernet padding on the small frames. */
    struct tt_conv c;
    tt_conv_init(&c, &g, "10.0.0.1:40000", "10.0.0.2:8080");
    conversation(&c, 1.0, 100);
    tt_close(&g);

    char err[256];
    assert_int_equal(tt_run(path, NULL, &result, err, sizeof err), 0);
    assert_int_equal(result.nconns, 1);
    check_sf(&result.conns[0], 100);
    const struct track_stats *st = &result.stats;
    assert_int_equal(st->frames, 9 + 8);
    assert_int_equal(st->not_ip, 1);
    assert_int_equal(st->not_tcp, 1);
    assert_int_equal(st->fragments, 1);
    assert_int_equal(st->garbage, 6);
    assert_int_equal(st->garbage_by_reason[WIRE_ERR_TRUNCATED_IP], 1);
    assert_int_equal(st->garbage_by_reason[WIRE_ERR_BAD_IHL], 1);
    assert_int_equal(st->garbage_by_reason[WIRE_ERR_BAD_IP_LENGTH], 1);
    assert_int_equal(st->garbage_by_reason[WIRE_ERR_BAD_DATA_OFFSET], 1);
    assert_int_equal(st->garbage_by_reason[WIRE_ERR_BAD_IP_VERSION], 1);
    assert_int_equal(st->garbage_by_reason[WIRE_ERR_PORT_ZERO], 1);
}

/* Mutated frames of every link type: counted, never a crash (under ASan
 * and UBSan in CI). A deterministic smoke test; the fuzz target goes
 * further. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)rng_state;
}

static void test_mutated_frames_never_crash(void **state)
{
    (void)state;
    static const enum tt_link links[] = {TT_RAW, TT_ETHER, TT_VLAN, TT_QINQ, TT_SLL, TT_SLL2, TT_NULL, TT_LOOP};
    struct track_config cfg;
    track_config_default(&cfg);
    cfg.max_conns = 64;
    struct track *t = track_new(&cfg, NULL);
    assert_non_null(t);
    uint64_t fed = 0;
    for (size_t l = 0; l < sizeof links / sizeof links[0]; l++) {
        struct tt_gen g;
        const char *path = tt_path("mutate.pcap");
        assert_int_equal(tt_open(&g, path, links[l]), 0);
        struct tt_conv c;
        tt_conv_init(&c, &g, "10.0.0.1:40000", "10.0.0.2:8080");
        conversation(&c, 1.0, 100);
        struct tt_conv c6;
        tt_conv_init(&c6, &g, "[fd00::1]:40001", "[fd00::2]:8081");
        conversation(&c6, 2.0, 1000);
        tt_close(&g);
        char errbuf[PCAP_ERRBUF_SIZE];
        pcap_t *p = pcap_open_offline(path, errbuf);
        assert_non_null(p);
        int dlt = pcap_datalink(p);
        struct pcap_pkthdr *h;
        const u_char *data;
        static uint8_t frame[2048];
        tcp_time_t now = 1000000;
        while (pcap_next_ex(p, &h, &data) == 1) {
            for (int round = 0; round < 400; round++) {
                size_t len = h->caplen < sizeof frame ? h->caplen : sizeof frame;
                memcpy(frame, data, len);
                int flips = 1 + (int)(rng() % 4);
                for (int k = 0; k < flips; k++)
                    frame[rng() % len] ^= (uint8_t)(1u << (rng() % 8));
                if (rng() % 4 == 0) /* random lengths field values */
                    frame[rng() % len] = (uint8_t)rng();
                size_t cap = rng() % 3 == 0 ? rng() % (len + 1) : len;
                size_t wire = rng() % 5 == 0 ? cap + rng() % 70000 : cap;
                track_frame(t, dlt, now, frame, cap, wire);
                now += rng() % 2000000;
                fed++;
            }
        }
        pcap_close(p);
    }
    assert_int_equal(track_get_stats(t)->frames, fed);
    track_flush(t);
    assert_int_equal(track_get_stats(t)->active, 0);
    track_free(t);
}

/* ---- corrupted files: a clear error naming the file, never a crash ---- */

static void expect_error(const char *path, const char *needle)
{
    char err[256] = "";
    int rc = tt_run(path, NULL, &result, err, sizeof err);
    assert_int_equal(rc, -1);
    assert_true(strlen(err) > 0);
    assert_non_null(strstr(err, path));
    assert_null(strchr(err, '\n'));
    if (needle && !strstr(err, needle)) {
        print_error("error \"%s\" lacks \"%s\"\n", err, needle);
        fail();
    }
}

static size_t pcap_header(uint8_t *p, uint32_t snaplen, uint32_t linktype)
{
    put32(p, 0xa1b2c3d4);
    p[4] = 2, p[5] = 0, p[6] = 4, p[7] = 0; /* version 2.4, little-endian */
    memset(p + 8, 0, 8);
    put32(p + 16, snaplen);
    put32(p + 20, linktype);
    return 24;
}

static void test_missing_file(void **state)
{
    (void)state;
    expect_error(tt_path("does-not-exist.pcap"), "No such file");
}

static void test_empty_file(void **state)
{
    (void)state;
    const char *path = tt_path("empty.pcap");
    tt_write_file(path, "", 0);
    expect_error(path, NULL);
}

static void test_truncated_header(void **state)
{
    (void)state;
    uint8_t buf[24];
    pcap_header(buf, 65535, 1);
    const char *path = tt_path("short-header.pcap");
    tt_write_file(path, buf, 10);
    expect_error(path, "truncated");
}

static void test_wrong_magic(void **state)
{
    (void)state;
    const char *path = tt_path("magic.pcap");
    tt_write_file(path, "this is not a capture file at all\n", 34);
    expect_error(path, "format");
}

static void test_absurd_record_length(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = pcap_header(buf, 65535, 1);
    put32(buf + n, 1), put32(buf + n + 4, 0);
    put32(buf + n + 8, 0xfffffff0u); /* caplen */
    put32(buf + n + 12, 0xfffffff0u);
    n += 16;
    const char *path = tt_path("absurd.pcap");
    tt_write_file(path, buf, n);
    expect_error(path, NULL);
}

static void test_truncated_record(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = pcap_header(buf, 65535, 1);
    put32(buf + n, 1), put32(buf + n + 4, 0);
    put32(buf + n + 8, 100);
    put32(buf + n + 12, 100);
    n += 16;
    memset(buf + n, 0xab, 10);
    n += 10;
    const char *path = tt_path("cut-record.pcap");
    tt_write_file(path, buf, n);
    expect_error(path, "truncated");
}

static void test_unsupported_link_type(void **state)
{
    (void)state;
    uint8_t buf[24];
    pcap_header(buf, 65535, 147); /* LINKTYPE_USER0 */
    const char *path = tt_path("user0.pcap");
    tt_write_file(path, buf, sizeof buf);
    expect_error(path, "not supported");
}

static void test_corrupted_pcapng_block(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = 0;
    n += put32(buf + n, 0x0a0d0d0a);
    n += put32(buf + n, 0xfffffff0u); /* absurd block length */
    n += put32(buf + n, 0x1a2b3c4d);
    const char *path = tt_path("bad.pcapng");
    tt_write_file(path, buf, n);
    expect_error(path, NULL);
}

static void test_absurd_snaplen_in_header(void **state)
{
    (void)state;
    /* A header snaplen of 4 GB and one sane record: libpcap copes; we must
     * either track it or fail cleanly, never crash. */
    uint8_t buf[128];
    size_t n = pcap_header(buf, 0xffffffffu, 101);
    uint8_t pkt[40];
    ipv4(pkt, 6, 40, 5);
    memset(pkt + 20, 0, 20);
    put16be(pkt + 20, 40000);
    put16be(pkt + 22, 80);
    pkt[32] = 0x50;
    pkt[33] = 0x02;
    put32(buf + n, 1), put32(buf + n + 4, 0), put32(buf + n + 8, 40), put32(buf + n + 12, 40);
    n += 16;
    memcpy(buf + n, pkt, 40);
    n += 40;
    const char *path = tt_path("bigsnap.pcap");
    tt_write_file(path, buf, n);
    char err[256] = "";
    int rc = tt_run(path, NULL, &result, err, sizeof err);
    if (rc == 0)
        assert_int_equal(result.nconns, 1);
    else
        assert_non_null(strstr(err, path));
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
        cmocka_unit_test(test_link_raw),
        cmocka_unit_test(test_link_ipv4),
        cmocka_unit_test(test_link_ethernet),
        cmocka_unit_test(test_link_vlan),
        cmocka_unit_test(test_link_qinq),
        cmocka_unit_test(test_link_sll),
        cmocka_unit_test(test_link_sll2),
        cmocka_unit_test(test_link_null),
        cmocka_unit_test(test_link_loop),
        cmocka_unit_test(test_pcapng),
        cmocka_unit_test(test_snaplen_truncated_frames_still_track),
        cmocka_unit_test(test_bad_checksums_tracked_by_default),
        cmocka_unit_test(test_garbage_frames_counted_never_fatal),
        cmocka_unit_test(test_mutated_frames_never_crash),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_truncated_header),
        cmocka_unit_test(test_wrong_magic),
        cmocka_unit_test(test_absurd_record_length),
        cmocka_unit_test(test_truncated_record),
        cmocka_unit_test(test_unsupported_link_type),
        cmocka_unit_test(test_corrupted_pcapng_block),
        cmocka_unit_test(test_absurd_snaplen_in_header),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
