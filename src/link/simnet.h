/* link/simnet — a simulated network in virtual time.
 *
 * Hosts (each a name, one or more addresses and a node: usually a struct
 * stack behind three callbacks) joined by point-to-point links with a
 * per-direction delay, random loss, duplication and reordering drawn from a
 * seeded PRNG (same seed, same run), plus scripted faults: drop the Nth
 * segment from a host with given tcpdump flags, delay it, cut a host off,
 * freeze it (it vanishes), inject crafted packets. One event queue orders
 * deliveries, scripted calls and the nodes' timers; nothing here reads a
 * clock. An observer sees every packet put on a link (with its fate) and
 * every arrival, which is how the simulator draws ladders and how pcaps are
 * written. */
#ifndef SYNACK_SIMNET_H
#define SYNACK_SIMNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcp/tcp_types.h"
#include "wire/wire.h"

struct simnet;

/* What a host runs. A node with no ops (NULL) is a "ghost": it owns
 * addresses, absorbs what is sent to it and never answers (a spoofed
 * source, a black hole). */
struct simnet_node_ops {
    void (*input)(void *node, const uint8_t *pkt, size_t len, tcp_time_t now);
    void (*tick)(void *node, tcp_time_t now);
    tcp_time_t (*next_timer)(void *node); /* TCP_TIME_NEVER when idle */
};

/* One direction of a link. */
struct simnet_link_params {
    tcp_time_t delay;       /* one-way delay, microseconds */
    double loss;            /* probability a packet is lost */
    double duplicate;       /* probability a packet arrives twice */
    double reorder;         /* probability a packet gets an extra delay */
    tcp_time_t reorder_max; /* that extra delay: uniform in [1, reorder_max] us */
    uint64_t rate;          /* bytes per second on the wire (0: unlimited); a packet
                             * waits for the ones before it to be serialized */
};

/* A packet's fate, decided when it is put on the link. */
#define SIMNET_FATES(X)                                   \
    X(DELIVERED, "delivered")                             \
    X(RANDOM, "random")       /* link loss */             \
    X(SCRIPT, "script")       /* a drop rule */           \
    X(CUT, "cut")             /* sender or receiver cut off */ \
    X(DOWN, "host-down")      /* sender or receiver frozen */  \
    X(NO_ROUTE, "no-route")   /* no host owns the address, or no link */

enum simnet_fate {
#define SIMNET_FATE_ENUM(id, name) SIMNET_##id,
    SIMNET_FATES(SIMNET_FATE_ENUM)
#undef SIMNET_FATE_ENUM
    SIMNET_FATE_COUNT
};
const char *simnet_fate_name(enum simnet_fate f);

struct simnet_packet {
    uint64_t id;               /* 1, 2, ... in the order packets enter links */
    int src, dst;              /* host indexes; dst is -1 without a route */
    tcp_time_t sent, arrives;  /* arrives: when it does (or would have) */
    enum simnet_fate fate;
    bool duplicate;            /* the extra copy a duplicating link made */
    bool reordered;            /* got an extra random delay */
    bool injected;             /* put on the wire by simnet_inject */
    const uint8_t *bytes;
    size_t len;
    enum wire_err parse_err;   /* wire_parse, strict */
    bool seg_ok;               /* seg is valid (strict, else lenient parse) */
    struct wire_seg seg;
};

struct simnet_observer {
    void *ctx;
    /* Every packet put on a link, and every duplicate, with its fate. */
    void (*sent)(void *ctx, const struct simnet_packet *p);
    /* A packet about to be given to its destination's input. */
    void (*arrived)(void *ctx, const struct simnet_packet *p);
};

struct simnet_stats {
    uint64_t sent, delivered, lost, duplicated, reordered, events;
};

struct simnet *simnet_new(uint64_t seed);
/* Frees the network and its queued packets; the nodes belong to the caller. */
void simnet_free(struct simnet *net);
void simnet_set_observer(struct simnet *net, const struct simnet_observer *obs);

/* Adds a host; returns its index (0, 1, ...) or -1 (bad name, address in
 * use, out of memory). ops may be NULL for a ghost host. */
int simnet_add_host(struct simnet *net, const char *name, const struct wire_addr *addr,
                    const struct simnet_node_ops *ops, void *node);
