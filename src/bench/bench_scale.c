/* bench scale: how the cost of a lifecycle and of one segment grows with
 * the connections a stack holds (1k, 10k, 100k, and 1M in the full run).
 *
 *  est  N idle established connections held open (both ends in the pair),
 *       then the lifecycle of bench lifecycle (TIME-WAIT steady at 1000)
 *  tw   the lifecycle with N TIME-WAIT entries held in steady state (the
 *       gap between lifecycles is TIME-WAIT length / N, so one entry
 *       expires per lifecycle)
 *  ack  ns to take in one segment for a random held connection: the
 *       handshake's ACK replayed (a duplicate pure ACK: 4-tuple lookup and
 *       ACK processing, nothing sent back)
 *
 * lwIP's port allocator has 16,384 ports per host and its lookups walk
 * linked lists, so it runs the levels up to 10k. The kernel holds real
 * sockets (2 descriptors per connection) over 127.0.0.1: levels up to
 * 100k; its TIME-WAIT is real time and capped by tcp_max_tw_buckets, so it
 * has no tw series. */
#include <stdlib.h>
#include <string.h>

#include "bench/bench_internal.h"

#define SCALE_TW_STEADY 1000
#define SCALE_ROUNDS 10 /* lifecycle rates: the fastest of 10 interleaved rounds */
#define SCALE_MAX_LEVELS 4

static const char *level_name(uint64_t n)
{
    switch (n) {
    case 1000:
        return "1k";
    case 10000:
        return "10k";
    case 100000:
        return "100k";
    case 1000000:
        return "1M";
    default:
        return "n";
    }
}

/* The row of a figure at a level (made, with no value yet, if new). */
static struct bench_figure *point(struct bench_results *r, const char *what, const char *series, const char *unit,
                                  bool lower, uint64_t held)
{
    char name[48];
    snprintf(name, sizeof name, "%s_%s_%s", what, series, level_name(held));
    struct bench_figure *f = bench_figure_get(r, "scale", name, unit, lower);
    if (f) {
        snprintf(f->series, sizeof f->series, "%s", series);
        f->held = (double)held;
    }
    return f;
}

static void set_point(struct bench_results *r, const char *what, const char *series, const char *unit,
                      bool lower, uint64_t held, enum bench_peer peer, double v)
{
    struct bench_figure *f = point(r, what, series, unit, lower, held);
    if (f)
        bench_figure_set(f, peer, v);
}

/* Lifecycle rates of several levels (each: step(ctx[l], gap[l]), a
 * lifecycle then gap of virtual time; m of them a level) in SCALE_ROUNDS
 * interleaved rounds: every level's round i runs before any level's round
 * i + 1, so that a slow spell of a shared machine (a virtual machine's
 * neighbours) lands on all levels alike rather than on one, and the rate
 * is the level's fastest round. The same for every peer. */
static int measure_levels(int (*step)(void *ctx, uint64_t gap), void *const *ctx, const uint64_t *gap,
                          size_t levels, uint64_t m, double *rate, size_t *failed)
{
    for (size_t l = 0; l < levels; l++)
        rate[l] = 0;
    for (int round = 0; round < SCALE_ROUNDS; round++)
        for (size_t l = 0; l < levels; l++) {
            struct bench_clock clk;
            bench_clock_start(&clk);
            for (uint64_t i = 0; i < m / SCALE_ROUNDS; i++)
                if (step(ctx[l], gap[l]) < 0) {
                    *failed = l;
                    return -1;
                }
            double r = (double)(m / SCALE_ROUNDS) / bench_clock_cpu_s(&clk);
            rate[l] = r > rate[l] ? r : rate[l];
        }
    return 0;
}

/* ---- synack ---- */
static int sy_step(void *ctx, uint64_t gap)
{
    struct sy_pair *p = ctx;
    if (sy_lifecycle(p) < 0)
        return -1;
    sy_advance(p, gap);
    return 0;
}

static void sy_fail(struct sy_pair *p)
{
    fprintf(stderr, "synack: bench scale: %s\n", sy_pair_error(p));
    sy_pair_free(p);
}

/* A pair holding n established connections, TIME-WAIT in steady state at
 * SCALE_TW_STEADY; NULL on failure. */
static struct sy_pair *sy_hold_est(const struct bench_opts *o, uint64_t n, uint64_t *gap)
{
    struct sy_pair *p = sy_pair_new(n);
    if (!p)
        return NULL;
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        if (sy_open_held(p) < 0)
            return sy_fail(p), NULL;
        if (n >= 100000 && i % (n / 4) == 0 && i)
            bench_progress(o, "scale synack: holding %lu/%lu", (unsigned long)i, (unsigned long)n);
    }
    bench_progress(o, "scale synack: %lu established held (opened in %.2f s)", (unsigned long)n,
                   (double)(bench_now_ns() - t0) / 1e9);
    *gap = sy_timewait_len(p) / SCALE_TW_STEADY;
    for (uint64_t i = 0; i < SCALE_TW_STEADY + SCALE_TW_STEADY / 2; i++) /* warm up: TIME-WAIT steady */
        if (sy_step(p, *gap) < 0)
            return sy_fail(p), NULL;
    return p;
}

