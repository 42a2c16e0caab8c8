/* The simulated network on its own, with fake nodes instead of stacks:
 * delays, seeded loss, scripted drops and delays, duplication, reordering,
 * cut and frozen hosts, injection, timers, and runaway nodes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "link/simnet.h"

#define MAX_SEEN 4096

/* A node that records what it receives and runs a list of timers. */
struct fake_node {
    struct simnet *net;
    int index;
    size_t inputs;
    tcp_time_t input_at[MAX_SEEN];
    uint32_t input_seq[MAX_SEEN];
    tcp_time_t timers[16];
    size_t ntimers; /* sorted ascending, consumed from the front */
    size_t ticks;
    tcp_time_t tick_at[16];
    bool stuck; /* next_timer always says "now" */
};

static void fake_input(void *node, const uint8_t *pkt, size_t len, tcp_time_t now)
{
    struct fake_node *n = node;
    struct wire_seg seg;
    if (n->inputs < MAX_SEEN) {
        n->input_at[n->inputs] = now;
        n->input_seq[n->inputs] = wire_parse(pkt, len, 0, &seg) == WIRE_ERR_OK ? seg.seq : 0xffffffffu;
    }
    n->inputs++;
}

static void fake_tick(void *node, tcp_time_t now)
{
    struct fake_node *n = node;
    if (n->ticks < 16)
        n->tick_at[n->ticks] = now;
    n->ticks++;
    while (n->ntimers && n->timers[0] <= now) {
        memmove(n->timers, n->timers + 1, (n->ntimers - 1) * sizeof n->timers[0]);
        n->ntimers--;
    }
}

static tcp_time_t fake_next_timer(void *node)
{
    struct fake_node *n = node;
    if (n->stuck)
        return 0;
    return n->ntimers ? n->timers[0] : TCP_TIME_NEVER;
}

static const struct simnet_node_ops fake_ops = {fake_input, fake_tick, fake_next_timer};

/* What the observer saw. */
struct seen {
    size_t n, arrivals;
    struct {
        uint64_t id;
        int src, dst;
        tcp_time_t sent, arrives;
        enum simnet_fate fate;
        bool dup, injected, reordered;
        uint8_t flags;
        uint32_t seq;
    } p[MAX_SEEN];
};

static void seen_sent(void *ctx, const struct simnet_packet *p)
{
    struct seen *s = ctx;
    if (s->n == MAX_SEEN)
        return;
    s->p[s->n].id = p->id;
    s->p[s->n].src = p->src;
    s->p[s->n].dst = p->dst;
    s->p[s->n].sent = p->sent;
    s->p[s->n].arrives = p->arrives;
    s->p[s->n].fate = p->fate;
    s->p[s->n].dup = p->duplicate;
    s->p[s->n].injected = p->injected;
    s->p[s->n].reordered = p->reordered;
    s->p[s->n].flags = p->seg_ok ? p->seg.flags : 0;
    s->p[s->n].seq = p->seg_ok ? p->seg.seq : 0;
    s->n++;
}

static void seen_arrived(void *ctx, const struct simnet_packet *p)
{
    (void)p;
    ((struct seen *)ctx)->arrivals++;
}

struct world {
    struct simnet *net;
    struct fake_node a, b;
    int ia, ib;
    struct seen seen;
};

static struct world *world_new(uint64_t seed, const struct simnet_link_params *ab, const struct simnet_link_params *ba)
{
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->net = simnet_new(seed);
    assert_non_null(w->net);
    struct wire_addr a = wire_addr_v4(0x0a000001), b = wire_addr_v4(0x0a000002);
    w->ia = simnet_add_host(w->net, "a", &a, &fake_ops, &w->a);
    w->ib = simnet_add_host(w->net, "b", &b, &fake_ops, &w->b);
    assert_int_equal(w->ia, 0);
    assert_int_equal(w->ib, 1);
    w->a.net = w->b.net = w->net;
    w->a.index = w->ia;
    w->b.index = w->ib;
    assert_int_equal(simnet_link(w->net, w->ia, w->ib, ab, ba), 0);
    struct simnet_observer obs = {&w->seen, seen_sent, seen_arrived};
    simnet_set_observer(w->net, &obs);
    return w;
}

