/* The listener under attack (issue 5), in virtual time: syn-flood with each
 * tcp_syncookies mode, syn-flood-cookies, accept-queue-full and
 * accept-queue-full-abort with both tcp_abort_on_overflow values, and
 * slow-accept. Each test asserts the listener's queue bounds (sampled with
 * stack_walk every millisecond of the run, as `ss -l` would show them),
 * the counters, what happened to every real client, and that every host
 * ends holding nothing (ASan checks the frees; a plain build compares the
 * allocator's totals before and after a run).
 *
 * Usage: test_sim_flood [NAME]. With SYNACK_BIN set, `synack sim --sysctl`
 * is checked too. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "link/simnet.h"
#include "sim/catalog.h"
#include "sim/flood_lab.h"
#include "sim_check.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* ---- the listener's queues, sampled during the run ---- */

#define SAMPLE_EVERY MS(1)
#define SAMPLE_UNTIL S(30)

struct listener_view {
    bool seen;
    uint32_t syn_q_peak, syn_q_max;       /* half-open entries, and their bound */
    uint32_t accept_q_peak, backlog;      /* recv_q and send_q of `ss -l` */
    uint32_t half_open_peak;              /* SYN-RECEIVED entries in the table */
    bool syn_q_over, accept_q_over;       /* a bound was ever exceeded */
};

static struct {
    const struct sim_scenario *inner;
    struct sim_run *run;
    int server;
    struct listener_view view;
} sampler;

static void sample_entry(void *ctx, const struct stack_conn_info *info)
{
    uint32_t *half_open = ctx;
    struct listener_view *v = &sampler.view;
    if (info->state == TCP_STATE_LISTEN) {
        v->seen = true;
        v->syn_q_max = info->syn_q_max;
        v->backlog = info->send_q;
        if (info->syn_q > v->syn_q_peak)
            v->syn_q_peak = info->syn_q;
        if (info->recv_q > v->accept_q_peak)
            v->accept_q_peak = info->recv_q;
        /* Linux: the SYN queue holds at most its bound, the accept queue
         * backlog + 1 (sk_acceptq_is_full is "more than backlog"). */
        v->syn_q_over |= info->syn_q > info->syn_q_max;
        v->accept_q_over |= info->recv_q > info->send_q + 1;
    } else if (info->state == TCP_STATE_SYN_RECEIVED && info->sd < 0) {
        (*half_open)++;
    }
}

static void sample(void *ctx)
{
    (void)ctx;
    struct stack *s = sim_stack(sampler.run, sampler.server);
    if (s) {
        uint32_t half_open = 0;
        stack_walk(s, sample_entry, &half_open);
        if (half_open > sampler.view.half_open_peak)
            sampler.view.half_open_peak = half_open;
    }
    tcp_time_t next = sim_now(sampler.run) + SAMPLE_EVERY;
    if (next <= SAMPLE_UNTIL)
        simnet_at(sim_net(sampler.run), next, sample, NULL);
}

static int sampled_setup(struct sim_run *run)
{
    if (sampler.inner->setup(run) < 0)
        return -1;
    sampler.run = run;
    sampler.server = sim_log_host(sim_log(run), "server");
    if (sampler.server < 0)
        return -1;
    return simnet_at(sim_net(run), 0, sample, NULL);
}

/* ---- running ---- */

/* Runs a scenario with --sysctl overrides ("name=value", NULL-terminated),
 * sampling the server's listener; checks that every host that did not
 * vanish ends holding no connection. */
static void run_sampled(const char *name, const char *const *sysctls, struct sim_result *res, struct listener_view *view)
{
    const struct sim_scenario *sc = sim_scenario_find(name);
    if (!sc)
        fail_msg("scenario %s is missing", name);
    struct sim_options opt;
    sim_options_default(&opt);
    for (size_t i = 0; sysctls && sysctls[i]; i++) {
        char knob[64];
        const char *eq = strchr(sysctls[i], '=');
        assert_non_null(eq);
        snprintf(knob, sizeof knob, "%.*s", (int)(eq - sysctls[i]), sysctls[i]);
        assert_int_equal(sim_options_add_sysctl(&opt, knob, atoll(eq + 1)), 0);
    }
    struct sim_scenario wrapped = *sc;
    wrapped.setup = sampled_setup;
    memset(&sampler, 0, sizeof sampler);
    sampler.inner = sc;
    check_ended(name, sim_run_scenario(&wrapped, &opt, res), res);
    if (!sampler.view.seen) {
        dump_events(res);
        fail_msg("%s: the server never had a listener", name);
    }
    if (sampler.view.syn_q_over || sampler.view.accept_q_over) {
        dump_events(res);
        fail_msg("%s: a queue went over its bound (SYN queue peak %u of %u, accept queue peak %u, backlog %u)", name,
                 sampler.view.syn_q_peak, sampler.view.syn_q_max, sampler.view.accept_q_peak, sampler.view.backlog);
    }
    *view = sampler.view;
}

