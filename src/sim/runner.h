/* sim/runner — runs one scenario: builds the hosts (a struct stack each) on
 * a simnet, lets the scenario script its applications, runs virtual time
 * until every timer has run out, closes what the applications left open,
 * and hands back the event log.
 *
 * Applications are small callbacks: timed actions (sim_at, sim_at_action)
 * and readiness watchers (sim_watch), called from the event loop, never
 * from inside the stack. Every socket call made through the sim_* wrappers
 * is logged as an "app" event with its result. */
#ifndef SYNACK_SIM_RUNNER_H
#define SYNACK_SIM_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "link/simnet.h"
#include "sim/events.h"
#include "stack/stack.h"

struct pcap_writer;
struct sim_run;

/* A knob set on every simulated host, over the scenario's own choice
 * (`synack sim --sysctl name=value`). */
#define SIM_MAX_SYSCTLS 16
struct sim_sysctl {
    char name[48]; /* a tcp_config name, "net.ipv4." prefix allowed */
    int64_t value;
};

struct sim_options {
    uint64_t seed;            /* PRNG and ISN keys; same seed, same run */
    double loss;              /* random loss on every link, both ways, on top of the script */
    struct pcap_writer *pcap; /* optional: every packet put on a link */
    struct sim_sysctl sysctls[SIM_MAX_SYSCTLS]; /* applied in order, last wins */
    size_t nsysctls;
};
void sim_options_default(struct sim_options *o);
/* Adds a --sysctl override. Returns 0, or -1 if the name is not a knob of
 * tcp_types.h's table (or there are already SIM_MAX_SYSCTLS). */
int sim_options_add_sysctl(struct sim_options *o, const char *name, int64_t value);

struct sim_scenario {
    const char *name;
    const char *description;
    /* Builds hosts and links, starts apps, schedules faults. Runs at t=0.
     * Returns 0, or -1 if the script could not be set up. */
    int (*setup)(struct sim_run *run);
    tcp_time_t limit; /* stop here even if timers remain (0: a day) */
};

struct sim_result {
    struct sim_log log;
    int status;                     /* 0, or -1: error says why */
    char error[200];
    tcp_time_t end;                 /* virtual time when the run ended */
    int nhosts;
    size_t conns_left[SIM_MAX_HOSTS]; /* stack_conn_count after the run */
    bool frozen[SIM_MAX_HOSTS];       /* hosts that vanished (not checked) */
    bool has_stack[SIM_MAX_HOSTS];
    struct tcp_counters counters[SIM_MAX_HOSTS];
    struct simnet_stats net;
};

/* Runs sc. res is always filled (free it with sim_result_free); returns
 * res->status. */
int sim_run_scenario(const struct sim_scenario *sc, const struct sim_options *opt, struct sim_result *res);
void sim_result_free(struct sim_result *res);

/* ---- building the network (from setup) ---- */
#define SIM_DEFAULT_DELAY TCP_MSEC(10) /* one way: a 20 ms round trip */
/* A host running a stack with Linux's defaults (tcp NULL) or these knobs,
 * then the run's --sysctl overrides. Returns the host index or -1. */
int sim_host(struct sim_run *run, const char *name, const char *addr, const struct tcp_config *tcp);
/* The knobs sim_host gives a host asked for tcp (NULL: Linux's defaults):
 * tcp with the run's overrides on top. */
void sim_host_config(const struct sim_run *run, const struct tcp_config *tcp, struct tcp_config *out);
/* What makes a struct stack a simnet node (its input, tick, next timer). */
extern const struct simnet_node_ops sim_stack_node_ops;
/* A host with no stack: it absorbs what is sent to it. */
int sim_ghost(struct sim_run *run, const char *name, const char *addr);
/* A link with this one-way delay both ways, plus the run's --loss. */
int sim_link(struct sim_run *run, int a, int b, tcp_time_t delay);
struct simnet *sim_net(struct sim_run *run);
/* Zeroed memory that lives as long as the run (script state, apps). */
void *sim_alloc(struct sim_run *run, size_t size);
struct sim_log *sim_log(struct sim_run *run);
struct stack *sim_stack(struct sim_run *run, int host);
tcp_time_t sim_now(const struct sim_run *run);
/* Makes the host vanish at t (no FIN, no RST, nothing): simnet_freeze plus a note. */
void sim_vanish(struct sim_run *run, int host, tcp_time_t t, const char *why);

