/* SYN-flood survival at scale: a server, a host of real clients and a
 * spoofing attacker on a simnet, with just enough application on each
 * side, and the bookkeeping of who was served. */
#include "sim/flood_lab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "link/sim_rng.h"
#include "link/simnet.h"
#include "sim/runner.h"
#include "stack/stack.h"

#define LAB_PORT 80
#define LAB_FLOOD_TICK TCP_USEC(10)   /* the flood's SYNs leave in bursts this far apart */
#define LAB_SAMPLE_EVERY TCP_MSEC(10) /* the listener's queues are read this often */
#define LAB_DRAIN_LIMIT TCP_SEC(86400)
#define LAB_SPOOF_BASE 0xc6120000u    /* 198.18.0.0/15 (RFC 2544: benchmarking) */
#define LAB_SPOOF_SPAN 0x20000u

enum { SIDE_SERVER, SIDE_CLIENTS, SIDE_COUNT };
enum client_fate { CLIENT_WAITING, CLIENT_RUNNING, CLIENT_SERVED, CLIENT_GAVE_UP, CLIENT_FAILED };

struct lab_client {
    tcp_time_t start;
    uint32_t got; /* echo bytes read */
    int sd;
    uint8_t fate;
};

struct lab;

/* What a stack's hooks need: the lab and which host this is. */
struct lab_side {
    struct lab *lab;
    int side, host;
    struct stack *stack;
    int *pending;      /* descriptors whose readiness changed */
    size_t npending, cap;
    uint8_t *queued;   /* by descriptor: already in pending */
    bool scheduled;    /* an app pass is due */
};

struct lab {
    const struct flood_lab_params *p;
    struct flood_lab_result *r;
    struct simnet *net;
    struct lab_side sides[SIDE_COUNT];
    int attacker;
    struct wire_addr server_addr;
    int lsd;
    bool listening;
    struct lab_client *clients;
    int32_t *client_of_sd;
    uint32_t next_start, next_deadline;
    tcp_time_t measure_end; /* the flood is over and every client served or out of time */
    struct sim_rng rng;
    uint64_t flood_credit;
    tcp_time_t *served_times;
    size_t nserved;
    uint8_t *request;
    uint8_t buf[65536];
    const char *error;
};

#define MAX_SOCKETS 65536u

void flood_lab_default(struct flood_lab_params *p)
{
    memset(p, 0, sizeof *p);
    p->syn_rate = 1000000;
    p->flood_end = TCP_SEC(6);
    p->clients = 10000;
    p->clients_start = TCP_MSEC(500);
    p->clients_end = TCP_MSEC(3500);
    p->deadline = TCP_MSEC(2500);
    p->backlog = 128;
    p->syncookies = 1;
    p->request_bytes = 16;
    p->delay = TCP_MSEC(10);
    p->seed = 1;
    p->progress_every = TCP_MSEC(500);
}

static void lab_fail(struct lab *lab, const char *why)
{
    if (!lab->error)
        lab->error = why;
}

static void lab_at(struct lab *lab, tcp_time_t t, void (*fn)(void *), void *ctx)
{
    if (simnet_at(lab->net, t, fn, ctx) < 0)
        lab_fail(lab, "out of memory (simulator events)");
}

/* ---- stack hooks ---- */

static void hook_output(void *ctx, const uint8_t *pkt, size_t len)
{
    struct lab_side *s = ctx;
    simnet_send(s->lab->net, s->host, pkt, len);
}

static void server_pass(void *ctx);
static void clients_pass(void *ctx);

/* Readiness changed: the app looks at sd in a pass of its own, from the
 * event loop, never from inside the stack. */
static void hook_ready(void *ctx, int sd, unsigned events)
{
    (void)events;
    struct lab_side *s = ctx;
    if (sd < 0 || (unsigned)sd >= MAX_SOCKETS || s->queued[sd])
        return;
    if (s->npending == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        int *grown = realloc(s->pending, cap * sizeof *grown);
        if (!grown) {
            lab_fail(s->lab, "out of memory");
            return;
        }
        s->pending = grown;
        s->cap = cap;
    }
    s->queued[sd] = 1;
    s->pending[s->npending++] = sd;
    if (!s->scheduled) {
        s->scheduled = true;
        lab_at(s->lab, simnet_now(s->lab->net), s->side == SIDE_SERVER ? server_pass : clients_pass, s);
    }
}

