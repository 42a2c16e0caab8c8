/* The simulated network: a binary heap of timed events (deliveries,
 * injections, scripted calls) ordered by (time, insertion order), plus the
 * nodes' own timers, which are asked for at every step. */
#include "link/simnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/sim_rng.h"

#define SIMNET_NAME_MAX 32
#define SIMNET_DEFAULT_EVENT_LIMIT 5000000u
#define SIMNET_STUCK_LIMIT 1000 /* ticks at one instant that leave a timer due */

struct simnet_host {
    char name[SIMNET_NAME_MAX];
    struct wire_addr *addrs;
    size_t naddrs;
    const struct simnet_node_ops *ops;
    void *node;
    tcp_time_t cut_at, frozen_at; /* TCP_TIME_NEVER unless scripted */
};

struct simnet_dir {
    int from, to;
    struct simnet_link_params p;
    tcp_time_t busy_until; /* with a rate: when the last packet is on the wire */
};

enum rule_kind { RULE_DROP_NTH, RULE_DELAY_NTH, RULE_FILTER, RULE_DELAY_IF, RULE_DUP_IF };

struct simnet_rule {
    enum rule_kind kind;
    int host;
    bool any_flags;
    uint8_t flags;
    unsigned n, seen;
    tcp_time_t extra;
    simnet_filter_fn fn;
    void *ctx;
};

enum event_kind { EV_DELIVER, EV_INJECT, EV_CALL };

struct simnet_event {
    tcp_time_t t;
    uint64_t order;
    enum event_kind kind;
    int host; /* DELIVER: destination; INJECT: sender */
    uint64_t packet_id;
    bool duplicate, reordered, injected;
    int src;
    tcp_time_t sent;
    uint8_t *pkt;
    size_t len;
    void (*fn)(void *ctx);
    void *ctx;
};

struct simnet {
    struct sim_rng rng;
    tcp_time_t now;
    struct simnet_host *hosts;
    int nhosts;
    struct simnet_dir *dirs;
    size_t ndirs;
    struct simnet_rule *rules;
    size_t nrules;
    struct simnet_event *heap;
    size_t nheap, capheap;
    uint64_t next_order, next_packet_id, current_packet;
    uint64_t event_limit;
    struct simnet_observer obs;
    struct simnet_stats stats;
    char error[160];
};

static const char *const fate_names[] = {
#define SIMNET_FATE_NAME(id, name) name,
    SIMNET_FATES(SIMNET_FATE_NAME)
#undef SIMNET_FATE_NAME
};

const char *simnet_fate_name(enum simnet_fate f)
{
    return (unsigned)f < SIMNET_FATE_COUNT ? fate_names[f] : "?";
}

struct simnet *simnet_new(uint64_t seed)
{
    struct simnet *net = calloc(1, sizeof *net);
    if (!net)
        return NULL;
    sim_rng_seed(&net->rng, seed);
    net->event_limit = SIMNET_DEFAULT_EVENT_LIMIT;
    net->next_packet_id = 1;
    return net;
}

void simnet_free(struct simnet *net)
{
    if (!net)
        return;
    for (size_t i = 0; i < net->nheap; i++)
        free(net->heap[i].pkt);
    for (int i = 0; i < net->nhosts; i++)
        free(net->hosts[i].addrs);
    free(net->heap);
    free(net->hosts);
    free(net->dirs);
    free(net->rules);
    free(net);
}

void simnet_set_observer(struct simnet *net, const struct simnet_observer *obs)
{
    if (obs)
        net->obs = *obs;
    else
        memset(&net->obs, 0, sizeof net->obs);
}

/* ---- hosts and links ---- */

static bool host_ok(const struct simnet *net, int host)
{
    return host >= 0 && host < net->nhosts;
}

int simnet_host_by_addr(const struct simnet *net, const struct wire_addr *addr)
{
    for (int i = 0; i < net->nhosts; i++)
        for (size_t j = 0; j < net->hosts[i].naddrs; j++)
            if (wire_addr_eq(&net->hosts[i].addrs[j], addr))
                return i;
    return -1;
}