/* Another address owned by the host (spoofed sources of a flood). */
int simnet_add_address(struct simnet *net, int host, const struct wire_addr *addr);
int simnet_host_count(const struct simnet *net);
const char *simnet_host_name(const struct simnet *net, int host);
const struct wire_addr *simnet_host_addr(const struct simnet *net, int host);
int simnet_host_find(const struct simnet *net, const char *name);
/* The host that owns addr, or -1. */
int simnet_host_by_addr(const struct simnet *net, const struct wire_addr *addr);

/* Joins two hosts; each direction has its own parameters (NULL: no delay,
 * no loss). Returns 0 or -1 (bad host, already linked). */
int simnet_link(struct simnet *net, int a, int b, const struct simnet_link_params *a_to_b,
                const struct simnet_link_params *b_to_a);
/* The parameters of the direction from -> to, to change them; NULL if not linked. */
struct simnet_link_params *simnet_link_params(struct simnet *net, int from, int to);

/* A node's output: puts an IP packet from host on the link towards the
 * host owning its destination address. The bytes are copied. */
void simnet_send(struct simnet *net, int host, const uint8_t *pkt, size_t len);

/* ---- Scripted faults (set them up before running) ---- */
/* Drops the nth (1-based) packet sent by host whose tcpdump flags are
 * exactly flags ("S.", "F.", "."); flags NULL matches any packet. Every
 * matching packet is counted, lost or not. Returns 0, or -1 on bad flags. */
int simnet_drop_nth(struct simnet *net, int host, const char *flags, unsigned n);
/* Same match, but the packet is delivered extra microseconds late. */
int simnet_delay_nth(struct simnet *net, int host, const char *flags, unsigned n, tcp_time_t extra);
/* A general rule: fn returns true to drop the packet (p->fate not yet set). */
typedef bool (*simnet_filter_fn)(void *ctx, const struct simnet_packet *p);
int simnet_drop_if(struct simnet *net, simnet_filter_fn fn, void *ctx);
/* The same test, but a matching packet arrives extra microseconds late. */
int simnet_delay_if(struct simnet *net, simnet_filter_fn fn, void *ctx, tcp_time_t extra);
/* The same test, but a matching packet that is delivered arrives twice: a
 * copy (duplicate = true) follows it extra microseconds later. */
int simnet_duplicate_if(struct simnet *net, simnet_filter_fn fn, void *ctx, tcp_time_t extra);
/* From time t on, everything the host sends or that arrives at it is lost;
 * its node keeps running. */
void simnet_cut(struct simnet *net, int host, tcp_time_t t);
/* From time t on the host is gone: its node gets no input and no timer
 * ticks, everything sent to it is lost (it vanishes without a FIN). */
void simnet_freeze(struct simnet *net, int host, tcp_time_t t);
bool simnet_host_frozen(const struct simnet *net, int host);
/* At time t, puts a copy of pkt on the wire as if host had sent it. */
int simnet_inject(struct simnet *net, tcp_time_t t, int host, const uint8_t *pkt, size_t len);

/* ---- Time ---- */
/* Calls fn(ctx) at virtual time t (after the timers due then). */
int simnet_at(struct simnet *net, tcp_time_t t, void (*fn)(void *ctx), void *ctx);
tcp_time_t simnet_now(const struct simnet *net);
/* The id of the packet being given to a node's input right now, or 0. */
uint64_t simnet_current_packet(const struct simnet *net);
/* When the next event or timer is due, or TCP_TIME_NEVER. */
tcp_time_t simnet_next_event(const struct simnet *net);
/* Runs every event due at or before t, then sets the clock to t.
 * Returns 0, or -1 on an error (simnet_error). */
int simnet_run_until(struct simnet *net, tcp_time_t t);
/* Runs until nothing is queued and no timer is armed (returns 0), or until
 * the next event would be after limit (returns 1; the clock stays at the
 * last event), or on an error (-1). */
int simnet_run(struct simnet *net, tcp_time_t limit);
/* Caps the number of events a run may process (default 5,000,000), so a
 * node that never goes quiet is reported instead of spinning forever. */
void simnet_set_event_limit(struct simnet *net, uint64_t limit);
const char *simnet_error(const struct simnet *net);
const struct simnet_stats *simnet_stats(const struct simnet *net);

#endif