/* ---- the server: accept, echo, close at EOF ---- */

static void server_serve(struct lab *lab, int sd)
{
    struct stack *st = lab->sides[SIDE_SERVER].stack;
    tcp_time_t now = simnet_now(lab->net);
    for (;;) {
        ssize_t n = stack_recv(st, sd, lab->buf, sizeof lab->buf, now);
        if (n == -EAGAIN)
            return;
        if (n > 0) {
            stack_send(st, sd, lab->buf, (size_t)n, now); /* requests are small: it fits */
            continue;
        }
        if (n != -EBADF)
            stack_close(st, sd, now); /* EOF or an error: done */
        return;
    }
}

static void server_accept(struct lab *lab)
{
    struct stack *st = lab->sides[SIDE_SERVER].stack;
    int sd;
    while (lab->listening && (sd = stack_accept(st, lab->lsd, NULL)) >= 0)
        server_serve(lab, sd);
}

static void server_pass(void *ctx)
{
    struct lab_side *s = ctx;
    struct lab *lab = s->lab;
    s->scheduled = false;
    for (size_t i = 0; i < s->npending; i++) {
        int sd = s->pending[i];
        s->queued[sd] = 0;
        if (lab->listening && sd == lab->lsd)
            server_accept(lab);
        else
            server_serve(lab, sd);
    }
    s->npending = 0;
}

/* ---- the clients: connect, request on the third segment, read the echo ---- */

static void client_done(struct lab *lab, struct lab_client *c, enum client_fate fate)
{
    struct stack *st = lab->sides[SIDE_CLIENTS].stack;
    tcp_time_t now = simnet_now(lab->net);
    c->fate = (uint8_t)fate;
    lab->client_of_sd[c->sd] = -1;
    stack_close(st, c->sd, now);
    switch (fate) {
    case CLIENT_SERVED:
        lab->r->served++;
        lab->served_times[lab->nserved++] = now - c->start;
        break;
    case CLIENT_GAVE_UP: lab->r->gave_up++; break;
    default: lab->r->failed++; break;
    }
}

static void client_io(struct lab *lab, struct lab_client *c)
{
    struct stack *st = lab->sides[SIDE_CLIENTS].stack;
    tcp_time_t now = simnet_now(lab->net);
    for (;;) {
        ssize_t n = stack_recv(st, c->sd, lab->buf, sizeof lab->buf, now);
        if (n == -EAGAIN) {
            if (stack_poll(st, c->sd) & STACK_POLLERR)
                client_done(lab, c, CLIENT_FAILED); /* connect() failed */
            return;
        }
        if (n > 0) {
            c->got += (uint32_t)n;
            if (c->got >= lab->p->request_bytes) {
                client_done(lab, c, CLIENT_SERVED);
                return;
            }
            continue;
        }
        client_done(lab, c, CLIENT_FAILED); /* EOF before the echo, or reset */
        return;
    }
}

static void clients_pass(void *ctx)
{
    struct lab_side *s = ctx;
    struct lab *lab = s->lab;
    s->scheduled = false;
    for (size_t i = 0; i < s->npending; i++) {
        int sd = s->pending[i];
        s->queued[sd] = 0;
        int32_t idx = lab->client_of_sd[sd];
        if (idx >= 0)
            client_io(lab, &lab->clients[idx]);
    }
    s->npending = 0;
}

static tcp_time_t client_start_time(const struct flood_lab_params *p, uint32_t i)
{
    return p->clients_start + (p->clients_end - p->clients_start) * i / p->clients;
}

