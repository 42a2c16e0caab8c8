/* synack's harness: a client stack and a server stack wired back to back
 * in memory. Each output hook copies the packet into one FIFO; the pump
 * hands packets to the other stack's stack_input, advancing virtual time by
 * 1 us per packet, until nothing is in flight. The application calls run
 * between pumps, as an event loop would after poll(). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_internal.h"
#include "stack/stack.h"

#define SY_QUEUE_SLOTS 64 /* power of two; a lifecycle has at most 2 in flight */
#define SY_PKT_MAX 2048
#define SY_REPLAY_MAX 64 /* the handshake ACK: 20 IP + 20 TCP + 12 timestamps */

struct sy_slot {
    _Alignas(64) uint8_t data[SY_PKT_MAX]; /* aligned as a NIC or TUN read buffer is */
    uint16_t len;
    uint8_t to; /* 0 client, 1 server */
};

struct sy_side {
    struct sy_pair *pair;
    uint8_t index;
};

struct sy_replay {
    uint8_t len;
    uint8_t data[SY_REPLAY_MAX];
};

struct sy_pair {
    struct stack *host[2];
    struct sy_side side[2];
    struct sy_slot q[SY_QUEUE_SLOTS];
    uint32_t head, tail;
    tcp_time_t now;
    uint64_t delivered, dropped;
    uint64_t opened; /* connections opened (for client address rotation) */
    int listener;
    struct wire_endpoint server;
    tcp_time_t timewait_len;
    /* Held connections: both descriptors and the client's handshake ACK. */
    int *held_sd; /* 2 per connection */
    struct sy_replay *replay;
    uint64_t held, held_cap;
    bool record;    /* keep the last client -> server packet */
    struct sy_replay last_c2s;
    uint64_t server_sent; /* packets the server output (replay check) */
    char error[160];
};

static void sy_output(void *ctx, const uint8_t *pkt, size_t len)
{
    struct sy_side *side = ctx;
    struct sy_pair *p = side->pair;
    if (side->index == 1)
        p->server_sent++;
    if (p->tail - p->head >= SY_QUEUE_SLOTS || len > SY_PKT_MAX) {
        p->dropped++;
        return;
    }
    struct sy_slot *s = &p->q[p->tail++ & (SY_QUEUE_SLOTS - 1)];
    s->len = (uint16_t)len;
    s->to = (uint8_t)!side->index;
    memcpy(s->data, pkt, len);
    if (p->record && side->index == 0 && len <= SY_REPLAY_MAX) {
        p->last_c2s.len = (uint8_t)len;
        memcpy(p->last_c2s.data, pkt, len);
    }
}

static void sy_pump(struct sy_pair *p)
{
    while (p->head != p->tail) {
        struct sy_slot *s = &p->q[p->head++ & (SY_QUEUE_SLOTS - 1)];
        p->now += 1;
        p->delivered++;
        stack_input(p->host[s->to], s->data, s->len, p->now);
    }
}

static void sy_fail(struct sy_pair *p, const char *what, long got)
{
    snprintf(p->error, sizeof p->error, "synack: %s (got %ld) after %lu segments", what, got,
             (unsigned long)p->delivered);
}

struct sy_pair *sy_pair_new(uint64_t held)
{
    struct sy_pair *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    struct stack_config cfg;
    stack_config_default(&cfg);
    for (size_t i = 0; i < sizeof cfg.secret; i++)
        cfg.secret[i] = (uint8_t)(i * 37 + 11);
    uint64_t socks = held + 1024;
    cfg.max_sockets = socks < 65536 ? 65536 : (uint32_t)socks;
    if ((uint64_t)cfg.tcp.tcp_max_tw_buckets < held + 1024)
        cfg.tcp.tcp_max_tw_buckets = (int64_t)(held + 1024);
    p->timewait_len = TCP_SEC(cfg.tcp.tcp_timewait_len);
    p->now = TCP_SEC(1);
    for (int i = 0; i < 2; i++) {
        p->side[i] = (struct sy_side){p, (uint8_t)i};
        struct stack_hooks hooks = {.ctx = &p->side[i], .output = sy_output};
        p->host[i] = stack_new(&cfg, &hooks, p->now);
        if (!p->host[i]) {
            sy_pair_free(p);
            return NULL;
        }
    }
    struct wire_addr caddr = wire_addr_v4(BENCH_CLIENT_ADDR);
    stack_set_local_addr(p->host[0], &caddr);
    p->server.addr = wire_addr_v4(BENCH_SERVER_ADDR);
    p->server.port = BENCH_SERVER_PORT;
    stack_set_local_addr(p->host[1], &p->server.addr);
    p->listener = stack_socket(p->host[1]);
    if (p->listener < 0 || stack_bind(p->host[1], p->listener, &p->server) < 0 ||
        stack_listen(p->host[1], p->listener, 4096) < 0) {
        sy_pair_free(p);
        return NULL;
    }
    return p;
}

void sy_pair_free(struct sy_pair *p)
{
    if (!p)
        return;
    for (int i = 0; i < 2; i++)
        stack_free(p->host[i]);
    free(p->held_sd);
    free(p->replay);
    free(p);
}

/* Every BENCH_CONNS_PER_ADDR connections the client takes the next
 * address, so that a million held connections fit the port range. */
