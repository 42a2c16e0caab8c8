/* Hostile and malformed input on a real wire: segments crafted with the
 * codec and then broken (bad checksum, bad data offset, SYN+FIN, port 0,
 * truncated header, random bytes) are sent to synack through the TUN
 * device with a raw socket, plus an ICMP echo. Each is counted and dropped
 * (or answered as the RFC says); synack keeps serving and exits cleanly. */
#include "interop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/http.h"
#include "wire/wire.h"

static size_t segment(const struct io_synack *s, uint8_t flags, uint16_t sport, uint16_t dport, uint8_t *buf,
                      size_t cap)
{
    struct wire_seg seg;
    memset(&seg, 0, sizeof seg);
    assert_true(wire_addr_parse(s->kernel4, &seg.tuple.src));
    assert_true(wire_addr_parse(s->synack4, &seg.tuple.dst));
    seg.tuple.sport = sport;
    seg.tuple.dport = dport;
    seg.ip_version = 4;
    seg.flags = flags;
    seg.seq = 1000;
    seg.ack = (flags & WIRE_ACK) ? 2000 : 0;
    seg.window = 1000;
    size_t n = wire_build(buf, cap, &seg);
    assert_true(n >= 40);
    return n;
}

static void raw_send(int fd, const struct io_synack *s, const uint8_t *pkt, size_t len)
{
    struct sockaddr_in to = {.sin_family = AF_INET};
    inet_pton(AF_INET, s->synack4, &to.sin_addr);
    assert_int_equal(sendto(fd, pkt, len, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)len);
}

static void test_hostile_segments(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_serve("http", false, NULL);
    int raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW); /* IP_HDRINCL: we write the IP header */
    assert_true(raw >= 0);
    uint8_t pkt[256];
    size_t n;
    int sent_bad = 0;

    n = segment(s, WIRE_SYN, 40000, 80, pkt, sizeof pkt);
    pkt[20 + 16] ^= 0x55; /* TCP checksum */
    raw_send(raw, s, pkt, n);
    sent_bad++;

    n = segment(s, WIRE_SYN, 40001, 80, pkt, sizeof pkt);
    pkt[20 + 12] = 0x30; /* data offset 3 */
    raw_send(raw, s, pkt, n);
    sent_bad++;

    n = segment(s, WIRE_SYN | WIRE_FIN, 40002, 80, pkt, sizeof pkt);
    raw_send(raw, s, pkt, n);
    sent_bad++;

    n = segment(s, WIRE_SYN, 0, 80, pkt, sizeof pkt);
    raw_send(raw, s, pkt, n);
    sent_bad++;

    n = segment(s, WIRE_SYN, 40003, 80, pkt, sizeof pkt);
    raw_send(raw, s, pkt, 30); /* 10 bytes of a TCP header */
    sent_bad++;

    /* Random bytes behind a valid IPv4 header. */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 200; i++) {
        n = segment(s, WIRE_ACK, 40004, 80, pkt, sizeof pkt);
        size_t len = 21 + (size_t)(i % 60);
        for (size_t k = 20; k < len; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            pkt[k] = (uint8_t)x;
        }
        raw_send(raw, s, pkt, len);
    }
    /* An ACK for nothing: answered with a RST (RFC 9293 §3.10.7.1). */
    n = segment(s, WIRE_ACK, 40005, 80, pkt, sizeof pkt);
    raw_send(raw, s, pkt, n);
    close(raw);

    /* An ICMP echo request: counted, not answered. */
    int icmp = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    assert_true(icmp >= 0);
    struct icmphdr echo = {.type = ICMP_ECHO};
    echo.checksum = htons(wire_csum_fold(wire_csum_add(0, &echo, sizeof echo)));
    struct sockaddr_in to = {.sin_family = AF_INET};
    inet_pton(AF_INET, s->synack4, &to.sin_addr);
    assert_int_equal(sendto(icmp, &echo, sizeof echo, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)sizeof echo);
    close(icmp);

    /* Counted... */
    long long deadline = io_now_ms() + 5000;
    while (io_counter(s, "TunInIcmp") < 1 && io_now_ms() < deadline)
        io_sleep_ms(20);
    assert_int_equal(io_counter(s, "TunInIcmp"), 1);
    assert_int_equal(io_counter(s, "InCsumErrors") >= 1, 1);
    uint64_t errs = io_counter(s, "InErrs");
    print_message("InErrs %llu, InCsumErrors %llu, OutRsts %llu, IpInDiscards %llu\n", (unsigned long long)errs,
                  (unsigned long long)io_counter(s, "InCsumErrors"), (unsigned long long)io_counter(s, "OutRsts"),
                  (unsigned long long)io_counter(s, "IpInDiscards"));
    assert_true(errs >= (uint64_t)sent_bad);
    assert_true(io_counter(s, "OutRsts") >= 1);
    assert_int_equal(io_counter(s, "PassiveOpens"), 0);
    assert_int_equal(io_synack_conns(s), 0);
    /* ...and synack still serves. */
    int fd = io_dial(s->synack4, 80, 5000);
    assert_true(fd >= 0);
    static const char get[] = "GET / HTTP/1.1\r\nHost: synack\r\n\r\n";
    assert_true(io_send_all(fd, get, sizeof get - 1));
    char buf[1024];
    int status;
    assert_int_equal(io_http_response(fd, buf, sizeof buf, &status, 5000), (long)strlen(HTTP_HELLO_BODY));
    close(fd);
    assert_int_equal(io_stop(s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_hostile_segments, io_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
