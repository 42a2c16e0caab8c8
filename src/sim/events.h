/* sim/events — what happened in a simulated run, in the order it happened:
 * state changes, segments on the wire, their arrivals, application calls
 * and free-text notes. The renderers draw it, the tests assert on it. */
#ifndef SYNACK_SIM_EVENTS_H
#define SYNACK_SIM_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcp/tcp_types.h"
#include "wire/wire.h"

#define SIM_MAX_HOSTS 8
#define SIM_HOST_NAME_MAX 32
#define SIM_APP_CALL_MAX 24
#define SIM_APP_RESULT_MAX 48
#define SIM_APP_ARGS_MAX 40

enum sim_event_kind {
    SIM_EV_STATE,   /* a connection changed state */
    SIM_EV_SEGMENT, /* a segment was put on a link */
    SIM_EV_ARRIVAL, /* that segment reached its destination (not in JSON) */
    SIM_EV_APP,     /* an application call and what it returned */
    SIM_EV_NOTE,    /* a sentence explaining a step */
};

struct sim_event {
    enum sim_event_kind kind;
    tcp_time_t t;
    int host; /* STATE, APP, NOTE: the host (-1: a note about the whole net); ARRIVAL: receiver */

    /* STATE */
    enum tcp_state from, to;
    int sd;        /* descriptor, -1 for half-open, TIME-WAIT, orphans */
    long cause;    /* index of the SEGMENT whose arrival made the change, or -1 */

    /* STATE: local view (src = local end); SEGMENT: as in the header */
    struct wire_tuple tuple;

    /* SEGMENT */
    int src, dst;  /* hosts; dst -1 when no host owns the address */
    uint8_t flags; /* WIRE_* */
    uint32_t seq, ack, len; /* len: payload bytes */
    uint16_t win;
    struct wire_tcp_options opt;
    tcp_time_t arrives;     /* when it arrives (or would have) */
    bool lost, dup, injected, reordered;
    char drop[12];          /* why it was lost: "random", "script", "cut", "host-down", "no-route" */
    char malformed[24];     /* wire_err name if the codec rejects it, else "" */

    /* ARRIVAL */
    long segment;  /* index of the SEGMENT */

    /* APP: call(args) = result */
    char call[SIM_APP_CALL_MAX];
    char args[SIM_APP_ARGS_MAX];
    char result[SIM_APP_RESULT_MAX];

    /* NOTE (owned) */
    char *text;
};

struct sim_log {
    struct sim_event *ev;
    size_t n, cap;
    int nhosts;
    char host_names[SIM_MAX_HOSTS][SIM_HOST_NAME_MAX];
    struct wire_addr host_addrs[SIM_MAX_HOSTS];
    char name[48];          /* scenario */
    char description[160];
    uint64_t seed;
    bool failed;            /* out of memory while logging */
};

void sim_log_init(struct sim_log *log);
void sim_log_free(struct sim_log *log);
/* Hosts are numbered like the simnet's: add them in the same order.
 * Returns the index or -1. */
int sim_log_add_host(struct sim_log *log, const char *name, const struct wire_addr *addr);
int sim_log_host(const struct sim_log *log, const char *name);
const char *sim_log_host_name(const struct sim_log *log, int host);

/* Appends a copy of *ev (t, kind and the kind's fields filled); returns its
 * index or -1. */
long sim_log_push(struct sim_log *log, const struct sim_event *ev);
long sim_log_state(struct sim_log *log, tcp_time_t t, int host, enum tcp_state from, enum tcp_state to,
                   const struct wire_tuple *tuple, int sd, long cause);
long sim_log_app(struct sim_log *log, tcp_time_t t, int host, const char *call, const char *result);
/* The same with the call's arguments as text ("10.0.0.2:80", "SHUT_WR"). */
long sim_log_app_args(struct sim_log *log, tcp_time_t t, int host, const char *call, const char *args,
                      const char *result);
/* Fills in the result of an app event logged before the call was made. */
void sim_log_app_result(struct sim_log *log, long index, const char *result);
long sim_log_note(struct sim_log *log, tcp_time_t t, int host, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- Queries, for renderers and tests ---- */
/* The nth (1-based) segment sent by src (-1: any) with exactly these tcpdump
 * flags (NULL: any), counting lost ones; NULL if there is none. */
const struct sim_event *sim_log_segment_nth(const struct sim_log *log, int src, const char *flags, unsigned n);
size_t sim_log_segment_count(const struct sim_log *log, int src, const char *flags);
/* The nth app event of host with this call name (NULL: any). */
const struct sim_event *sim_log_app_nth(const struct sim_log *log, int host, const char *call, unsigned n);
/* The nth state change of host into state to (-1: any) from from (-1: any). */
const struct sim_event *sim_log_state_nth(const struct sim_log *log, int host, int from, int to, unsigned n);
/* A host's state changes as a path "LISTEN>SYN-RECEIVED>ESTABLISHED",
 * restricted by remote_port: 0 = listeners (remote end unspecified), -1 =
 * every connection except listeners, N = connections with that remote port.
 * Consecutive changes that do not chain are separated by " | ".
 * Returns buf. */
char *sim_log_path(const struct sim_log *log, int host, int remote_port, char *buf, size_t cap);

/* "mss 1460,sackOK,TS val 1 ecr 0,wscale 7" (tcpdump's words); "" if none. */
char *sim_opts_str(const struct wire_tcp_options *opt, char *buf, size_t cap);
/* "12.345678": microseconds as seconds, exactly. buf needs 24 bytes. */
char *sim_time_str(tcp_time_t t, char *buf, size_t cap);

#endif
