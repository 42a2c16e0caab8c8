/* Interop row 3: no listener on the port, both ways: a RST answers the SYN
 * (RFC 9293 §3.10.7.1) and connect() fails with ECONNREFUSED. */
#include "interop.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The kernel connects to a synack port nobody listens on. */
static void test_kernel_refused(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_serve("http", false, NULL);
    errno = 0;
    int fd = io_dial(s->synack4, 81, 5000);
    assert_int_equal(fd, -1);
    assert_int_equal(errno, ECONNREFUSED);
    assert_int_equal(io_counter(s, "NoSocketRsts"), 1);
    assert_int_equal(io_counter(s, "OutRsts"), 1);
    assert_int_equal(io_synack_conns(s), 0);
    assert_int_equal(io_stop(s), 0);
}

/* synack connects to a kernel port nobody listens on. */
static void test_synack_refused(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_connect(9, false, NULL);
    int status = io_wait(s, 10000);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    char err[1024];
    io_stderr(s, err, sizeof err);
    assert_non_null(strstr(err, "ECONNREFUSED"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_kernel_refused, io_teardown),
        cmocka_unit_test_teardown(test_synack_refused, io_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
