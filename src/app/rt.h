/* app/rt — the runtime that puts a stack on a TUN device: one epoll loop
 * over the TUN descriptor, the control socket, application descriptors
 * (stdin/stdout of `synack connect`) and a timeout taken from the stack's
 * next timer and the applications' timers. It feeds packets and the
 * monotonic clock into the sans-I/O stack, writes what the stack emits,
 * records both directions in a pcap file, and tells applications when
 * their descriptors may be ready. Nothing in it blocks: a slow application
 * only leaves data in the stack's buffers, and TCP's flow control does the
 * rest. Single-threaded; only rt_stop may be called from a signal handler. */
#ifndef SYNACK_APP_RT_H
#define SYNACK_APP_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "link/tun.h"
#include "stack/stack.h"

#define RT_MAX_ADDRS 8

struct rt;

/* An address with its prefix length ("10.77.0.1/24"). */
struct rt_addr {
    struct wire_addr addr;
    int prefix;
};
/* Parses "10.77.0.1/24" or "fd77::1/64" (no prefix: /32 or /128). */
bool rt_addr_parse(const char *text, struct rt_addr *out);

/* Sees every packet on the device and every state change (the demo's
 * ladder, tests). Optional. */
struct rt_observer {
    void *ctx;
    /* outgoing: written by synack; else read from the device (and ours). */
    void (*packet)(void *ctx, bool outgoing, const uint8_t *pkt, size_t len, tcp_time_t now);
    void (*state_change)(void *ctx, const struct stack_state_change *change);
};

struct rt_config {
    struct stack_config stack;  /* knobs; the secret is drawn from libsodium unless secret_given */
    bool secret_given;
    char tun_name[TUN_NAME_MAX]; /* "" : the kernel picks tunN */
    int mtu;                     /* 0: the device default (1500) */
    struct rt_addr addrs[RT_MAX_ADDRS]; /* synack's own addresses */
    size_t naddrs;
    struct rt_addr kernel_addrs[RT_MAX_ADDRS]; /* given to the kernel's end of the device */
    size_t nkernel_addrs;
    const char *pcap_path;    /* NULL: no capture */
    const char *control_path; /* NULL: no control socket */
    FILE *events;             /* JSON lines of state changes and app events, or NULL */
    const char *app_name;     /* reported by the control socket's "info" */
    struct rt_observer observer;
    /* A lossy link, like netem's "loss": each packet read from or written
     * to the device is dropped with probability loss_ppm / 1e6, from a
     * generator seeded with loss_seed (tests, benches). 0: no loss. */
    uint32_t loss_ppm;
    uint64_t loss_seed;
    /* The device's offloads (tun_open_offload): the kernel hands over TSO
     * segments of up to 64 KiB, and runs of our own back-to-back segments
     * go out as one GSO packet: far fewer reads and writes per byte. The
     * stack, its counters (InSegs...), the capture and the observer then
     * see those large segments, as tcpdump does on a GRO/TSO interface.
     * false (the default): one MTU-sized packet per read and write. */
    bool offload;
};
void rt_config_default(struct rt_config *c);

/* Opens the device, configures it, starts the stack, the capture and the
 * control socket. NULL with a one-line reason in err. */
struct rt *rt_new(const struct rt_config *cfg, char *err, size_t errlen);
/* Stops everything, closes the device (which disappears with it) and
 * removes the control socket. */
void rt_free(struct rt *rt);

/* Runs until rt_stop. Returns 0, or -1 after a fatal I/O error (err). */
int rt_run(struct rt *rt);
/* One pass of the loop, waiting at most max_wait_ms (-1: as long as no
 * timer is due). Returns 0 or -1. */
int rt_run_once(struct rt *rt, int max_wait_ms);
/* Makes rt_run return. Async-signal-safe. */
void rt_stop(struct rt *rt);
/* SIGINT, SIGTERM and SIGHUP call rt_stop(rt); SIGPIPE is ignored. NULL
 * puts the previous handlers back. One runtime at a time. */
void rt_stop_on_signals(struct rt *rt);
bool rt_stopping(const struct rt *rt);
const char *rt_error(const struct rt *rt);

/* The monotonic clock in microseconds (CLOCK_MONOTONIC). */
tcp_time_t rt_now(void);
struct stack *rt_stack(struct rt *rt);
const struct rt_config *rt_get_config(const struct rt *rt);
const char *rt_tun_name(const struct rt *rt);
tcp_time_t rt_started(const struct rt *rt);