static void client_start(struct lab *lab, uint32_t i)
{
    struct stack *st = lab->sides[SIDE_CLIENTS].stack;
    tcp_time_t now = simnet_now(lab->net);
    struct lab_client *c = &lab->clients[i];
    c->start = now;
    c->fate = CLIENT_RUNNING;
    lab->r->clients_started++;
    int sd = stack_socket(st);
    struct wire_endpoint server = {lab->server_addr, LAB_PORT};
    if (sd < 0) {
        c->fate = CLIENT_FAILED;
        lab->r->failed++;
        return;
    }
    c->sd = sd;
    lab->client_of_sd[sd] = (int32_t)i;
    int rc = stack_connect(st, sd, &server, now);
    /* Written at once, still in SYN-SENT: it leaves on the third segment
     * (the cookie ACK, when the server answered with a cookie). */
    if ((rc < 0 && rc != -EINPROGRESS) || stack_send(st, sd, lab->request, lab->p->request_bytes, now) < 0)
        client_done(lab, c, CLIENT_FAILED);
}

static void clients_launch(void *ctx)
{
    struct lab *lab = ctx;
    const struct flood_lab_params *p = lab->p;
    tcp_time_t now = simnet_now(lab->net);
    while (lab->next_start < p->clients && client_start_time(p, lab->next_start) <= now)
        client_start(lab, lab->next_start++);
    if (lab->next_start < p->clients)
        lab_at(lab, client_start_time(p, lab->next_start), clients_launch, lab);
}

/* Deadlines fall in start order: one sweep event walks them. */
static void clients_deadline(void *ctx)
{
    struct lab *lab = ctx;
    const struct flood_lab_params *p = lab->p;
    tcp_time_t now = simnet_now(lab->net);
    while (lab->next_deadline < lab->next_start &&
           lab->clients[lab->next_deadline].start + p->deadline <= now) {
        struct lab_client *c = &lab->clients[lab->next_deadline++];
        if (c->fate == CLIENT_RUNNING)
            client_done(lab, c, CLIENT_GAVE_UP);
    }
    if (lab->next_deadline < p->clients) {
        tcp_time_t next = client_start_time(p, lab->next_deadline) + p->deadline;
        lab_at(lab, next > now ? next : now + 1, clients_deadline, lab);
    }
}

/* ---- the attacker ---- */

static void flood_syn(struct lab *lab)
{
    struct wire_seg s = {0};
    uint64_t rnd = sim_rng_next(&lab->rng);
    s.tuple.src = wire_addr_v4(LAB_SPOOF_BASE + (uint32_t)(rnd % LAB_SPOOF_SPAN));
    s.tuple.dst = lab->server_addr;
    s.tuple.sport = (uint16_t)(1024 + (rnd >> 20) % 64512);
    s.tuple.dport = LAB_PORT;
    s.ip_version = 4;
    s.flags = WIRE_SYN;
    s.seq = (uint32_t)(rnd >> 32);
    s.window = 64240;
    /* What a Linux client's SYN offers: the worst case for a cookie, which
     * must then carry window scale and SACK in the timestamp. */
    s.opt.present = WIRE_OPT_MSS | WIRE_OPT_SACK_PERM | WIRE_OPT_TIMESTAMP | WIRE_OPT_WSCALE;
    s.opt.mss = 1460;
    s.opt.ts_val = (uint32_t)rnd;
    s.opt.wscale = 7;
    uint8_t pkt[WIRE_MAX_HEADER];
    size_t len = wire_build(pkt, sizeof pkt, &s);
    if (len) {
        simnet_send(lab->net, lab->attacker, pkt, len);
        lab->r->syns_sent++;
    }
}

static void flood_tick(void *ctx)
{
    struct lab *lab = ctx;
    const struct flood_lab_params *p = lab->p;
    tcp_time_t now = simnet_now(lab->net);
    tcp_time_t tick = TCP_SEC(1) / p->syn_rate > LAB_FLOOD_TICK ? TCP_SEC(1) / p->syn_rate : LAB_FLOOD_TICK;
    lab->flood_credit += p->syn_rate * tick;
    for (; lab->flood_credit >= TCP_SEC(1); lab->flood_credit -= TCP_SEC(1))
        flood_syn(lab);
    if (now + tick < p->flood_end)
        lab_at(lab, now + tick, flood_tick, lab);
}

/* ---- watching ---- */

static void sample_listener(void *ctx, const struct stack_conn_info *info)
{
    struct lab *lab = ctx;
    if (info->state != TCP_STATE_LISTEN)
        return;
    struct flood_lab_result *r = lab->r;
    r->syn_q_max = info->syn_q_max;
    if (info->syn_q > r->syn_q_peak)
        r->syn_q_peak = info->syn_q;
    if (info->recv_q > r->accept_q_peak)
        r->accept_q_peak = info->recv_q;
}

