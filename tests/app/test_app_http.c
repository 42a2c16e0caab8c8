/* app/http: request heads (RFC 9112) as the built-in responder reads them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "app/http.h"

static enum http_parse parse(const char *text, struct http_request *req)
{
    return http_parse_request(text, strlen(text), req);
}

static void test_requests(void **state)
{
    (void)state;
    struct http_request r;
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &r), HTTP_COMPLETE);
    assert_string_equal(r.method, "GET");
    assert_string_equal(r.target, "/");
    assert_int_equal(r.minor, 1);
    assert_true(r.keep_alive);
    assert_int_equal(r.head_len, 27);
    assert_int_equal(parse("GET /x HTTP/1.1\r\nConnection: Keep-Alive, CLOSE\r\n\r\nrest", &r), HTTP_COMPLETE);
    assert_false(r.keep_alive);
    assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &r), HTTP_COMPLETE);
    assert_false(r.keep_alive); /* RFC 9112 §9.3: 1.0 closes unless asked */
    assert_int_equal(parse("GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n", &r), HTTP_COMPLETE);
    assert_true(r.keep_alive);
    assert_int_equal(parse("POST /p HTTP/1.1\r\nContent-Length: 12\r\n\r\n", &r), HTTP_COMPLETE);
    assert_int_equal(r.content_length, 12);
    assert_int_equal(parse("\r\n\r\nGET / HTTP/1.1\nHost: a\n\n", &r), HTTP_COMPLETE); /* bare LF, leading CRLFs */
    assert_int_equal(r.head_len, strlen("\r\n\r\nGET / HTTP/1.1\nHost: a\n\n"));
    assert_int_equal(parse("HEAD / HTTP/1.1\r\n\r\n", &r), HTTP_COMPLETE);
    assert_string_equal(r.method, "HEAD");
}

static void test_incomplete_and_bad(void **state)
{
    (void)state;
    struct http_request r;
    assert_int_equal(parse("", &r), HTTP_INCOMPLETE);
    assert_int_equal(parse("\r\n", &r), HTTP_INCOMPLETE);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\n", &r), HTTP_INCOMPLETE);
    static const char *const bad[] = {
        "GET /\r\n\r\n", "GET / HTTP/2.0\r\n\r\n", "GET  / HTTP/1.1\r\n\r\n", " GET / HTTP/1.1\r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nNoColon\r\n\r\n", "GET / HTTP/1.1\r\nA : b\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 99999999999999999\r\n\r\n", "GET /a\x01 HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (parse(bad[i], &r) != HTTP_BAD)
            fail_msg("accepted bad request #%zu", i);
    assert_int_equal(parse("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &r), HTTP_UNSUPPORTED);
    char big[HTTP_MAX_HEAD + 10];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    assert_int_equal(http_parse_request(big, sizeof big, &r), HTTP_TOO_LARGE);
    char target[HTTP_MAX_TARGET + 40];
    memset(target, 'x', sizeof target);
    memcpy(target, "GET /", 5);
    memcpy(target + sizeof target - 15, " HTTP/1.1\r\n\r\n", 14);
    assert_int_equal(http_parse_request(target, sizeof target - 1, &r), HTTP_TOO_LARGE);
}

static void test_response_head(void **state)
{
    (void)state;
    char buf[512];
    size_t n = http_response_head(buf, sizeof buf, 200, 36, true, 75, 999);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(buf, "Content-Length: 36\r\n"));
    assert_non_null(strstr(buf, "Connection: keep-alive\r\nKeep-Alive: timeout=75, max=999\r\n\r\n"));
    n = http_response_head(buf, sizeof buf, 404, 0, false, 75, 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "404 Not Found"));
    assert_non_null(strstr(buf, "Connection: close\r\n\r\n"));
    assert_int_equal(http_response_head(buf, 20, 200, 1, true, 1, 1), 0);
    assert_int_equal(http_body_byte(0), 'a');
    assert_int_equal(http_body_byte(27), 'b');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_incomplete_and_bad),
        cmocka_unit_test(test_response_head),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
