/* stack/ — one host's TCP: connection tables, dispatch of incoming packets,
 * a non-blocking socket-like API and the counters. Sans-I/O like the layers
 * below it: packets come in as bytes, time as an argument, and everything to
 * send goes out through hooks->output. */
#ifndef SYNACK_STACK_H
#define SYNACK_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tcp/tcp_types.h"
#include "wire/wire.h"

struct stack;

struct stack_config {
    struct tcp_config tcp;
    uint8_t secret[32];                /* keys ISNs (RFC 6528), ports (RFC 6056), cookies */
    uint16_t ephemeral_lo, ephemeral_hi; /* ip_local_port_range: 32768 60999 */
    uint32_t max_sockets;              /* descriptor table size */
};
/* Linux's defaults; secret all zero (set it: randombytes_buf, or a seed in the sim). */
void stack_config_default(struct stack_config *c);

/* Why a connection's state changed, for observers (simulator, logs). */
struct stack_state_change {
    int sd;                   /* descriptor, or -1 (half-open, TIME-WAIT, orphan) */
    struct wire_tuple tuple;  /* src = local end, dst = remote end */
    enum tcp_state from, to;
    tcp_time_t now;
};

struct stack_hooks {
    void *ctx;
    /* An IP packet to put on the wire. Required. */
    void (*output)(void *ctx, const uint8_t *pkt, size_t len);
    /* Every state transition of every connection. Optional. */
    void (*state_change)(void *ctx, const struct stack_state_change *change);
    /* A descriptor's readiness (STACK_POLL*) may have changed. Optional. */
    void (*ready)(void *ctx, int sd, unsigned events);
};

struct stack *stack_new(const struct stack_config *cfg, const struct stack_hooks *hooks, tcp_time_t now);
/* Frees everything, sending nothing. */
void stack_free(struct stack *s);

/* ---- Driving the stack ---- */
/* An IP packet arrived. Malformed ones are counted and dropped. */
void stack_input(struct stack *s, const uint8_t *pkt, size_t len, tcp_time_t now);
/* Runs every timer due at or before now. */
void stack_tick(struct stack *s, tcp_time_t now);
/* When stack_tick next has work, or TCP_TIME_NEVER. */
tcp_time_t stack_next_timer(const struct stack *s);

/* ---- The socket-like API. Every call returns >= 0 on success or a negative
 * errno (-EAGAIN, -ECONNREFUSED...), like the kernel's syscalls do inside. ---- */
int stack_socket(struct stack *s);
/* Port 0 picks an ephemeral port (RFC 6056). -EADDRINUSE if taken. */
int stack_bind(struct stack *s, int sd, const struct wire_endpoint *local);
/* backlog is clamped to somaxconn like Linux. */
int stack_listen(struct stack *s, int sd, int backlog);
/* A new descriptor from the accept queue, or -EAGAIN. */
int stack_accept(struct stack *s, int sd, struct wire_endpoint *peer);
/* Sends the SYN; returns -EINPROGRESS. Completion shows as STACK_POLLOUT,
 * failure as STACK_POLLERR with stack_sock_error() giving the errno. An
 * unbound socket gets the local address given by stack_set_local_addr. */
int stack_connect(struct stack *s, int sd, const struct wire_endpoint *remote, tcp_time_t now);
/* Bytes queued (possibly fewer than len), -EAGAIN when the buffer is full,
 * -EPIPE after shutdown(SHUT_WR) or a reset, -ENOTCONN if never connected.
 * Data sent in SYN-SENT is queued and leaves with the handshake's third
 * segment (RFC 9293 §3.10.2). */
ssize_t stack_send(struct stack *s, int sd, const void *buf, size_t len, tcp_time_t now);
/* Bytes read, 0 at end of stream, -EAGAIN when nothing is there yet,
 * -ECONNRESET / -ETIMEDOUT after the connection failed. */
