/* Interop row 7: keepalive both ways (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6).
 * synack probes an idle kernel peer and gets its ACKs; the kernel's probes
 * (short TCP_KEEPIDLE) are answered by synack, so neither side gives up. */
#include "interop.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void echo_roundtrip(int fd, const char *msg)
{
    char buf[64];
    assert_true(io_send_all(fd, msg, strlen(msg)));
    io_recv_until(fd, buf, sizeof buf, msg, 5000);
    assert_string_equal(buf, msg);
}

static void test_synack_probes(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_serve("echo", false, "--keepalive", "--sysctl", "tcp_keepalive_time=1",
                                   "tcp_keepalive_intvl=1", "tcp_keepalive_probes=3", NULL);
    int fd = io_dial(s->synack4, 7, 5000);
    assert_true(fd >= 0);
    int port = io_local_port(fd);
    echo_roundtrip(fd, "a");
    const char *argv[] = {SYNACK_BIN, "ss", "-o", "--control", s->control, NULL};
    char out[4096];
    assert_int_equal(io_run(argv, out, sizeof out, 5000), 0);
    assert_non_null(strstr(out, "timer:(keepalive,"));
    io_sleep_ms(3500); /* idle: probes at about 1, 2 and 3 s, each answered */
    uint64_t probes = io_counter(s, "TCPKeepAlive");
    print_message("synack sent %llu keepalive probes in 3.5 s idle\n", (unsigned long long)probes);
    assert_true(probes >= 2);
    assert_int_equal(io_synack_count(s, "ESTABLISHED", port), 1);
    assert_int_equal(io_counter(s, "TCPAbortOnTimeout"), 0);
    echo_roundtrip(fd, "b");
    close(fd);
    assert_int_equal(io_stop(s), 0);
}

static void test_kernel_probes(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_serve("echo", false, NULL);
    int fd = io_dial(s->synack4, 7, 5000);
    assert_true(fd >= 0);
    int one = 1, idle = 1, intvl = 1, cnt = 2;
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one), 0);
    assert_int_equal(setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle), 0);
    assert_int_equal(setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl), 0);
    assert_int_equal(setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt), 0);
    echo_roundtrip(fd, "a");
    uint64_t in0 = io_counter(s, "InSegs"), out0 = io_counter(s, "OutSegs");
    /* Unanswered, the kernel would give up after 1 + 2 * 1 s. */
    io_sleep_ms(4500);
    uint64_t in1 = io_counter(s, "InSegs"), out1 = io_counter(s, "OutSegs");
    print_message("while idle synack received %llu segments and sent %llu\n", (unsigned long long)(in1 - in0),
                  (unsigned long long)(out1 - out0));
    assert_true(in1 - in0 >= 3);  /* the kernel's probes */
    assert_true(out1 - out0 >= 3); /* synack's ACKs */
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
    assert_int_equal(ti.tcpi_state, 1 /* TCP_ESTABLISHED */);
    echo_roundtrip(fd, "b");
    close(fd);
    assert_int_equal(io_stop(s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_synack_probes, io_teardown),
        cmocka_unit_test_teardown(test_kernel_probes, io_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
