/* The scenario runner: stacks on a simnet, their hooks feeding the event
 * log, timed actions, readiness watchers and the end-of-run bookkeeping.
 * The logged socket calls are in calls.c, the ready-made apps in apps.c. */
#include "sim/runner.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/pcap_writer.h"
#include "link/sim_rng.h"
#include "sim/runner_internal.h"

#define SIM_DEFAULT_LIMIT TCP_SEC(86400)
#define SIM_DRAIN_LIMIT TCP_SEC(86400)

void sim_options_default(struct sim_options *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
}

int sim_options_add_sysctl(struct sim_options *o, const char *name, int64_t value)
{
    struct tcp_config scratch;
    tcp_config_default(&scratch);
    if (o->nsysctls >= SIM_MAX_SYSCTLS || strlen(name) >= sizeof o->sysctls[0].name ||
        tcp_config_set(&scratch, name, value) < 0)
        return -1;
    struct sim_sysctl *k = &o->sysctls[o->nsysctls++];
    snprintf(k->name, sizeof k->name, "%s", name);
    k->value = value;
    return 0;
}

void sim_host_config(const struct sim_run *run, const struct tcp_config *tcp, struct tcp_config *out)
{
    if (tcp)
        *out = *tcp;
    else
        tcp_config_default(out);
    for (size_t i = 0; i < run->opt.nsysctls; i++)
        tcp_config_set(out, run->opt.sysctls[i].name, run->opt.sysctls[i].value);
}

/* ---- memory owned by the run ---- */

void *sim_alloc(struct sim_run *run, size_t size)
{
    void **allocs = realloc(run->allocs, (run->nallocs + 1) * sizeof *allocs);
    if (!allocs)
        return NULL;
    run->allocs = allocs;
    void *p = calloc(1, size ? size : 1);
    if (p)
        run->allocs[run->nallocs++] = p;
    return p;
}

char *sim_strdup(struct sim_run *run, const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = sim_alloc(run, n);
    if (copy)
        memcpy(copy, s, n);
    return copy;
}