/* A pair with n TIME-WAIT entries in steady state (one expires a
 * lifecycle); NULL on failure. */
static struct sy_pair *sy_hold_tw(const struct bench_opts *o, uint64_t n, uint64_t *gap)
{
    struct sy_pair *p = sy_pair_new(n);
    if (!p)
        return NULL;
    *gap = sy_timewait_len(p) / n;
    uint64_t warm = n + n / 8, t0 = bench_now_ns();
    for (uint64_t i = 0; i < warm; i++) {
        if (sy_step(p, *gap) < 0)
            return sy_fail(p), NULL;
        if (n >= 100000 && i % (warm / 4) == 0 && i)
            bench_progress(o, "scale synack: TIME-WAIT filling %lu/%lu", (unsigned long)i, (unsigned long)warm);
    }
    bench_progress(o, "scale synack: %zu TIME-WAIT held (filled in %.2f s)", sy_conn_count(p, 0),
                   (double)(bench_now_ns() - t0) / 1e9);
    return p;
}

/* ns to take in a replayed ACK for random held connections, as many as
 * there are connections (at least 100,000, so that small tables are
 * measured long enough). */
static int sy_ack_ns(const struct bench_opts *o, struct sy_pair *p, uint64_t n, double *ns)
{
    uint64_t reps = n < 100000 ? 100000 : n, seed = 12345, replied = 0;
    uint64_t *order = malloc(reps * sizeof *order);
    if (!order)
        return -1;
    for (uint64_t i = 0; i < reps; i++)
        order[i] = bench_rand(&seed) % n;
    struct bench_clock clk;
    bench_clock_start(&clk);
    for (uint64_t i = 0; i < reps; i++)
        replied += sy_replay_ack(p, order[i]);
    *ns = bench_clock_cpu_s(&clk) * 1e9 / (double)reps;
    free(order);
    if (replied)
        bench_progress(o, "scale synack: %lu replayed ACKs were answered (expected none)", (unsigned long)replied);
    return 0;
}

/* Every level held at once, by pairs of their own (est: about 760 MB at
 * 1M), so that their rounds interleave. */
static int sy_scale(const struct bench_opts *o, struct bench_results *r, const uint64_t *levels, size_t nlevels,
                    uint64_t m)
{
    struct sy_pair *pair[SCALE_MAX_LEVELS] = {0};
    uint64_t gap[SCALE_MAX_LEVELS];
    double rate[SCALE_MAX_LEVELS];
    int rc = -1;
    for (int tw = 0; tw < 2; tw++) {
        const char *series = tw ? "tw" : "est";
        for (size_t l = 0; l < nlevels; l++) {
            bench_progress(o, "scale synack: %s held (%s)", level_name(levels[l]), series);
            pair[l] = tw ? sy_hold_tw(o, levels[l], &gap[l]) : sy_hold_est(o, levels[l], &gap[l]);
            if (!pair[l])
                goto out;
        }
        bench_progress(o, "scale synack: lifecycles (%s), %d interleaved rounds", series, SCALE_ROUNDS);
        size_t failed;
        if (measure_levels(sy_step, (void *const *)pair, gap, nlevels, m, rate, &failed) < 0) {
            fprintf(stderr, "synack: bench scale: %s\n", sy_pair_error(pair[failed]));
            goto out;
        }
        for (size_t l = 0; l < nlevels; l++) {
            set_point(r, "lifecycles_per_s", series, "1/s", false, levels[l], BENCH_SYNACK, rate[l]);
            double ns;
            if (!tw && sy_ack_ns(o, pair[l], levels[l], &ns) == 0)
                set_point(r, "ack_ns", "est", "ns", true, levels[l], BENCH_SYNACK, ns);
            sy_pair_free(pair[l]);
            pair[l] = NULL;
        }
    }
    rc = 0;
out:
    for (size_t l = 0; l < nlevels; l++)
        sy_pair_free(pair[l]);
    return rc;
}

/* ---- lwIP ---- */
static int lw_step(void *ctx, uint64_t gap)
{
    (void)ctx; /* lwIP's stack is global */
    if (lw_lifecycle() < 0)
        return -1;
    lw_advance_us(gap);
    return 0;
}

static int lw_measure_lifecycles(uint64_t m, uint64_t gap, double *rate)
{
    void *const none[1] = {NULL};
    size_t failed;
    return measure_levels(lw_step, none, &gap, 1, m, rate, &failed);
}

