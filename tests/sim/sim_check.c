/* What the scenario tests share (sim_check.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sim/catalog.h"
#include "sim/render.h"
#include "sim_check.h"
/* ---- running ---- */

void dump_events(const struct sim_result *res)
{
    fprintf(stderr, "---- events of %s ----\n", res->log.name);
    sim_render_text(&res->log, stderr);
}

void run(const char *name, struct sim_result *res)
{
    struct sim_options opt;
    sim_options_default(&opt);
    run_with(name, &opt, res);
}

void check_ended(const char *name, int rc, const struct sim_result *res)
{
    if (rc != 0) {
        dump_events(res);
        fail_msg("%s: %s", name, res->error);
    }
    for (int i = 0; i < res->nhosts; i++)
        if (res->has_stack[i] && !res->frozen[i] && res->conns_left[i]) {
            dump_events(res);
            fail_msg("%s: %s still holds %zu connection(s)", name, sim_log_host_name(&res->log, i),
                     res->conns_left[i]);
        }
}

void run_with(const char *name, const struct sim_options *opt, struct sim_result *res)
{
    const struct sim_scenario *sc = sim_scenario_find(name);
    assert_non_null(sc);
    check_ended(name, sim_run_scenario(sc, opt, res), res);
    /* RFC 9293 §3.4: a SYN or SYN-ACK of ours carries no data. And every
     * SYN-ACK acknowledges the SYN of that connection that reached its
     * sender last: ISN + 1. */
    enum { MAX_SYNS = 512 };
    static struct {
        struct wire_tuple t; /* as the SYN's header has it */
        uint32_t seq;
    } syns[MAX_SYNS];
    size_t nsyns = 0;
    for (size_t i = 0; i < res->log.n; i++) {
        const struct sim_event *e = &res->log.ev[i];
        if (e->kind == SIM_EV_ARRIVAL) {
            const struct sim_event *s = &res->log.ev[e->segment];
            if (s->flags == WIRE_SYN) {
                size_t j = 0;
                while (j < nsyns && !wire_tuple_eq(&syns[j].t, &s->tuple))
                    j++;
                if (j == nsyns && nsyns < MAX_SYNS)
                    nsyns++;
                if (j < MAX_SYNS) {
                    syns[j].t = s->tuple;
                    syns[j].seq = s->seq;
                }
            }
        }
        if (e->kind != SIM_EV_SEGMENT || !(e->flags & WIRE_SYN))
            continue;
        if (e->len) {
            dump_events(res);
            fail_msg("%s: a SYN with %u bytes of data", name, e->len);
        }
        if ((e->flags & WIRE_ACK) && !e->injected) {
            struct wire_tuple back = wire_tuple_reverse(&e->tuple);
            size_t j = 0;
            while (j < nsyns && !wire_tuple_eq(&syns[j].t, &back))
                j++;
            if (j == nsyns || e->ack != syns[j].seq + 1) {
                dump_events(res);
                fail_msg("%s: SYN-ACK at t=%.3f acks %u, not the peer's ISN + 1", name, (double)e->t / 1e6, e->ack);
            }
        }
    }
    /* Every renderer can draw it. */
    for (int f = 0; f < SIM_FORMAT_COUNT; f++) {
        FILE *null = fopen("/dev/null", "w");
        assert_non_null(null);
        assert_int_equal(sim_render(&res->log, (enum sim_format)f, null), 0);
        fclose(null);
    }
}

/* ---- looking things up ---- */

int host(const struct sim_result *res, const char *name)
{
    int h = sim_log_host(&res->log, name);
    assert_true(h >= 0);
    return h;
}

void check_path(const struct sim_result *res, const char *h, int remote_port, const char *want)
{
    char got[1024];
    sim_log_path(&res->log, host(res, h), remote_port, got, sizeof got);
    if (strcmp(got, want) != 0) {
        dump_events(res);
        fail_msg("%s: states of %s: got %s, want %s", res->log.name, h, got, want);
    }
}

const struct sim_event *seg(const struct sim_result *res, const char *h, const char *flags, unsigned n)
{
    const struct sim_event *e = sim_log_segment_nth(&res->log, host(res, h), flags, n);
    if (!e) {
        dump_events(res);
        fail_msg("%s: no segment #%u [%s] from %s", res->log.name, n, flags ? flags : "any", h);
    }
    return e;
}

