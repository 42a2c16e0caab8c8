/* Interop row 5: abortive close (SO_LINGER 0, RFC 9293 §3.10.5 ABORT) each
 * way: a RST, and the other side's next call fails with ECONNRESET. */
#include "interop.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void linger0_close(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(fd);
}

/* The kernel aborts a connection to synack's echo server. */
static void test_kernel_aborts(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_serve("echo", false, NULL);
    int fd = io_dial(s->synack4, 7, 5000);
    assert_true(fd >= 0);
    int port = io_local_port(fd);
    char buf[64];
    assert_true(io_send_all(fd, "ping", 4));
    io_recv_until(fd, buf, sizeof buf, "ping", 5000);
    assert_string_equal(buf, "ping");
    linger0_close(fd);
    /* synack's echo app gets ECONNRESET from recv() and lets go. */
    assert_true(io_wait_events(s, "\"call\":\"recv\",\"result\":\"ECONNRESET\"", NULL, 5000));
    assert_true(io_wait_synack_count(s, NULL, port, 0, 5000));
    assert_int_equal(io_counter(s, "EstabResets"), 1);
    assert_int_equal(io_stop(s), 0);
}

/* synack's HTTP server aborts (/reset): the kernel's recv() fails. */
static void test_synack_server_aborts(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_serve("http", false, NULL);
    int fd = io_dial(s->synack4, 80, 5000);
    assert_true(fd >= 0);
    int port = io_local_port(fd);
    static const char req[] = "GET /reset HTTP/1.1\r\nHost: synack\r\n\r\n";
    assert_true(io_send_all(fd, req, sizeof req - 1));
    char buf[64];
    int err;
    io_recv_all(fd, buf, sizeof buf, 5000, &err);
    assert_int_equal(err, ECONNRESET);
    assert_true(io_events_have(s, "SO_LINGER 0", NULL));
    assert_int_equal(io_counter(s, "TCPAbortOnLinger"), 1);
    assert_true(io_wait_synack_count(s, NULL, port, 0, 5000));
    char st[32];
    io_kernel_state(port, st, sizeof st);
    assert_string_equal(st, ""); /* the kernel dropped it at once */
    close(fd);
    assert_int_equal(io_stop(s), 0);
}

/* synack connect --close-on-eof --linger 0: its RST reaches a kernel server. */
static void test_synack_client_aborts(void **state)
{
    (void)state;
    IO_REQUIRE();
    int lfd = io_listen("0.0.0.0", 9106, 4);
    struct io_synack *s = io_connect(9106, false, "--close-on-eof", "--linger", "0", NULL);
    int fd = io_accept(lfd, 5000);
    assert_true(fd >= 0);
    char buf[64];
    assert_true(io_send_all(s->in_fd, "x", 1));
    io_recv_until(fd, buf, sizeof buf, "x", 5000);
    io_close_stdin(s);
    int err;
    io_recv_all(fd, buf, sizeof buf, 5000, &err);
    assert_int_equal(err, ECONNRESET);
    int status = io_wait(s, 5000);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(fd);
    close(lfd);
}

/* A kernel server aborts: synack connect reports ECONNRESET and fails. */
static void test_kernel_server_aborts(void **state)
{
    (void)state;
    IO_REQUIRE();
    int lfd = io_listen("0.0.0.0", 9107, 4);
    struct io_synack *s = io_connect(9107, false, NULL);
    int fd = io_accept(lfd, 5000);
    assert_true(fd >= 0);
    char buf[64];
    assert_true(io_send_all(s->in_fd, "x", 1));
    io_recv_until(fd, buf, sizeof buf, "x", 5000);
    linger0_close(fd);
    int status = io_wait(s, 5000);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    char err[1024];
    io_stderr(s, err, sizeof err);
    assert_non_null(strstr(err, "ECONNRESET"));
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_kernel_aborts, io_teardown),
        cmocka_unit_test_teardown(test_synack_server_aborts, io_teardown),
        cmocka_unit_test_teardown(test_synack_client_aborts, io_teardown),
        cmocka_unit_test_teardown(test_kernel_server_aborts, io_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
