/* Interop row 2: synack as the client (`synack connect`, like nc) of a
 * kernel server. Data both ways, close by either side, each side's states
 * as `ss -tan` and synack's control socket show them. */
#include "interop.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* synack closes first (end of its stdin): kernel CLOSE-WAIT, then LAST-ACK;
 * synack FIN-WAIT-2, then TIME-WAIT, which it keeps with --keep-timewait
 * until tcp_timewait_len runs out. */
static void test_synack_closes_first(void **state)
{
    (void)state;
    IO_REQUIRE();
    int lfd = io_listen("0.0.0.0", 9101, 4);
    struct io_synack *s = io_connect(9101, false, "--keep-timewait", "--sysctl", "tcp_timewait_len=2", NULL);
    int fd = io_accept(lfd, 5000);
    assert_true(fd >= 0);
    char buf[256];
    assert_true(io_send_all(s->in_fd, "hello\n", 6));
    io_recv_until(fd, buf, sizeof buf, "hello\n", 5000);
    assert_string_equal(buf, "hello\n");
    assert_true(io_send_all(fd, "world\n", 6));
    io_recv_until(s->out_fd, buf, sizeof buf, "world\n", 5000);
    assert_string_equal(buf, "world\n");
    assert_true(io_wait_kernel_state(9101, "ESTAB", 5000));
    assert_true(io_wait_synack_count(s, "ESTABLISHED", 9101, 1, 5000));

    io_close_stdin(s); /* shutdown(SHUT_WR): synack's FIN */
    int err;
    assert_int_equal(io_recv_all(fd, buf, sizeof buf, 5000, &err), 0);
    assert_int_equal(err, 0);
    assert_true(io_wait_kernel_state(9101, "CLOSE-WAIT", 5000));
    assert_true(io_wait_synack_count(s, "FIN-WAIT-2", 9101, 1, 5000));
    close(fd);
    assert_true(io_wait_synack_count(s, "TIME-WAIT", 9101, 1, 5000));
    assert_true(io_wait_kernel_state(9101, "", 5000));
    assert_int_equal(io_counter(s, "ActiveOpens"), 1);
    /* TIME-WAIT runs out (2 s here), then synack connect is done. */
    int status = io_wait(s, 15000);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(lfd);
}

/* The kernel closes first: synack sees EOF and stays in CLOSE-WAIT while
 * its stdin is open (a half-closed connection), then closes: kernel
 * TIME-WAIT, synack LAST-ACK -> CLOSED and exits. */
static void test_kernel_closes_first(void **state)
{
    (void)state;
    IO_REQUIRE();
    int lfd = io_listen("0.0.0.0", 9102, 4);
    struct io_synack *s = io_connect(9102, false, NULL);
    int fd = io_accept(lfd, 5000);
    assert_true(fd >= 0);
    int synack_port = 0;
    {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        assert_int_equal(getpeername(fd, (struct sockaddr *)&ss, &len), 0);
        synack_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    assert_true(io_send_all(fd, "bye\n", 4));
    close(fd);
    char buf[256];
    io_recv_until(s->out_fd, buf, sizeof buf, "bye\n", 5000);
    assert_string_equal(buf, "bye\n");
    assert_true(io_wait_synack_count(s, "CLOSE-WAIT", 9102, 1, 5000));
    assert_true(io_wait_kernel_state(9102, "FIN-WAIT-2", 5000));
    io_close_stdin(s);
    int status = io_wait(s, 5000);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(io_wait_kernel_state(9102, "TIME-WAIT", 5000));
    (void)synack_port;
    close(lfd);
}

/* A bulk transfer from synack: 1 MB of stdin reaches the kernel intact. */
static void test_upload(void **state)
{
    (void)state;
    IO_REQUIRE();
    int lfd = io_listen("0.0.0.0", 9103, 4);
    struct io_synack *s = io_connect(9103, false, NULL);
    int fd = io_accept(lfd, 5000);
    assert_true(fd >= 0);
    enum { N = 1 << 20 };
    static char data[N], got[N + 1];
    for (int i = 0; i < N; i++)
        data[i] = (char)('A' + (i * 7) % 26);
    pid_t writer = fork(); /* the pipe holds 64 KiB: write from a child */
    assert_true(writer >= 0);
    if (writer == 0) {
        _exit(io_send_all(s->in_fd, data, N) ? 0 : 1);
    }
    io_close_stdin(s);
    int err;
    size_t n = io_recv_all(fd, got, sizeof got, 20000, &err);
    assert_int_equal(err, 0);
    assert_int_equal(n, N);
    assert_memory_equal(got, data, N);
    int wst;
    waitpid(writer, &wst, 0);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    close(fd);
    int status = io_wait(s, 5000);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_synack_closes_first, io_teardown),
        cmocka_unit_test_teardown(test_kernel_closes_first, io_teardown),
        cmocka_unit_test_teardown(test_upload, io_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