/* ---- looking things up ---- */

/* The client's SYNs, one per connection (the first of each local port). */
static size_t client_syns(const struct sim_result *res, const struct sim_event **out, size_t cap)
{
    size_t n = 0;
    int client = host(res, "client");
    for (size_t i = 0; i < res->log.n; i++) {
        const struct sim_event *e = &res->log.ev[i];
        if (e->kind != SIM_EV_SEGMENT || e->src != client || e->flags != WIRE_SYN)
            continue;
        bool again = false;
        for (size_t j = 0; j < n; j++)
            again |= out[j]->tuple.sport == e->tuple.sport;
        if (!again && n < cap)
            out[n++] = e;
    }
    return n;
}

/* The first segment from src after event `after` on the connection whose
 * client port is port (either direction), matching flags (NULL: any). */
static const struct sim_event *conn_seg_after(const struct sim_result *res, const struct sim_event *after,
                                              const char *src, uint16_t port, const char *flags)
{
    int hi = host(res, src);
    uint8_t want = 0;
    if (flags)
        assert_true(wire_flags_parse(flags, &want));
    for (size_t i = after ? (size_t)(after - res->log.ev) + 1 : 0; i < res->log.n; i++) {
        const struct sim_event *e = &res->log.ev[i];
        if (e->kind == SIM_EV_SEGMENT && e->src == hi && !e->injected &&
            (e->tuple.sport == port || e->tuple.dport == port) && (!flags || e->flags == want))
            return e;
    }
    return NULL;
}

/* State changes of h from -> to (-1: any) on connections to/from remote
 * addresses other than the attacker's spoofed ones when real_only. */
static size_t state_count(const struct sim_result *res, const char *h, int from, int to, bool real_only)
{
    size_t n = 0;
    int hi = host(res, h);
    for (size_t i = 0; i < res->log.n; i++) {
        const struct sim_event *e = &res->log.ev[i];
        if (e->kind != SIM_EV_STATE || e->host != hi || e->tuple.dport == 0)
            continue;
        if (real_only && !wire_addr_eq(&e->tuple.dst, &res->log.host_addrs[host(res, "client")]))
            continue;
        n += (from < 0 || (int)e->from == from) && (to < 0 || (int)e->to == to);
    }
    return n;
}

/* ---- syn-flood: 200 spoofed SYNs against backlog 16, one real client ---- */

static void test_syn_flood_cookies_when_full(void **state)
{
    (void)state;
    struct sim_result res;
    struct listener_view v;
    run_sampled("syn-flood", NULL, &res, &v); /* tcp_syncookies=1, Linux's default */
    const struct tcp_counters *c = counters(&res, "server");
    /* The SYN queue fills (16) and stays there; every SYN past it, the
     * real client's included, is answered with a cookie. */
    assert_int_equal(v.syn_q_max, 16);
    assert_int_equal(v.syn_q_peak, 16);
    assert_int_equal(v.half_open_peak, 16);
    assert_int_equal(c->TCPReqQFullDoCookies, 200 - 16 + 1);
    assert_int_equal(c->SyncookiesSent, c->TCPReqQFullDoCookies);
    assert_int_equal(c->SyncookiesRecv, 1);
    assert_int_equal(c->SyncookiesFailed, 0);
    assert_int_equal(c->TCPReqQFullDrop, 0);
    assert_int_equal(c->ListenOverflows, 0);
    /* The real client: in at the first try, its "hello" echoed. */
    assert_int_equal(app_count(&res, "client", "connect", "0"), 1);
    assert_int_equal(sim_log_segment_count(&res.log, host(&res, "client"), "S"), 1);
    assert_int_equal(bytes_read(&res, "client"), 5);
    assert_int_equal(state_count(&res, "server", TCP_STATE_LISTEN, TCP_STATE_SYN_RECEIVED, true), 0);
    assert_non_null(find_note(&res, "1 of 1 real client(s) connected"));
    sim_result_free(&res);
}