static void sample_tick(void *ctx)
{
    struct lab *lab = ctx;
    if (!lab->listening)
        return;
    stack_walk(lab->sides[SIDE_SERVER].stack, sample_listener, lab);
    lab_at(lab, simnet_now(lab->net) + LAB_SAMPLE_EVERY, sample_tick, lab);
}

static void progress_tick(void *ctx)
{
    struct lab *lab = ctx;
    lab->r->now = simnet_now(lab->net);
    lab->r->events = simnet_stats(lab->net)->events;
    lab->p->progress(lab->p->progress_ctx, lab->r);
    if (lab->r->now + lab->p->progress_every < lab->measure_end)
        lab_at(lab, lab->r->now + lab->p->progress_every, progress_tick, lab);
}

/* ---- the run ---- */

static int cmp_time(const void *a, const void *b)
{
    tcp_time_t x = *(const tcp_time_t *)a, y = *(const tcp_time_t *)b;
    return x < y ? -1 : x > y;
}

static int add_stack(struct lab *lab, int side, const char *name, const char *addr_text)
{
    const struct flood_lab_params *p = lab->p;
    struct lab_side *s = &lab->sides[side];
    s->lab = lab;
    s->side = side;
    s->queued = calloc(MAX_SOCKETS, 1);
    struct stack_config cfg;
    stack_config_default(&cfg);
    cfg.max_sockets = MAX_SOCKETS;
    if (side == SIDE_SERVER)
        cfg.tcp.tcp_syncookies = p->syncookies;
    uint64_t key = p->seed * 0x100000001b3u + (uint64_t)side;
    for (size_t i = 0; i < sizeof cfg.secret; i += 8) {
        uint64_t v = sim_rng_splitmix64(&key);
        memcpy(cfg.secret + i, &v, 8);
    }
    struct stack_hooks hooks = {.ctx = s, .output = hook_output, .ready = hook_ready};
    s->stack = stack_new(&cfg, &hooks, 0);
    struct wire_addr addr;
    if (!s->queued || !s->stack || !wire_addr_parse(addr_text, &addr))
        return -1;
    stack_set_local_addr(s->stack, &addr);
    s->host = simnet_add_host(lab->net, name, &addr, &sim_stack_node_ops, s->stack);
    if (side == SIDE_SERVER)
        lab->server_addr = addr;
    return s->host < 0 ? -1 : 0;
}

static int lab_setup(struct lab *lab)
{
    const struct flood_lab_params *p = lab->p;
    lab->net = simnet_new(p->seed);
    if (!lab->net)
        return -1;
    simnet_set_event_limit(lab->net, UINT64_MAX);
    sim_rng_seed(&lab->rng, p->seed ^ 0x5eed);
    lab->clients = calloc(p->clients ? p->clients : 1, sizeof *lab->clients);
    lab->served_times = calloc(p->clients ? p->clients : 1, sizeof *lab->served_times);
    lab->client_of_sd = malloc(MAX_SOCKETS * sizeof *lab->client_of_sd);
    lab->request = malloc(p->request_bytes ? p->request_bytes : 1);
    if (!lab->clients || !lab->served_times || !lab->client_of_sd || !lab->request)
        return -1;
    for (uint32_t i = 0; i < MAX_SOCKETS; i++)
        lab->client_of_sd[i] = -1;
    for (uint32_t i = 0; i < p->request_bytes; i++)
        lab->request[i] = (uint8_t)('a' + i % 26);
    struct wire_addr attacker_addr;
    wire_addr_parse("198.51.100.1", &attacker_addr);
    if (add_stack(lab, SIDE_SERVER, "server", "10.0.0.2") < 0 || add_stack(lab, SIDE_CLIENTS, "clients", "10.0.0.1") < 0)
        return -1;
    /* The attacker owns none of the spoofed sources: SYN-ACKs to them are
     * lost for want of a route, as on the Internet. */
    lab->attacker = simnet_add_host(lab->net, "attacker", &attacker_addr, NULL, NULL);
    struct simnet_link_params lp = {.delay = p->delay};
    int server = lab->sides[SIDE_SERVER].host;
    if (lab->attacker < 0 || simnet_link(lab->net, server, lab->sides[SIDE_CLIENTS].host, &lp, &lp) < 0 ||
        simnet_link(lab->net, server, lab->attacker, &lp, &lp) < 0)
        return -1;
    struct stack *st = lab->sides[SIDE_SERVER].stack;
    struct wire_endpoint local = {lab->server_addr, LAB_PORT};
    lab->lsd = stack_socket(st);
    if (lab->lsd < 0 || stack_bind(st, lab->lsd, &local) < 0 || stack_listen(st, lab->lsd, (int)p->backlog) < 0)
        return -1;
    lab->listening = true;
    if (p->syn_rate && p->flood_end)
        lab_at(lab, 0, flood_tick, lab);
    if (p->clients) {
        lab_at(lab, client_start_time(p, 0), clients_launch, lab);
        lab_at(lab, client_start_time(p, 0) + p->deadline, clients_deadline, lab);
    }
    lab_at(lab, 0, sample_tick, lab);
    if (p->progress && p->progress_every)
        lab_at(lab, p->progress_every, progress_tick, lab);
    return lab->error ? -1 : 0;
}