static void world_free(struct world *w)
{
    simnet_free(w->net);
    free(w);
}

/* Sends a segment from host `from` to the other host of the pair. */
static void send_seg(struct world *w, int from, uint8_t flags, uint32_t seq)
{
    struct wire_seg s = {0};
    s.tuple.src = *simnet_host_addr(w->net, from);
    s.tuple.dst = *simnet_host_addr(w->net, 1 - from);
    s.tuple.sport = 1000;
    s.tuple.dport = 80;
    s.ip_version = 4;
    s.flags = flags;
    s.seq = seq;
    s.window = 1000;
    uint8_t pkt[WIRE_MAX_HEADER];
    size_t len = wire_build(pkt, sizeof pkt, &s);
    assert_true(len > 0);
    simnet_send(w->net, from, pkt, len);
}

static void test_delay_and_delivery(void **state)
{
    (void)state;
    struct simnet_link_params ab = {.delay = TCP_MSEC(10)}, ba = {.delay = TCP_MSEC(30)};
    struct world *w = world_new(1, &ab, &ba);
    send_seg(w, w->ia, WIRE_SYN, 100);
    send_seg(w, w->ib, WIRE_SYN | WIRE_ACK, 200);
    assert_int_equal(simnet_run(w->net, TCP_SEC(10)), 0);
    assert_int_equal(w->b.inputs, 1);
    assert_int_equal(w->b.input_at[0], TCP_MSEC(10));
    assert_int_equal(w->b.input_seq[0], 100);
    assert_int_equal(w->a.inputs, 1);
    assert_int_equal(w->a.input_at[0], TCP_MSEC(30));
    assert_int_equal(w->seen.n, 2);
    assert_int_equal(w->seen.arrivals, 2);
    assert_int_equal(w->seen.p[0].fate, SIMNET_DELIVERED);
    assert_int_equal(w->seen.p[0].arrives, TCP_MSEC(10));
    assert_int_equal(w->seen.p[0].src, w->ia);
    assert_int_equal(w->seen.p[0].dst, w->ib);
    assert_int_equal(w->seen.p[1].flags, WIRE_SYN | WIRE_ACK);
    assert_int_equal(simnet_now(w->net), TCP_MSEC(30));
    world_free(w);
}

/* Fates of n packets from a to b on a lossy link. */
static void loss_pattern(uint64_t seed, double loss, size_t n, enum simnet_fate *out)
{
    struct simnet_link_params ab = {.delay = TCP_MSEC(1), .loss = loss};
    struct world *w = world_new(seed, &ab, NULL);
    for (size_t i = 0; i < n; i++)
        send_seg(w, w->ia, WIRE_ACK, (uint32_t)i);
    assert_int_equal(simnet_run(w->net, TCP_SEC(1)), 0);
    assert_int_equal(w->seen.n, n);
    size_t delivered = 0;
    for (size_t i = 0; i < n; i++) {
        out[i] = w->seen.p[i].fate;
        delivered += out[i] == SIMNET_DELIVERED;
    }
    assert_int_equal(w->b.inputs, delivered);
    world_free(w);
}

