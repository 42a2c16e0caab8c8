/* app/app — the built-in applications on a runtime's stack:
 *   echo     sends back what it reads; half-closes after the peer did
 *   discard  reads and drops (RFC 863's service)
 *   http     a tiny HTTP/1.1 responder with keep-alive, a keep-alive
 *            timeout and a request limit (nginx's keepalive_timeout and
 *            keepalive_requests). Routes: /           a greeting
 *                                           /bytes/N    N bytes ('a' + i % 26)
 *                                           /reset      no answer: abortive close (RST)
 * and the `synack connect` pipe: a file descriptor pair (stdin/stdout)
 * joined to one connection, like nc. */
#ifndef SYNACK_APP_APP_H
#define SYNACK_APP_APP_H

#include <stdbool.h>
#include <stddef.h>

#include "app/rt.h"

#define APP_KINDS(X)                                   \
    X(ECHO, "echo", 7, "send back what is received")   \
    X(DISCARD, "discard", 9, "read and drop everything") \
    X(HTTP, "http", 80, "tiny HTTP/1.1 responder with keep-alive")

enum app_kind {
#define APP_KIND_ENUM(id, name, port, help) APP_##id,
    APP_KINDS(APP_KIND_ENUM)
#undef APP_KIND_ENUM
    APP_KIND_COUNT
};
const char *app_kind_name(enum app_kind k);
uint16_t app_kind_port(enum app_kind k);
int app_kind_parse(const char *name); /* -1 if unknown */

#define APP_MAX_LISTEN 8

struct app_server_config {
    enum app_kind kind;
    struct wire_endpoint listen[APP_MAX_LISTEN];
    size_t nlisten;
    int backlog;                 /* listen(2) backlog (default 511, nginx's) */
    tcp_time_t accept_delay;     /* a slow application: accept nothing for this long (TCP_TIME_NEVER: never) */
    bool keepalive;              /* SO_KEEPALIVE on every connection (times: tcp_keepalive_*) */
    unsigned http_keepalive_timeout_s;  /* 0: no keep-alive (default 75, nginx's) */
    unsigned http_keepalive_requests;   /* requests per connection (default 1000, nginx's) */
    unsigned lingering_timeout_s;       /* after our FIN, how long to drain the peer (default 5) */
};
void app_server_config_default(struct app_server_config *c);

struct app_server;
/* Binds and listens on every address of cfg and serves. NULL with a reason
 * in err (e.g. EADDRINUSE). */
struct app_server *app_server_start(struct rt *rt, const struct app_server_config *cfg, char *err, size_t errlen);
/* Closes the listeners and every connection (abortively: the process is
 * going away). NULL is fine. */
void app_server_free(struct app_server *s);
/* Connections being served now. */
size_t app_server_active(const struct app_server *s);

/* ---- `synack connect` ---- */
struct app_pipe_config {
    struct wire_endpoint remote;
    int in_fd, out_fd;    /* data to send / where received data goes */
    bool keepalive;
    int linger;           /* SO_LINGER seconds, -1 off */
    bool close_on_eof;    /* close() instead of shutdown(SHUT_WR) when in_fd ends */
    bool keep_timewait;   /* stay until our TIME-WAIT entry expires */
};
void app_pipe_config_default(struct app_pipe_config *c);

struct app_pipe;
/* Starts connecting. NULL with a reason in err. */
struct app_pipe *app_pipe_start(struct rt *rt, const struct app_pipe_config *cfg, char *err, size_t errlen);
void app_pipe_free(struct app_pipe *p);
/* After the runtime stopped: 0 if the exchange ended well, else the errno
 * that ended it (ECONNREFUSED, ECONNRESET, ETIMEDOUT...; EINTR if the loop
 * was stopped first) with a message. */
int app_pipe_result(const struct app_pipe *p, const char **message);

#endif