ssize_t stack_recv(struct stack *s, int sd, void *buf, size_t len, tcp_time_t now);
enum { STACK_SHUT_RD = 0, STACK_SHUT_WR = 1, STACK_SHUT_RDWR = 2 };
int stack_shutdown(struct stack *s, int sd, int how, tcp_time_t now);
/* Releases the descriptor. The connection lives on as an orphan and closes
 * gracefully (FIN), or is reset: SO_LINGER 0, or unread data (RFC 9293
 * §3.10.4, RFC 2525 §2.17, as Linux). */
int stack_close(struct stack *s, int sd, tcp_time_t now);
/* RFC 9293 ABORT: RST to the peer, descriptor released. */
int stack_abort(struct stack *s, int sd, tcp_time_t now);

enum stack_opt {
    STACK_SO_LINGER,      /* -1 off (default), else linger seconds; 0 = abortive close */
    STACK_SO_KEEPALIVE,   /* 0/1 */
    STACK_TCP_KEEPIDLE,   /* seconds */
    STACK_TCP_KEEPINTVL,  /* seconds */
    STACK_TCP_KEEPCNT,    /* probes */
    STACK_TCP_NODELAY,    /* 0/1 */
    STACK_SO_RCVBUF,      /* bytes */
    STACK_SO_SNDBUF,      /* bytes */
    STACK_SO_REUSEADDR,   /* 0/1 */
    STACK_TCP_SYNCNT,     /* per-socket tcp_syn_retries */
    STACK_TCP_MAXSEG,     /* MSS clamp */
};
int stack_setsockopt(struct stack *s, int sd, enum stack_opt opt, int value);
int stack_getsockopt(struct stack *s, int sd, enum stack_opt opt, int *value);

enum {
    STACK_POLLIN = 0x001,    /* data, EOF, or a connection to accept */
    STACK_POLLOUT = 0x004,   /* connected and send buffer has room */
    STACK_POLLERR = 0x008,   /* an error is pending (stack_sock_error) */
    STACK_POLLHUP = 0x010,   /* both directions closed */
    STACK_POLLRDHUP = 0x2000 /* peer sent FIN */
};
unsigned stack_poll(struct stack *s, int sd);
/* SO_ERROR: the pending errno (positive), cleared by reading; 0 if none. */
int stack_sock_error(struct stack *s, int sd);
int stack_getsockname(struct stack *s, int sd, struct wire_endpoint *out);
int stack_getpeername(struct stack *s, int sd, struct wire_endpoint *out);
/* The descriptor's connection state (CLOSED once released by the stack). */
enum tcp_state stack_sock_state(struct stack *s, int sd);

/* Source address used when connect() is called on an unbound socket. */
void stack_set_local_addr(struct stack *s, const struct wire_addr *addr);

/* ---- Views: ss and nstat ---- */
enum stack_timer_kind {
    STACK_TIMER_OFF,       /* ss: no timer */
    STACK_TIMER_ON,        /* retransmission: "on" */
    STACK_TIMER_KEEPALIVE, /* "keepalive" */
    STACK_TIMER_TIMEWAIT,  /* "timewait" */
    STACK_TIMER_PERSIST,   /* zero-window probe: "persist" */
};

struct stack_conn_info {
    int sd;                /* -1 for half-open, TIME-WAIT and orphans */
    enum tcp_state state;
    struct wire_endpoint local, remote;
    uint32_t recv_q, send_q; /* listeners: accept-queue length and its limit, as ss */
    uint32_t syn_q, syn_q_max; /* listeners only */
    enum stack_timer_kind timer;
    tcp_time_t timer_expires; /* absolute */
    uint32_t retransmits;
    bool orphan;
};
typedef void (*stack_walk_fn)(void *ctx, const struct stack_conn_info *info);
/* Calls fn for every listener, connection, half-open and TIME-WAIT entry. */
void stack_walk(struct stack *s, stack_walk_fn fn, void *ctx);
const struct tcp_counters *stack_counters(const struct stack *s);
/* Connections of all kinds the stack holds (0 once everything has closed). */
size_t stack_conn_count(const struct stack *s);

#endif