static void test_seeded_loss_is_reproducible(void **state)
{
    (void)state;
    enum { N = 1000 };
    static enum simnet_fate first[N], again[N], other[N];
    loss_pattern(42, 0.3, N, first);
    loss_pattern(42, 0.3, N, again);
    loss_pattern(43, 0.3, N, other);
    assert_memory_equal(first, again, sizeof first);
    assert_memory_not_equal(first, other, sizeof first);
    size_t lost = 0;
    for (size_t i = 0; i < N; i++) {
        assert_true(first[i] == SIMNET_DELIVERED || first[i] == SIMNET_RANDOM);
        lost += first[i] == SIMNET_RANDOM;
    }
    /* 30% of 1000, give or take a few standard deviations (~14.5). */
    assert_in_range(lost, 240, 360);
    /* No loss configured: nothing lost. */
    loss_pattern(42, 0.0, N, first);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(first[i], SIMNET_DELIVERED);
}

static void test_drop_nth_hits_exactly_that_segment(void **state)
{
    (void)state;
    struct simnet_link_params ab = {.delay = TCP_MSEC(5)};
    struct world *w = world_new(1, &ab, &ab);
    assert_int_equal(simnet_drop_nth(w->net, w->ib, "S.", 2), 0);
    assert_int_equal(simnet_drop_nth(w->net, w->ia, "F.", 1), 0);
    assert_int_equal(simnet_drop_nth(w->net, w->ia, "bogus", 1), -1);
    assert_int_equal(simnet_drop_nth(w->net, w->ia, "S", 0), -1);
    /* From b: S. . S. S. — only the 2nd S. (3rd packet) goes. */
    send_seg(w, w->ib, WIRE_SYN | WIRE_ACK, 1);
    send_seg(w, w->ib, WIRE_ACK, 2);
    send_seg(w, w->ib, WIRE_SYN | WIRE_ACK, 3);
    send_seg(w, w->ib, WIRE_SYN | WIRE_ACK, 4);
    /* From a: an S. (not b's rule), then FP. (not "F."), then F. (dropped). */
    send_seg(w, w->ia, WIRE_SYN | WIRE_ACK, 5);
    send_seg(w, w->ia, WIRE_FIN | WIRE_PSH | WIRE_ACK, 6);
    send_seg(w, w->ia, WIRE_FIN | WIRE_ACK, 7);
    send_seg(w, w->ia, WIRE_FIN | WIRE_ACK, 8);
    assert_int_equal(simnet_run(w->net, TCP_SEC(1)), 0);
    assert_int_equal(w->seen.n, 8);
    const enum simnet_fate want[8] = {SIMNET_DELIVERED, SIMNET_DELIVERED, SIMNET_SCRIPT, SIMNET_DELIVERED,
                                      SIMNET_DELIVERED, SIMNET_DELIVERED, SIMNET_SCRIPT, SIMNET_DELIVERED};
    for (int i = 0; i < 8; i++)
        assert_int_equal(w->seen.p[i].fate, want[i]);
    assert_int_equal(w->a.inputs, 3);
    assert_int_equal(w->b.inputs, 3);
    assert_int_equal(w->a.input_seq[1], 2);
    assert_int_equal(w->a.input_seq[2], 4);
    world_free(w);
}

static void test_delay_nth(void **state)
{
    (void)state;
    struct simnet_link_params ab = {.delay = TCP_MSEC(10)};
    struct world *w = world_new(1, &ab, &ab);
    assert_int_equal(simnet_delay_nth(w->net, w->ia, "S", 1, TCP_MSEC(50)), 0);
    send_seg(w, w->ia, WIRE_SYN, 1);
    send_seg(w, w->ia, WIRE_SYN, 2);
    assert_int_equal(simnet_run(w->net, TCP_SEC(1)), 0);
    assert_int_equal(w->b.inputs, 2);
    assert_int_equal(w->b.input_seq[0], 2); /* overtaken */
    assert_int_equal(w->b.input_at[0], TCP_MSEC(10));
    assert_int_equal(w->b.input_seq[1], 1);
    assert_int_equal(w->b.input_at[1], TCP_MSEC(60));
    world_free(w);
}

static bool drop_odd_seq(void *ctx, const struct simnet_packet *p)
{
    (*(int *)ctx)++;
    return p->seg_ok && (p->seg.seq & 1);
}

