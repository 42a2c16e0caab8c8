/* bench/ — `synack bench`: synack's sans-I/O core measured beside its peers
 * in one run (DESIGN.md §6, issue 8): lwIP (Debian liblwip-dev, raw API, two
 * in-memory netifs) and the Linux kernel over loopback (blocking sockets).
 *
 * Not sans-I/O: this layer reads clocks, pins CPUs, starts threads and asks
 * the allocator how much it holds. Figures are printed, never asserted. */
#ifndef SYNACK_BENCH_H
#define SYNACK_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum bench_peer { BENCH_SYNACK, BENCH_LWIP, BENCH_LINUX, BENCH_PEER_COUNT };

struct bench_opts {
    bool quick;          /* seconds, for CI; else the full run (minutes) */
    bool peer[BENCH_PEER_COUNT]; /* which implementations to run */
    FILE *progress;      /* progress lines (stderr), or NULL */
    uint64_t lifecycles; /* lifecycle: count per implementation; 0 = by mode */
    uint32_t tw_held;    /* lifecycle: steady TIME-WAIT population; 0 = 1000 */
    uint64_t entries;    /* memory: entries of each kind; 0 = by mode */
    bool pin;            /* pin to one CPU (default true) */
};
/* Defaults: quick off, every peer, progress on stderr, pinned. */
void bench_opts_default(struct bench_opts *o);

/* One line of the table and one JSON object. A figure a peer does not
 * have (or could not run) is absent for it: has[peer] false. */
struct bench_figure {
    char bench[16];  /* "lifecycle" */
    char figure[48]; /* "lifecycles_per_s" */
    char unit[8];    /* "1/s", "B", "ns" */
    double value[BENCH_PEER_COUNT];
    bool has[BENCH_PEER_COUNT];
    bool lower_is_better;
    /* Scaling curves (bench scale): the series the point belongs to and
     * its x (connections held); series[0] == 0 for other figures. */
    char series[24];
    double held;
};

struct bench_results {
    struct bench_figure *fig;
    size_t count, cap;
    int failures; /* a peer that could not run correctly (reported on stderr) */
};

void bench_results_init(struct bench_results *r);
void bench_results_free(struct bench_results *r);
/* Adds (or finds, by bench + figure) a figure and returns it; NULL on ENOMEM. */
struct bench_figure *bench_figure_get(struct bench_results *r, const char *bench, const char *figure,
                                      const char *unit, bool lower_is_better);
void bench_figure_set(struct bench_figure *f, enum bench_peer peer, double value);

/* ---- The benchmarks. Each returns 0, or -1 when synack itself failed to
 * run (a peer that cannot run is reported and skipped). ---- */
/* Full connection lifecycles per second on one core. */
int bench_lifecycle(const struct bench_opts *o, struct bench_results *r);
/* Bytes per half-open, established and TIME-WAIT connection. */
int bench_memory(const struct bench_opts *o, struct bench_results *r);
/* Lifecycle rate and per-segment cost with 1k..1M connections held. */
int bench_scale(const struct bench_opts *o, struct bench_results *r);

/* A benchmark by name ("lifecycle", "memory", "scale"); -2 if unknown. */
int bench_run(const char *name, const struct bench_opts *o, struct bench_results *r);
/* The names bench_run knows, NULL-terminated. */
extern const char *const bench_names[];

/* ---- Output ---- */
/* The table: figure, unit, synack, lwip, linux, synack/lwip, synack/linux. */
void bench_print_table(FILE *out, const struct bench_results *r);
/* One JSON object per line per figure. */
void bench_print_json(FILE *out, const struct bench_results *r);
/* The scaling curves (figures with a series) as an SVG document; 0 or -1. */
int bench_write_svg(FILE *out, const struct bench_results *r);

/* Pins the calling thread, and the threads it starts later, to one CPU
 * (the first it may run on): every figure is "on one core". 0 or -1. */
int bench_pin_self(void);

/* ---- Machine, for the results file ---- */
/* "2 CPUs, AMD EPYC, Linux 6.1.0" (nproc, lscpu model name, kernel). */
void bench_machine_describe(char *buf, size_t len);

#endif