int simnet_add_host(struct simnet *net, const char *name, const struct wire_addr *addr,
                    const struct simnet_node_ops *ops, void *node)
{
    if (!name || !*name || strlen(name) >= SIMNET_NAME_MAX || simnet_host_find(net, name) >= 0)
        return -1;
    if (addr && simnet_host_by_addr(net, addr) >= 0)
        return -1;
    struct simnet_host *hosts = realloc(net->hosts, (size_t)(net->nhosts + 1) * sizeof *hosts);
    if (!hosts)
        return -1;
    net->hosts = hosts;
    struct simnet_host *h = &hosts[net->nhosts];
    memset(h, 0, sizeof *h);
    snprintf(h->name, sizeof h->name, "%s", name);
    h->ops = ops;
    h->node = node;
    h->cut_at = TCP_TIME_NEVER;
    h->frozen_at = TCP_TIME_NEVER;
    int index = net->nhosts++;
    if (addr && simnet_add_address(net, index, addr) < 0) {
        net->nhosts--;
        return -1;
    }
    return index;
}

int simnet_add_address(struct simnet *net, int host, const struct wire_addr *addr)
{
    if (!host_ok(net, host) || simnet_host_by_addr(net, addr) >= 0)
        return -1;
    struct simnet_host *h = &net->hosts[host];
    struct wire_addr *addrs = realloc(h->addrs, (h->naddrs + 1) * sizeof *addrs);
    if (!addrs)
        return -1;
    addrs[h->naddrs++] = *addr;
    h->addrs = addrs;
    return 0;
}

int simnet_host_count(const struct simnet *net)
{
    return net->nhosts;
}

const char *simnet_host_name(const struct simnet *net, int host)
{
    return host_ok(net, host) ? net->hosts[host].name : "?";
}

const struct wire_addr *simnet_host_addr(const struct simnet *net, int host)
{
    return host_ok(net, host) && net->hosts[host].naddrs ? &net->hosts[host].addrs[0] : NULL;
}

int simnet_host_find(const struct simnet *net, const char *name)
{
    for (int i = 0; i < net->nhosts; i++)
        if (strcmp(net->hosts[i].name, name) == 0)
            return i;
    return -1;
}

static struct simnet_dir *find_dir(struct simnet *net, int from, int to)
{
    for (size_t i = 0; i < net->ndirs; i++)
        if (net->dirs[i].from == from && net->dirs[i].to == to)
            return &net->dirs[i];
    return NULL;
}

struct simnet_link_params *simnet_link_params(struct simnet *net, int from, int to)
{
    struct simnet_dir *d = find_dir(net, from, to);
    return d ? &d->p : NULL;
}

int simnet_link(struct simnet *net, int a, int b, const struct simnet_link_params *a_to_b,
                const struct simnet_link_params *b_to_a)
{
    if (!host_ok(net, a) || !host_ok(net, b) || a == b || simnet_link_params(net, a, b))
        return -1;
    struct simnet_dir *dirs = realloc(net->dirs, (net->ndirs + 2) * sizeof *dirs);
    if (!dirs)
        return -1;
    net->dirs = dirs;
    static const struct simnet_link_params none;
    dirs[net->ndirs++] = (struct simnet_dir){a, b, a_to_b ? *a_to_b : none, 0};
    dirs[net->ndirs++] = (struct simnet_dir){b, a, b_to_a ? *b_to_a : none, 0};
    return 0;
}

/* ---- the event heap ---- */

static bool event_before(const struct simnet_event *x, const struct simnet_event *y)
{
    return x->t < y->t || (x->t == y->t && x->order < y->order);
}

static int heap_push(struct simnet *net, struct simnet_event *ev)
{
    if (net->nheap == net->capheap) {
        size_t cap = net->capheap ? net->capheap * 2 : 64;
        struct simnet_event *heap = realloc(net->heap, cap * sizeof *heap);
        if (!heap)
            return -1;
        net->heap = heap;
        net->capheap = cap;
    }
    ev->order = net->next_order++;
    size_t i = net->nheap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!event_before(ev, &net->heap[parent]))
            break;
        net->heap[i] = net->heap[parent];
        i = parent;
    }
    net->heap[i] = *ev;
    return 0;
}