static void test_drop_if(void **state)
{
    (void)state;
    struct simnet_link_params ab = {.delay = TCP_MSEC(1)};
    struct world *w = world_new(1, &ab, &ab);
    int calls = 0;
    assert_int_equal(simnet_drop_if(w->net, drop_odd_seq, &calls), 0);
    for (uint32_t i = 0; i < 6; i++)
        send_seg(w, w->ia, WIRE_ACK, i);
    assert_int_equal(simnet_run(w->net, TCP_SEC(1)), 0);
    assert_int_equal(calls, 6);
    assert_int_equal(w->b.inputs, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(w->b.input_seq[i] & 1, 0);
    world_free(w);
}

static void test_rate(void **state)
{
    (void)state;
    /* 40-byte packets at 40 kB/s: 1 ms each on the wire, queued in order. */
    struct simnet_link_params ab = {.delay = TCP_MSEC(10), .rate = 40000};
    struct world *w = world_new(1, &ab, NULL);
    for (uint32_t i = 0; i < 3; i++)
        send_seg(w, w->ia, WIRE_ACK, i);
    assert_int_equal(simnet_run_until(w->net, TCP_MSEC(100)), 0);
    send_seg(w, w->ia, WIRE_ACK, 3); /* the link is idle again */
    assert_int_equal(simnet_run(w->net, TCP_SEC(1)), 0);
    assert_int_equal(w->b.inputs, 4);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(w->b.input_at[i], TCP_MSEC(11 + i));
    assert_int_equal(w->b.input_at[3], TCP_MSEC(111));
    world_free(w);
}

static bool even_seq(void *ctx, const struct simnet_packet *p)
{
    (*(int *)ctx)++;
    return p->seg_ok && !(p->seg.seq & 1);
}

static bool seq_is_one(void *ctx, const struct simnet_packet *p)
{
    (*(int *)ctx)++;
    return p->seg_ok && p->seg.seq == 1;
}

static void test_delay_if(void **state)
{
    (void)state;
    struct simnet_link_params ab = {.delay = TCP_MSEC(1)};
    struct world *w = world_new(1, &ab, &ab);
    int calls = 0;
    assert_int_equal(simnet_delay_if(w->net, even_seq, &calls, TCP_MSEC(5)), 0);
    for (uint32_t i = 0; i < 4; i++)
        send_seg(w, w->ia, WIRE_ACK, i);
    assert_int_equal(simnet_run(w->net, TCP_SEC(1)), 0);
    assert_int_equal(calls, 4);
    static const uint32_t order[] = {1, 3, 0, 2};
    static const tcp_time_t at[] = {TCP_MSEC(1), TCP_MSEC(1), TCP_MSEC(6), TCP_MSEC(6)};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(w->b.input_seq[i], order[i]);
        assert_int_equal(w->b.input_at[i], at[i]);
    }
    world_free(w);
}

static void test_duplicate_if(void **state)
{
    (void)state;
    struct simnet_link_params ab = {.delay = TCP_MSEC(1)};
    struct world *w = world_new(1, &ab, &ab);
    int calls_one = 0, calls_even = 0;
    /* Both rules see every packet, even one the first already copies. */
    assert_int_equal(simnet_duplicate_if(w->net, seq_is_one, &calls_one, TCP_MSEC(3)), 0);
    assert_int_equal(simnet_duplicate_if(w->net, even_seq, &calls_even, TCP_MSEC(3)), 0);
    for (uint32_t i = 0; i < 4; i++)
        send_seg(w, w->ia, WIRE_ACK, i);
    assert_int_equal(simnet_run(w->net, TCP_SEC(1)), 0);
    assert_int_equal(calls_one, 4);
    assert_int_equal(calls_even, 4);
    assert_int_equal(w->b.inputs, 7); /* 0, 1 and 2 twice */
    static const uint32_t order[] = {0, 1, 2, 3, 0, 1, 2};
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(w->b.input_seq[i], order[i]);
        assert_int_equal(w->b.input_at[i], i < 4 ? TCP_MSEC(1) : TCP_MSEC(4));
    }
    size_t dups = 0;
    for (size_t i = 0; i < w->seen.n; i++)
        dups += w->seen.p[i].dup;
    assert_int_equal(dups, 3);
    world_free(w);
}