static void lw_scale(const struct bench_opts *o, struct bench_results *r, uint64_t n, uint64_t m)
{
    if (lw_reset() < 0)
        goto fail;
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < n; i++)
        if (lw_open_held() < 0)
            goto fail;
    bench_progress(o, "scale lwip: %lu established held (opened in %.2f s)", (unsigned long)n,
                   (double)(bench_now_ns() - t0) / 1e9);
    uint64_t gap = lw_timewait_len_us() / SCALE_TW_STEADY;
    for (uint64_t i = 0; i < SCALE_TW_STEADY + SCALE_TW_STEADY / 2; i++) {
        if (lw_lifecycle() < 0)
            goto fail;
        lw_advance_us(gap);
    }
    double rate;
    if (lw_measure_lifecycles(m, gap, &rate) < 0)
        goto fail;
    set_point(r, "lifecycles_per_s", "est", "1/s", false, n, BENCH_LWIP, rate);
    uint64_t reps = 20000, seed = 12345, replied = 0;
    struct bench_clock clk;
    bench_clock_start(&clk);
    for (uint64_t i = 0; i < reps; i++)
        replied += lw_replay_ack(bench_rand(&seed) % n);
    set_point(r, "ack_ns", "est", "ns", true, n, BENCH_LWIP, bench_clock_cpu_s(&clk) * 1e9 / (double)reps);
    if (replied)
        bench_progress(o, "scale lwip: %lu replayed ACKs were answered", (unsigned long)replied);

    if (lw_reset() < 0)
        goto fail;
    gap = lw_timewait_len_us() / n;
    for (uint64_t i = 0; i < n + n / 8; i++) {
        if (lw_lifecycle() < 0)
            goto fail;
        lw_advance_us(gap);
    }
    bench_progress(o, "scale lwip: %zu TIME-WAIT held", lw_timewait_count());
    if (lw_measure_lifecycles(m, gap, &rate) < 0)
        goto fail;
    set_point(r, "lifecycles_per_s", "tw", "1/s", false, n, BENCH_LWIP, rate);
    lw_reset();
    return;
fail:
    fprintf(stderr, "synack: bench scale: %s\n", lw_error());
    lw_reset();
}

/* ---- Linux ---- */
static void lx_scale(const struct bench_opts *o, struct bench_results *r, uint64_t n, uint64_t m)
{
    char err[160] = "";
    uint64_t t0 = bench_now_ns();
    struct lx_held *h = lx_hold(n, err, sizeof err);
    if (!h) {
        bench_progress(o, "scale linux %s: skipped: %s", level_name(n), err);
        return;
    }
    bench_progress(o, "scale linux: %lu established held (opened in %.2f s)", (unsigned long)n,
                   (double)(bench_now_ns() - t0) / 1e9);
    double secs, wall;
    int64_t done = lx_lifecycles(m, &secs, &wall, err, sizeof err);
    lx_release(h);
    if (done <= 0) {
        bench_progress(o, "scale linux %s: skipped: %s", level_name(n), err);
        return;
    }
    set_point(r, "lifecycles_per_s", "est", "1/s", false, n, BENCH_LINUX, (double)done / secs);
}

static void retained(struct bench_results *r, const char *series, enum bench_peer peer)
{
    double first = 0, last = 0;
    for (size_t i = 0; i < r->count; i++) {
        const struct bench_figure *f = &r->fig[i];
        if (strcmp(f->bench, "scale") || strcmp(f->series, series) || strncmp(f->figure, "lifecycles", 10) ||
            !f->has[peer])
            continue;
        if (f->held == 1000)
            first = f->value[peer];
        last = f->value[peer];
    }
    if (first > 0) {
        char name[48];
        snprintf(name, sizeof name, "retained_pct_%s", series);
        bench_figure_set(bench_figure_get(r, "scale", name, "%", false), peer, 100.0 * last / first);
    }
}

int bench_scale(const struct bench_opts *o, struct bench_results *r)
{
    static const uint64_t levels[] = {1000, 10000, 100000, 1000000};
    size_t nlevels = o->quick ? 2 : 4;
    uint64_t m_sy = o->quick ? 20000 : 200000, m_lw = o->quick ? 2000 : 10000, m_lx = o->quick ? 2000 : 10000;
    int rc = 0;
    if (o->peer[BENCH_SYNACK]) {
        /* synack measures its levels together; the table still goes by level. */
        for (size_t i = 0; i < nlevels; i++) {
            point(r, "lifecycles_per_s", "est", "1/s", false, levels[i]);
            point(r, "ack_ns", "est", "ns", true, levels[i]);
            point(r, "lifecycles_per_s", "tw", "1/s", false, levels[i]);
        }
        if (sy_scale(o, r, levels, nlevels, m_sy) < 0)
            rc = -1;
    }
    for (size_t i = 0; i < nlevels; i++) {
        uint64_t n = levels[i];
        if (o->peer[BENCH_LWIP] && n <= 10000) {
            const char *why = lw_unavailable();
            if (why)
                bench_progress(o, "scale lwip: skipped: %s", why);
            else
                lw_scale(o, r, n, m_lw);
        }
        if (o->peer[BENCH_LINUX] && n <= 100000)
            lx_scale(o, r, n, m_lx);
    }
    for (int p = 0; p < BENCH_PEER_COUNT; p++) {
        retained(r, "est", (enum bench_peer)p);
        retained(r, "tw", (enum bench_peer)p);
    }
    return rc;
}
