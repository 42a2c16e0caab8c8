/* sim/flood_lab — SYN-flood survival at scale, in virtual time: a listener
 * on a simnet under a spoofed SYN flood of any rate (a million a second and
 * more) while real clients connect, send a request on the third segment and
 * wait for its echo. What `synack bench synflood` prints as "% of real
 * clients served, cookies on and off" (issue 5).
 *
 * Unlike the scenario runner this keeps no event log and watches no packet:
 * hosts, links and timers are the simulator's (simnet and struct stack), the
 * applications are a few lines each, and nothing grows with the number of
 * SYNs, so ten million SYNs cost only CPU. Deterministic: same parameters,
 * same result. No clock is read; progress is reported in virtual time. */
#ifndef SYNACK_SIM_FLOOD_LAB_H
#define SYNACK_SIM_FLOOD_LAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcp/tcp_types.h"

struct flood_lab_result;

struct flood_lab_params {
    uint64_t syn_rate;          /* spoofed SYNs per virtual second (0: no flood) */
    tcp_time_t flood_end;       /* the flood runs over [0, flood_end) */
    uint32_t clients;           /* real clients, started evenly over... */
    tcp_time_t clients_start, clients_end; /* ...[clients_start, clients_end) */
    tcp_time_t deadline;        /* a client not served this long after it started gives up */
    uint32_t backlog;           /* the server's listen() backlog */
    int64_t syncookies;         /* the server's tcp_syncookies (0, 1, 2) */
    uint32_t request_bytes;     /* each client sends this many, the server echoes them */
    tcp_time_t delay;           /* one-way delay of every link */
    uint64_t seed;              /* ISN keys and the flood's sources */
    /* Called every progress_every of virtual time with the figures so far
     * (NULL: never). */
    void (*progress)(void *ctx, const struct flood_lab_result *so_far);
    void *progress_ctx;
    tcp_time_t progress_every;
};

struct flood_lab_result {
    tcp_time_t now;             /* virtual time reached */
    uint64_t syns_sent;         /* spoofed SYNs put on the wire */
    uint32_t clients_started;
    uint32_t served;            /* connected and got the whole echo in time */
    uint32_t gave_up;           /* still waiting at the deadline */
    uint32_t failed;            /* connect() failed or the connection was reset */
    tcp_time_t served_p50, served_p99, served_max; /* time from connect() to the last echo byte */
    uint32_t syn_q_peak, accept_q_peak, syn_q_max; /* the listener, sampled every 10 ms */
    struct tcp_counters server; /* nstat of the server */
    uint64_t events;            /* simulator events processed */
    size_t conns_left;          /* entries still held once everything timed out (0) */
};

/* The figure: 1,000,000 SYN/s against backlog 128 for 6 s while
 * 10,000 clients start over [0.5 s, 3.5 s), each with 2.5 s to be served,
 * tcp_syncookies=1 (Linux's default), a 16-byte request, 10 ms links. */
void flood_lab_default(struct flood_lab_params *p);

/* Runs the flood, then lets every timer run out and checks that both
 * stacks end empty. Returns 0, or -1 (bad parameters, out of memory, a
 * simulator error) with *why set. */
int flood_lab_run(const struct flood_lab_params *p, struct flood_lab_result *r, const char **why);

#endif