static struct simnet_event heap_pop(struct simnet *net)
{
    struct simnet_event top = net->heap[0];
    struct simnet_event last = net->heap[--net->nheap];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= net->nheap)
            break;
        if (child + 1 < net->nheap && event_before(&net->heap[child + 1], &net->heap[child]))
            child++;
        if (!event_before(&net->heap[child], &last))
            break;
        net->heap[i] = net->heap[child];
        i = child;
    }
    if (net->nheap)
        net->heap[i] = last;
    return top;
}

/* ---- packets ---- */

/* The destination address straight from the IP header, so even a packet
 * that does not parse can be routed (and then rejected by its receiver). */
static bool packet_dst(const uint8_t *pkt, size_t len, struct wire_addr *dst)
{
    if (len >= 20 && pkt[0] >> 4 == 4) {
        uint32_t v4 = (uint32_t)pkt[16] << 24 | (uint32_t)pkt[17] << 16 | (uint32_t)pkt[18] << 8 | pkt[19];
        *dst = wire_addr_v4(v4);
        return true;
    }
    if (len >= 40 && pkt[0] >> 4 == 6) {
        *dst = wire_addr_v6(pkt + 24);
        return true;
    }
    return false;
}

static void packet_parse(struct simnet_packet *p)
{
    p->parse_err = wire_parse(p->bytes, p->len, 0, &p->seg);
    p->seg_ok = p->parse_err == WIRE_ERR_OK;
    if (!p->seg_ok)
        p->seg_ok = wire_parse(p->bytes, p->len, WIRE_PARSE_LENIENT | WIRE_PARSE_NO_CHECKSUM, &p->seg) ==
                    WIRE_ERR_OK;
}

static bool rule_matches(const struct simnet_rule *r, const struct simnet_packet *p)
{
    if (r->host != p->src)
        return false;
    if (r->any_flags)
        return true;
    return p->seg_ok && p->seg.flags == r->flags;
}

/* Scripted rules, in the order they were added; every matching rule counts
 * the packet, so "the 2nd S." means the 2nd one sent, lost or not. */
static void apply_rules(struct simnet *net, struct simnet_packet *p, tcp_time_t *extra, bool *dup,
                        tcp_time_t *dup_extra)
{
    for (size_t i = 0; i < net->nrules; i++) {
        struct simnet_rule *r = &net->rules[i];
        if (r->kind == RULE_FILTER) {
            if (p->fate == SIMNET_DELIVERED && r->fn(r->ctx, p))
                p->fate = SIMNET_SCRIPT;
            continue;
        }
        if (r->kind == RULE_DELAY_IF) {
            if (r->fn(r->ctx, p))
                *extra += r->extra;
            continue;
        }
        if (r->kind == RULE_DUP_IF) {
            if (r->fn(r->ctx, p) && !*dup) { /* every rule sees every packet */
                *dup = true;
                *dup_extra = r->extra;
            }
            continue;
        }
        if (!rule_matches(r, p))
            continue;
        if (++r->seen != r->n)
            continue;
        if (r->kind == RULE_DROP_NTH && p->fate == SIMNET_DELIVERED)
            p->fate = SIMNET_SCRIPT;
        else if (r->kind == RULE_DELAY_NTH)
            *extra += r->extra;
    }
}

static void notify_sent(struct simnet *net, const struct simnet_packet *p)
{
    net->stats.sent++;
    if (p->fate != SIMNET_DELIVERED)
        net->stats.lost++;
    if (net->obs.sent)
        net->obs.sent(net->obs.ctx, p);
}

static void queue_delivery(struct simnet *net, const struct simnet_packet *p)
{
    uint8_t *copy = malloc(p->len ? p->len : 1);
    if (!copy) {
        snprintf(net->error, sizeof net->error, "out of memory");
        return;
    }
    memcpy(copy, p->bytes, p->len);
    struct simnet_event ev = {
        .t = p->arrives, .kind = EV_DELIVER, .host = p->dst, .packet_id = p->id,
        .duplicate = p->duplicate, .reordered = p->reordered, .injected = p->injected,
        .src = p->src, .sent = p->sent, .pkt = copy, .len = p->len,
    };
    if (heap_push(net, &ev) < 0) {
        free(copy);
        snprintf(net->error, sizeof net->error, "out of memory");
    }
}