/* A new stack socket for talking to addresses of this family, with the
 * MSS clamped to the device MTU (IPv6 headers are 20 bytes longer).
 * Returns the descriptor or a negative errno. */
int rt_socket(struct rt *rt, bool ipv6);
/* synack's first own address of a family, or false. */
bool rt_local_addr(const struct rt *rt, bool ipv6, struct wire_addr *out);
bool rt_is_local_addr(const struct rt *rt, const struct wire_addr *a);

/* ---- Stack descriptors: readiness callbacks ---- */
typedef void (*rt_sock_fn)(struct rt *rt, int sd, unsigned events, void *arg);
/* fn runs (from the loop, never inside a stack call) with stack_poll's
 * events whenever the stack says the descriptor's readiness may have
 * changed, or after rt_sock_kick. Returns 0 or -EBADF. */
int rt_sock_watch(struct rt *rt, int sd, rt_sock_fn fn, void *arg);
void rt_sock_unwatch(struct rt *rt, int sd);
/* Schedules a callback for sd on the next pass (e.g. after the app made
 * room in its own buffer). */
void rt_sock_kick(struct rt *rt, int sd);

/* ---- Ordinary file descriptors (epoll; regular files, which epoll
 * refuses, count as always ready) ---- */
typedef void (*rt_fd_fn)(struct rt *rt, int fd, uint32_t events, void *arg);
/* events: EPOLLIN / EPOLLOUT. Returns 0 or -1 (errno). */
int rt_fd_watch(struct rt *rt, int fd, uint32_t events, rt_fd_fn fn, void *arg);
int rt_fd_modify(struct rt *rt, int fd, uint32_t events);
void rt_fd_unwatch(struct rt *rt, int fd);

/* ---- Application timers (a binary heap), microseconds, absolute ---- */
struct rt_timer;
typedef void (*rt_timer_fn)(struct rt *rt, struct rt_timer *t);
struct rt_timer {
    tcp_time_t at;
    size_t slot; /* index in the heap + 1; 0 when not armed */
    rt_timer_fn fn;
    void *arg;
};
void rt_timer_init(struct rt_timer *t, rt_timer_fn fn, void *arg);
void rt_timer_arm(struct rt *rt, struct rt_timer *t, tcp_time_t at);
void rt_timer_cancel(struct rt *rt, struct rt_timer *t);
static inline bool rt_timer_armed(const struct rt_timer *t) { return t->slot != 0; }

/* ---- Link counters: what the device carried, outside TCP's table.
 * X(name, help). ---- */
#define RT_LINK_COUNTERS(X)                                                          \
    X(TunInPackets, "packets read from the TUN device")                             \
    X(TunOutPackets, "packets written to the TUN device")                           \
    X(TunInNotOurs, "packets read for an address synack does not own (dropped)")   \
    X(TunInIcmp, "ICMP and ICMPv6 packets for synack (counted, not used)")        \
    X(TunInTruncated, "packets read that are too short for an IP header")          \
    X(TunOutErrors, "packets the device refused (interface down, queue full)")     \
    X(TunLossDrops, "packets dropped on purpose to emulate a lossy link (loss_ppm)") \
    X(TunInGso, "TSO packets read, several segments in one (offloads)")            \
    X(TunOutGso, "GSO packets written, several segments in one (offloads)")

struct rt_link_counters {
#define RT_LINK_FIELD(name, help) uint64_t name;
    RT_LINK_COUNTERS(RT_LINK_FIELD)
#undef RT_LINK_FIELD
};
int rt_link_counter_count(void);
const char *rt_link_counter_name(int i);
const char *rt_link_counter_help(int i);
uint64_t rt_link_counter_get(const struct rt_link_counters *c, int i);
const struct rt_link_counters *rt_link_counters(const struct rt *rt);

/* ---- Events (DESIGN.md §3 JSON lines) when cfg.events is set ---- */
/* {"kind":"app","t":..,"host":"synack","call":..,"result":..,"local":..,"remote":..} */
void rt_event_app(struct rt *rt, int sd, const char *call, const char *result);
/* "ECONNRESET" for 104; "OK" for 0; "E?" unknown. */
const char *rt_errno_name(int err);

#endif
