/* Interop row 9: a process dies mid-connection.
 *
 * synack is a user-space stack: its connections live and die with its
 * process, and so does its TUN device. Killed (SIGKILL), it sends nothing:
 * the kernel peer sees no FIN and no RST; its socket stays ESTABLISHED
 * until its own timers give up (here TCP_USER_TIMEOUT: ETIMEDOUT, or
 * EHOSTUNREACH since the device and its route are gone). Stopped politely
 * (SIGTERM, SIGINT), synack resets its connections on the way out, and the
 * kernel peer gets ECONNRESET at once.
 *
 * A kernel client that dies is closed by its kernel: FIN if it had read
 * everything, RST if data was left unread (RFC 2525 §2.17). synack cleans
 * up either way; and if the peer vanishes without a word, synack's
 * keepalive timer ends the connection (ETIMEDOUT). No entry leaks. */
#include "interop.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int kernel_peer_of_synack_client(struct io_synack **out, int port, int *lfd)
{
    *lfd = io_listen("0.0.0.0", port, 4);
    struct io_synack *s = io_connect(port, false, NULL);
    int fd = io_accept(*lfd, 5000);
    assert_true(fd >= 0);
    char buf[64];
    assert_true(io_send_all(s->in_fd, "hi\n", 3));
    io_recv_until(fd, buf, sizeof buf, "hi\n", 5000);
    assert_string_equal(buf, "hi\n");
    *out = s;
    return fd;
}

static void test_synack_client_killed(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s;
    int lfd, fd = kernel_peer_of_synack_client(&s, 9108, &lfd);
    assert_int_equal(kill(s->pid, SIGKILL), 0);
    assert_true(io_wait(s, 5000) != -1);
    io_sleep_ms(300);
    /* Nothing came: no FIN, no RST. */
    char st[32], buf[64];
    io_kernel_state(9108, st, sizeof st);
    assert_string_equal(st, "ESTAB");
    assert_int_equal(recv(fd, buf, sizeof buf, MSG_DONTWAIT), -1);
    assert_int_equal(errno, EAGAIN);
    /* The kernel finds out only by its own timers. */
    unsigned timeout_ms = 1500;
    assert_int_equal(setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout_ms, sizeof timeout_ms), 0);
    (void)send(fd, "x", 1, MSG_NOSIGNAL);
    int err;
    io_recv_all(fd, buf, sizeof buf, 15000, &err);
    print_message("the kernel peer of a killed synack: %s\n", strerror(err));
    assert_true(err == ETIMEDOUT || err == EHOSTUNREACH || err == ENETUNREACH);
    close(fd);
    close(lfd);
}

static void test_synack_client_terminated(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s;
    int lfd, fd = kernel_peer_of_synack_client(&s, 9109, &lfd);
    assert_int_equal(kill(s->pid, SIGTERM), 0);
    int status = io_wait(s, 5000);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1); /* interrupted */
    char buf[64];
    int err;
    io_recv_all(fd, buf, sizeof buf, 5000, &err);
    assert_int_equal(err, ECONNRESET);
    close(fd);
    close(lfd);
}

/* A kernel client in a child process, killed: returns its local port. */
static int killed_kernel_client(struct io_synack *s, int port, const char *send_text, size_t send_len,
                                bool wait_echo)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = io_dial(s->synack4, port, 5000);
        if (fd < 0)
            _exit(1);
        uint16_t lp = io_local_port(fd);
        if (!io_send_all(fd, send_text, send_len))
            _exit(1);
        if (write(p[1], &lp, sizeof lp) != sizeof lp)
            _exit(1);
        pause();
        _exit(0);
    }
    close(p[1]);
    uint16_t lp = 0;
    assert_int_equal(read(p[0], &lp, sizeof lp), (ssize_t)sizeof lp);
    close(p[0]);
    assert_true(io_wait_synack_count(s, "ESTABLISHED", lp, 1, 5000));
    if (wait_echo)
        io_sleep_ms(300); /* the echo is sitting unread in the child's socket */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return lp;
}

static void test_kernel_client_killed_fin(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_serve("http", false, NULL);
    static const char partial[] = "GET / HTTP/1.1\r\n"; /* a request cut short */
    int lp = killed_kernel_client(s, 80, partial, sizeof partial - 1, false);
    assert_true(io_wait_synack_count(s, NULL, lp, 0, 5000)); /* FIN, our FIN, its ACK: gone */
    assert_int_equal(io_counter(s, "EstabResets"), 0);
    assert_int_equal(io_stop(s), 0);
}

static void test_kernel_client_killed_rst(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_serve("echo", false, NULL);
    static char data[10000];
    memset(data, 'e', sizeof data);
    int lp = killed_kernel_client(s, 7, data, sizeof data, true);
    assert_true(io_wait_synack_count(s, NULL, lp, 0, 5000)); /* RST: gone */
    assert_int_equal(io_counter(s, "EstabResets"), 1);
    assert_int_equal(io_stop(s), 0);
}

static void link_down(const char *name)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    assert_int_equal(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
    ifr.ifr_flags &= ~IFF_UP;
    assert_int_equal(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
    close(fd);
}

/* The peer vanishes without a FIN or RST (the link goes down, then the
 * client dies): synack's keepalive gives up (ETIMEDOUT) and nothing is
 * left. */
static void test_kernel_client_vanishes(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_serve("echo", false, "--keepalive", "--sysctl", "tcp_keepalive_time=1",
                                   "tcp_keepalive_intvl=1", "tcp_keepalive_probes=2", NULL);
    int fd = io_dial(s->synack4, 7, 5000);
    assert_true(fd >= 0);
    int lp = io_local_port(fd);
    assert_true(io_wait_synack_count(s, "ESTABLISHED", lp, 1, 5000));
    link_down(s->tun);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd); /* its RST cannot leave: no link */
    assert_true(io_wait_synack_count(s, NULL, lp, 0, 15000));
    assert_int_equal(io_counter(s, "TCPAbortOnTimeout"), 1);
    assert_true(io_events_have(s, "ETIMEDOUT", NULL));
    assert_int_equal(io_stop(s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_synack_client_killed, io_teardown),
        cmocka_unit_test_teardown(test_synack_client_terminated, io_teardown),
        cmocka_unit_test_teardown(test_kernel_client_killed_fin, io_teardown),
        cmocka_unit_test_teardown(test_kernel_client_killed_rst, io_teardown),
        cmocka_unit_test_teardown(test_kernel_client_vanishes, io_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