void sim_fail(struct sim_run *run, const char *fmt, ...)
{
    if (run->error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(run->error, sizeof run->error, fmt, ap);
    va_end(ap);
}

/* ---- accessors ---- */

struct simnet *sim_net(struct sim_run *run)
{
    return run->net;
}

struct sim_log *sim_log(struct sim_run *run)
{
    return &run->log;
}

struct stack *sim_stack(struct sim_run *run, int host)
{
    return host >= 0 && host < run->nhosts ? run->hosts[host].stack : NULL;
}

tcp_time_t sim_now(const struct sim_run *run)
{
    return simnet_now(run->net);
}

bool sim_host_alive(struct sim_run *run, int host)
{
    return host >= 0 && host < run->nhosts && run->hosts[host].stack && !simnet_host_frozen(run->net, host);
}

void sim_note(struct sim_run *run, int host, const char *fmt, ...)
{
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sim_log_note(&run->log, sim_now(run), host, "%s", buf);
}

/* ---- stack hooks and the simnet observer ---- */

static void hook_output(void *ctx, const uint8_t *pkt, size_t len)
{
    struct sim_host_rt *h = ctx;
    simnet_send(h->run->net, h->index, pkt, len);
}

static long event_of_packet(const struct sim_run *run, uint64_t id)
{
    return id && id < run->npacket_event ? run->packet_event[id] : -1;
}

static void hook_state_change(void *ctx, const struct stack_state_change *ch)
{
    struct sim_host_rt *h = ctx;
    struct sim_run *run = h->run;
    long cause = event_of_packet(run, simnet_current_packet(run->net));
    sim_log_state(&run->log, ch->now, h->index, ch->from, ch->to, &ch->tuple, ch->sd, cause);
}

static void watcher_wake(void *ctx)
{
    struct sim_watcher *w = ctx;
    w->pending = false;
    if (!w->active || !sim_host_alive(w->run, w->host))
        return;
    unsigned revents = stack_poll(w->run->hosts[w->host].stack, w->sd);
    w->fn(w->run, w->host, w->sd, revents, w->arg);
}

static struct sim_watcher *find_watcher(struct sim_run *run, int host, int sd)
{
    for (size_t i = 0; i < run->nwatchers; i++) {
        struct sim_watcher *w = run->watchers[i];
        if (w->active && w->host == host && w->sd == sd)
            return w;
    }
    return NULL;
}

static void schedule_wake(struct sim_run *run, struct sim_watcher *w)
{
    if (w->pending)
        return;
    w->pending = true;
    if (simnet_at(run->net, sim_now(run), watcher_wake, w) < 0)
        sim_fail(run, "out of memory");
}

static void hook_ready(void *ctx, int sd, unsigned events)
{
    (void)events;
    struct sim_host_rt *h = ctx;
    struct sim_watcher *w = find_watcher(h->run, h->index, sd);
    if (w)
        schedule_wake(h->run, w);
}

static void obs_sent(void *ctx, const struct simnet_packet *p)
{
    struct sim_run *run = ctx;
    struct sim_event ev = {.kind = SIM_EV_SEGMENT, .t = p->sent, .host = p->src, .sd = -1, .cause = -1,
                           .segment = -1, .src = p->src, .dst = p->dst, .arrives = p->arrives,
                           .lost = p->fate != SIMNET_DELIVERED, .dup = p->duplicate,
                           .injected = p->injected, .reordered = p->reordered};
    if (p->seg_ok) {
        ev.tuple = p->seg.tuple;
        ev.flags = p->seg.flags;
        ev.seq = p->seg.seq;
        ev.ack = p->seg.ack;
        ev.len = p->seg.payload_len;
        ev.win = p->seg.window;
        ev.opt = p->seg.opt;
    }
    if (ev.lost)
        snprintf(ev.drop, sizeof ev.drop, "%s", simnet_fate_name(p->fate));
    if (p->parse_err != WIRE_ERR_OK)
        snprintf(ev.malformed, sizeof ev.malformed, "%s", wire_err_name(p->parse_err));
    long index = sim_log_push(&run->log, &ev);
    if (p->id >= run->npacket_event) {
        size_t n = run->npacket_event ? run->npacket_event : 256;
        while (n <= p->id)
            n *= 2;
        long *grown = realloc(run->packet_event, n * sizeof *grown);
        if (!grown) {
            sim_fail(run, "out of memory");
            return;
        }
        for (size_t i = run->npacket_event; i < n; i++)
            grown[i] = -1;
        run->packet_event = grown;
        run->npacket_event = n;
    }
    run->packet_event[p->id] = index;
    if (run->opt.pcap && !p->duplicate)
        pcap_writer_write(run->opt.pcap, p->sent, p->bytes, p->len);
}

static void obs_arrived(void *ctx, const struct simnet_packet *p)
{
    struct sim_run *run = ctx;
    struct sim_event ev = {.kind = SIM_EV_ARRIVAL, .t = p->arrives, .host = p->dst, .sd = -1, .cause = -1,
                           .segment = event_of_packet(run, p->id)};
    sim_log_push(&run->log, &ev);
}

/* ---- hosts ---- */

/* A struct stack as a simnet node. */
static void node_input(void *node, const uint8_t *pkt, size_t len, tcp_time_t now)
{
    stack_input(node, pkt, len, now);
}

static void node_tick(void *node, tcp_time_t now)
{
    stack_tick(node, now);
}

static tcp_time_t node_next_timer(void *node)
{
    return stack_next_timer(node);
}

const struct simnet_node_ops sim_stack_node_ops = {node_input, node_tick, node_next_timer};

static int add_host(struct sim_run *run, const char *name, const char *addr_text, const struct tcp_config *tcp,
                    bool ghost)
{
    struct wire_addr addr;
    if (run->nhosts >= SIM_MAX_HOSTS || !wire_addr_parse(addr_text, &addr)) {
        sim_fail(run, "bad host %s (%s)", name, addr_text);
        return -1;
    }
    struct sim_host_rt *h = &run->hosts[run->nhosts];
    memset(h, 0, sizeof *h);
    h->run = run;
    h->index = run->nhosts;
    if (!ghost) {
        struct stack_config cfg;
        stack_config_default(&cfg);
        sim_host_config(run, tcp, &cfg.tcp);
        /* ISNs and ports come from the seed: same seed, same numbers. */
        uint64_t key = run->opt.seed * 0x100000001b3u + (uint64_t)h->index;
        for (size_t i = 0; i < sizeof cfg.secret; i += 8) {
            uint64_t v = sim_rng_splitmix64(&key);
            memcpy(cfg.secret + i, &v, 8);
        }
        struct stack_hooks hooks = {.ctx = h, .output = hook_output, .state_change = hook_state_change,
                                    .ready = hook_ready};
        h->stack = stack_new(&cfg, &hooks, sim_now(run));
        if (!h->stack) {
            sim_fail(run, "stack_new failed for %s", name);
            return -1;
        }
        stack_set_local_addr(h->stack, &addr);
    }
    int index = simnet_add_host(run->net, name, &addr, ghost ? NULL : &sim_stack_node_ops, h->stack);
    if (index != h->index || sim_log_add_host(&run->log, name, &addr) != index) {
        if (h->stack)
            stack_free(h->stack);
        h->stack = NULL;
        sim_fail(run, "cannot add host %s", name);
        return -1;
    }
    run->nhosts++;
    return index;
}

int sim_host(struct sim_run *run, const char *name, const char *addr, const struct tcp_config *tcp)
{
    return add_host(run, name, addr, tcp, false);
}

int sim_ghost(struct sim_run *run, const char *name, const char *addr)
{
    return add_host(run, name, addr, NULL, true);
}

int sim_link(struct sim_run *run, int a, int b, tcp_time_t delay)
{
    struct simnet_link_params p = {.delay = delay, .loss = run->opt.loss};
    if (simnet_link(run->net, a, b, &p, &p) < 0) {
        sim_fail(run, "cannot link hosts %d and %d", a, b);
        return -1;
    }
    return 0;
}

static void vanish_note(struct sim_run *run, void *arg)
{
    char *text = arg;
    sim_note(run, -1, "%s", text);
}

void sim_vanish(struct sim_run *run, int host, tcp_time_t t, const char *why)
{
    simnet_freeze(run->net, host, t);
    char text[300];
    snprintf(text, sizeof text, "%s vanishes%s%s: from now on it sends nothing and receives nothing",
             sim_log_host_name(&run->log, host), why ? " " : "", why ? why : "");
    if (t <= sim_now(run))
        sim_note(run, -1, "%s", text);
    else
        sim_at(run, t, vanish_note, sim_strdup(run, text));
}

/* ---- time ---- */

static void call_trampoline(void *ctx)
{
    struct sim_call *c = ctx;
    c->fn(c->run, c->arg);
}

int sim_at(struct sim_run *run, tcp_time_t t, sim_fn fn, void *arg)
{
    struct sim_call *c = sim_alloc(run, sizeof *c);
    if (!c || simnet_at(run->net, t, call_trampoline, c) < 0) {
        sim_fail(run, "cannot schedule at t=%llu us", (unsigned long long)t);
        return -1;
    }
    c->run = run;
    c->fn = fn;
    c->arg = arg;
    return 0;
}

void sim_exit_host(struct sim_run *run, int host)
{
    struct sim_host_rt *h = &run->hosts[host];
    while (h->nsds)
        sim_close(run, host, h->sds[0]);
}

static void run_action(struct sim_run *run, void *arg)
{
    struct sim_action_rec *a = arg;
    if (a->act == SIM_ACT_NOTE) {
        sim_note(run, a->host, "%s", a->text ? a->text : "");
        return;
    }
    if (!sim_host_alive(run, a->host))
        return;
    if (a->act == SIM_ACT_EXIT) {
        sim_note(run, a->host, "%s", a->text ? a->text : "the process exits; the OS closes its descriptors");
        sim_exit_host(run, a->host);
        return;
    }
    int sd = a->sd ? *a->sd : -1;
    if (sd < 0)
        return;
    switch (a->act) {
    case SIM_ACT_CLOSE:
        sim_close(run, a->host, sd);
        break;
    case SIM_ACT_SHUTDOWN_WR:
        sim_shutdown_wr(run, a->host, sd);
        break;
    case SIM_ACT_ABORT:
        sim_abort(run, a->host, sd);
        break;
    case SIM_ACT_SEND:
        sim_send(run, a->host, sd, a->text ? a->text : "");
        break;
    case SIM_ACT_NOTE:
    case SIM_ACT_EXIT:
        break;
    }
}

int sim_at_action(struct sim_run *run, tcp_time_t t, enum sim_action act, int host, const int *sd,
                  const char *text)
{
    struct sim_action_rec *a = sim_alloc(run, sizeof *a);
    if (!a)
        return -1;
    a->act = act;
    a->host = host;
    a->sd = sd;
    a->text = text ? sim_strdup(run, text) : NULL;
    return sim_at(run, t, run_action, a);
}

/* ---- watchers ---- */

int sim_watch(struct sim_run *run, int host, int sd, sim_sock_fn fn, void *arg)
{
    sim_unwatch(run, host, sd);
    struct sim_watcher *w = NULL;
    for (size_t i = 0; i < run->nwatchers; i++)
        if (!run->watchers[i]->active && !run->watchers[i]->pending) {
            w = run->watchers[i];
            break;
        }
    if (!w) {
        struct sim_watcher **ws = realloc(run->watchers, (run->nwatchers + 1) * sizeof *ws);
        if (!ws)
            return -1;
        run->watchers = ws;
        w = sim_alloc(run, sizeof *w);
        if (!w)
            return -1;
        run->watchers[run->nwatchers++] = w;
    }
    *w = (struct sim_watcher){.run = run, .host = host, .sd = sd, .fn = fn, .arg = arg, .active = true};
    schedule_wake(run, w); /* it may be ready already */
    return 0;
}

void sim_unwatch(struct sim_run *run, int host, int sd)
{
    struct sim_watcher *w = find_watcher(run, host, sd);
    if (w)
        w->active = false;
}

void sim_poke(struct sim_run *run, int host, int sd)
{
    struct sim_watcher *w = find_watcher(run, host, sd);
    if (w)
        schedule_wake(run, w);
}

/* ---- the run ---- */

static int run_new(struct sim_run **out, const struct sim_scenario *sc, const struct sim_options *opt)
{
    struct sim_run *run = calloc(1, sizeof *run);
    if (!run)
        return -1;
    run->opt = *opt;
    sim_log_init(&run->log);
    snprintf(run->log.name, sizeof run->log.name, "%s", sc->name);
    snprintf(run->log.description, sizeof run->log.description, "%s", sc->description);
    run->log.seed = opt->seed;
    run->net = simnet_new(opt->seed);
    if (!run->net) {
        free(run);
        return -1;
    }
    struct simnet_observer obs = {.ctx = run, .sent = obs_sent, .arrived = obs_arrived};
    simnet_set_observer(run->net, &obs);
    *out = run;
    return 0;
}

static void run_free(struct sim_run *run)
{
    for (int i = 0; i < run->nhosts; i++) {
        if (run->hosts[i].stack)
            stack_free(run->hosts[i].stack);
        free(run->hosts[i].sds);
    }
    simnet_free(run->net);
    for (size_t i = 0; i < run->nallocs; i++)
        free(run->allocs[i]);
    free(run->allocs);
    free(run->watchers);
    free(run->packet_event);
    sim_log_free(&run->log);
    free(run);
}

static bool apps_hold_descriptors(const struct sim_run *run)
{
    for (int i = 0; i < run->nhosts; i++)
        if (run->hosts[i].nsds && !simnet_host_frozen(run->net, i))
            return true;
    return false;
}

/* Runs until quiet (or the limit), returns simnet_run's answer. */
static int run_phase(struct sim_run *run, tcp_time_t limit)
{
    if (run->error[0])
        return -1;
    int rc = simnet_run(run->net, limit);
    if (rc < 0)
        sim_fail(run, "%s", simnet_error(run->net));
    return run->error[0] ? -1 : rc;
}

static void close_leftovers(struct sim_run *run)
{
    if (!apps_hold_descriptors(run))
        return;
    sim_note(run, -1, "end of the scenario: the applications close the sockets they still hold");
    for (int i = 0; i < run->nhosts; i++)
        if (run->hosts[i].stack && !simnet_host_frozen(run->net, i))
            sim_exit_host(run, i);
}

int sim_run_scenario(const struct sim_scenario *sc, const struct sim_options *opt, struct sim_result *res)
{
    memset(res, 0, sizeof *res);
    sim_log_init(&res->log);
    struct sim_run *run;
    if (run_new(&run, sc, opt) < 0) {
        res->status = -1;
        snprintf(res->error, sizeof res->error, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < run->opt.nsysctls; i++)
        sim_note(run, -1, "sysctl %s=%lld on every host", run->opt.sysctls[i].name,
                 (long long)run->opt.sysctls[i].value);
    if (sc->setup(run) < 0)
        sim_fail(run, "scenario %s: setup failed", sc->name);
    tcp_time_t limit = sc->limit ? sc->limit : SIM_DEFAULT_LIMIT;
    int rc = run_phase(run, limit);
    if (rc >= 0) {
        close_leftovers(run);
        rc = run_phase(run, sim_now(run) + SIM_DRAIN_LIMIT);
        if (rc > 0)
            sim_fail(run, "timers still armed a day after the scenario ended (t=%.3f s)", (double)sim_now(run) / 1e6);
    }
    if (run->log.failed)
        sim_fail(run, "out of memory while logging");

    res->end = sim_now(run);
    res->nhosts = run->nhosts;
    res->net = *simnet_stats(run->net);
    for (int i = 0; i < run->nhosts; i++) {
        res->frozen[i] = simnet_host_frozen(run->net, i);
        struct stack *s = run->hosts[i].stack;
        res->has_stack[i] = s != NULL;
        if (s) {
            res->conns_left[i] = stack_conn_count(s);
            res->counters[i] = *stack_counters(s);
        }
    }
    res->status = run->error[0] ? -1 : 0;
    snprintf(res->error, sizeof res->error, "%s", run->error);
    res->log = run->log; /* hand the log over */
    sim_log_init(&run->log);
    run_free(run);
    return res->status;
}

void sim_result_free(struct sim_result *res)
{
    sim_log_free(&res->log);
}