static tcp_time_t reorder_delay(struct simnet *net, const struct simnet_link_params *lp, bool *reordered)
{
    if (lp->reorder > 0 && lp->reorder_max > 0 && sim_rng_unit(&net->rng) < lp->reorder) {
        *reordered = true;
        net->stats.reordered++;
        return 1 + sim_rng_below(&net->rng, lp->reorder_max);
    }
    return 0;
}

/* When the packet's last byte is on the wire: at once without a rate, else
 * after the packets queued before it (a FIFO at the link's rate). */
static tcp_time_t serialize(struct simnet *net, struct simnet_dir *d, size_t len)
{
    if (!d->p.rate)
        return net->now;
    tcp_time_t start = d->busy_until > net->now ? d->busy_until : net->now;
    d->busy_until = start + (len * (uint64_t)1000000 + d->p.rate - 1) / d->p.rate;
    return d->busy_until;
}

static void transmit(struct simnet *net, int src, const uint8_t *pkt, size_t len, bool injected)
{
    struct simnet_packet p = {
        .id = net->next_packet_id++, .src = src, .dst = -1, .sent = net->now,
        .arrives = net->now, .fate = SIMNET_DELIVERED, .injected = injected,
        .bytes = pkt, .len = len,
    };
    packet_parse(&p);

    struct wire_addr dst_addr;
    const struct simnet_link_params *lp = NULL;
    if (packet_dst(pkt, len, &dst_addr))
        p.dst = simnet_host_by_addr(net, &dst_addr);
    struct simnet_dir *dir = p.dst >= 0 ? find_dir(net, src, p.dst) : NULL;
    if (dir)
        lp = &dir->p;
    if (!lp) {
        p.fate = SIMNET_NO_ROUTE;
        notify_sent(net, &p);
        return;
    }
    const struct simnet_host *from = &net->hosts[src], *to = &net->hosts[p.dst];
    tcp_time_t extra = 0, dup_extra = 0;
    bool script_dup = false;
    apply_rules(net, &p, &extra, &script_dup, &dup_extra);
    /* Draw the random numbers whatever the fate, so that a scripted drop
     * does not shift the random fates of the packets after it. */
    bool random_loss = lp->loss > 0 && sim_rng_unit(&net->rng) < lp->loss;
    bool dup = lp->duplicate > 0 && sim_rng_unit(&net->rng) < lp->duplicate;
    tcp_time_t on_wire = serialize(net, dir, len);
    p.arrives = on_wire + lp->delay + extra + reorder_delay(net, lp, &p.reordered);

    if (p.fate == SIMNET_DELIVERED) {
        if (net->now >= from->frozen_at || p.arrives >= to->frozen_at)
            p.fate = SIMNET_DOWN;
        else if (net->now >= from->cut_at || p.arrives >= to->cut_at)
            p.fate = SIMNET_CUT;
        else if (random_loss)
            p.fate = SIMNET_RANDOM;
    }
    notify_sent(net, &p);
    if (p.fate != SIMNET_DELIVERED)
        return;
    queue_delivery(net, &p);

    if (dup || script_dup) {
        struct simnet_packet copy = p;
        copy.id = net->next_packet_id++;
        copy.duplicate = true;
        copy.reordered = false;
        if (dup)
            copy.arrives = serialize(net, dir, len) + lp->delay + extra + reorder_delay(net, lp, &copy.reordered);
        else
            copy.arrives = p.arrives + dup_extra;
        if (copy.arrives >= to->frozen_at)
            copy.fate = SIMNET_DOWN;
        else if (copy.arrives >= to->cut_at)
            copy.fate = SIMNET_CUT;
        net->stats.duplicated++;
        notify_sent(net, &copy);
        if (copy.fate == SIMNET_DELIVERED)
            queue_delivery(net, &copy);
    }
}

void simnet_send(struct simnet *net, int host, const uint8_t *pkt, size_t len)
{
    if (host_ok(net, host))
        transmit(net, host, pkt, len, false);
}

/* ---- scripted faults ---- */

