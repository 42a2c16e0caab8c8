/* bench lifecycle: full connection lifecycles per second on one core.
 *
 * One lifecycle: SYN, SYN-ACK, ACK; a 64-byte request and a 128-byte
 * response; the client closes first (FIN/ACK both ways) and enters
 * TIME-WAIT. Lifecycles run one after another.
 *
 * Virtual time (synack, lwIP): 1 us per delivered packet, and a gap between
 * lifecycles of TIME-WAIT length / tw_held, so that in steady state each
 * stack holds about tw_held TIME-WAIT entries (default 1000) and one expires
 * per lifecycle: creating and expiring the entry are both in the figure.
 * synack's TIME-WAIT lasts 60 s (gap 60 ms), lwIP's 2*TCP_MSL = 120 s (gap
 * 120 ms); their timers run in that virtual time.
 *
 * Linux: real time over 127.0.0.1, client and server threads pinned to the
 * same CPU; TIME-WAIT entries accumulate for real (60 s), so the run is
 * bounded below the 28,232 ephemeral ports. */
#include <stdlib.h>
#include <string.h>

#include "bench/bench_internal.h"

#define LIFECYCLE_TW_HELD 1000

static uint64_t lifecycles_for(const struct bench_opts *o, enum bench_peer peer)
{
    if (o->lifecycles)
        return peer == BENCH_LINUX && o->lifecycles > 20000 ? 20000 : o->lifecycles;
    switch (peer) {
    case BENCH_SYNACK:
        return o->quick ? 100000 : 2000000;
    case BENCH_LWIP:
        return o->quick ? 50000 : 500000;
    default:
        return o->quick ? 3000 : 20000;
    }
}

static void report_progress(const struct bench_opts *o, const char *who, uint64_t done, uint64_t n,
                            const struct bench_clock *clk)
{
    double s = bench_clock_cpu_s(clk);
    bench_progress(o, "lifecycle %s: %lu/%lu (%.0f/s)", who, (unsigned long)done, (unsigned long)n,
                   s > 0 ? (double)done / s : 0.0);
}

static void set_timing(struct bench_results *r, enum bench_peer peer, uint64_t n, double cpu_s, double wall_s)
{
    bench_figure_set(bench_figure_get(r, "lifecycle", "lifecycles_per_s", "1/s", false), peer, (double)n / cpu_s);
    bench_figure_set(bench_figure_get(r, "lifecycle", "ns_per_lifecycle", "ns", true), peer, cpu_s * 1e9 / (double)n);
    bench_figure_set(bench_figure_get(r, "lifecycle", "lifecycles_per_wall_s", "1/s", false), peer,
                     (double)n / wall_s);
}

static int run_synack(const struct bench_opts *o, struct bench_results *r, uint32_t tw_held)
{
    uint64_t n = lifecycles_for(o, BENCH_SYNACK);
    struct sy_pair *p = sy_pair_new(0);
    if (!p) {
        fprintf(stderr, "synack: bench lifecycle: cannot create the stacks\n");
        return -1;
    }
    uint64_t gap = sy_timewait_len(p) / tw_held;
    /* Warm up to the steady TIME-WAIT population, untimed. */
    uint64_t warm = (uint64_t)tw_held + tw_held / 2;
    for (uint64_t i = 0; i < warm; i++) {
        if (sy_lifecycle(p) < 0)
            goto fail;
        sy_advance(p, gap);
    }
    uint64_t seg0 = sy_segments(p), next_report = n / 4;
    struct bench_clock clk;
    bench_clock_start(&clk);
    for (uint64_t i = 0; i < n; i++) {
        if (sy_lifecycle(p) < 0)
            goto fail;
        sy_advance(p, gap);
        if (i == next_report && !o->quick) {
            report_progress(o, "synack", i, n, &clk);
            next_report += n / 4;
        }
    }
    double secs = bench_clock_cpu_s(&clk), wall = bench_clock_wall_s(&clk);
    uint64_t segs = sy_segments(p) - seg0;
    size_t tw = sy_conn_count(p, 0), srv = sy_conn_count(p, 1);
    if (srv != 0 || tw < tw_held / 2 || tw > tw_held * 2) {
        fprintf(stderr, "synack: bench lifecycle: synack holds %zu client / %zu server entries, expected ~%u / 0\n",
                tw, srv, tw_held);
        sy_pair_free(p);
        return -1;
    }
    set_timing(r, BENCH_SYNACK, n, secs, wall);
    bench_figure_set(bench_figure_get(r, "lifecycle", "segments_per_lifecycle", "1", true), BENCH_SYNACK,
                     (double)segs / (double)n);
    bench_figure_set(bench_figure_get(r, "lifecycle", "timewait_held", "1", false), BENCH_SYNACK, (double)tw);
    bench_progress(o, "lifecycle synack: %lu lifecycles in %.2f CPU s (%.2f s wall)", (unsigned long)n, secs, wall);
    sy_pair_free(p);
    return 0;
fail:
    fprintf(stderr, "synack: bench lifecycle: %s\n", sy_pair_error(p));
    sy_pair_free(p);
    return -1;
}