static void test_duplication(void **state)
{
    (void)state;
    struct simnet_link_params ab = {.delay = TCP_MSEC(10), .duplicate = 1.0};
    struct world *w = world_new(7, &ab, NULL);
    for (uint32_t i = 0; i < 5; i++)
        send_seg(w, w->ia, WIRE_ACK, i);
    assert_int_equal(simnet_run(w->net, TCP_SEC(1)), 0);
    assert_int_equal(w->seen.n, 10);
    assert_int_equal(w->b.inputs, 10);
    size_t dups = 0;
    for (size_t i = 0; i < w->seen.n; i++)
        dups += w->seen.p[i].dup;
    assert_int_equal(dups, 5);
    assert_int_equal(simnet_stats(w->net)->duplicated, 5);
    world_free(w);
}

static void test_reordering(void **state)
{
    (void)state;
    struct simnet_link_params ab = {.delay = TCP_MSEC(10), .reorder = 0.5, .reorder_max = TCP_MSEC(20)};
    uint32_t order[2][64];
    for (int run = 0; run < 2; run++) {
        struct world *w = world_new(99, &ab, NULL);
        for (uint32_t i = 0; i < 64; i++)
            send_seg(w, w->ia, WIRE_ACK, i);
        assert_int_equal(simnet_run(w->net, TCP_SEC(1)), 0);
        assert_int_equal(w->b.inputs, 64);
        size_t inversions = 0;
        for (size_t i = 0; i < 64; i++) {
            order[run][i] = w->b.input_seq[i];
            if (i && w->b.input_seq[i] < w->b.input_seq[i - 1])
                inversions++;
        }
        assert_true(inversions > 0);
        assert_true(simnet_stats(w->net)->reordered > 0);
        world_free(w);
    }
    assert_memory_equal(order[0], order[1], sizeof order[0]); /* same seed, same order */
}

static void test_cut_and_freeze(void **state)
{
    (void)state;
    struct simnet_link_params ab = {.delay = TCP_MSEC(10)};
    struct world *w = world_new(1, &ab, &ab);
    simnet_cut(w->net, w->ia, TCP_SEC(1));
    simnet_freeze(w->net, w->ib, TCP_SEC(5));
    w->b.timers[0] = TCP_SEC(2);
    w->b.timers[1] = TCP_SEC(6); /* after the freeze: never runs */
    w->b.ntimers = 2;
    send_seg(w, w->ia, WIRE_ACK, 1);                      /* t=0: delivered */
    assert_int_equal(simnet_run_until(w->net, TCP_SEC(1)), 0);
    send_seg(w, w->ia, WIRE_ACK, 2);                      /* t=1: a is cut */
    send_seg(w, w->ib, WIRE_ACK, 3);                      /* arrives at a after its cut */
    assert_int_equal(simnet_run_until(w->net, TCP_MSEC(4995)), 0);
    send_seg(w, w->ib, WIRE_ACK, 4);                      /* b sends just before it vanishes... */
    assert_int_equal(simnet_run(w->net, TCP_SEC(100)), 0);
    assert_int_equal(w->seen.n, 4);
    assert_int_equal(w->seen.p[0].fate, SIMNET_DELIVERED);
    assert_int_equal(w->seen.p[1].fate, SIMNET_CUT);
    assert_int_equal(w->seen.p[2].fate, SIMNET_CUT);
    assert_int_equal(w->seen.p[3].fate, SIMNET_CUT); /* ...to a, which is cut */
    assert_int_equal(w->b.inputs, 1);
    assert_int_equal(w->a.inputs, 0);
    assert_int_equal(w->b.ticks, 1);
    assert_int_equal(w->b.tick_at[0], TCP_SEC(2));
    assert_false(simnet_host_frozen(w->net, w->ib)); /* the clock is still at 4.995 s */
    assert_int_equal(simnet_run_until(w->net, TCP_SEC(10)), 0);
    assert_true(simnet_host_frozen(w->net, w->ib));
    assert_false(simnet_host_frozen(w->net, w->ia));
    world_free(w);
}

