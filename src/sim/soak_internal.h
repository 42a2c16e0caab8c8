/* sim/soak_internal — what soak_world.c gives the two soaks: a world of two
 * hosts (client 0, server 1) on one simnet link, each a stack that can be
 * frozen or rebooted; applications driven by the stacks' readiness; the
 * data each side sends (a keyed pseudo-random stream, verified byte by
 * byte on arrival); and the end-of-trial checks. */
#ifndef SYNACK_SIM_SOAK_INTERNAL_H
#define SYNACK_SIM_SOAK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "link/sim_rng.h"
#include "link/simnet.h"
#include "sim/soak.h"
#include "stack/stack.h"

#define SOAK_MAX_CONNS 8   /* connections per world */
#define SOAK_MAX_EPS 32    /* application endpoints per world (strays included) */
#define SOAK_MAX_SOCKETS 64
#define SOAK_PORT 80
#define SOAK_ID_BYTES 8    /* the server knows a stream by its first bytes */

enum soak_behaviour {
    SOAK_APP_NORMAL,      /* send all, shutdown, read to EOF, close */
    SOAK_APP_NEVER_READ,  /* reads nothing (a server: only the first bytes) */
    SOAK_APP_NEVER_CLOSE, /* sends, reads to EOF, never shuts down nor closes */
};

struct soak_world;
struct soak_conn;

struct soak_ep {
    struct soak_world *w;
    struct soak_conn *conn; /* NULL: a server end not yet known */
    int host, sd;
    int dir;                /* the direction it sends: 0 client->server, 1 back */
    enum soak_behaviour behaviour;
    bool used, connecting, shut_wr, eof, done, pending;
    bool revived;           /* a second server end of a closed connection (SYN cookie) */
    enum soak_end end;
    int err;                /* the errno it ended with */
    uint64_t to_send, sent, rcvd;
    uint64_t sum_sent, sum_rcvd; /* FNV-1a 64 of each stream, both ends */
    uint8_t head[SOAK_ID_BYTES]; /* a server's first bytes, until it knows its stream */
};

struct soak_conn {
    int id;
    uint64_t key[2];       /* the data of each direction */
    uint64_t size[2];      /* what each side's app sends */
    enum soak_behaviour behaviour[2];
    tcp_time_t start;
    bool deferred;         /* its host was down at start: connect when it is up */
    struct soak_ep *ep[2]; /* client end, server end (NULL until accepted and known) */
    uint16_t client_port;
    /* What each side last put on the wire for this connection (RST injection). */
    bool seen[2];
    struct wire_tuple tuple[2]; /* as side i sent it: src is side i */
    uint32_t last_ack[2];
    uint16_t last_win[2];
};

struct soak_host {
    struct soak_world *w;
    int index;
    struct stack *stack;
    struct wire_addr addr;
    int down;          /* > 0: frozen or rebooting: no input, no timers, no apps */
    unsigned boots;
    int listener;      /* the server's listening descriptor, -1 if none */
    struct tcp_config tcp;
};

struct soak_dir_mods {
    struct simnet_link_params base;
    int blackouts;     /* cuts and loss bursts in force */
    tcp_time_t extra_delay;
};

struct soak_call {
    struct soak_world *w;
    void (*fn)(struct soak_world *w, void *arg);
    void *arg;
};
#define SOAK_MAX_CALLS 256 /* scheduled calls per world */

struct soak_world {
    struct simnet *net;
    struct sim_rng rng;
    uint64_t seed;
    struct soak_host hosts[2];
    struct soak_dir_mods dir[2]; /* 0: client->server, 1: server->client */
    struct soak_conn conns[SOAK_MAX_CONNS];
    int nconns;
    struct soak_ep eps[SOAK_MAX_EPS];
    struct soak_ep *by_sd[2][SOAK_MAX_SOCKETS];
    char fail[600];    /* the first broken promise, "" if none */
    struct soak_summary *sum;
    void *ctx;         /* the soak's own trial state */
    /* SO_KEEPALIVE on every connection when keepidle > 0: a dead peer, or
     * one whose orphan gave up, ends an idle connection with an errno. */
    int keepidle, keepintvl, keepcnt;
    /* Every packet put on the link (the faults soak learns windows from it). */
    void (*observe)(struct soak_world *w, const struct simnet_packet *p);
    bool trace;        /* SOAK_TRACE set: segments and state changes on stderr */
    struct tcp_counters counters[2]; /* of stacks already torn down (reboots) */
    bool apps_frozen;  /* after the deadline: no more app steps */
    struct soak_call calls[SOAK_MAX_CALLS];
    int ncalls;
    uint8_t buf[65536];
};