static void test_syn_flood_no_cookies(void **state)
{
    (void)state;
    static const char *const off[] = {"tcp_syncookies=0", NULL};
    struct sim_result res;
    struct listener_view v;
    run_sampled("syn-flood", off, &res, &v);
    const struct tcp_counters *c = counters(&res, "server");
    /* The collapse: the flood holds all 16 slots; every later SYN, the
     * real client's first and its retransmission at 1.5 s, is dropped. */
    assert_int_equal(v.syn_q_peak, 16);
    assert_int_equal(c->SyncookiesSent, 0);
    assert_int_equal(c->TCPReqQFullDoCookies, 0);
    assert_int_equal(sim_log_segment_count(&res.log, host(&res, "client"), "S"), 2);
    assert_int_equal(c->TCPReqQFullDrop, 200 - 16 + 2);
    assert_int_equal(c->ListenDrops, c->TCPReqQFullDrop);
    /* the server sent nothing but its 16 half-open entries' SYN-ACKs */
    assert_int_equal(sim_log_segment_count(&res.log, host(&res, "server"), "S."),
                     sim_log_segment_count(&res.log, host(&res, "server"), NULL));
    assert_int_equal(app_count(&res, "client", "connect", "0"), 0);
    assert_int_equal(app_count(&res, "server", "accept", NULL), 0);
    assert_int_equal(state_count(&res, "client", -1, TCP_STATE_ESTABLISHED, false), 0);
    assert_non_null(find_note(&res, "gives up"));
    assert_non_null(find_note(&res, "0 of 1 real client(s) connected"));
    sim_result_free(&res);
}

static void test_syn_flood_always_cookies(void **state)
{
    (void)state;
    static const char *const always[] = {"net.ipv4.tcp_syncookies=2", NULL};
    struct sim_result res;
    struct listener_view v;
    run_sampled("syn-flood", always, &res, &v);
    const struct tcp_counters *c = counters(&res, "server");
    assert_int_equal(v.syn_q_peak, 0);
    assert_int_equal(v.half_open_peak, 0);
    assert_int_equal(state_count(&res, "server", TCP_STATE_LISTEN, TCP_STATE_SYN_RECEIVED, false), 0);
    assert_int_equal(c->SyncookiesSent, 201);
    /* Linux tcp_syn_flood_action counts every cookie SYN-ACK, even with =2 */
    assert_int_equal(c->TCPReqQFullDoCookies, c->SyncookiesSent);
    assert_int_equal(c->SyncookiesRecv, 1);
    assert_int_equal(app_count(&res, "client", "connect", "0"), 1);
    assert_int_equal(bytes_read(&res, "client"), 5);
    sim_result_free(&res);
}

/* ---- syn-flood-cookies ---- */

static void test_syn_flood_cookies(void **state)
{
    (void)state;
    struct sim_result res;
    struct listener_view v;
    run_sampled("syn-flood-cookies", NULL, &res, &v);
    const struct tcp_counters *c = counters(&res, "server");
    /* No half-open state at all: not one entry, not one SYN-RECEIVED. */
    assert_int_equal(v.syn_q_max, 16);
    assert_int_equal(v.syn_q_peak, 0);
    assert_int_equal(v.half_open_peak, 0);
    assert_int_equal(state_count(&res, "server", TCP_STATE_LISTEN, TCP_STATE_SYN_RECEIVED, false), 0);
    assert_int_equal(sim_log_segment_count(&res.log, host(&res, "attacker"), "S"), 1000);
    assert_int_equal(c->SyncookiesSent, 1000 + 5);
    assert_int_equal(c->SyncookiesRecv, 5);
    assert_int_equal(c->SyncookiesFailed, 0);
    assert_int_equal(c->TCPReqQFullDoCookies, c->SyncookiesSent); /* as Linux, also with =2 */
    assert_int_equal(c->TCPReqQFullDrop, 0);
    assert_int_equal(c->ListenOverflows, 0);
    assert_int_equal(c->ListenDrops, 0);
    assert_int_equal(c->PassiveOpens, 5);
    /* Every real client: its request rides on the cookie ACK (the first
     * segment after its SYN), which creates the connection with the data. */
    const struct sim_event *syns[8];
    assert_int_equal(client_syns(&res, syns, 8), 5);
    for (int i = 0; i < 5; i++) {
        uint16_t port = syns[i]->tuple.sport;
        const struct sim_event *synack = conn_seg_after(&res, syns[i], "server", port, "S.");
        assert_non_null(synack);
        assert_int_equal(synack->ack, syns[i]->seq + 1);
        const struct sim_event *third = conn_seg_after(&res, syns[i], "client", port, NULL);
        assert_non_null(third);
        assert_true(third->t > synack->t);
        assert_int_equal(third->flags, WIRE_PSH | WIRE_ACK);
        assert_int_equal(third->len, 6); /* "GET /n" */
        assert_int_equal(third->ack, synack->seq + 1);
        const struct sim_event *est =
            sim_log_state_nth(&res.log, host(&res, "server"), TCP_STATE_SYN_RECEIVED, TCP_STATE_ESTABLISHED, (unsigned)i + 1);
        assert_non_null(est);
        assert_int_equal(est->tuple.dport, port);
        assert_int_equal(est->cause, third - res.log.ev);
    }
    assert_int_equal(app_count(&res, "client", "connect", "0"), 5);
    assert_int_equal(app_count(&res, "server", "recv", "6 bytes"), 5);
    assert_int_equal(app_count(&res, "client", "recv", "6 bytes"), 5);
    assert_int_equal(counters(&res, "client")->RetransSegs, 0);
    assert_non_null(find_note(&res, "5 of 5 real client(s) connected"));
    sim_result_free(&res);
}

