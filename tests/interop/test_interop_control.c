/* The control socket of a running synack: owner-only (mode 0600), JSON
 * lines; garbage gets an error reply and the server goes on; ss and nstat
 * read it. And the command line around it: bad arguments exit 2. */
#include "interop.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/control.h"

static int ctl_connect(const struct io_synack *s)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", s->control);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static void expect_reply(int fd, const char *request, size_t len, const char *needle)
{
    assert_true(io_send_all(fd, request, len));
    char buf[4096];
    io_recv_until(fd, buf, sizeof buf, "\n", 5000);
    if (!strstr(buf, needle))
        fail_msg("reply to %.40s: %s (wanted %s)", request, buf, needle);
}

static void test_control_socket(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_serve("http", false, NULL);
    struct stat st;
    assert_int_equal(stat(s->control, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);

    int fd = ctl_connect(s);
    expect_reply(fd, "garbage\n", 8, "\"ok\":false");
    expect_reply(fd, "{\"cmd\":\"nope\"}\n", 15, "unknown cmd");
    expect_reply(fd, "[1,2,3]\n", 8, "\"ok\":false");
    expect_reply(fd, "{\"cmd\":42}\n", 11, "\"ok\":false");
    expect_reply(fd, "{\"cmd\":\"ss\"\n", 12, "\"ok\":false");
    static const char nul[] = "{\"cmd\":\"\\u0000\"}\n";
    expect_reply(fd, nul, sizeof nul - 1, "\"ok\":false");
    char deep[200];
    memset(deep, '[', 100);
    memcpy(deep + 100, "\n", 2);
    expect_reply(fd, deep, 101, "nested too deeply");
    static char huge[CTL_MAX_LINE + 100];
    memset(huge, 'x', sizeof huge - 1);
    huge[sizeof huge - 1] = '\n';
    expect_reply(fd, huge, sizeof huge, "too long");
    /* Still serving, same connection and a new one. */
    expect_reply(fd, "{\"cmd\":\"ping\"}\n", 15, "\"ok\":true");
    close(fd);
    fd = ctl_connect(s);
    expect_reply(fd, "{\"cmd\":\"info\"}\n", 15, "\"app\":\"http\"");
    close(fd);
    /* A client that vanishes mid-request does no harm. */
    fd = ctl_connect(s);
    assert_true(io_send_all(fd, "{\"cmd\":", 7));
    close(fd);
    assert_int_equal(io_counter(s, "InSegs"), 0);
    assert_int_equal(io_stop(s), 0);
    assert_int_equal(access(s->control, F_OK), -1); /* removed on exit */
}

static int run_synack(const char *const *args, char *out, size_t cap)
{
    const char *argv[16] = {SYNACK_BIN};
    for (int i = 0; args[i] && i < 14; i++)
        argv[i + 1] = args[i];
    int status = io_run(argv, out, cap, 10000);
    return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_cli_arguments(void **state)
{
    (void)state;
    IO_REQUIRE();
    char out[8192];
    static const char *const bad[][5] = {
        {"serve", "--app", "gopher", NULL},
        {"serve", "--addr", "10.77.0.300/24", NULL},
        {"serve", "--sysctl", "tcp_nonsense=1", NULL},
        {"serve", "--sysctl", "tcp_syn_retries=-1", NULL},
        {"serve", "--mtu", "100", NULL},
        {"serve", "--listen", "10.77.0.1:99999", NULL},
        {"serve", "--config", "/nonexistent/synack.conf", NULL},
        {"serve", "--tun", NULL},
        {"connect", NULL},
        {"connect", "nowhere", NULL},
        {"connect", "10.77.0.2:80", "extra", NULL},
        {"ss", "-x", NULL},
        {"nstat", "--bogus", NULL},
        {"demo", "--format", "png", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = run_synack(bad[i], out, sizeof out);
        if (rc != 2 || strncmp(out, "synack: ", 8) != 0 || strchr(out, '\n') != out + strlen(out) - 1)
            fail_msg("synack %s %s: exit %d, said: %s", bad[i][0], bad[i][1] ? bad[i][1] : "", rc, out);
    }
    static const char *const cmds[] = {"serve", "connect", "ss", "nstat", "demo"};
    for (size_t i = 0; i < 5; i++) {
        const char *args[] = {cmds[i], "--help", NULL};
        assert_int_equal(run_synack(args, out, sizeof out), 0);
        assert_int_equal(strncmp(out, "usage: synack ", 14), 0);
    }
    /* No synack running there: a one-line failure, exit 1. */
    const char *ss_args[] = {"ss", "--control", "/tmp/synack-io-nobody.sock", NULL};
    assert_int_equal(run_synack(ss_args, out, sizeof out), 1);
    assert_non_null(strstr(out, "cannot reach synack"));
    /* A config file: sysctl.conf style, errors name the line. */
    char path[64];
    snprintf(path, sizeof path, "/tmp/synack-io-%d.conf", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "# comment\nnet.ipv4.tcp_fin_timeout = 30\n\ntcp_bogus = 1\n");
    fclose(f);
    const char *conf_args[] = {"serve", "--config", path, NULL};
    assert_int_equal(run_synack(conf_args, out, sizeof out), 2);
    assert_non_null(strstr(out, ":4: unknown knob 'tcp_bogus'"));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_control_socket, io_teardown),
        cmocka_unit_test_teardown(test_cli_arguments, io_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
