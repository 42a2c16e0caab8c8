/* Interop row 1: the kernel's TCP as a client of synack's HTTP server.
 * Handshake, request/response, close by either side; the kernel's
 * `ss -tan` shows its states and synack's control socket shows synack's,
 * TIME-WAIT on whichever side closed first (RFC 9293 §3.6). */
#include "interop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/http.h"

static const char GET[] = "GET / HTTP/1.1\r\nHost: synack\r\n\r\n";

/* The kernel closes first: kernel TIME-WAIT, synack LAST-ACK then gone. */
static void test_kernel_closes_first(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_serve("http", false, NULL);
    int fd = io_dial(s->synack4, 80, 5000);
    assert_true(fd >= 0);
    int port = io_local_port(fd);
    assert_true(io_wait_synack_count(s, "ESTABLISHED", port, 1, 5000));
    assert_true(io_wait_kernel_state(port, "ESTAB", 5000));

    assert_true(io_send_all(fd, GET, sizeof GET - 1));
    char buf[4096];
    int status = 0;
    long len = io_http_response(fd, buf, sizeof buf, &status, 5000);
    assert_int_equal(status, 200);
    assert_int_equal(len, (long)strlen(HTTP_HELLO_BODY));
    assert_non_null(strstr(buf, HTTP_HELLO_BODY));
    assert_non_null(strstr(buf, "Connection: keep-alive"));

    close(fd);
    assert_true(io_wait_kernel_state(port, "TIME-WAIT", 5000));
    assert_true(io_wait_synack_count(s, NULL, port, 0, 5000)); /* LAST-ACK -> CLOSED: nothing left */
    assert_int_equal(io_counter(s, "PassiveOpens"), 1);
    assert_int_equal(io_counter(s, "CurrEstab"), 0);
    assert_int_equal(io_counter(s, "InCsumErrors"), 0);
    assert_int_equal(io_stop(s), 0); /* clean exit: no leak, no error */
}

/* synack closes first ("Connection: close"): the kernel sits in CLOSE-WAIT
 * until it closes, then LAST-ACK and gone; synack holds the TIME-WAIT. */
static void test_synack_closes_first(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_serve("http", false, NULL);
    int fd = io_dial(s->synack4, 80, 5000);
    assert_true(fd >= 0);
    int port = io_local_port(fd);
    static const char req[] = "GET /bytes/10 HTTP/1.1\r\nHost: synack\r\nConnection: close\r\n\r\n";
    assert_true(io_send_all(fd, req, sizeof req - 1));
    char buf[4096];
    int err;
    size_t n = io_recv_all(fd, buf, sizeof buf - 1, 5000, &err);
    buf[n] = '\0';
    assert_int_equal(err, 0); /* EOF: synack's FIN */
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK"));
    assert_non_null(strstr(buf, "Connection: close"));
    assert_non_null(strstr(buf, "\r\n\r\nabcdefghij"));

    assert_true(io_wait_kernel_state(port, "CLOSE-WAIT", 5000));
    assert_true(io_wait_synack_count(s, "FIN-WAIT-2", port, 1, 5000));
    close(fd);
    assert_true(io_wait_synack_count(s, "TIME-WAIT", port, 1, 5000));
    assert_true(io_wait_kernel_state(port, "", 5000)); /* LAST-ACK acknowledged: CLOSED */

    /* The same through the CLI, as a person would look. */
    const char *ss_argv[] = {SYNACK_BIN, "ss", "-tan", "-o", "--control", s->control, NULL};
    char out[8192];
    assert_int_equal(io_run(ss_argv, out, sizeof out, 5000), 0);
    assert_non_null(strstr(out, "TIME-WAIT"));
    assert_non_null(strstr(out, "timer:(timewait,"));
    const char *nstat_argv[] = {SYNACK_BIN, "nstat", "--control", s->control, NULL};
    assert_int_equal(io_run(nstat_argv, out, sizeof out, 5000), 0);
    assert_non_null(strstr(out, "PassiveOpens"));
    assert_int_equal(io_stop(s), 0);
}

/* keepalive_requests: the last allowed response says Connection: close and
 * synack closes (nginx's behaviour). */
static void test_keepalive_requests(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_serve("http", false, "--http-keepalive-requests", "2", NULL);
    int fd = io_dial(s->synack4, 80, 5000);
    assert_true(fd >= 0);
    int port = io_local_port(fd);
    char buf[4096];
    int status;
    assert_true(io_send_all(fd, GET, sizeof GET - 1));
    assert_true(io_http_response(fd, buf, sizeof buf, &status, 5000) >= 0);
    assert_non_null(strstr(buf, "Connection: keep-alive"));
    assert_true(io_send_all(fd, GET, sizeof GET - 1));
    assert_true(io_http_response(fd, buf, sizeof buf, &status, 5000) >= 0);
    assert_non_null(strstr(buf, "Connection: close"));
    int err;
    io_recv_all(fd, buf, sizeof buf, 5000, &err);
    assert_int_equal(err, 0);
    close(fd);
    assert_true(io_wait_synack_count(s, "TIME-WAIT", port, 1, 5000));
    assert_int_equal(io_stop(s), 0);
}