static void test_syn_flood_cookies_off(void **state)
{
    (void)state;
    static const char *const off[] = {"tcp_syncookies=0", NULL};
    struct sim_result res;
    struct listener_view v;
    run_sampled("syn-flood-cookies", off, &res, &v);
    const struct tcp_counters *c = counters(&res, "server");
    /* The same run without cookies: the flood fills the SYN queue within
     * 16 ms; every other SYN is dropped, the clients' too (at 0, 1 and 3 s
     * after each starts), until the flood's entries time out after their
     * third SYN-ACK (7 s: retries cut to 2 under pressure, Linux
     * reqsk_timer_handler). Only then do the clients get in. */
    assert_int_equal(v.syn_q_peak, 16);
    assert_int_equal(c->SyncookiesSent, 0);
    assert_int_equal(c->TCPReqQFullDrop, (1000 - 16) + 5 * 3);
    assert_non_null(find_note(&res, "0 of 5 real client(s) connected"));
    assert_int_equal(app_count(&res, "client", "connect", "0"), 5);
    for (unsigned n = 1; n <= 10; n++) {
        const struct sim_event *e = sim_log_app_nth(&res.log, host(&res, "client"), "connect", n);
        assert_non_null(e);
        if (!strcmp(e->result, "0"))
            assert_true(e->t > S(7));
    }
    assert_int_equal(app_count(&res, "client", "recv", "6 bytes"), 5);
    sim_result_free(&res);
}

/* ---- accept-queue-full (tcp_abort_on_overflow 0 and 1) ---- */

static void check_accept_queue_full(const struct sim_result *res, const struct listener_view *v)
{
    const struct tcp_counters *c = counters(res, "server");
    /* backlog 1: the accept queue holds 2; a SYN that finds it full is
     * dropped whatever tcp_abort_on_overflow says (Linux tcp_conn_request). */
    assert_int_equal(v->backlog, 1);
    assert_int_equal(v->accept_q_peak, 2);
    assert_int_equal(v->syn_q_max, 1);
    assert_int_equal(c->ListenOverflows, 3);
    assert_int_equal(c->ListenDrops, 3);
    assert_int_equal(c->OutRsts, 0);
    assert_int_equal(app_count(res, "client", "connect", "0"), 3);
    assert_int_equal(app_count(res, "server", "accept", NULL), 3);
}

static void test_accept_queue_full(void **state)
{
    (void)state;
    struct sim_result res;
    struct listener_view v;
    run_sampled("accept-queue-full", NULL, &res, &v);
    check_accept_queue_full(&res, &v);
    sim_result_free(&res);
    static const char *const abort1[] = {"tcp_abort_on_overflow=1", NULL};
    run_sampled("accept-queue-full", abort1, &res, &v);
    check_accept_queue_full(&res, &v);
    sim_result_free(&res);
}

/* The fourth client of accept-queue-full-abort: its SYN and the three
 * before it got SYN-ACKs; its final ACK is the one that overflows. */