static int add_rule(struct simnet *net, const struct simnet_rule *r)
{
    struct simnet_rule *rules = realloc(net->rules, (net->nrules + 1) * sizeof *rules);
    if (!rules)
        return -1;
    net->rules = rules;
    rules[net->nrules++] = *r;
    return 0;
}

static int add_nth_rule(struct simnet *net, enum rule_kind kind, int host, const char *flags,
                        unsigned n, tcp_time_t extra)
{
    struct simnet_rule r = {.kind = kind, .host = host, .n = n, .extra = extra};
    if (!host_ok(net, host) || n == 0)
        return -1;
    if (!flags)
        r.any_flags = true;
    else if (!wire_flags_parse(flags, &r.flags))
        return -1;
    return add_rule(net, &r);
}

int simnet_drop_nth(struct simnet *net, int host, const char *flags, unsigned n)
{
    return add_nth_rule(net, RULE_DROP_NTH, host, flags, n, 0);
}

int simnet_delay_nth(struct simnet *net, int host, const char *flags, unsigned n, tcp_time_t extra)
{
    return add_nth_rule(net, RULE_DELAY_NTH, host, flags, n, extra);
}

int simnet_drop_if(struct simnet *net, simnet_filter_fn fn, void *ctx)
{
    if (!fn)
        return -1;
    struct simnet_rule r = {.kind = RULE_FILTER, .host = -1, .fn = fn, .ctx = ctx};
    return add_rule(net, &r);
}

int simnet_delay_if(struct simnet *net, simnet_filter_fn fn, void *ctx, tcp_time_t extra)
{
    if (!fn)
        return -1;
    struct simnet_rule r = {.kind = RULE_DELAY_IF, .host = -1, .fn = fn, .ctx = ctx, .extra = extra};
    return add_rule(net, &r);
}

int simnet_duplicate_if(struct simnet *net, simnet_filter_fn fn, void *ctx, tcp_time_t extra)
{
    if (!fn)
        return -1;
    struct simnet_rule r = {.kind = RULE_DUP_IF, .host = -1, .fn = fn, .ctx = ctx, .extra = extra};
    return add_rule(net, &r);
}

void simnet_cut(struct simnet *net, int host, tcp_time_t t)
{
    if (host_ok(net, host))
        net->hosts[host].cut_at = t;
}

void simnet_freeze(struct simnet *net, int host, tcp_time_t t)
{
    if (host_ok(net, host))
        net->hosts[host].frozen_at = t;
}

bool simnet_host_frozen(const struct simnet *net, int host)
{
    return host_ok(net, host) && net->now >= net->hosts[host].frozen_at;
}

int simnet_inject(struct simnet *net, tcp_time_t t, int host, const uint8_t *pkt, size_t len)
{
    if (!host_ok(net, host) || t < net->now)
        return -1;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return -1;
    memcpy(copy, pkt, len);
    struct simnet_event ev = {.t = t, .kind = EV_INJECT, .host = host, .pkt = copy, .len = len};
    if (heap_push(net, &ev) < 0) {
        free(copy);
        return -1;
    }
    return 0;
}

/* ---- time ---- */

int simnet_at(struct simnet *net, tcp_time_t t, void (*fn)(void *ctx), void *ctx)
{
    if (!fn || t < net->now)
        return -1;
    struct simnet_event ev = {.t = t, .kind = EV_CALL, .fn = fn, .ctx = ctx};
    return heap_push(net, &ev);
}

tcp_time_t simnet_now(const struct simnet *net)
{
    return net->now;
}

uint64_t simnet_current_packet(const struct simnet *net)
{
    return net->current_packet;
}

void simnet_set_event_limit(struct simnet *net, uint64_t limit)
{
    net->event_limit = limit;
}

const char *simnet_error(const struct simnet *net)
{
    return net->error[0] ? net->error : NULL;
}

const struct simnet_stats *simnet_stats(const struct simnet *net)
{
    return &net->stats;
}

static bool host_runs(const struct simnet_host *h, tcp_time_t t)
{
    return h->ops && t < h->frozen_at;
}

