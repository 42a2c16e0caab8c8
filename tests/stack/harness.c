#include "harness.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void on_output(void *ctx, const uint8_t *pkt, size_t len)
{
    struct harness *h = ctx;
    assert_true(h->nout < HARNESS_MAX_OUT);
    assert_true(len <= sizeof h->out_bytes[0]);
    memcpy(h->out_bytes[h->nout], pkt, len);
    h->out_len[h->nout] = len;
    h->out_at[h->nout] = h->now;
    assert_int_equal(wire_parse(h->out_bytes[h->nout], len, 0, &h->out[h->nout]), WIRE_ERR_OK);
    h->nout++;
}

static void on_state(void *ctx, const struct stack_state_change *ch)
{
    struct harness *h = ctx;
    if (h->nstates < 256)
        h->states[h->nstates++] = (struct harness_state_event){ch->tuple, ch->from, ch->to, ch->now};
}

struct harness *harness_new(const struct stack_config *cfg)
{
    struct harness *h = calloc(1, sizeof *h);
    assert_non_null(h);
    struct stack_config def;
    if (!cfg) {
        stack_config_default(&def);
        memset(def.secret, 7, sizeof def.secret);
        cfg = &def;
    }
    struct stack_hooks hooks = {.ctx = h, .output = on_output, .state_change = on_state};
    h->now = TCP_SEC(100);
    h->s = stack_new(cfg, &hooks, h->now);
    assert_non_null(h->s);
    h->local.addr = wire_addr_v4(0x0a000001);
    h->local.port = 80;
    h->remote.addr = wire_addr_v4(0x0a000002);
    h->remote.port = 40000;
    stack_set_local_addr(h->s, &h->local.addr);
    return h;
}

void harness_free(struct harness *h)
{
    stack_free(h->s);
    free(h);
}

void harness_inject(struct harness *h, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
                    const void *payload, uint32_t len, const struct wire_tcp_options *opts)
{
    struct wire_seg seg = {0};
    seg.tuple.src = h->remote.addr;
    seg.tuple.sport = h->remote.port;
    seg.tuple.dst = h->local.addr;
    seg.tuple.dport = h->local.port;
    seg.ip_version = 4;
    seg.flags = flags;
    seg.seq = seq;
    seg.ack = ack;
    seg.window = win;
    seg.payload = payload;
    seg.payload_len = len;
    if (opts)
        seg.opt = *opts;
    uint8_t pkt[4096];
    size_t n = wire_build(pkt, sizeof pkt, &seg);
    assert_true(n > 0);
    stack_input(h->s, pkt, n, h->now);
}

const struct wire_seg *harness_next(struct harness *h)
{
    if (h->next_out >= h->nout)
        return NULL;
    return &h->out[h->next_out++];
}

const struct wire_seg *harness_expect(struct harness *h, const char *flags, uint32_t seq, uint32_t ack,
                                      uint32_t len)
{
    const struct wire_seg *s = harness_next(h);
    if (!s)
        fail_msg("expected a [%s] segment, the stack sent nothing", flags);
    char got[WIRE_FLAGS_STRLEN];
    wire_flags_str(s->flags, got);
    if (strcmp(got, flags) != 0)
        fail_msg("expected flags [%s], got [%s] seq=%u ack=%u len=%u", flags, got, s->seq, s->ack, s->payload_len);
    if (seq != ANY)
        assert_int_equal(s->seq, seq);
    if (ack != ANY && (s->flags & WIRE_ACK))
        assert_int_equal(s->ack, ack);
    assert_int_equal(s->payload_len, len);
    return s;
}

void harness_expect_nothing(struct harness *h)
{
    const struct wire_seg *s = harness_next(h);
    if (s) {
        char got[WIRE_FLAGS_STRLEN];
        fail_msg("expected no segment, got [%s] seq=%u ack=%u len=%u", wire_flags_str(s->flags, got), s->seq,
                 s->ack, s->payload_len);
    }
}

void harness_run_until(struct harness *h, tcp_time_t t)
{
    for (;;) {
        tcp_time_t next = stack_next_timer(h->s);
        if (next > t)
            break;
        h->now = next > h->now ? next : h->now;
        stack_tick(h->s, h->now);
    }
    h->now = t;
}

void harness_run_until_output(struct harness *h)
{
    for (int wakes = 0; !harness_pending(h); wakes++) {
        assert_true(wakes < 64);
        tcp_time_t next = stack_next_timer(h->s);
        assert_true(next != TCP_TIME_NEVER);
        harness_run_until(h, next);
    }
}

int harness_passive_open(struct harness *h, int *listener, uint32_t *iss)
{
    int l = stack_socket(h->s);
    assert_true(l >= 0);
    assert_int_equal(stack_bind(h->s, l, &h->local), 0);
    assert_int_equal(stack_listen(h->s, l, 16), 0);
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, NULL);
    const struct wire_seg *synack = harness_expect(h, "S.", ANY, 1001, 0);
    *iss = synack->seq;
    harness_inject(h, WIRE_ACK, 1001, *iss + 1, 65535, NULL, 0, NULL);
    harness_expect_nothing(h);
    int sd = stack_accept(h->s, l, NULL);
    assert_true(sd >= 0);
    *listener = l;
    return sd;
}