static const struct sim_event *fourth_syn(const struct sim_result *res)
{
    const struct sim_event *syns[8];
    assert_int_equal(client_syns(res, syns, 8), 4);
    assert_int_equal(syns[3]->t, MS(51));
    return syns[3];
}

static void test_accept_queue_full_abort(void **state)
{
    (void)state;
    struct sim_result res;
    struct listener_view v;
    run_sampled("accept-queue-full-abort", NULL, &res, &v);
    const struct tcp_counters *c = counters(&res, "server");
    assert_int_equal(v.backlog, 2);
    assert_int_equal(v.accept_q_peak, 3);
    assert_int_equal(v.syn_q_max, 2);
    assert_int_equal(v.syn_q_peak, 2);
    assert_int_equal(c->SyncookiesSent, 0);
    assert_int_equal(c->ListenOverflows, 1);
    const struct sim_event *syn = fourth_syn(&res);
    uint16_t port = syn->tuple.sport;
    const struct sim_event *synack = conn_seg_after(&res, syn, "server", port, "S.");
    const struct sim_event *ack = conn_seg_after(&res, synack, "client", port, ".");
    assert_non_null(ack);
    assert_int_equal(ack->ack, synack->seq + 1);
    /* Linux tcp_check_req with tcp_abort_on_overflow=1: the ACK is answered
     * with <SEQ=SEG.ACK><CTL=RST> and the half-open entry goes. */
    const struct sim_event *rst = conn_seg_after(&res, ack, "server", port, NULL);
    assert_non_null(rst);
    assert_int_equal(rst->flags, WIRE_RST);
    assert_int_equal(rst->seq, ack->ack);
    assert_int_equal(rst->t, ack->arrives);
    assert_int_equal(sim_log_segment_count(&res.log, host(&res, "server"), "S."), 4); /* never repeated */
    /* The client had connect() = 0 and sent its "hi"; the reset shows as
     * ECONNRESET on its next call (a read), as on Linux. */
    assert_int_equal(app_count(&res, "client", "connect", "0"), 4);
    assert_int_equal(app_count(&res, "client", "recv", "ECONNRESET"), 1);
    const struct sim_event *reset = NULL;
    for (size_t i = 0; i < res.log.n && !reset; i++)
        if (res.log.ev[i].kind == SIM_EV_APP && !strcmp(res.log.ev[i].call, "recv") &&
            !strcmp(res.log.ev[i].result, "ECONNRESET"))
            reset = &res.log.ev[i];
    assert_int_equal(reset->t, rst->arrives);
    const struct sim_event *closed = sim_log_state_nth(&res.log, host(&res, "client"), TCP_STATE_ESTABLISHED,
                                                       TCP_STATE_CLOSED, 1);
    assert_non_null(closed);
    assert_int_equal(closed->tuple.sport, port);
    assert_int_equal(closed->t, rst->arrives);
    /* The three queued ones are accepted at 5 s with their "hi" waiting. */
    assert_int_equal(app_count(&res, "server", "accept", NULL), 3);
    assert_int_equal(sim_log_app_nth(&res.log, host(&res, "server"), "accept", 1)->t, S(5));
    assert_int_equal(app_count(&res, "server", "recv", "2 bytes"), 3);
    assert_int_equal(bytes_read(&res, "client"), 6);
    sim_result_free(&res);
}

static void test_accept_queue_full_no_abort(void **state)
{
    (void)state;
    static const char *const abort0[] = {"tcp_abort_on_overflow=0", NULL};
    struct sim_result res;
    struct listener_view v;
    run_sampled("accept-queue-full-abort", abort0, &res, &v);
    const struct tcp_counters *c = counters(&res, "server");
    assert_int_equal(v.accept_q_peak, 3);
    assert_int_equal(v.syn_q_peak, 2);
    const struct sim_event *syn = fourth_syn(&res);
    uint16_t port = syn->tuple.sport;
    const struct sim_event *synack = conn_seg_after(&res, syn, "server", port, "S.");
    /* The overflowing ACK (and the data after it) are dropped: no RST; the
     * entry stays half-open and its SYN-ACK is sent again after 1 s. */
    assert_int_equal(c->OutRsts, 0);
    assert_true(c->ListenOverflows >= 2);
    assert_int_equal(c->ListenDrops, c->ListenOverflows);
    const struct sim_event *again = conn_seg_after(&res, synack, "server", port, "S.");
    assert_non_null(again);
    assert_int_equal(again->seq, synack->seq);
    assert_int_equal(again->t, synack->t + S(1));
    /* Once the application has made room, the client's retransmitted data
     * completes the handshake: nothing lost, every client echoed. */
    const struct sim_event *est = NULL;
    for (unsigned n = 1; (est = sim_log_state_nth(&res.log, host(&res, "server"), TCP_STATE_SYN_RECEIVED,
                                                  TCP_STATE_ESTABLISHED, n)); n++)
        if (est->tuple.dport == port)
            break;
    assert_non_null(est);
    assert_true(est->t > S(5));
    assert_int_equal(app_count(&res, "client", "connect", "0"), 4);
    assert_int_equal(app_count(&res, "client", "recv", "ECONNRESET"), 0);
    assert_int_equal(app_count(&res, "server", "accept", NULL), 4);
    assert_int_equal(app_count(&res, "server", "recv", "2 bytes"), 4);
    assert_int_equal(bytes_read(&res, "client"), 8);
    sim_result_free(&res);
}