/* ---- time ---- */
typedef void (*sim_fn)(struct sim_run *run, void *arg);
int sim_at(struct sim_run *run, tcp_time_t t, sim_fn fn, void *arg);
void sim_note(struct sim_run *run, int host, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Canned actions on a descriptor the app holds in *sd (read when the action
 * runs, so it may be an accepted one not known yet; -1 means none). */
enum sim_action {
    SIM_ACT_CLOSE,
    SIM_ACT_SHUTDOWN_WR,
    SIM_ACT_ABORT,
    SIM_ACT_SEND,  /* text */
    SIM_ACT_NOTE,  /* text, no descriptor */
    SIM_ACT_EXIT,  /* the process exits: the OS closes all its descriptors */
};
int sim_at_action(struct sim_run *run, tcp_time_t t, enum sim_action act, int host, const int *sd,
                  const char *text);

/* ---- socket calls, logged as app events ---- */
/* socket + bind(port) + listen: one "listen" event. Returns sd or -errno. */
int sim_listen(struct sim_run *run, int host, uint16_t port, int backlog);
/* socket (+ bind to local_port if non-zero) + connect to the first address
 * of server_host. Logs "connect" = EINPROGRESS (or the error). Returns sd. */
int sim_connect(struct sim_run *run, int host, int server_host, uint16_t port, uint16_t local_port);
int sim_accept(struct sim_run *run, int host, int lsd);
ssize_t sim_send(struct sim_run *run, int host, int sd, const char *text);
/* One recv: logs "N bytes", "EOF" or the error; -EAGAIN is not logged. */
ssize_t sim_recv(struct sim_run *run, int host, int sd);
int sim_close(struct sim_run *run, int host, int sd);
int sim_shutdown_wr(struct sim_run *run, int host, int sd);
int sim_abort(struct sim_run *run, int host, int sd);
int sim_setsockopt(struct sim_run *run, int host, int sd, enum stack_opt opt, int value);
/* "ECONNREFUSED" for 111, "E<n>" for unknown ones. */
const char *sim_errno_name(int err);

/* ---- readiness ---- */
/* fn runs (from the event loop) whenever the stack says sd's readiness may
 * have changed; revents is stack_poll() then. Replaces an earlier watcher of
 * the same descriptor. sim_close/sim_abort drop it. */
typedef void (*sim_sock_fn)(struct sim_run *run, int host, int sd, unsigned revents, void *arg);
int sim_watch(struct sim_run *run, int host, int sd, sim_sock_fn fn, void *arg);
void sim_unwatch(struct sim_run *run, int host, int sd);
/* Runs sd's watcher again now, as if the stack had said it is ready. */
void sim_poke(struct sim_run *run, int host, int sd);

/* ---- ready-made applications ---- */
/* A configurable peer: what a client does once connected, what a server
 * does with each connection it accepts. */
struct sim_app {
    const char *send_on_connect; /* sent as soon as connected (NULL: nothing) */
    bool echo;                   /* send back what arrives */
    bool accept;                 /* listener: accept when a connection is ready */
    tcp_time_t close_after_eof;  /* close this long after reading EOF (SIM_NEVER: keep it) */
    tcp_time_t close_after_connect; /* client: close this long after connecting (SIM_NEVER: no) */
    bool read;                   /* read what arrives (false: leave it unread) */
    bool shutdown_after_send;    /* shutdown(SHUT_WR) right after send_on_connect */
    const char *expect;          /* the whole stream each connection must read: at EOF a
                                  * note says whether it arrived intact and in order */
    /* filled in by the runner */
    int host;
    int sd;      /* client: its socket; server: the last connection accepted */
    int lsd;     /* server: the listener */
    int accepted;
    bool connected, failed;
};
#define SIM_NEVER TCP_TIME_NEVER
struct sim_app *sim_app_new(struct sim_run *run);
/* Client: connects now and runs app on the socket. Returns sd or -errno. */
int sim_app_client(struct sim_run *run, struct sim_app *app, int host, int server_host, uint16_t port,
                   uint16_t local_port);
/* The same, at time t. */
int sim_app_client_at(struct sim_run *run, struct sim_app *app, tcp_time_t t, int host, int server_host,
                      uint16_t port, uint16_t local_port);
/* Server: listens now and runs app on every accepted connection. */
int sim_app_server(struct sim_run *run, struct sim_app *app, int host, uint16_t port, int backlog);
/* Runs app on an existing connected (or connecting) socket. */
int sim_app_attach(struct sim_run *run, struct sim_app *app, int host, int sd);
/* From t on, app reads what arrives (it was made with read = false). */
int sim_app_read_from(struct sim_run *run, struct sim_app *app, tcp_time_t t);
/* FNV-1a (64 bits) of len bytes, continuing from h (start: SIM_FNV1A_INIT);
 * the checksum the notes of an `expect` stream give. */
#define SIM_FNV1A_INIT 0xcbf29ce484222325u
uint64_t sim_fnv1a(uint64_t h, const void *data, size_t len);

#endif
