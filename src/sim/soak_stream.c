/* `synack soak stream` (issue 6): transfers of 1 MiB over links with 0-20 %
 * loss, duplication and reordering, in virtual time. Each transfer is a
 * world of its own (soak_internal.h) seeded from the run's seed and its
 * index; the client sends, in a quarter of them the server sends as much
 * back at the same time; every byte is checked on arrival and the FNV-1a
 * checksums of both ends compared at EOF. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/soak_internal.h"

#define STREAM_LIMIT TCP_SEC(4 * 3600) /* a transfer still running then hangs */

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void soak_options_default(struct soak_options *o, bool faults, bool quick)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->bytes = 1u << 20;
    if (faults)
        o->count = quick ? 1000 : 100000;
    else
        o->count = quick ? 12 : 1000;
}

static unsigned bucket(double p)
{
    unsigned b = (unsigned)(p * 20.0);
    return b > 3 ? 3 : b;
}

/* One transfer. Returns 0, or -1 with w->fail set. */
static int stream_trial(struct soak_world *w, const struct soak_options *o, uint64_t trial,
                        struct soak_summary *sum)
{
    struct sim_rng rng;
    uint64_t seed = soak_trial_seed(o->seed, trial);
    sim_rng_seed(&rng, seed);
    /* The link: 0-20 % each of loss, duplication and reordering, 1-50 ms
     * one way, sometimes a bottleneck rate. */
    struct simnet_link_params p = {0};
    p.delay = TCP_MSEC(1 + sim_rng_below(&rng, 50));
    p.loss = sim_rng_unit(&rng) * 0.20;
    p.duplicate = sim_rng_unit(&rng) * 0.20;
    p.reorder = sim_rng_unit(&rng) * 0.20;
    p.reorder_max = 1 + sim_rng_below(&rng, 2 * p.delay + TCP_MSEC(10));
    if (sim_rng_below(&rng, 10) < 3)
        p.rate = (10 + sim_rng_below(&rng, 90)) * 125000u; /* 10-100 Mbit/s */
    /* Both ends' options vary: SACK, timestamps, window scaling, buffers. */
    struct tcp_config tcp[2];
    for (int i = 0; i < 2; i++) {
        tcp_config_default(&tcp[i]);
        if (sim_rng_below(&rng, 5) == 0)
            tcp[i].tcp_sack = 0;
        if (sim_rng_below(&rng, 5) == 0)
            tcp[i].tcp_timestamps = 0;
        if (sim_rng_below(&rng, 10) == 0)
            tcp[i].tcp_window_scaling = 0;
        if (sim_rng_below(&rng, 10) == 0)
            tcp[i].tcp_rmem = tcp[i].tcp_wmem = 16384 + (int64_t)sim_rng_below(&rng, 49152);
    }
    bool v6 = sim_rng_below(&rng, 5) == 0;
    bool both = sim_rng_below(&rng, 4) == 0;
    if (soak_world_init(w, seed, tcp, v6, &p, &p, sum) < 0) {
        soak_world_free(w);
        return -2;
    }
    /* Patient keepalive: 9 probes lost in a row on a 20 % link is rare. */
    w->keepidle = 60;
    w->keepintvl = 10;
    w->keepcnt = 9;
    struct soak_conn *c = soak_conn_add(w, 0);
    c->size[0] = o->bytes;
    c->size[1] = both ? o->bytes : 0;
    sum->trials++;
    sum->bidirectional += both;
    sum->loss_mix[bucket(p.loss)]++;
    sum->dup_mix[bucket(p.duplicate)]++;
    sum->reorder_mix[bucket(p.reorder)]++;
    int rc = simnet_run(w->net, STREAM_LIMIT);
    if (rc < 0)
        soak_world_failf(w, "simulator: %s", simnet_error(w->net));
    soak_finish(w);
    if (!w->fail[0] && o->note) {
        for (int i = 0; i < 2; i++) {
            const struct soak_ep *ep = c->ep[i];
            if (ep && ep->end == SOAK_END_ERROR) {
                char what[200];
                snprintf(what, sizeof what, "%s: %s after sending %llu and reading %llu bytes (loss %.1f%%)",
                         i ? "server" : "client", soak_errno_name(soak_errno_of(ep->err)),
                         (unsigned long long)ep->sent, (unsigned long long)ep->rcvd, p.loss * 100);
                o->note(o->ctx, trial, what);
            }
        }
    }
    rc = w->fail[0] ? -1 : 0;
    return rc;
}

/* The loop both soaks share: trials in order (or the one --only names),
 * failures reported, progress about once a second. */
int soak_loop(const struct soak_options *o, struct soak_summary *sum, bool faults,
              int (*trial)(struct soak_world *w, const struct soak_options *o, uint64_t i, struct soak_summary *sum))
{
    memset(sum, 0, sizeof *sum);
    sum->kind = faults ? "faults" : "stream";
    sum->seed = o->seed;
    struct soak_world *w = malloc(sizeof *w);
    if (!w)
        return -1;
    double start = wall_now(), last = start;
    uint64_t i = o->only_set ? o->only : 0;
    for (;; i++) {
        if (o->only_set ? i > o->only : (faults ? sum->conns >= o->count : sum->trials >= o->count))
            break;
        int rc = trial(w, o, i, sum);
        if (rc == -2) {
            free(w);
            return -1;
        }
        if (rc < 0) {
            sum->failures++;
            if (o->failure)
                o->failure(o->ctx, i, w->fail);
        }
        soak_world_free(w);
        double now = wall_now();
        if (o->progress && now - last >= 1.0) {
            last = now;
            sum->wall_s = now - start;
            o->progress(o->ctx, sum);
        }
    }
    free(w);
    sum->wall_s = wall_now() - start;
    return (int)(sum->failures > 0x7fffffff ? 0x7fffffff : sum->failures);
}

int soak_stream(const struct soak_options *o, struct soak_summary *out)
{
    return soak_loop(o, out, false, stream_trial);
}