/* ---- slow-accept ---- */

static void test_slow_accept(void **state)
{
    (void)state;
    struct sim_result res;
    struct listener_view v;
    run_sampled("slow-accept", NULL, &res, &v);
    const struct tcp_counters *c = counters(&res, "server");
    /* backlog 3: four connections wait in the accept queue (backlog + 1). */
    assert_int_equal(v.backlog, 3);
    assert_int_equal(v.accept_q_peak, 4);
    assert_int_equal(c->ListenOverflows, 0);
    assert_int_equal(c->ListenDrops, 0);
    assert_int_equal(c->PassiveOpens, 4);
    const struct sim_event *syns[8];
    assert_int_equal(client_syns(&res, syns, 8), 4);
    for (int i = 0; i < 4; i++) {
        uint16_t port = syns[i]->tuple.sport;
        const struct sim_event *synack = conn_seg_after(&res, syns[i], "server", port, "S.");
        const struct sim_event *third = conn_seg_after(&res, syns[i], "client", port, NULL);
        assert_non_null(synack);
        assert_non_null(third);
        /* The third segment carries the first of the data. */
        assert_true(third->t > synack->t);
        assert_true(third->flags & WIRE_ACK);
        assert_false(third->flags & WIRE_SYN);
        assert_true(third->len > 0);
        assert_int_equal(third->seq, syns[i]->seq + 1);
        assert_int_equal(third->ack, synack->seq + 1);
    }
    /* All four are accepted at 3 s, each with its 3000 bytes waiting; all
     * of it is read and echoed, and nothing had to be sent twice. */
    for (unsigned n = 1; n <= 4; n++)
        assert_int_equal(sim_log_app_nth(&res.log, host(&res, "server"), "accept", n)->t, S(3));
    assert_int_equal(app_count(&res, "server", "accept", NULL), 4);
    size_t before_accept = 0;
    for (size_t i = 0; i < res.log.n; i++)
        before_accept += res.log.ev[i].kind == SIM_EV_APP && res.log.ev[i].host == host(&res, "server") &&
                         !strcmp(res.log.ev[i].call, "recv") && res.log.ev[i].t < S(3);
    assert_int_equal(before_accept, 0);
    assert_int_equal(bytes_read(&res, "server"), 4 * 3000);
    assert_int_equal(bytes_read(&res, "client"), 4 * 3000);
    assert_int_equal(counters(&res, "client")->RetransSegs, 0);
    assert_int_equal(c->RetransSegs, 0);
    sim_result_free(&res);
}

/* ---- the flood lab behind `synack bench synflood`, scaled down ---- */

static void lab_params(struct flood_lab_params *p, int64_t cookies)
{
    flood_lab_default(p);
    p->syn_rate = 20000;
    p->flood_end = S(2);
    p->clients = 100;
    p->clients_start = MS(200);
    p->clients_end = MS(1000);
    p->deadline = MS(800);
    p->backlog = 16;
    p->syncookies = cookies;
}

static void lab_run(const struct flood_lab_params *p, struct flood_lab_result *r)
{
    const char *why;
    if (flood_lab_run(p, r, &why) != 0)
        fail_msg("flood_lab_run: %s", why);
    /* every client accounted for, nothing left once the timers ran out */
    assert_int_equal(r->clients_started, p->clients);
    assert_int_equal(r->served + r->gave_up + r->failed, p->clients);
    assert_int_equal(r->conns_left, 0);
    assert_int_equal(r->syns_sent, p->syn_rate * p->flood_end / S(1));
    assert_true(r->syn_q_peak <= r->syn_q_max);
    assert_true(r->accept_q_peak <= p->backlog + 1);
}