static void test_frozen_receiver(void **state)
{
    (void)state;
    struct simnet_link_params ab = {.delay = TCP_MSEC(10)};
    struct world *w = world_new(1, &ab, &ab);
    simnet_freeze(w->net, w->ib, TCP_MSEC(5));
    send_seg(w, w->ia, WIRE_SYN, 1); /* arrives at 10 ms: b is gone */
    assert_int_equal(simnet_run(w->net, TCP_SEC(1)), 0);
    assert_int_equal(w->seen.p[0].fate, SIMNET_DOWN);
    assert_int_equal(w->b.inputs, 0);
    world_free(w);
}

static void test_inject_and_no_route(void **state)
{
    (void)state;
    struct simnet_link_params ab = {.delay = TCP_MSEC(10)};
    struct world *w = world_new(1, &ab, &ab);
    struct wire_seg s = {0};
    s.tuple.src = wire_addr_v4(0x0a000001);
    s.tuple.dst = wire_addr_v4(0x0a000002);
    s.tuple.sport = 4000;
    s.tuple.dport = 80;
    s.ip_version = 4;
    s.flags = WIRE_SYN;
    s.seq = 90;
    uint8_t pkt[WIRE_MAX_HEADER];
    size_t len = wire_build(pkt, sizeof pkt, &s);
    assert_int_equal(simnet_inject(w->net, TCP_SEC(3), w->ia, pkt, len), 0);
    /* To an address nobody owns. */
    s.tuple.dst = wire_addr_v4(0xc6336401);
    len = wire_build(pkt, sizeof pkt, &s);
    simnet_send(w->net, w->ia, pkt, len);
    /* Garbage still travels (its receiver rejects it) and is reported. */
    uint8_t junk[40] = {0x45};
    junk[16] = 10, junk[19] = 2;
    simnet_send(w->net, w->ia, junk, sizeof junk);
    assert_int_equal(simnet_run(w->net, TCP_SEC(10)), 0);
    assert_int_equal(w->seen.n, 3);
    assert_int_equal(w->seen.p[0].fate, SIMNET_NO_ROUTE);
    assert_int_equal(w->seen.p[0].dst, -1);
    assert_int_equal(w->seen.p[1].fate, SIMNET_DELIVERED);
    assert_int_equal(w->seen.p[2].injected, true);
    assert_int_equal(w->seen.p[2].sent, TCP_SEC(3));
    assert_int_equal(w->seen.p[2].seq, 90);
    assert_int_equal(w->b.inputs, 2);
    assert_int_equal(w->b.input_at[1], TCP_SEC(3) + TCP_MSEC(10));
    world_free(w);
}

static int calls_at[8];
static size_t ncalls;
static struct simnet *call_net;

static void record_call(void *ctx)
{
    calls_at[ncalls++] = (int)(simnet_now(call_net) / 1000) + (int)(intptr_t)ctx;
}