static void run_lwip(const struct bench_opts *o, struct bench_results *r, uint32_t tw_held)
{
    const char *why = lw_unavailable();
    if (why) {
        bench_progress(o, "lifecycle lwip: skipped: %s", why);
        return;
    }
    uint64_t n = lifecycles_for(o, BENCH_LWIP);
    if (lw_reset() < 0)
        goto fail;
    uint64_t gap = lw_timewait_len_us() / tw_held;
    uint64_t warm = (uint64_t)tw_held + tw_held / 2;
    for (uint64_t i = 0; i < warm; i++) {
        if (lw_lifecycle() < 0)
            goto fail;
        lw_advance_us(gap);
    }
    uint64_t seg0 = lw_segments(), next_report = n / 4;
    struct bench_clock clk;
    bench_clock_start(&clk);
    for (uint64_t i = 0; i < n; i++) {
        if (lw_lifecycle() < 0)
            goto fail;
        lw_advance_us(gap);
        if (i == next_report && !o->quick) {
            report_progress(o, "lwip", i, n, &clk);
            next_report += n / 4;
        }
    }
    double secs = bench_clock_cpu_s(&clk), wall = bench_clock_wall_s(&clk);
    uint64_t segs = lw_segments() - seg0;
    size_t tw = lw_timewait_count();
    if (lw_active_count() != 0 || tw < tw_held / 2 || tw > tw_held * 2) {
        fprintf(stderr, "synack: bench lifecycle: lwIP holds %zu TIME-WAIT / %zu active pcbs, expected ~%u / 0"
                        " (are lwIP's timers running in virtual time?)\n",
                tw, lw_active_count(), tw_held);
        lw_reset();
        return;
    }
    set_timing(r, BENCH_LWIP, n, secs, wall);
    bench_figure_set(bench_figure_get(r, "lifecycle", "segments_per_lifecycle", "1", true), BENCH_LWIP,
                     (double)segs / (double)n);
    bench_figure_set(bench_figure_get(r, "lifecycle", "timewait_held", "1", false), BENCH_LWIP, (double)tw);
    bench_progress(o, "lifecycle lwip: %lu lifecycles in %.2f CPU s (%.2f s wall)", (unsigned long)n, secs, wall);
    lw_reset();
    return;
fail:
    fprintf(stderr, "synack: bench lifecycle: %s\n", lw_error());
    lw_reset();
}

static void run_linux(const struct bench_opts *o, struct bench_results *r)
{
    uint64_t n = lifecycles_for(o, BENCH_LINUX);
    char err[160] = "";
    double secs = 0, wall = 0;
    int64_t done = lx_lifecycles(n, &secs, &wall, err, sizeof err);
    if (done <= 0) {
        bench_progress(o, "lifecycle linux: skipped: %s", err[0] ? err : "no lifecycle completed");
        return;
    }
    if ((uint64_t)done < n)
        bench_progress(o, "lifecycle linux: bounded at %ld of %lu lifecycles: %s", (long)done, (unsigned long)n, err);
    set_timing(r, BENCH_LINUX, (uint64_t)done, secs, wall);
    bench_progress(o, "lifecycle linux: %ld lifecycles in %.2f CPU s (%.2f s wall)", (long)done, secs, wall);
}

int bench_lifecycle(const struct bench_opts *o, struct bench_results *r)
{
    uint32_t tw_held = o->tw_held ? o->tw_held : LIFECYCLE_TW_HELD;
    /* Fixed row order, whichever peers run. */
    bench_figure_get(r, "lifecycle", "lifecycles_per_s", "1/s", false);
    bench_figure_get(r, "lifecycle", "ns_per_lifecycle", "ns", true);
    bench_figure_get(r, "lifecycle", "lifecycles_per_wall_s", "1/s", false);
    bench_figure_get(r, "lifecycle", "segments_per_lifecycle", "1", true);
    bench_figure_get(r, "lifecycle", "timewait_held", "1", false);
    int rc = 0;
    if (o->peer[BENCH_SYNACK] && run_synack(o, r, tw_held) < 0)
        rc = -1;
    if (o->peer[BENCH_LWIP])
        run_lwip(o, r, tw_held);
    if (o->peer[BENCH_LINUX])
        run_linux(o, r);
    return rc;
}
