/* The HTTP/1.1 responder. One request at a time per connection (pipelined
 * requests wait in the buffer); the response is written as the send buffer
 * takes it. Persistence follows RFC 9112 §9.3 and nginx's limits: after
 * keepalive_requests responses, or when keep-alive is off, the response says
 * "Connection: close" and the server closes first, with a lingering close
 * (shutdown, then drain the peer) so that a late request byte does not turn
 * our FIN into a RST. An idle connection is closed after
 * keepalive_timeout. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_internal.h"

#define HTTP_CHUNK 16384
#define HTTP_FIRST_REQUEST_TIMEOUT_S 60 /* when keep-alive is off: nginx's client_header_timeout */

static void idle_expired(struct rt *rt, struct rt_timer *t)
{
    struct app_conn *c = t->arg;
    rt_event_app(rt, c->sd, "close", "keepalive_timeout");
    app_conn_linger(c);
}

static void arm_idle(struct app_conn *c)
{
    unsigned s = c->srv->cfg.http_keepalive_timeout_s;
    if (!rt_timer_armed(&c->timer))
        rt_timer_arm(c->srv->rt, &c->timer, rt_now() + TCP_SEC(s ? s : HTTP_FIRST_REQUEST_TIMEOUT_S));
}

void app_http_start(struct app_conn *c)
{
    rt_timer_init(&c->timer, idle_expired, c);
    arm_idle(c);
}

/* Sends what the stack takes. 1: all out; 0: later (POLLOUT); -1: c is gone. */
static int flush(struct app_conn *c)
{
    struct stack *st = rt_stack(c->srv->rt);
    char chunk[HTTP_CHUNK];
    while (c->head_off < c->head_len || c->body_off < c->body_len) {
        const char *data;
        size_t len;
        if (c->head_off < c->head_len) {
            data = c->head + c->head_off;
            len = c->head_len - c->head_off;
        } else if (c->body_kind == 1) {
            data = &HTTP_HELLO_BODY[c->body_off];
            len = (size_t)(c->body_len - c->body_off);
        } else {
            uint64_t left = c->body_len - c->body_off;
            len = left < sizeof chunk ? (size_t)left : sizeof chunk;
            for (size_t i = 0; i < len; i++)
                chunk[i] = http_body_byte(c->body_off + i);
            data = chunk;
        }
        ssize_t n = stack_send(st, c->sd, data, len, rt_now());
        if (n == -EAGAIN)
            return 0;
        if (n < 0) {
            app_conn_fail(c, "send", n);
            return -1;
        }
        if (c->head_off < c->head_len)
            c->head_off += (size_t)n;
        else
            c->body_off += (uint64_t)n;
    }
    return 1;
}

static void start_response(struct app_conn *c, int status, int body_kind, uint64_t body_len, bool head_only,
                           bool keep)
{
    const struct app_server_config *cfg = &c->srv->cfg;
    unsigned left = cfg->http_keepalive_requests > c->served + 1 ? cfg->http_keepalive_requests - c->served - 1 : 0;
    c->head_len = http_response_head(c->head, sizeof c->head, status, body_len, keep, cfg->http_keepalive_timeout_s,
                                     left);
    c->head_off = 0;
    c->body_kind = body_kind;
    c->body_len = head_only ? 0 : body_len;
    /* A small body goes with the head in one send: one segment, and no
     * wait for Nagle (RFC 896) between the two. */
    if (body_kind == 1 && c->body_len && c->head_len && c->head_len + c->body_len < sizeof c->head) {
        memcpy(c->head + c->head_len, HTTP_HELLO_BODY, (size_t)c->body_len);
        c->head_len += (size_t)c->body_len;
        c->body_len = 0;
    }
    c->body_off = 0;
    c->close_after = !keep;
    c->responding = true;
    rt_timer_cancel(c->srv->rt, &c->timer);
}

static void error_response(struct app_conn *c, int status)
{
    /* The rest of the input cannot be trusted: answer and close. */
    c->len = 0;
    c->body_skip = 0;
    start_response(c, status, 0, 0, false, false);
}

/* /bytes/N: N in 0..HTTP_MAX_BYTES, digits only. */
static bool bytes_route(const char *target, uint64_t *n)
{
    static const char prefix[] = "/bytes/";
    if (strncmp(target, prefix, sizeof prefix - 1) != 0)
        return false;
    const char *p = target + sizeof prefix - 1;
    if (!*p)
        return false;
    uint64_t v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > HTTP_MAX_BYTES)
            return false;
    }
    *n = v;
    return true;
}

/* Returns false if c is gone. */
static bool respond(struct app_conn *c, const struct http_request *req)
{
    const struct app_server_config *cfg = &c->srv->cfg;
    if (!strcmp(req->target, "/reset")) {
        app_conn_abort(c);
        return false;
    }
    bool keep = req->keep_alive && cfg->http_keepalive_timeout_s > 0 && c->served + 1 < cfg->http_keepalive_requests;
    bool head_only = !strcmp(req->method, "HEAD");
    uint64_t n;
    if (!strcmp(req->target, "/"))
        start_response(c, 200, 1, sizeof HTTP_HELLO_BODY - 1, head_only, keep);
    else if (bytes_route(req->target, &n))
        start_response(c, 200, 2, n, head_only, keep);
    else
        start_response(c, 404, 0, 0, head_only, keep);
    return true;
}

static void consume(struct app_conn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

void app_http_event(struct app_conn *c, unsigned events)
{
    (void)events;
    struct stack *st = rt_stack(c->srv->rt);
    char scratch[HTTP_CHUNK];
    for (;;) {
        if (c->responding) {
            int r = flush(c);
            if (r <= 0)
                return;
            c->responding = false;
            c->served++;
            if (c->close_after) {
                app_conn_linger(c);
                return;
            }
        }
        if (c->body_skip && c->len) {
            size_t n = c->body_skip < c->len ? (size_t)c->body_skip : c->len;
            consume(c, n);
            c->body_skip -= n;
        }
        if (!c->body_skip && c->len) {
            struct http_request req;
            enum http_parse r = http_parse_request(c->buf, c->len, &req);
            if (r == HTTP_COMPLETE) {
                consume(c, req.head_len);
                c->body_skip = req.content_length;
                if (!respond(c, &req))
                    return;
                continue;
            }
            if (r != HTTP_INCOMPLETE) {
                error_response(c, r == HTTP_TOO_LARGE ? 431 : r == HTTP_UNSUPPORTED ? 501 : 400);
                continue;
            }
        }
        ssize_t n;
        if (c->body_skip) {
            size_t want = c->body_skip < sizeof scratch ? (size_t)c->body_skip : sizeof scratch;
            n = stack_recv(st, c->sd, scratch, want, rt_now());
            if (n > 0)
                c->body_skip -= (uint64_t)n;
        } else {
            n = stack_recv(st, c->sd, c->buf + c->len, HTTP_MAX_HEAD - c->len, rt_now());
            if (n > 0)
                c->len += (size_t)n;
        }
        if (n > 0)
            continue;
        if (n == -EAGAIN) {
            arm_idle(c);
            return;
        }
        if (n == 0) {
            c->peer_eof = true;
            app_conn_close(c); /* the client is done: our FIN answers its FIN */
        } else {
            app_conn_fail(c, "recv", n);
        }
        return;
    }
}
