/* Shared by the built-in apps' files: one server, its connections. */
#ifndef SYNACK_APP_INTERNAL_H
#define SYNACK_APP_INTERNAL_H

#include "app/app.h"
#include "app/http.h"

#define APP_BUF 65536

struct app_server;

struct app_conn {
    struct app_server *srv;
    int sd;
    struct app_conn *prev, *next;
    struct rt_timer timer; /* http: idle (keep-alive) timeout; all: lingering close */
    bool peer_eof;         /* recv returned 0 */
    bool lingering;        /* our FIN is out: draining the peer until its FIN or the timer */
    /* echo: bytes read, not yet sent; http: request bytes not yet parsed */
    char *buf;
    size_t len, off;
    /* http */
    unsigned served;
    uint64_t body_skip;    /* request body bytes still to drop */
    char head[512];
    size_t head_len, head_off;
    uint64_t body_len, body_off;
    int body_kind;         /* 0 none, 1 greeting, 2 /bytes pattern */
    bool responding, close_after;
};

struct app_listener {
    struct app_server *srv;
    int sd;
};

struct app_server {
    struct rt *rt;
    struct app_server_config cfg;
    struct app_listener listeners[APP_MAX_LISTEN];
    size_t nlisteners;
    tcp_time_t accept_at;  /* TCP_TIME_NEVER: never accept */
    struct rt_timer accept_timer;
    struct app_conn *conns;
    size_t active;
};

/* Releases the descriptor (FIN, or RST if data is left unread) and frees c. */
void app_conn_close(struct app_conn *c);
/* SO_LINGER 0 and close: RST (RFC 9293 §3.10.5). */
void app_conn_abort(struct app_conn *c);
/* shutdown(SHUT_WR), then drain the peer until its FIN or lingering_timeout. */
void app_conn_linger(struct app_conn *c);
/* A failed call: logged as an app event, then the descriptor is closed. */
void app_conn_fail(struct app_conn *c, const char *call, long err);
/* Reads and drops while lingering; returns true if c is gone. */
bool app_conn_drain(struct app_conn *c);

void app_echo_event(struct app_conn *c, unsigned events);
void app_discard_event(struct app_conn *c, unsigned events);
void app_http_event(struct app_conn *c, unsigned events);
void app_http_start(struct app_conn *c);

#endif