static void test_flood_lab(void **state)
{
    (void)state;
    struct flood_lab_params p;
    struct flood_lab_result on, off, always, again;
    /* Cookies when the SYN queue is full: every client served at once
     * (two round trips: handshake with the request on its third segment,
     * then the echo), while the flood holds the whole SYN queue. */
    lab_params(&p, 1);
    lab_run(&p, &on);
    assert_int_equal(on.served, 100);
    assert_int_equal(on.syn_q_max, 16);
    assert_int_equal(on.syn_q_peak, 16);
    assert_int_equal(on.server.SyncookiesRecv, 100);
    assert_int_equal(on.server.SyncookiesFailed, 0);
    assert_int_equal(on.server.SyncookiesSent, on.server.TCPReqQFullDoCookies);
    assert_int_equal(on.served_p50, 4 * p.delay);
    assert_int_equal(on.served_max, 4 * p.delay);
    lab_run(&p, &again); /* deterministic */
    assert_memory_equal(&on, &again, sizeof on);
    /* No cookies: the collapse. Every client's SYNs are dropped until it
     * gives up. */
    lab_params(&p, 0);
    lab_run(&p, &off);
    assert_int_equal(off.served, 0);
    assert_int_equal(off.gave_up, 100);
    assert_int_equal(off.syn_q_peak, 16);
    assert_int_equal(off.server.SyncookiesSent, 0);
    assert_int_equal(off.server.PassiveOpens, 0);
    /* every segment that reached it but the 16 that filled the queue
     * was a SYN dropped for want of room */
    assert_int_equal(off.server.TCPReqQFullDrop, off.server.InSegs - 16);
    assert_int_equal(off.server.ListenDrops, off.server.TCPReqQFullDrop);
    /* Always cookies: no half-open entry, ever. */
    lab_params(&p, 2);
    lab_run(&p, &always);
    assert_int_equal(always.served, 100);
    assert_int_equal(always.syn_q_peak, 0);
    /* one cookie per SYN that arrived (those of the last 10 ms are still
     * on the wire when the measure ends) and per client */
    uint64_t arrived = p.syn_rate * (p.flood_end - p.delay) / S(1);
    assert_in_range(always.server.SyncookiesSent, arrived + 100, always.syns_sent + 100);
    assert_int_equal(always.server.SyncookiesRecv, 100);
    /* Bad parameters are refused with a reason. */
    const char *why = NULL;
    p.syncookies = 3;
    assert_int_equal(flood_lab_run(&p, &again, &why), -1);
    assert_non_null(why);
}

/* ---- memory: a run leaves the allocator as it found it ---- */

/* One run in a thread of its own: when the thread ends, glibc gives the
 * blocks its per-thread cache still holds back to the arena, where
 * mallinfo2 counts them free. */
struct mem_job {
    const struct sim_scenario *sc;
    struct sim_options opt;
    int rc;
};

static void *mem_job_run(void *arg)
{
    struct mem_job *j = arg;
    struct sim_result res;
    j->rc = sim_run_scenario(j->sc, &j->opt, &res);
    sim_result_free(&res);
    return NULL;
}

static size_t heap_after_run(struct mem_job *j)
{
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, mem_job_run, j), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(j->rc, 0);
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

static void test_memory_returns(void **state)
{
    (void)state;
    if (UNDER_ASAN)
        skip(); /* ASan's leak check does this job there */
    static const char *const names[] = {"syn-flood", "syn-flood-cookies", "accept-queue-full",
                                        "accept-queue-full-abort", "slow-accept"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        for (int mode = 0; mode < 2; mode++) {
            struct mem_job j = {.sc = sim_scenario_find(names[i])};
            assert_non_null(j.sc);
            sim_options_default(&j.opt);
            if (mode)
                assert_int_equal(sim_options_add_sysctl(&j.opt, "tcp_syncookies", 0), 0);
            /* one run to warm up whatever is allocated once, then the measure */
            size_t before = heap_after_run(&j);
            size_t after = heap_after_run(&j);
            if (after != before)
                fail_msg("%s%s: %zd bytes still allocated after the run", names[i], mode ? " (cookies off)" : "",
                         (ssize_t)(after - before));
        }
    }
}

/* ---- synack sim --sysctl ---- */