static void sy_next_client_addr(struct sy_pair *p)
{
    if (p->opened % BENCH_CONNS_PER_ADDR == 0) {
        struct wire_addr a = wire_addr_v4(BENCH_CLIENT_ADDR + (uint32_t)(p->opened / BENCH_CONNS_PER_ADDR));
        stack_set_local_addr(p->host[0], &a);
    }
    p->opened++;
}

/* connect + accept: 0 with both descriptors, or -1. */
static int sy_open(struct sy_pair *p, int *cli_sd, int *srv_sd, bool request)
{
    struct stack *cli = p->host[0], *srv = p->host[1];
    sy_next_client_addr(p);
    int c = stack_socket(cli);
    if (c < 0)
        return sy_fail(p, "client socket()", c), -1;
    int rc = stack_connect(cli, c, &p->server, p->now);
    if (rc != -EINPROGRESS)
        return sy_fail(p, "connect() did not return -EINPROGRESS", rc), -1;
    if (request) {
        ssize_t n = stack_send(cli, c, bench_request, BENCH_REQ_LEN, p->now);
        if (n != BENCH_REQ_LEN)
            return sy_fail(p, "client send()", (long)n), -1;
    }
    sy_pump(p);
    if (stack_sock_state(cli, c) != TCP_STATE_ESTABLISHED)
        return sy_fail(p, "client not ESTABLISHED after the handshake", (long)stack_sock_state(cli, c)), -1;
    int s = stack_accept(srv, p->listener, NULL);
    if (s < 0)
        return sy_fail(p, "accept()", s), -1;
    *cli_sd = c;
    *srv_sd = s;
    return 0;
}

int sy_lifecycle(struct sy_pair *p)
{
    struct stack *cli = p->host[0], *srv = p->host[1];
    uint8_t buf[512];
    int c, s;
    if (sy_open(p, &c, &s, true) < 0)
        return -1;
    ssize_t n = stack_recv(srv, s, buf, sizeof buf, p->now);
    if (n != BENCH_REQ_LEN)
        return sy_fail(p, "server recv() of the request", (long)n), -1;
    n = stack_send(srv, s, bench_response, BENCH_RESP_LEN, p->now);
    if (n != BENCH_RESP_LEN)
        return sy_fail(p, "server send()", (long)n), -1;
    sy_pump(p);
    n = stack_recv(cli, c, buf, sizeof buf, p->now);
    if (n != BENCH_RESP_LEN)
        return sy_fail(p, "client recv() of the response", (long)n), -1;
    stack_close(cli, c, p->now); /* the client closes first: TIME-WAIT is its */
    sy_pump(p);
    n = stack_recv(srv, s, buf, sizeof buf, p->now);
    if (n != 0)
        return sy_fail(p, "server recv() did not see the end of stream", (long)n), -1;
    stack_close(srv, s, p->now);
    sy_pump(p);
    if (p->dropped)
        return sy_fail(p, "packets dropped by the harness", (long)p->dropped), -1;
    return 0;
}

int sy_open_held(struct sy_pair *p)
{
    if (p->held == p->held_cap) {
        uint64_t cap = p->held_cap ? p->held_cap * 2 : 1024;
        int *sd = realloc(p->held_sd, cap * 2 * sizeof *sd);
        if (!sd)
            return sy_fail(p, "out of memory", 0), -1;
        p->held_sd = sd;
        struct sy_replay *r = realloc(p->replay, cap * sizeof *r);
        if (!r)
            return sy_fail(p, "out of memory", 0), -1;
        p->replay = r;
        p->held_cap = cap;
    }
    int c, s;
    p->record = true;
    p->last_c2s.len = 0;
    int rc = sy_open(p, &c, &s, false);
    p->record = false;
    if (rc < 0)
        return -1;
    p->held_sd[2 * p->held] = c;
    p->held_sd[2 * p->held + 1] = s;
    p->replay[p->held] = p->last_c2s;
    p->held++;
    return 0;
}

/* As an event loop would: ask each stack when it next has work (once per
 * stack when nothing is due), run what is due, deliver what that sent. */
void sy_advance(struct sy_pair *p, tcp_time_t dt)
{
    p->now += dt;
    for (;;) {
        bool ran = false;
        for (int i = 0; i < 2; i++)
            if (stack_next_timer(p->host[i]) <= p->now) {
                stack_tick(p->host[i], p->now);
                ran = true;
            }
        if (!ran && p->head == p->tail)
            return;
        sy_pump(p);
    }
}

uint64_t sy_replay_ack(struct sy_pair *p, uint64_t i)
{
    uint64_t before = p->server_sent;
    const struct sy_replay *r = &p->replay[i];
    p->now += 1;
    stack_input(p->host[1], r->data, r->len, p->now);
    uint64_t sent = p->server_sent - before;
    p->head = p->tail; /* nothing is expected; whatever came is not delivered */
    return sent;
}

uint64_t sy_held_count(const struct sy_pair *p) { return p->held; }
uint64_t sy_segments(const struct sy_pair *p) { return p->delivered; }
size_t sy_conn_count(const struct sy_pair *p, int server) { return stack_conn_count(p->host[server ? 1 : 0]); }
tcp_time_t sy_timewait_len(const struct sy_pair *p) { return p->timewait_len; }
const char *sy_pair_error(const struct sy_pair *p) { return p->error[0] ? p->error : "synack: unknown error"; }