/* The earliest host timer, and which host (-1 if none). */
static tcp_time_t next_timer(const struct simnet *net, int *which)
{
    tcp_time_t best = TCP_TIME_NEVER;
    *which = -1;
    for (int i = 0; i < net->nhosts; i++) {
        const struct simnet_host *h = &net->hosts[i];
        if (!h->ops || !h->ops->next_timer)
            continue;
        tcp_time_t t = h->ops->next_timer(h->node);
        if (t == TCP_TIME_NEVER || t >= h->frozen_at)
            continue;
        if (t < net->now)
            t = net->now; /* overdue: run it now */
        if (t < best) {
            best = t;
            *which = i;
        }
    }
    return best;
}

tcp_time_t simnet_next_event(const struct simnet *net)
{
    int which;
    tcp_time_t t = next_timer(net, &which);
    if (net->nheap && net->heap[0].t < t)
        t = net->heap[0].t;
    return t;
}

static void deliver(struct simnet *net, struct simnet_event *ev)
{
    struct simnet_host *h = &net->hosts[ev->host];
    struct simnet_packet p = {
        .id = ev->packet_id, .src = ev->src, .dst = ev->host, .sent = ev->sent, .arrives = ev->t,
        .fate = SIMNET_DELIVERED, .duplicate = ev->duplicate, .reordered = ev->reordered,
        .injected = ev->injected, .bytes = ev->pkt, .len = ev->len,
    };
    if (!host_runs(h, net->now) && h->ops)
        return; /* frozen after the packet left: it vanishes */
    packet_parse(&p);
    net->stats.delivered++;
    if (net->obs.arrived)
        net->obs.arrived(net->obs.ctx, &p);
    if (h->ops && h->ops->input) {
        net->current_packet = ev->packet_id;
        h->ops->input(h->node, ev->pkt, ev->len, net->now);
        net->current_packet = 0;
    }
}

/* One step: the earliest of the host timers and queued events, timers
 * first at equal times. Returns false when nothing is due at or before t. */
static bool step(struct simnet *net, tcp_time_t t, int *stuck)
{
    int which;
    tcp_time_t timer = next_timer(net, &which);
    tcp_time_t queued = net->nheap ? net->heap[0].t : TCP_TIME_NEVER;
    if (timer == TCP_TIME_NEVER && queued == TCP_TIME_NEVER)
        return false;
    if ((timer <= queued ? timer : queued) > t)
        return false;
    net->stats.events++;
    if (timer <= queued) {
        struct simnet_host *h = &net->hosts[which];
        if (timer == net->now) {
            if (++*stuck > SIMNET_STUCK_LIMIT) {
                snprintf(net->error, sizeof net->error,
                         "host %s: timer still due after %d ticks at t=%llu us", h->name,
                         SIMNET_STUCK_LIMIT, (unsigned long long)net->now);
                return false;
            }
        } else {
            *stuck = 0;
        }
        net->now = timer;
        h->ops->tick(h->node, net->now);
        return true;
    }
    *stuck = 0;
    struct simnet_event ev = heap_pop(net);
    net->now = ev.t;
    switch (ev.kind) {
    case EV_DELIVER:
        deliver(net, &ev);
        break;
    case EV_INJECT:
        transmit(net, ev.host, ev.pkt, ev.len, true);
        break;
    case EV_CALL:
        ev.fn(ev.ctx);
        break;
    }
    free(ev.pkt);
    return true;
}

static int run(struct simnet *net, tcp_time_t t)
{
    int stuck = 0;
    uint64_t start = net->stats.events;
    while (!net->error[0]) {
        if (net->stats.events - start >= net->event_limit) {
            snprintf(net->error, sizeof net->error, "event limit (%llu) reached at t=%llu us",
                     (unsigned long long)net->event_limit, (unsigned long long)net->now);
            break;
        }
        if (!step(net, t, &stuck))
            break;
    }
    return net->error[0] ? -1 : 0;
}

int simnet_run_until(struct simnet *net, tcp_time_t t)
{
    if (run(net, t) < 0)
        return -1;
    if (t > net->now && t != TCP_TIME_NEVER)
        net->now = t;
    return 0;
}

int simnet_run(struct simnet *net, tcp_time_t limit)
{
    if (run(net, limit) < 0)
        return -1;
    return simnet_next_event(net) == TCP_TIME_NEVER ? 0 : 1;
}