static void test_timers_and_calls(void **state)
{
    (void)state;
    struct world *w = world_new(1, NULL, NULL);
    call_net = w->net;
    ncalls = 0;
    w->a.timers[0] = TCP_SEC(5);
    w->a.timers[1] = TCP_SEC(10);
    w->a.ntimers = 2;
    assert_int_equal(simnet_at(w->net, TCP_SEC(7), record_call, (void *)(intptr_t)1), 0);
    assert_int_equal(simnet_at(w->net, TCP_SEC(7), record_call, (void *)(intptr_t)2), 0);
    assert_int_equal(simnet_next_event(w->net), TCP_SEC(5));
    assert_int_equal(simnet_run(w->net, TCP_SEC(8)), 1); /* a timer at 10 s is left */
    assert_int_equal(w->a.ticks, 1);
    assert_int_equal(ncalls, 2);
    assert_int_equal(calls_at[0], 7001); /* in the order they were scheduled */
    assert_int_equal(calls_at[1], 7002);
    assert_int_equal(simnet_run(w->net, TCP_SEC(60)), 0);
    assert_int_equal(w->a.ticks, 2);
    assert_int_equal(w->a.tick_at[1], TCP_SEC(10));
    assert_int_equal(simnet_next_event(w->net), TCP_TIME_NEVER);
    assert_int_equal(simnet_run_until(w->net, TCP_SEC(100)), 0);
    assert_int_equal(simnet_now(w->net), TCP_SEC(100));
    assert_int_equal(simnet_at(w->net, TCP_SEC(50), record_call, NULL), -1); /* the past */
    world_free(w);
}

static void test_runaway_node_is_reported(void **state)
{
    (void)state;
    struct world *w = world_new(1, NULL, NULL);
    w->a.stuck = true;
    assert_int_equal(simnet_run(w->net, TCP_SEC(1)), -1);
    assert_non_null(simnet_error(w->net));
    assert_non_null(strstr(simnet_error(w->net), "host a"));
    world_free(w);
}

static void test_hosts(void **state)
{
    (void)state;
    struct simnet *net = simnet_new(1);
    struct wire_addr a = wire_addr_v4(0x0a000001), b = wire_addr_v4(0x0a000002), c = wire_addr_v4(0xc6336407);
    assert_int_equal(simnet_add_host(net, "client", &a, NULL, NULL), 0);
    assert_int_equal(simnet_add_host(net, "client", &b, NULL, NULL), -1); /* name taken */
    assert_int_equal(simnet_add_host(net, "server", &a, NULL, NULL), -1); /* address taken */
    assert_int_equal(simnet_add_host(net, "server", &b, NULL, NULL), 1);
    assert_int_equal(simnet_add_address(net, 1, &c), 0);
    assert_int_equal(simnet_host_by_addr(net, &c), 1);
    assert_int_equal(simnet_host_find(net, "server"), 1);
    assert_int_equal(simnet_host_find(net, "nobody"), -1);
    assert_string_equal(simnet_host_name(net, 0), "client");
    assert_int_equal(simnet_link(net, 0, 0, NULL, NULL), -1);
    assert_int_equal(simnet_link(net, 0, 1, NULL, NULL), 0);
    assert_int_equal(simnet_link(net, 1, 0, NULL, NULL), -1); /* already */
    assert_non_null(simnet_link_params(net, 1, 0));
    assert_string_equal(simnet_fate_name(SIMNET_SCRIPT), "script");
    simnet_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delay_and_delivery),
        cmocka_unit_test(test_seeded_loss_is_reproducible),
        cmocka_unit_test(test_drop_nth_hits_exactly_that_segment),
        cmocka_unit_test(test_delay_nth),
        cmocka_unit_test(test_drop_if),
        cmocka_unit_test(test_rate),
        cmocka_unit_test(test_delay_if),
        cmocka_unit_test(test_duplicate_if),
        cmocka_unit_test(test_duplication),
        cmocka_unit_test(test_reordering),
        cmocka_unit_test(test_cut_and_freeze),
        cmocka_unit_test(test_frozen_receiver),
        cmocka_unit_test(test_inject_and_no_route),
        cmocka_unit_test(test_timers_and_calls),
        cmocka_unit_test(test_runaway_node_is_reported),
        cmocka_unit_test(test_hosts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