/* keepalive_timeout: an idle connection is closed by synack. */
static void test_keepalive_timeout(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_serve("http", false, "--http-keepalive-timeout", "1", NULL);
    int fd = io_dial(s->synack4, 80, 5000);
    assert_true(fd >= 0);
    char buf[4096];
    int status;
    assert_true(io_send_all(fd, GET, sizeof GET - 1));
    assert_true(io_http_response(fd, buf, sizeof buf, &status, 5000) >= 0);
    assert_non_null(strstr(buf, "Keep-Alive: timeout=1"));
    int err;
    io_recv_all(fd, buf, sizeof buf, 10000, &err);
    assert_int_equal(err, 0); /* synack's FIN after ~1 s idle */
    assert_true(io_events_have(s, "keepalive_timeout", NULL));
    close(fd);
    assert_int_equal(io_stop(s), 0);
}

/* A bulk response crosses many windows; every byte arrives in order. */
static void test_bulk_response(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_serve("http", false, NULL);
    int fd = io_dial(s->synack4, 80, 5000);
    assert_true(fd >= 0);
    static const char req[] = "GET /bytes/3000000 HTTP/1.1\r\nHost: synack\r\n\r\n";
    assert_true(io_send_all(fd, req, sizeof req - 1));
    size_t cap = 3100000;
    char *buf = malloc(cap);
    assert_non_null(buf);
    int status;
    long len = io_http_response(fd, buf, cap, &status, 20000);
    assert_int_equal(len, 3000000);
    const char *body = strstr(buf, "\r\n\r\n") + 4;
    for (long i = 0; i < len; i++)
        if (body[i] != http_body_byte((uint64_t)i))
            fail_msg("byte %ld is '%c', not '%c'", i, body[i], http_body_byte((uint64_t)i));
    free(buf);
    close(fd);
    assert_int_equal(io_counter(s, "InCsumErrors"), 0);
    assert_int_equal(io_stop(s), 0);
}

/* Pipelined requests, a request body, HEAD, and a malformed request. */
static void test_requests(void **state)
{
    (void)state;
    IO_REQUIRE();
    struct io_synack *s = io_serve("http", false, NULL);
    int fd = io_dial(s->synack4, 80, 5000);
    assert_true(fd >= 0);
    static const char pipelined[] = "GET /bytes/3 HTTP/1.1\r\nHost: a\r\n\r\n"
                                    "POST /nowhere HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                                    "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"
                                    "GET /bytes/2 HTTP/1.0\r\n\r\n";
    assert_true(io_send_all(fd, pipelined, sizeof pipelined - 1));
    char buf[8192];
    int err;
    size_t n = io_recv_all(fd, buf, sizeof buf - 1, 5000, &err);
    buf[n] = '\0';
    assert_int_equal(err, 0); /* HTTP/1.0 without keep-alive: synack closes after the last */
    const char *p = strstr(buf, "200 OK");
    assert_non_null(p);
    assert_non_null(strstr(p, "\r\n\r\nabc"));
    p = strstr(p, "404 Not Found");
    assert_non_null(p);
    p = strstr(p, "200 OK");
    assert_non_null(p); /* HEAD: the length of the body, no body */
    assert_non_null(strstr(p, "Content-Length: 36\r\n"));
    p = strstr(p + 1, "200 OK");
    assert_non_null(p);
    assert_non_null(strstr(p, "Connection: close\r\n\r\nab"));
    assert_null(strstr(buf, "hello from synack")); /* HEAD sent no body */
    close(fd);

    fd = io_dial(s->synack4, 80, 5000);
    assert_true(fd >= 0);
    static const char bad[] = "GET / HTTP/1.1\r\nBad Header\r\n\r\n";
    assert_true(io_send_all(fd, bad, sizeof bad - 1));
    n = io_recv_all(fd, buf, sizeof buf - 1, 5000, &err);
    buf[n] = '\0';
    assert_int_equal(err, 0);
    assert_non_null(strstr(buf, "HTTP/1.1 400 Bad Request"));
    close(fd);
    assert_int_equal(io_stop(s), 0);
}

/* curl, when installed: the kernel's TCP driven by a real client. */
static void test_curl(void **state)
{
    (void)state;
    IO_REQUIRE();
    if (!io_have("curl")) {
        print_message("SKIP: curl is not installed\n");
        skip();
    }
    struct io_synack *s = io_serve("http", false, NULL);
    char url[64], out[4096];
    snprintf(url, sizeof url, "http://%s/", s->synack4);
    const char *argv[] = {"curl", "-sS", "--max-time", "10", url, url, NULL}; /* two requests, one connection */
    assert_int_equal(io_run(argv, out, sizeof out, 15000), 0);
    assert_non_null(strstr(out, HTTP_HELLO_BODY HTTP_HELLO_BODY));
    assert_true(io_wait_synack_count(s, NULL, 0, 0, 5000));
    assert_int_equal(io_counter(s, "PassiveOpens"), 1);
    assert_int_equal(io_stop(s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_kernel_closes_first, io_teardown),
        cmocka_unit_test_teardown(test_synack_closes_first, io_teardown),
        cmocka_unit_test_teardown(test_keepalive_requests, io_teardown),
        cmocka_unit_test_teardown(test_keepalive_timeout, io_teardown),
        cmocka_unit_test_teardown(test_bulk_response, io_teardown),
        cmocka_unit_test_teardown(test_requests, io_teardown),
        cmocka_unit_test_teardown(test_curl, io_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
