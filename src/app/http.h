/* app/http — the pieces of HTTP/1.1 (RFC 9112) the built-in responder
 * needs, as pure functions: parse a request head, decide persistence,
 * write a response head, and the body of /bytes/N. */
#ifndef SYNACK_APP_HTTP_H
#define SYNACK_APP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEAD 8192
#define HTTP_MAX_TARGET 256

enum http_parse {
    HTTP_INCOMPLETE, /* no blank line yet: read more */
    HTTP_COMPLETE,   /* *req filled; req->head_len bytes make the head */
    HTTP_BAD,        /* 400 */
    HTTP_TOO_LARGE,  /* head over HTTP_MAX_HEAD: 431 */
    HTTP_UNSUPPORTED /* Transfer-Encoding on a request: 501 */
};

struct http_request {
    char method[16];
    char target[HTTP_MAX_TARGET];
    int minor;             /* HTTP/1.minor */
    bool keep_alive;       /* RFC 9112 §9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive" */
    uint64_t content_length;
    size_t head_len;
};

/* Parses the head at buf[0..len). Lines may end in CRLF or a bare LF
 * (RFC 9112 §2.2). */
enum http_parse http_parse_request(const char *buf, size_t len, struct http_request *req);

/* A response head into buf; returns its length, or 0 if cap is too small.
 * keep_alive_timeout_s / requests_left feed the Keep-Alive header (as nginx
 * sends it) when the connection persists. */
size_t http_response_head(char *buf, size_t cap, int status, uint64_t content_length, bool keep_alive,
                          unsigned keep_alive_timeout_s, unsigned requests_left);
const char *http_reason(int status);

/* The body served at /bytes/N: byte i is 'a' + i % 26. */
static inline char http_body_byte(uint64_t i) { return (char)('a' + i % 26); }
#define HTTP_HELLO_BODY "hello from synack, a user-space TCP\n"
#define HTTP_MAX_BYTES (1ull << 32) /* /bytes/N upper bound */

#endif
