/* Clocks, CPU pinning, the allocator's view, the figures collected. */
#include <malloc.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_internal.h"

const uint8_t bench_request[BENCH_REQ_LEN] = "GET /index.html HTTP/1.1\r\nHost: bench\r\nUser-Agent: synack\r\n\r\n";
const uint8_t bench_response[BENCH_RESP_LEN] =
    "HTTP/1.1 200 OK\r\nContent-Length: 62\r\nConnection: close\r\n\r\n"
    "0123456789012345678901234567890123456789012345678901234567890\n";

void bench_opts_default(struct bench_opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 0; i < BENCH_PEER_COUNT; i++)
        o->peer[i] = true;
    o->progress = stderr;
    o->pin = true;
}

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_clock_start(struct bench_clock *c)
{
    c->wall0 = bench_now_ns();
    c->cpu0 = cpu_ns();
}

double bench_clock_cpu_s(const struct bench_clock *c) { return (double)(cpu_ns() - c->cpu0) / 1e9; }
double bench_clock_wall_s(const struct bench_clock *c) { return (double)(bench_now_ns() - c->wall0) / 1e9; }

static int pinned_cpu = -1;

int bench_pin_self(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) < 0)
        return -1;
    int cpu = -1;
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &set)) {
            cpu = i;
            break;
        }
    if (cpu < 0)
        return -1;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0)
        return -1;
    pinned_cpu = cpu;
    return 0;
}

int bench_pinned_cpu(void) { return pinned_cpu; }

size_t bench_heap_used(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

void bench_progress(const struct bench_opts *o, const char *fmt, ...)
{
    if (!o->progress)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(o->progress, "bench: ");
    vfprintf(o->progress, fmt, ap);
    fputc('\n', o->progress);
    fflush(o->progress);
    va_end(ap);
}

uint64_t bench_rand(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15u;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1du;
}

/* ---- figures ---- */
void bench_results_init(struct bench_results *r) { memset(r, 0, sizeof *r); }

void bench_results_free(struct bench_results *r)
{
    free(r->fig);
    memset(r, 0, sizeof *r);
}

struct bench_figure *bench_figure_get(struct bench_results *r, const char *bench, const char *figure,
                                      const char *unit, bool lower_is_better)
{
    for (size_t i = 0; i < r->count; i++)
        if (!strcmp(r->fig[i].bench, bench) && !strcmp(r->fig[i].figure, figure))
            return &r->fig[i];
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        struct bench_figure *f = realloc(r->fig, cap * sizeof *f);
        if (!f)
            return NULL;
        r->fig = f;
        r->cap = cap;
    }
    struct bench_figure *f = &r->fig[r->count++];
    memset(f, 0, sizeof *f);
    snprintf(f->bench, sizeof f->bench, "%s", bench);
    snprintf(f->figure, sizeof f->figure, "%s", figure);
    snprintf(f->unit, sizeof f->unit, "%s", unit);
    f->lower_is_better = lower_is_better;
    return f;
}

void bench_figure_set(struct bench_figure *f, enum bench_peer peer, double value)
{
    if (!f)
        return;
    f->value[peer] = value;
    f->has[peer] = true;
}

void bench_machine_describe(char *buf, size_t len)
{
    char model[128] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10))
                continue;
            char *colon = strchr(line, ':');
            if (!colon)
                continue;
            colon++;
            while (*colon == ' ' || *colon == '\t')
                colon++;
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(model, sizeof model, "%s", colon);
            break;
        }
        fclose(f);
    }
    struct utsname u;
    if (uname(&u) < 0)
        strcpy(u.release, "?");
    snprintf(buf, len, "%ld CPUs, %s, Linux %s; synack built by %s", sysconf(_SC_NPROCESSORS_ONLN), model,
             u.release, SYNACK_BUILD);
}
