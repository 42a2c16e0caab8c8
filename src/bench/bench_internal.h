/* bench/ internals: clocks and the allocator, the three harnesses (synack
 * pair, lwIP pair, kernel loopback) and the scripted client used by the
 * memory bench. */
#ifndef SYNACK_BENCH_INTERNAL_H
#define SYNACK_BENCH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/bench.h"
#include "wire/wire.h"

/* ---- Measuring ---- */
uint64_t bench_now_ns(void); /* CLOCK_MONOTONIC */
/* Work is timed in CPU time of the whole process (CLOCK_PROCESS_CPUTIME_ID:
 * every thread, user and kernel, softirqs run in their context included),
 * so that other load on the machine does not count; wall time is kept
 * beside it. Everything runs pinned to one CPU. */
struct bench_clock {
    uint64_t wall0, cpu0;
};
void bench_clock_start(struct bench_clock *c);
/* Seconds since start: CPU time (the figure) and wall time. */
double bench_clock_cpu_s(const struct bench_clock *c);
double bench_clock_wall_s(const struct bench_clock *c);
int bench_pinned_cpu(void); /* the CPU of bench_pin_self, or -1 */
/* Bytes the allocator hands out now (mallinfo2: arena + mmapped). */
size_t bench_heap_used(void);
void bench_progress(const struct bench_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A small deterministic generator (xorshift64*) for random orders. */
uint64_t bench_rand(uint64_t *state);

/* ---- Addresses and the application: the same in every harness. The
 * benchmarking range 198.18.0.0/15 (RFC 2544 §C.2.2) only ever lives in
 * memory here; the kernel peer uses 127.0.0.1. ---- */
#define BENCH_SERVER_ADDR 0xC6120002u /* 198.18.0.2 */
#define BENCH_CLIENT_ADDR 0xC6130001u /* 198.19.0.1, + k for the k-th client address */
#define BENCH_SERVER_PORT 80
#define BENCH_CONNS_PER_ADDR 25000u   /* under the 28,232 ephemeral ports */
#define BENCH_REQ_LEN 64              /* the small request... */
#define BENCH_RESP_LEN 128            /* ...and its response */
extern const uint8_t bench_request[BENCH_REQ_LEN];
extern const uint8_t bench_response[BENCH_RESP_LEN];

/* ---- Scripted client (memory bench): builds the segments a Linux client
 * would send, with its options (MSS, SACK-permitted, timestamps, wscale 7). */
struct bench_script_conn {
    struct wire_endpoint client, server;
    uint32_t iss, irs;         /* client ISN, server ISN */
    uint32_t ts_val, ts_ecr;   /* next TSval, last TSval seen */
};
/* The SYN; returns the packet length. */
size_t bench_script_syn(struct bench_script_conn *c, uint8_t *buf, size_t cap);
/* Reads the server's SYN-ACK; false if pkt is not one for c. */
bool bench_script_synack(struct bench_script_conn *c, const uint8_t *pkt, size_t len);
/* The handshake's ACK, with `len` bytes of request after it (0: pure ACK). */
size_t bench_script_ack(struct bench_script_conn *c, uint8_t *buf, size_t cap, uint32_t len);
void bench_script_endpoints(struct bench_script_conn *c, uint64_t i);

/* ---- synack: two stacks wired back to back in memory ---- */
struct sy_pair;
/* A client stack and a server stack listening on BENCH_SERVER_ADDR:80,
 * room for `held` connections of each kind. NULL on failure. */
struct sy_pair *sy_pair_new(uint64_t held);
void sy_pair_free(struct sy_pair *p);
/* One lifecycle: connect, accept, request, response, client close, server
 * close, TIME-WAIT entry at the client. 0, or -1 with sy_pair_error set. */
int sy_lifecycle(struct sy_pair *p);
/* Opens a connection and keeps both ends open. 0 or -1. */
int sy_open_held(struct sy_pair *p);
/* Advances virtual time by dt microseconds, running every timer due. */
void sy_advance(struct sy_pair *p, uint64_t dt);
/* Replays the handshake ACK of a held connection (a duplicate pure ACK) to
 * the server; returns how many segments the server sent back (0 expected). */
uint64_t sy_replay_ack(struct sy_pair *p, uint64_t held_index);
uint64_t sy_held_count(const struct sy_pair *p);
uint64_t sy_segments(const struct sy_pair *p); /* delivered so far */
/* Entries each stack holds (stack_conn_count). */
size_t sy_conn_count(const struct sy_pair *p, int server);
uint64_t sy_timewait_len(const struct sy_pair *p); /* microseconds */
const char *sy_pair_error(const struct sy_pair *p);

/* ---- lwIP (bench_lwip.c; a stub without liblwip-dev) ---- */
/* Why lwIP cannot run ("not built with liblwip-dev"), or NULL if it can. */
const char *lw_unavailable(void);
/* Resets lwIP's connections (aborts them all); lifecycles then start clean. */
int lw_reset(void);
int lw_lifecycle(void);
int lw_open_held(void);
/* Virtual time (ms granularity in lwIP: sys_now) and lwIP's timers. */
void lw_advance_us(uint64_t dt_us);
uint64_t lw_replay_ack(uint64_t held_index);
uint64_t lw_held_count(void);
uint64_t lw_segments(void);
size_t lw_timewait_count(void);
size_t lw_active_count(void);
uint64_t lw_timewait_len_us(void); /* 2 * TCP_MSL */
unsigned lw_local_ports(void);     /* ephemeral ports lwIP has per host */
const char *lw_error(void);
/* Memory bench: allocator bytes per half-open / established / TIME-WAIT
 * connection over n connections (scripted client), sizeof the pcbs. */
int lw_memory(uint64_t n, double *half_open, double *established, double *time_wait);
size_t lw_sizeof_pcb(void);
size_t lw_sizeof_pcb_listen(void);

/* ---- Linux kernel over loopback (bench_linux.c) ---- */
/* n lifecycles, client and server threads pinned to one CPU, blocking
 * sockets on 127.0.0.1. Returns lifecycles completed (fewer if the kernel
 * ran out of ports) and the CPU and wall seconds they took; -1 if sockets
 * do not work. */
int64_t lx_lifecycles(uint64_t n, double *cpu_s, double *wall_s, char *err, size_t errlen);
/* Holds n connections open (2n descriptors); 0 or -1 (err says why). */
struct lx_held;
struct lx_held *lx_hold(uint64_t n, char *err, size_t errlen);
void lx_release(struct lx_held *h);
/* The object size of a kernel slab cache ("TCP"); *documented set when
 * /proc/slabinfo was unreadable and a documented size for Linux 6.1 x86-64
 * is returned instead. 0 if unknown. */
size_t lx_slab_object_size(const char *cache, bool *documented);

#endif