int harness_active_open(struct harness *h, uint32_t *iss)
{
    int sd = stack_socket(h->s);
    assert_true(sd >= 0);
    struct wire_endpoint local = h->local;
    local.port = h->remote.port == 40000 ? 50000 : h->remote.port;
    assert_int_equal(stack_bind(h->s, sd, &local), 0);
    h->local.port = local.port;
    struct wire_endpoint remote = h->remote;
    remote.port = 80;
    h->remote.port = 80;
    assert_int_equal(stack_connect(h->s, sd, &remote, h->now), -EINPROGRESS);
    const struct wire_seg *syn = harness_expect(h, "S", ANY, ANY, 0);
    *iss = syn->seq;
    harness_inject(h, WIRE_SYN | WIRE_ACK, 5000, *iss + 1, 65535, NULL, 0, NULL);
    harness_expect(h, ".", *iss + 1, 5001, 0);
    assert_int_equal(stack_sock_state(h->s, sd), TCP_STATE_ESTABLISHED);
    return sd;
}

int harness_last_state(const struct harness *h, uint16_t remote_port)
{
    for (int i = h->nstates - 1; i >= 0; i--)
        if (h->states[i].tuple.dport == remote_port)
            return (int)h->states[i].to;
    return -1;
}

/* ---- Additions for the behaviour tests ---- */
size_t harness_build(struct harness *h, uint8_t *buf, size_t cap, uint8_t flags, uint32_t seq, uint32_t ack,
                     uint16_t win, const void *payload, uint32_t len, const struct wire_tcp_options *opts)
{
    struct wire_seg seg = {0};
    seg.tuple.src = h->remote.addr;
    seg.tuple.sport = h->remote.port;
    seg.tuple.dst = h->local.addr;
    seg.tuple.dport = h->local.port;
    seg.ip_version = 4;
    seg.flags = flags;
    seg.seq = seq;
    seg.ack = ack;
    seg.window = win;
    seg.payload = payload;
    seg.payload_len = len;
    if (opts)
        seg.opt = *opts;
    size_t n = wire_build(buf, cap, &seg);
    assert_true(n > 0);
    return n;
}

void harness_inject_raw(struct harness *h, const uint8_t *pkt, size_t len)
{
    stack_input(h->s, pkt, len, h->now);
}

int harness_pending(const struct harness *h) { return h->nout - h->next_out; }

void harness_skip_all(struct harness *h) { h->next_out = h->nout; }

tcp_time_t harness_last_out_time(const struct harness *h)
{
    assert_true(h->next_out > 0);
    return h->out_at[h->next_out - 1];
}

bool harness_saw_state(const struct harness *h, uint16_t remote_port, enum tcp_state from, enum tcp_state to)
{
    for (int i = 0; i < h->nstates; i++)
        if (h->states[i].tuple.dport == remote_port && h->states[i].from == from && h->states[i].to == to)
            return true;
    return false;
}

uint64_t harness_counter(const struct harness *h, const char *name)
{
    for (int i = 0; i < tcp_counter_count(); i++)
        if (strcmp(tcp_counter_name(i), name) == 0)
            return tcp_counter_get(stack_counters(h->s), i);
    fail_msg("no counter named %s", name);
    return 0;
}

struct conn_info_find {
    uint16_t port;
    bool found;
    struct stack_conn_info info;
};

static void conn_info_visit(void *ctx, const struct stack_conn_info *info)
{
    struct conn_info_find *f = ctx;
    if (info->state != TCP_STATE_LISTEN && info->remote.port == f->port && !f->found) {
        f->found = true;
        f->info = *info;
    }
}

bool harness_conn_info(struct harness *h, uint16_t remote_port, struct stack_conn_info *out)
{
    struct conn_info_find f = {.port = remote_port};
    stack_walk(h->s, conn_info_visit, &f);
    if (f.found && out)
        *out = f.info;
    return f.found;
}

int harness_listen(struct harness *h, int backlog)
{
    int l = stack_socket(h->s);
    assert_true(l >= 0);
    assert_int_equal(stack_bind(h->s, l, &h->local), 0);
    assert_int_equal(stack_listen(h->s, l, backlog), 0);
    return l;
}

int harness_passive_open_opts(struct harness *h, int *listener, uint32_t *iss, int backlog,
                              const struct wire_tcp_options *syn_opts)
{
    int l = harness_listen(h, backlog);
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, syn_opts);
    const struct wire_seg *synack = harness_expect(h, "S.", ANY, 1001, 0);
    *iss = synack->seq;
    harness_inject(h, WIRE_ACK, 1001, *iss + 1, 65535, NULL, 0, NULL);
    harness_expect_nothing(h);
    int sd = stack_accept(h->s, l, NULL);
    assert_true(sd >= 0);
    *listener = l;
    return sd;
}
