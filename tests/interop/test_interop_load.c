/* Interop row 6: 1,000 sequential and 200 concurrent kernel connections to
 * synack's HTTP server all complete; afterwards synack's table holds only
 * the TIME-WAIT entries RFC 9293 §3.6 requires of the side that closed
 * first (synack, "Connection: close"), one per connection, and they expire
 * (tcp_timewait_len, shortened here to 4 s). Timings are printed, never
 * asserted. */
#include "interop.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONCURRENT_MAX 200
/* Under valgrind (light mode, interop.h) 300 and 100. */
#define SEQUENTIAL IO_LIGHT(1000, 300)
#define CONCURRENT IO_LIGHT(CONCURRENT_MAX, 100)

static const char REQ[] = "GET / HTTP/1.1\r\nHost: synack\r\nConnection: close\r\n\r\n";

static bool one_fetch(const char *addr)
{
    int fd = io_dial(addr, 80, 5000);
    if (fd < 0)
        return false;
    char buf[1024];
    int err;
    bool ok = io_send_all(fd, REQ, sizeof REQ - 1);
    size_t n = ok ? io_recv_all(fd, buf, sizeof buf - 1, 5000, &err) : 0;
    close(fd);
    if (!ok || err != 0)
        return false;
    buf[n] = '\0';
    return strncmp(buf, "HTTP/1.1 200 OK", 15) == 0;
}

struct client {
    int fd;
    bool sent;
    size_t got;
    char buf[512];
};

/* CONCURRENT connections at once, driven by one epoll loop. */
static int concurrent_fetches(const char *addr, int timeout_ms)
{
    static struct client c[CONCURRENT_MAX];
    int ep = epoll_create1(0);
    assert_true(ep >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(80)};
    inet_pton(AF_INET, addr, &sa.sin_addr);
    for (int i = 0; i < CONCURRENT; i++) {
        memset(&c[i], 0, sizeof c[i]);
        c[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        assert_true(c[i].fd >= 0);
        int rc = connect(c[i].fd, (struct sockaddr *)&sa, sizeof sa);
        assert_true(rc == 0 || errno == EINPROGRESS);
        struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)i};
        assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev), 0);
    }
    int done = 0, ok = 0;
    long long deadline = io_now_ms() + io_ms(timeout_ms);
    while (done < CONCURRENT && io_now_ms() < deadline) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, 100);
        for (int k = 0; k < n; k++) {
            struct client *cl = &c[evs[k].data.u32];
            if (cl->fd < 0)
                continue;
            if (!cl->sent && (evs[k].events & EPOLLOUT)) {
                if (send(cl->fd, REQ, sizeof REQ - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof REQ - 1))
                    goto finished;
                cl->sent = true;
                struct epoll_event ev = {.events = EPOLLIN, .data.u32 = evs[k].data.u32};
                epoll_ctl(ep, EPOLL_CTL_MOD, cl->fd, &ev);
            }
            if (!(evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                continue;
            for (;;) {
                ssize_t r = recv(cl->fd, cl->buf + cl->got, sizeof cl->buf - 1 - cl->got, 0);
                if (r > 0) {
                    cl->got += (size_t)r;
                    continue;
                }
                if (r < 0 && errno == EAGAIN)
                    break;
                cl->buf[cl->got] = '\0';
                ok += r == 0 && strncmp(cl->buf, "HTTP/1.1 200 OK", 15) == 0;
                goto finished;
            }
            continue;
        finished:
            close(cl->fd);
            cl->fd = -1;
            done++;
        }
    }
    for (int i = 0; i < CONCURRENT; i++)
        if (c[i].fd >= 0)
            close(c[i].fd);
    close(ep);
    return ok;
}

static void test_load(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_serve("http", false, "--sysctl", "tcp_timewait_len=4", NULL);
    long long t0 = io_now_ms();
    for (int i = 0; i < SEQUENTIAL; i++)
        if (!one_fetch(s->synack4))
            fail_msg("sequential connection %d failed", i);
    long long t1 = io_now_ms();
    int ok = concurrent_fetches(s->synack4, 60000);
    long long t2 = io_now_ms();
    print_message("%d sequential connections: %lld ms; %d concurrent: %lld ms\n", SEQUENTIAL, t1 - t0, CONCURRENT,
                  t2 - t1);
    assert_int_equal(ok, CONCURRENT);

    /* Only TIME-WAIT entries, one per connection, and the listener. */
    assert_true(io_wait_synack_count(s, "TIME-WAIT", 0, SEQUENTIAL + CONCURRENT, 10000) ||
                io_synack_count(s, NULL, 0) == io_synack_count(s, "TIME-WAIT", 0));
    int tw = io_synack_count(s, "TIME-WAIT", 0), all = io_synack_conns(s);
    print_message("synack holds %d TIME-WAIT entries of %d\n", tw, all);
    assert_int_equal(all, tw);
    assert_int_equal(io_counter(s, "PassiveOpens"), SEQUENTIAL + CONCURRENT);
    assert_int_equal(io_counter(s, "CurrEstab"), 0);
    assert_int_equal(io_counter(s, "InCsumErrors"), 0);
    assert_int_equal(io_counter(s, "ListenOverflows"), 0);
    /* They expire. */
    assert_true(io_wait_synack_count(s, NULL, 0, 0, 20000));
    print_message("TIME-WAIT emptied %lld ms after the last connection\n", io_now_ms() - t2);
    assert_int_equal(io_stop(s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_load, io_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