static void lab_free(struct lab *lab)
{
    for (int i = 0; i < SIDE_COUNT; i++) {
        stack_free(lab->sides[i].stack);
        free(lab->sides[i].pending);
        free(lab->sides[i].queued);
    }
    simnet_free(lab->net);
    free(lab->clients);
    free(lab->served_times);
    free(lab->client_of_sd);
    free(lab->request);
}

int flood_lab_run(const struct flood_lab_params *p, struct flood_lab_result *r, const char **why)
{
    memset(r, 0, sizeof *r);
    *why = NULL;
    if (p->clients > 30000 || p->clients_end < p->clients_start || p->deadline == 0 || p->syncookies < 0 ||
        p->syncookies > 2 || p->request_bytes == 0 || p->request_bytes > 4096) {
        *why = "bad parameters (at most 30,000 clients, requests of 1 to 4096 bytes, tcp_syncookies 0..2)";
        return -1;
    }
    struct lab *lab = calloc(1, sizeof *lab);
    if (!lab) {
        *why = "out of memory";
        return -1;
    }
    lab->p = p;
    lab->r = r;
    /* The measure: until the flood has stopped and every client is either
     * served or out of time. */
    lab->measure_end = p->flood_end;
    if (p->clients && p->clients_end + p->deadline > lab->measure_end)
        lab->measure_end = p->clients_end + p->deadline;
    int rc = lab_setup(lab);
    if (rc < 0)
        lab_fail(lab, "cannot set the network up");
    if (!lab->error && simnet_run_until(lab->net, lab->measure_end + 1) < 0)
        lab_fail(lab, simnet_error(lab->net));
    r->now = simnet_now(lab->net);
    r->server = *stack_counters(lab->sides[SIDE_SERVER].stack);
    r->events = simnet_stats(lab->net)->events;
    qsort(lab->served_times, lab->nserved, sizeof *lab->served_times, cmp_time);
    if (lab->nserved) {
        r->served_p50 = lab->served_times[(lab->nserved - 1) / 2];
        r->served_p99 = lab->served_times[(lab->nserved - 1) * 99 / 100];
        r->served_max = lab->served_times[lab->nserved - 1];
    }
    /* Then the listener closes and every timer runs out: both stacks must
     * end empty (half-open entries, TIME-WAIT, orphans all gone). */
    if (!lab->error) {
        lab->listening = false;
        stack_close(lab->sides[SIDE_SERVER].stack, lab->lsd, simnet_now(lab->net));
        if (simnet_run(lab->net, simnet_now(lab->net) + LAB_DRAIN_LIMIT) != 0)
            lab_fail(lab, simnet_error(lab->net) ? simnet_error(lab->net) : "timers still armed a day later");
        r->conns_left = stack_conn_count(lab->sides[SIDE_SERVER].stack) +
                        stack_conn_count(lab->sides[SIDE_CLIENTS].stack);
    }
    *why = lab->error;
    rc = lab->error ? -1 : 0;
    lab_free(lab);
    free(lab);
    return rc;
}