size_t seg_count(const struct sim_result *res, const char *h, const char *flags)
{
    return sim_log_segment_count(&res->log, host(res, h), flags);
}

/* The first segment from h sent at or after event `after` (NULL: the start)
 * matching flags (NULL: any). */
const struct sim_event *seg_after(const struct sim_result *res, const struct sim_event *after,
                                         const char *h, const char *flags)
{
    size_t start = after ? (size_t)(after - res->log.ev) + 1 : 0;
    int hi = host(res, h);
    uint8_t want = 0;
    if (flags)
        assert_true(wire_flags_parse(flags, &want));
    for (size_t i = start; i < res->log.n; i++) {
        const struct sim_event *e = &res->log.ev[i];
        if (e->kind == SIM_EV_SEGMENT && e->src == hi && (!flags || e->flags == want))
            return e;
    }
    dump_events(res);
    fail_msg("%s: no [%s] from %s after event %zu", res->log.name, flags ? flags : "any", h, start);
    return NULL;
}

const struct sim_event *state_ev(const struct sim_result *res, const char *h, enum tcp_state from,
                                        enum tcp_state to, unsigned n)
{
    const struct sim_event *e = sim_log_state_nth(&res->log, host(res, h), (int)from, (int)to, n);
    if (!e) {
        dump_events(res);
        fail_msg("%s: %s never went %s -> %s (#%u)", res->log.name, h, tcp_state_name(from), tcp_state_name(to), n);
    }
    return e;
}

/* The nth app event of h for call (exact name). */
const struct sim_event *app(const struct sim_result *res, const char *h, const char *call, unsigned n)
{
    const struct sim_event *e = sim_log_app_nth(&res->log, host(res, h), call, n);
    if (!e) {
        dump_events(res);
        fail_msg("%s: %s made no call %s #%u", res->log.name, h, call, n);
    }
    return e;
}

void check_app(const struct sim_result *res, const char *h, const char *call, unsigned n, const char *want)
{
    const struct sim_event *e = app(res, h, call, n);
    if (strcmp(e->result, want) != 0) {
        dump_events(res);
        fail_msg("%s: %s %s #%u returned %s, want %s", res->log.name, h, call, n, e->result, want);
    }
}

size_t app_count(const struct sim_result *res, const char *h, const char *call, const char *result)
{
    size_t n = 0;
    int hi = host(res, h);
    for (size_t i = 0; i < res->log.n; i++) {
        const struct sim_event *e = &res->log.ev[i];
        if (e->kind == SIM_EV_APP && e->host == hi && !strcmp(e->call, call) && (!result || !strcmp(e->result, result)))
            n++;
    }
    return n;
}

const struct tcp_counters *counters(const struct sim_result *res, const char *name)
{
    return &res->counters[host(res, name)];
}

size_t bytes_read(const struct sim_result *res, const char *h)
{
    size_t total = 0;
    int hi = host(res, h);
    for (size_t i = 0; i < res->log.n; i++) {
        const struct sim_event *e = &res->log.ev[i];
        unsigned long n;
        if (e->kind == SIM_EV_APP && e->host == hi && !strcmp(e->call, "recv") && sscanf(e->result, "%lu bytes", &n) == 1)
            total += n;
    }
    return total;
}

const struct sim_event *find_note(const struct sim_result *res, const char *text)
{
    for (size_t i = 0; i < res->log.n; i++) {
        const struct sim_event *e = &res->log.ev[i];
        if (e->kind == SIM_EV_NOTE && e->text && strstr(e->text, text))
            return e;
    }
    return NULL;
}

int run_tests_named(const struct CMUnitTest *tests, size_t n, int argc, char **argv)
{
    if (argc > 1) {
        size_t i = 0;
        while (i < n && strcmp(tests[i].name, argv[1]) != 0)
            i++;
        if (i == n) {
            fprintf(stderr, "no test named %s\n", argv[1]);
            return 1;
        }
        cmocka_set_test_filter(argv[1]);
    }
    return _cmocka_run_group_tests("tests", tests, n, NULL, NULL);
}
