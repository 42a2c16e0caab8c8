/* The pcap writer: what it writes reads back with libpcap, byte for byte,
 * with the virtual timestamps and LINKTYPE_RAW. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "link/pcap_writer.h"
#include "wire/wire.h"

static size_t build(uint8_t *buf, size_t cap, uint8_t flags, uint32_t seq, const char *payload, bool v6)
{
    struct wire_seg s = {0};
    if (v6) {
        uint8_t a[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        uint8_t b[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
        s.tuple.src = wire_addr_v6(a);
        s.tuple.dst = wire_addr_v6(b);
        s.ip_version = 6;
    } else {
        s.tuple.src = wire_addr_v4(0x0a000001);
        s.tuple.dst = wire_addr_v4(0x0a000002);
        s.ip_version = 4;
    }
    s.tuple.sport = 40000;
    s.tuple.dport = 80;
    s.flags = flags;
    s.seq = seq;
    s.window = 64240;
    s.payload = (const uint8_t *)payload;
    s.payload_len = payload ? (uint32_t)strlen(payload) : 0;
    size_t len = wire_build(buf, cap, &s);
    assert_true(len > 0);
    return len;
}

static void test_roundtrip(void **state)
{
    (void)state;
    char path[] = "/tmp/synack-pcap-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);

    uint8_t p[3][200];
    size_t len[3];
    tcp_time_t at[3] = {0, TCP_MSEC(10), TCP_SEC(127) + 42};
    len[0] = build(p[0], sizeof p[0], WIRE_SYN, 1000, NULL, false);
    len[1] = build(p[1], sizeof p[1], WIRE_ACK | WIRE_PSH, 1001, "hello", false);
    len[2] = build(p[2], sizeof p[2], WIRE_FIN | WIRE_ACK, 1006, NULL, true);

    char err[256];
    struct pcap_writer *w = pcap_writer_open(path, err, sizeof err);
    assert_non_null(w);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pcap_writer_write(w, at[i], p[i], len[i]), 0);
    assert_int_equal(pcap_writer_write(w, 0, p[0], 0), -1);
    assert_int_equal(pcap_writer_count(w), 3);
    pcap_writer_close(w);

    char perr[PCAP_ERRBUF_SIZE];
    pcap_t *r = pcap_open_offline(path, perr);
    assert_non_null(r);
    assert_int_equal(pcap_datalink(r), DLT_RAW);
    for (int i = 0; i < 3; i++) {
        struct pcap_pkthdr *h;
        const u_char *data;
        assert_int_equal(pcap_next_ex(r, &h, &data), 1);
        assert_int_equal(h->caplen, len[i]);
        assert_int_equal(h->len, len[i]);
        assert_int_equal((tcp_time_t)h->ts.tv_sec * 1000000u + (tcp_time_t)h->ts.tv_usec, at[i]);
        assert_memory_equal(data, p[i], len[i]);
        struct wire_seg seg;
        assert_int_equal(wire_parse(data, h->caplen, 0, &seg), WIRE_ERR_OK);
    }
    struct pcap_pkthdr *h;
    const u_char *data;
    assert_int_equal(pcap_next_ex(r, &h, &data), PCAP_ERROR_BREAK);
    pcap_close(r);
    unlink(path);
}

static void test_open_failure_is_reported(void **state)
{
    (void)state;
    char err[256] = "";
    struct pcap_writer *w = pcap_writer_open("/nonexistent-dir/x.pcap", err, sizeof err);
    assert_null(w);
    assert_true(strlen(err) > 0);
    pcap_writer_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_open_failure_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