/* ---- the world ---- */
/* Two hosts with these knobs (IPv6 addresses if v6), linked with these
 * parameters, the server listening. 0, or -1 (out of memory). */
int soak_world_init(struct soak_world *w, uint64_t seed, const struct tcp_config tcp[2], bool v6,
                    const struct simnet_link_params *c2s, const struct simnet_link_params *s2c,
                    struct soak_summary *sum);
/* Counters and link figures into the summary, then frees everything. */
void soak_world_free(struct soak_world *w);
void soak_world_failf(struct soak_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Schedules fn(w, arg) at virtual time t. */
int soak_at(struct soak_world *w, tcp_time_t t, void (*fn)(struct soak_world *w, void *arg), void *arg);
/* The link's effective parameters after a change to w->dir[d]. */
void soak_apply_link(struct soak_world *w, int d);
/* Host state: down (frozen: the stack keeps its state) and up again
 * (counted: up undoes one down);
 * reboot: the stack is freed, its applications die, a fresh stack (new
 * secret) starts and the server listens again. */
void soak_host_down(struct soak_world *w, int host);
void soak_host_up(struct soak_world *w, int host);
int soak_host_reboot(struct soak_world *w, int host);

/* ---- connections and applications ---- */
/* A client connection opened at `start`; the caller fills sizes,
 * behaviours and keys through the returned conn. */
struct soak_conn *soak_conn_add(struct soak_world *w, tcp_time_t start);
/* Runs ep's application now (reads, writes, closes as its behaviour says). */
void soak_ep_step(struct soak_ep *ep);
/* The app ends now, whatever it was doing: ABORTED (RST), CLOSED_EARLY or
 * EXITED (close). False if there was nothing to end (or its host is down). */
bool soak_ep_end_now(struct soak_ep *ep, enum soak_end end);
/* Exits the applications still running (all, or only the never-read and
 * never-close ones): the OS closes their descriptors. */
void soak_exit_apps(struct soak_world *w, bool lazy_only);
bool soak_apps_done(const struct soak_world *w);

/* ---- the run ---- */
/* Runs the world until t (or an error). */
int soak_run_until(struct soak_world *w, tcp_time_t t);
/* The end of a trial: apps must be done; then everything drains and both
 * hosts must hold nothing. Fills the summary; returns 0 or -1 (failure). */
int soak_finish(struct soak_world *w);
/* "stack 0: ESTABLISHED 10.0.0.1:40000 -> 10.0.0.2:80 ..." for failure reports. */
void soak_dump_state(struct soak_world *w, char *buf, size_t cap);

/* Runs the trials (all, or --only's) and reports; trial returns 0, -1
 * (failed: w->fail says why) or -2 (out of memory). soak_stream.c. */
typedef int (*soak_trial_fn)(struct soak_world *w, const struct soak_options *o, uint64_t trial,
                             struct soak_summary *sum);
int soak_loop(const struct soak_options *o, struct soak_summary *sum, bool faults, soak_trial_fn trial);

uint64_t soak_trial_seed(uint64_t seed, uint64_t trial);
/* The data: byte `off` of the stream keyed `key`. */
void soak_fill(uint64_t key, uint64_t off, uint8_t *out, size_t len);
uint64_t soak_fnv(uint64_t h, const uint8_t *p, size_t len);
#define SOAK_FNV_INIT UINT64_C(0xcbf29ce484222325)
enum soak_errno soak_errno_of(int err);

#endif
