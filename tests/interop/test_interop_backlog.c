/* Interop row 8: synack's listener with a full accept queue while the
 * kernel keeps connecting, with tcp_abort_on_overflow 0 and 1 (Linux
 * semantics: the accept queue holds backlog + 1; a final ACK that finds it
 * full is dropped, and the SYN-ACK timer asks again, or answered with a
 * RST).
 *
 * Both queues are bounded by the backlog (SYN queue: backlog half-open
 * entries, then SYN cookies), so an ACK can only overflow the accept queue
 * if connections were waiting there already. The test fills it to the
 * backlog first, then sends BACKLOG more SYNs while synack is stopped
 * (SIGSTOP): they wait in the device queue and are all answered before the
 * first of their final ACKs comes back, which fills the queue; the other
 * ACKs overflow it. The app accepts nothing for a few seconds
 * (--accept-delay), so the queue stays full meanwhile; under valgrind
 * (light mode, interop.h) for longer, as the steps before take longer. */
#include "interop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKLOG 2
#define CLIENTS (2 * BACKLOG)
#define OVERFLOWS (BACKLOG - 1)
#define ACCEPT_DELAY IO_LIGHT("3", "12") /* seconds */

static const char REQ[] = "GET / HTTP/1.1\r\nHost: synack\r\nConnection: close\r\n\r\n";

static int start_connect(struct io_synack *s)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(80)};
    inet_pton(AF_INET, s->synack4, &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    assert_true(rc < 0 && errno == EINPROGRESS);
    return fd;
}

/* Returns 0, or ECONNRESET when synack's RST came right after the
 * handshake (the kernel had its SYN-ACK and was ESTABLISHED). */
static int finish_connect(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    assert_int_equal(poll(&p, 1, io_ms(5000)), 1);
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == 0 && !io_send_all(fd, REQ, sizeof REQ - 1))
        err = errno;
    assert_true(err == 0 || err == ECONNRESET);
    return err;
}

/* Returns how many connections were reset during their handshake. */
static int connect_all(struct io_synack *s, int fds[CLIENTS])
{
    int reset = 0;
    for (int i = 0; i < BACKLOG; i++) {
        fds[i] = start_connect(s);
        assert_int_equal(finish_connect(fds[i]), 0);
    }
    assert_true(io_wait_synack_count(s, "ESTABLISHED", 0, BACKLOG, 5000)); /* in the accept queue */
    assert_int_equal(kill(s->pid, SIGSTOP), 0);
    for (int i = BACKLOG; i < CLIENTS; i++)
        fds[i] = start_connect(s);
    io_sleep_ms(200);
    assert_int_equal(kill(s->pid, SIGCONT), 0);
    for (int i = BACKLOG; i < CLIENTS; i++) {
        if (finish_connect(fds[i]) == ECONNRESET) {
            close(fds[i]);
            fds[i] = -1;
            reset++;
        }
    }
    return reset;
}

/* tcp_abort_on_overflow=1: the overflowing connections are reset; those in
 * the queue are served once the app accepts. */
static void test_abort_on_overflow(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_serve("http", false, "--backlog", "2", "--accept-delay", ACCEPT_DELAY, "--sysctl",
                                   "tcp_abort_on_overflow=1", NULL);
    int fds[CLIENTS];
    int reset = connect_all(s, fds), served = 0;
    for (int i = 0; i < CLIENTS; i++) {
        if (fds[i] < 0)
            continue;
        char buf[1024] = "";
        int err;
        io_recv_all(fds[i], buf, sizeof buf, 15000, &err);
        reset += err == ECONNRESET;
        served += err == 0 && !strncmp(buf, "HTTP/1.1 200 OK", 15);
        close(fds[i]);
    }
    print_message("abort_on_overflow=1: %d reset, %d served, ListenOverflows %llu\n", reset, served,
                  (unsigned long long)io_counter(s, "ListenOverflows"));
    assert_int_equal(reset, OVERFLOWS);
    assert_int_equal(served, CLIENTS - OVERFLOWS);
    assert_true(io_counter(s, "ListenOverflows") >= OVERFLOWS);
    assert_int_equal(io_stop(s), 0);
}

/* tcp_abort_on_overflow=0: nothing is reset; the dropped final ACKs leave
 * half-open entries whose SYN-ACKs are sent again, and every client is
 * served once the app accepts. */
static void test_drop_on_overflow(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_serve("http", false, "--backlog", "2", "--accept-delay", ACCEPT_DELAY, NULL);
    int fds[CLIENTS];
    assert_int_equal(connect_all(s, fds), 0);
    /* While the app sleeps: the accept queue is full (3 of backlog 2), the
     * overflowing connection waits half-open. */
    io_sleep_ms(300);
    const char *argv[] = {SYNACK_BIN, "ss", "-l", "--control", s->control, NULL};
    char out[4096];
    assert_int_equal(io_run(argv, out, sizeof out, 5000), 0);
    print_message("%s", out);
    assert_non_null(strstr(out, "accept-queue:3/2"));
    assert_int_equal(io_synack_count(s, "SYN-RECEIVED", 0), OVERFLOWS);
    int served = 0;
    for (int i = 0; i < CLIENTS; i++) {
        char buf[1024] = "";
        int err;
        io_recv_all(fds[i], buf, sizeof buf, 20000, &err);
        served += err == 0 && !strncmp(buf, "HTTP/1.1 200 OK", 15);
        close(fds[i]);
    }
    print_message("abort_on_overflow=0: %d served, ListenOverflows %llu, TCPSynRetrans %llu\n", served,
                  (unsigned long long)io_counter(s, "ListenOverflows"),
                  (unsigned long long)io_counter(s, "TCPSynRetrans"));
    assert_int_equal(served, CLIENTS);
    assert_true(io_counter(s, "ListenOverflows") >= OVERFLOWS);
    assert_int_equal(io_counter(s, "OutRsts"), 0);
    assert_int_equal(io_stop(s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_abort_on_overflow, io_teardown),
        cmocka_unit_test_teardown(test_drop_on_overflow, io_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
