/* Real kernel traffic, captured live on the loopback of a private network
 * namespace: a request/response with a normal close, a refused port, and a
 * half-close with shutdown(SHUT_WR). The tracker must see what the
 * kernel's TCP did. Needs root (CI is root); skips otherwise. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netns_util.h"
#include "track/track_capture.h"
#include "track_test_util.h"

static bool in_netns;
static struct tt_result result;

static void on_conn(void *ctx, const struct track_conn_info *c)
{
    struct tt_result *r = ctx;
    if (r->nconns < TT_MAX_CONNS)
        r->conns[r->nconns++] = *c;
}

static void on_anomaly(void *ctx, const struct track_anomaly *a)
{
    struct tt_result *r = ctx;
    if (r->nanoms < TT_MAX_ANOMS)
        r->anoms[r->nanoms++] = *a;
}

static int tcp_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    return fd;
}

static struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static uint16_t local_port(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

static int listener(uint16_t port)
{
    int fd = tcp_socket();
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = loopback(port);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 16), 0);
    return fd;
}

static int dial(uint16_t port, int *err)
{
    int fd = tcp_socket();
    struct sockaddr_in a = loopback(port);
    *err = connect(fd, (struct sockaddr *)&a, sizeof a) == 0 ? 0 : errno;
    return fd;
}

static void read_until_eof(int fd)
{
    char buf[4096];
    ssize_t n;
    do
        n = recv(fd, buf, sizeof buf, 0);
    while (n > 0 || (n < 0 && errno == EINTR));
}

/* Drains the capture: every frame the kernel has queued for us. */
static void drain(struct track_capture *cap, struct track *t)
{
    char err[256];
    for (int idle = 0; idle < 3;) {
        enum track_capture_result r = track_capture_feed(cap, t, 0, err, sizeof err);
        assert_int_not_equal(r, TRACK_CAPTURE_ERROR);
        if (!track_capture_wait(cap, 100))
            idle++;
    }
}

static const struct track_conn_info *by_orig_port(uint16_t port)
{
    for (size_t i = 0; i < result.nconns; i++)
        if (result.conns[i].orig.port == port)
            return &result.conns[i];
    return NULL;
}

static void test_kernel_traffic(void **state)
{
    (void)state;
    if (!in_netns)
        skip();
    char err[256];
    struct track_capture *cap = track_capture_open_live("lo", "tcp", 256, false, 100, err, sizeof err);
    if (!cap) {
        print_message("cannot capture on lo: %s\n", err);
        skip();
    }
    struct track_config cfg;
    track_config_default(&cfg);
    memset(&result, 0, sizeof result);
    struct track_sink sink = {on_conn, on_anomaly, NULL, &result};
    struct track *t = track_new(&cfg, &sink);
    assert_non_null(t);

    int lfd = listener(8080);
    int e;

    /* 1. Request, response, the client closes first. */
    int c1 = dial(8080, &e);
    assert_int_equal(e, 0);
    uint16_t p1 = local_port(c1);
    int s1 = accept(lfd, NULL, NULL);
    assert_true(s1 >= 0);
    assert_int_equal(send(c1, "GET / HTTP/1.0\r\n\r\n", 18, 0), 18);
    char buf[2048];
    assert_int_equal(recv(s1, buf, sizeof buf, 0), 18);
    memset(buf, 'x', 1000);
    assert_int_equal(send(s1, buf, 1000, 0), 1000);
    size_t got = 0;
    while (got < 1000) {
        ssize_t n = recv(c1, buf, sizeof buf, 0);
        assert_true(n > 0);
        got += (size_t)n;
    }
    close(c1);
    read_until_eof(s1);
    close(s1);

    /* 2. A refused port. */
    int c2 = dial(8081, &e);
    assert_int_equal(e, ECONNREFUSED);
    uint16_t p2 = local_port(c2);
    close(c2);

    /* 3. Half-close: the client shuts down its sending side and still
     *    reads the server's answer. */
    int c3 = dial(8080, &e);
    assert_int_equal(e, 0);
    uint16_t p3 = local_port(c3);
    int s3 = accept(lfd, NULL, NULL);
    assert_true(s3 >= 0);
    assert_int_equal(shutdown(c3, SHUT_WR), 0);
    read_until_eof(s3);                      /* the server sees the FIN */
    assert_int_equal(send(s3, buf, 500, 0), 500);  /* ...and still sends */
    close(s3);
    read_until_eof(c3);
    close(c3);
    close(lfd);

    drain(cap, t);
    track_flush(t);
    track_free(t);
    track_capture_close(cap);

    const struct track_conn_info *k1 = by_orig_port(p1), *k2 = by_orig_port(p2), *k3 = by_orig_port(p3);
    assert_non_null(k1);
    assert_non_null(k2);
    assert_non_null(k3);

    assert_string_equal(track_conn_state_name(k1->conn_state), "SF");
    assert_int_equal(k1->resp.port, 8080);
    assert_int_equal(k1->orig_bytes, 18);
    assert_int_equal(k1->resp_bytes, 1000);
    assert_string_equal(track_state_name(k1->orig_state), "TIME-WAIT");
    assert_string_equal(track_state_name(k1->resp_state), "CLOSED");
    assert_true(k1->has_handshake_rtt);
    assert_int_equal(k1->missed_bytes, 0);
    assert_int_equal(k1->history[0], 'S');
    assert_int_equal(k1->history[1], 'h');

    assert_string_equal(track_conn_state_name(k2->conn_state), "REJ");
    assert_string_equal(k2->history, "Sr");
    assert_true(tt_has_anomaly(k2, TRACK_ANOM_CONNECTION_REFUSED));
    assert_string_equal(track_state_name(k2->orig_state), "CLOSED");
    assert_string_equal(track_state_name(k2->resp_state), "CLOSED");

    assert_string_equal(track_conn_state_name(k3->conn_state), "SF");
    assert_int_equal(k3->orig_bytes, 0);
    assert_int_equal(k3->resp_bytes, 500);
    assert_string_equal(track_state_name(k3->orig_state), "TIME-WAIT");
    assert_string_equal(track_state_name(k3->resp_state), "CLOSED");
    assert_false(tt_has_anomaly(k3, TRACK_ANOM_CONNECTION_RESET));
}

int main(void)
{
    in_netns = netns_enter_private();
    if (!in_netns)
        fprintf(stderr, "track_kernel: not root or no network namespaces: skipping\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_traffic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
