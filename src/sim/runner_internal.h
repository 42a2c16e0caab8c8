/* sim/runner_internal — what runner.c, calls.c and apps.c share. */
#ifndef SYNACK_SIM_RUNNER_INTERNAL_H
#define SYNACK_SIM_RUNNER_INTERNAL_H

#include "sim/runner.h"

#define SIM_RECV_CHUNK 4096

struct sim_host_rt {
    struct sim_run *run;
    int index;
    struct stack *stack; /* NULL for a ghost */
    int *sds;            /* descriptors the apps hold */
    size_t nsds;
};

struct sim_watcher {
    struct sim_run *run;
    int host, sd;
    sim_sock_fn fn;
    void *arg;
    bool active, pending;
};

struct sim_call {
    struct sim_run *run;
    sim_fn fn;
    void *arg;
};

struct sim_action_rec {
    enum sim_action act;
    int host;
    const int *sd;
    char *text;
};

struct sim_run {
    struct simnet *net;
    struct sim_log log;
    struct sim_options opt;
    struct sim_host_rt hosts[SIM_MAX_HOSTS];
    int nhosts;
    long *packet_event; /* packet id -> SEGMENT event index */
    size_t npacket_event;
    void **allocs;
    size_t nallocs;
    struct sim_watcher **watchers;
    size_t nwatchers;
    char error[200];
};

/* runner.c */
void sim_fail(struct sim_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *sim_strdup(struct sim_run *run, const char *s);
bool sim_host_alive(struct sim_run *run, int host);
/* The OS closes every descriptor the host's apps hold. */
void sim_exit_host(struct sim_run *run, int host);

/* calls.c */
void sim_hold_sd(struct sim_run *run, int host, int sd);
void sim_release_sd(struct sim_run *run, int host, int sd);
/* recv that hands the bytes back; logged like sim_recv. */
ssize_t sim_recv_into(struct sim_run *run, int host, int sd, char *buf, size_t cap);

#endif
