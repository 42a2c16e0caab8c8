/* Interop row 4: half-close both ways (RFC 9293 §3.6: a FIN closes one
 * direction; the other keeps flowing until it closes too). */
#include "interop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/http.h"

/* The kernel sends a request and shuts down writing at once; synack's
 * server goes on sending the whole response from CLOSE-WAIT. */
static void test_kernel_shuts_down_first(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_serve("http", false, NULL);
    int fd = io_dial(s->synack4, 80, 5000);
    assert_true(fd >= 0);
    static const char req[] = "GET /bytes/1000000 HTTP/1.1\r\nHost: synack\r\n\r\n";
    assert_true(io_send_all(fd, req, sizeof req - 1));
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    size_t cap = 1100000;
    char *buf = malloc(cap);
    assert_non_null(buf);
    int err;
    size_t n = io_recv_all(fd, buf, cap, 20000, &err);
    assert_int_equal(err, 0); /* then synack's FIN */
    char *body = memmem(buf, n, "\r\n\r\n", 4);
    assert_non_null(body);
    body += 4;
    assert_int_equal((size_t)(buf + n - body), 1000000);
    for (size_t i = 0; i < 1000000; i++)
        if (body[i] != http_body_byte(i))
            fail_msg("byte %zu differs", i);
    free(buf);
    close(fd);
    assert_true(io_wait_synack_count(s, NULL, 0, 0, 5000));
    assert_int_equal(io_stop(s), 0);
}

/* The same with echo: everything sent before the FIN comes back. */
static void test_kernel_shuts_down_echo(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_serve("echo", false, NULL);
    int fd = io_dial(s->synack4, 7, 5000);
    assert_true(fd >= 0);
    enum { N = 200000 };
    static char data[N], got[N + 1];
    for (int i = 0; i < N; i++)
        data[i] = (char)('0' + i % 10);
    pid_t writer = fork(); /* echo returns while we send: read and write at once */
    assert_true(writer >= 0);
    if (writer == 0)
        _exit(io_send_all(fd, data, N) && shutdown(fd, SHUT_WR) == 0 ? 0 : 1);
    int err;
    size_t n = io_recv_all(fd, got, sizeof got, 20000, &err);
    int wst;
    waitpid(writer, &wst, 0);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    assert_int_equal(err, 0);
    assert_int_equal(n, N);
    assert_memory_equal(got, data, N);
    close(fd);
    assert_int_equal(io_stop(s), 0);
}

/* discard reads everything; the kernel's FIN is answered with synack's. */
static void test_discard(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_serve("discard", false, NULL);
    int fd = io_dial(s->synack4, 9, 5000);
    assert_true(fd >= 0);
    static char data[500000];
    memset(data, 'd', sizeof data);
    assert_true(io_send_all(fd, data, sizeof data));
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    char buf[16];
    int err;
    assert_int_equal(io_recv_all(fd, buf, sizeof buf, 10000, &err), 0);
    assert_int_equal(err, 0);
    close(fd);
    assert_true(io_wait_synack_count(s, NULL, 0, 0, 5000));
    assert_true(io_counter(s, "InSegs") > sizeof data / 1460);
    assert_int_equal(io_stop(s), 0);
}

/* synack shuts down first (end of its stdin); the kernel server keeps
 * sending a megabyte, which arrives, then closes. */
static void test_synack_shuts_down_first(void **state)
{
    (void)state;
    IO_REQUIRE();
    int lfd = io_listen("0.0.0.0", 9104, 4);
    struct io_synack *s = io_connect(9104, false, NULL);
    int fd = io_accept(lfd, 5000);
    assert_true(fd >= 0);
    assert_true(io_send_all(s->in_fd, "request\n", 8));
    io_close_stdin(s);
    char buf[64];
    int err;
    size_t n = io_recv_all(fd, buf, sizeof buf, 5000, &err);
    assert_int_equal(err, 0); /* synack's FIN after the request */
    assert_int_equal(n, 8);
    enum { N = 1 << 20 };
    static char data[N], got[N + 1];
    for (int i = 0; i < N; i++)
        data[i] = (char)('a' + (i * 3) % 26);
    pid_t writer = fork();
    assert_true(writer >= 0);
    if (writer == 0)
        _exit(io_send_all(fd, data, N) ? 0 : 1);
    close(fd);
    n = io_recv_all(s->out_fd, got, sizeof got, 20000, &err);
    int wst;
    waitpid(writer, &wst, 0);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    assert_int_equal(err, 0);
    assert_int_equal(n, N);
    assert_memory_equal(got, data, N);
    int status = io_wait(s, 5000);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(lfd);
}

/* The kernel server shuts down first; synack's stdin keeps flowing to it. */
static void test_kernel_server_shuts_down_first(void **state)
{
    (void)state;
    IO_REQUIRE();
    int lfd = io_listen("0.0.0.0", 9105, 4);
    struct io_synack *s = io_connect(9105, false, NULL);
    int fd = io_accept(lfd, 5000);
    assert_true(fd >= 0);
    assert_true(io_send_all(fd, "greeting\n", 9));
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    char buf[256];
    int err;
    size_t n = io_recv_all(s->out_fd, buf, sizeof buf, 5000, &err);
    assert_int_equal(err, 0); /* synack connect passes the FIN on as EOF */
    assert_int_equal(n, 9);
    assert_true(io_wait_synack_count(s, "CLOSE-WAIT", 9105, 1, 5000));
    assert_true(io_send_all(s->in_fd, "still talking\n", 14));
    io_recv_until(fd, buf, sizeof buf, "still talking\n", 5000);
    assert_string_equal(buf, "still talking\n");
    io_close_stdin(s);
    n = io_recv_all(fd, buf, sizeof buf, 5000, &err);
    assert_int_equal(err, 0);
    assert_int_equal(n, 0);
    int status = io_wait(s, 5000);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(fd);
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_kernel_shuts_down_first, io_teardown),
        cmocka_unit_test_teardown(test_kernel_shuts_down_echo, io_teardown),
        cmocka_unit_test_teardown(test_discard, io_teardown),
        cmocka_unit_test_teardown(test_synack_shuts_down_first, io_teardown),
        cmocka_unit_test_teardown(test_kernel_server_shuts_down_first, io_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