static int run_cli(const char *args, char *out, size_t cap)
{
    const char *bin = getenv("SYNACK_BIN");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", bin, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_cli_sysctl(void **state)
{
    (void)state;
    const char *bin = getenv("SYNACK_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        print_message("the synack binary is not built: skipping\n");
        skip();
    }
    static char out[1 << 20];
    assert_int_equal(run_cli("sim syn-flood --sysctl tcp_syncookies=0 --format json", out, sizeof out), 0);
    assert_non_null(strstr(out, "\"text\":\"sysctl tcp_syncookies=0 on every host\""));
    assert_non_null(strstr(out, "gives up"));
    assert_null(strstr(out, "\"call\":\"connect\",\"result\":\"0\""));
    assert_int_equal(run_cli("sim syn-flood -k net.ipv4.tcp_syncookies=2 -k tcp_syncookies=1 --format json", out,
                             sizeof out), 0);
    assert_non_null(strstr(out, "\"call\":\"connect\",\"result\":\"0\""));
    assert_non_null(strstr(out, "TCPReqQFullDoCookies 185"));
    /* Bad names and values: one line, exit 2. */
    static const struct {
        const char *args, *line;
    } bad[] = {
        {"sim syn-flood --sysctl tcp_nonsense=1", "synack: sim: unknown sysctl 'tcp_nonsense' (see synack sim --help)\n"},
        {"sim syn-flood --sysctl tcp_syncookies=3",
         "synack: sim: bad value '3' for tcp_syncookies (an integer from 0 to 2, 0/1/2)\n"},
        {"sim syn-flood --sysctl tcp_abort_on_overflow=yes",
         "synack: sim: bad value 'yes' for tcp_abort_on_overflow (an integer from 0 to 1, bool)\n"},
        {"sim syn-flood --sysctl tcp_max_syn_backlog=-1",
         "synack: sim: bad value '-1' for tcp_max_syn_backlog (an integer from 0 to 2147483647, count)\n"},
        {"sim syn-flood --sysctl tcp_syncookies", "synack: sim: bad --sysctl 'tcp_syncookies' (NAME=VALUE, e.g. tcp_syncookies=0)\n"},
        {"sim syn-flood --sysctl =1", "synack: sim: bad --sysctl '=1' (NAME=VALUE, e.g. tcp_syncookies=0)\n"},
        {"sim syn-flood --sysctl", "synack: sim: option '--sysctl' needs a value\n"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = run_cli(bad[i].args, out, sizeof out);
        if (rc != 2 || strcmp(out, bad[i].line) != 0)
            fail_msg("synack %s: exit %d, printed '%s'; want 2 and '%s'", bad[i].args, rc, out, bad[i].line);
    }
    /* --help lists the knobs from the one table. */
    assert_int_equal(run_cli("sim --help", out, sizeof out), 0);
    for (int i = 0; i < tcp_config_count(); i++)
        assert_non_null(strstr(out, tcp_config_name(i)));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        {"syn-flood", test_syn_flood_cookies_when_full, NULL, NULL, NULL},
        {"syn-flood-no-cookies", test_syn_flood_no_cookies, NULL, NULL, NULL},
        {"syn-flood-always-cookies", test_syn_flood_always_cookies, NULL, NULL, NULL},
        {"syn-flood-cookies", test_syn_flood_cookies, NULL, NULL, NULL},
        {"syn-flood-cookies-off", test_syn_flood_cookies_off, NULL, NULL, NULL},
        {"accept-queue-full", test_accept_queue_full, NULL, NULL, NULL},
        {"accept-queue-full-abort", test_accept_queue_full_abort, NULL, NULL, NULL},
        {"accept-queue-full-no-abort", test_accept_queue_full_no_abort, NULL, NULL, NULL},
        {"slow-accept", test_slow_accept, NULL, NULL, NULL},
        {"flood-lab", test_flood_lab, NULL, NULL, NULL},
        {"memory-returns", test_memory_returns, NULL, NULL, NULL},
        {"cli-sysctl", test_cli_sysctl, NULL, NULL, NULL},
    };
    if (argc > 1) {
        size_t i = 0;
        while (i < sizeof tests / sizeof tests[0] && strcmp(tests[i].name, argv[1]) != 0)
            i++;
        if (i == sizeof tests / sizeof tests[0]) {
            fprintf(stderr, "no test named %s\n", argv[1]);
            return 1;
        }
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
