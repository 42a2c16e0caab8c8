/* Interop row 10: IPv6 (RFC 8200) for handshake, data and close, both
 * ways; synack's SYN-ACK announces an MSS that fits the device MTU with
 * the 40-byte IPv6 header (1500 - 60 = 1440), and nothing it sends is
 * larger than the MTU. */
#include "interop.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/http.h"
#include "wire/wire.h"

static void test_kernel_client_v6(void **state)
{
    (void)state;
    IO_REQUIRE();
    char pcap_path[128];
    snprintf(pcap_path, sizeof pcap_path, "/tmp/synack-io-%d-v6.pcap", (int)getpid());
    io_remove_later(pcap_path);
    struct io_synack *s = io_serve("http", true, "--pcap", pcap_path, NULL);
    /* kernel closes first */
    int fd = io_dial(s->synack6, 80, 5000);
    assert_true(fd >= 0);
    int port = io_local_port(fd);
    assert_true(io_wait_kernel_state(port, "ESTAB", 5000));
    static const char get[] = "GET /bytes/200000 HTTP/1.1\r\nHost: synack\r\n\r\n";
    assert_true(io_send_all(fd, get, sizeof get - 1));
    static char buf[210000];
    int status;
    assert_int_equal(io_http_response(fd, buf, sizeof buf, &status, 10000), 200000);
    assert_int_equal(status, 200);
    close(fd);
    assert_true(io_wait_kernel_state(port, "TIME-WAIT", 5000));
    assert_true(io_wait_synack_count(s, NULL, port, 0, 5000));

    /* synack closes first */
    fd = io_dial(s->synack6, 80, 5000);
    assert_true(fd >= 0);
    port = io_local_port(fd);
    static const char close_req[] = "GET / HTTP/1.1\r\nHost: synack\r\nConnection: close\r\n\r\n";
    assert_true(io_send_all(fd, close_req, sizeof close_req - 1));
    int err;
    size_t n = io_recv_all(fd, buf, sizeof buf - 1, 5000, &err);
    buf[n] = '\0';
    assert_int_equal(err, 0);
    assert_non_null(strstr(buf, HTTP_HELLO_BODY));
    close(fd);
    assert_true(io_wait_synack_count(s, "TIME-WAIT", port, 1, 5000));
    assert_true(io_wait_kernel_state(port, "", 5000));
    assert_int_equal(io_counter(s, "InCsumErrors"), 0);
    assert_int_equal(io_stop(s), 0);

    /* What synack put on the wire. */
    char perr[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(pcap_path, perr);
    assert_non_null(p);
    struct pcap_pkthdr *h;
    const u_char *data;
    int synacks = 0, largest = 0;
    while (pcap_next_ex(p, &h, &data) == 1) {
        struct wire_seg seg;
        assert_int_equal(wire_parse(data, h->caplen, 0, &seg), WIRE_ERR_OK);
        assert_int_equal(seg.ip_version, 6);
        char src[WIRE_ADDR_STRLEN];
        if (strcmp(wire_addr_str(&seg.tuple.src, src), s->synack6) != 0)
            continue;
        if ((int)h->len > largest)
            largest = (int)h->len;
        if ((seg.flags & (WIRE_SYN | WIRE_ACK)) == (WIRE_SYN | WIRE_ACK)) {
            synacks++;
            assert_true(seg.opt.present & WIRE_OPT_MSS);
            assert_int_equal(seg.opt.mss, 1440);
        }
    }
    pcap_close(p);
    assert_int_equal(synacks, 2);
    assert_true(largest <= 1500);
    print_message("largest IPv6 packet from synack: %d bytes\n", largest);
}

static void test_synack_client_v6(void **state)
{
    (void)state;
    IO_REQUIRE();
    int lfd = io_listen("::", 9110, 4);
    struct io_synack *s = io_connect(9110, true, NULL);
    int fd = io_accept(lfd, 5000);
    assert_true(fd >= 0);
    char buf[256];
    assert_true(io_send_all(s->in_fd, "over v6\n", 8));
    io_recv_until(fd, buf, sizeof buf, "over v6\n", 5000);
    assert_string_equal(buf, "over v6\n");
    assert_true(io_send_all(fd, "back\n", 5));
    io_recv_until(s->out_fd, buf, sizeof buf, "back\n", 5000);
    assert_string_equal(buf, "back\n");
    io_close_stdin(s);
    int err;
    assert_int_equal(io_recv_all(fd, buf, sizeof buf, 5000, &err), 0);
    assert_int_equal(err, 0);
    close(fd);
    int status = io_wait(s, 5000);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_kernel_client_v6, io_teardown),
        cmocka_unit_test_teardown(test_synack_client_v6, io_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
