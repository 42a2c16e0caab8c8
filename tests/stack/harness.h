/* A stack under test with a scripted peer: tests inject literal segments
 * (built with the codec) and read back what the stack sent, parsed. In the
 * style of smoltcp's socket/tcp.rs tests. */
#ifndef SYNACK_TEST_HARNESS_H
#define SYNACK_TEST_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdlib.h>

#include "stack/stack.h"

#define HARNESS_MAX_OUT 1024
#define ANY 0xffffffffu /* harness_expect: do not check this field */

struct harness_state_event {
    struct wire_tuple tuple;
    enum tcp_state from, to;
    tcp_time_t now;
};

struct harness {
    struct stack *s;
    tcp_time_t now;
    struct wire_endpoint local, remote; /* the stack's end, the scripted peer's end */
    /* segments the stack sent, oldest first */
    uint8_t out_bytes[HARNESS_MAX_OUT][2048];
    struct wire_seg out[HARNESS_MAX_OUT];
    size_t out_len[HARNESS_MAX_OUT];
    int nout, next_out;
    struct harness_state_event states[256];
    int nstates;
    tcp_time_t out_at[HARNESS_MAX_OUT]; /* when each segment was sent */
};

/* A stack at 10.0.0.1 with defaults (cfg may be NULL), peer 10.0.0.2. */
struct harness *harness_new(const struct stack_config *cfg);
void harness_free(struct harness *h);
/* Sends a segment from the peer (remote -> local). opts may be NULL. */
void harness_inject(struct harness *h, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
                    const void *payload, uint32_t len, const struct wire_tcp_options *opts);
/* The next segment the stack sent, or NULL. */
const struct wire_seg *harness_next(struct harness *h);
/* Asserts the next segment's flags/seq/ack/len, returns it. */
const struct wire_seg *harness_expect(struct harness *h, const char *flags, uint32_t seq, uint32_t ack,
                                      uint32_t len);
void harness_expect_nothing(struct harness *h);
/* Advances virtual time to t, running timers on the way. */
void harness_run_until(struct harness *h, tcp_time_t t);
/* Runs timer wakes until the stack outputs something (a wake may find
 * nothing due: timers run lazily early). Fails after 64 idle wakes. */
void harness_run_until_output(struct harness *h);
/* Opens a connection from the peer to a listener on local: returns the
 * accepted descriptor; *iss gets the stack's ISN. Peer ISN is 1000. */
int harness_passive_open(struct harness *h, int *listener, uint32_t *iss);
/* Active open from the stack; peer ISN 5000. Returns the descriptor. */
int harness_active_open(struct harness *h, uint32_t *iss);
/* The last state a tuple reached (by remote port), or -1. */
int harness_last_state(const struct harness *h, uint16_t remote_port);

/* ---- Additions for the behaviour tests (tests/stack/test_tcp_*.c) ---- */
/* First statement of a test that fails because of a known core bug (listed
 * in tests/stack/KNOWN_FAILURES.md): the test is skipped unless
 * SYNACK_KNOWN_FAILURES is set in the environment. */
#define KNOWN_FAILURE()                          \
    do {                                         \
        if (!getenv("SYNACK_KNOWN_FAILURES"))    \
            skip();                              \
    } while (0)

/* Builds the IP packet harness_inject would send into buf (for corrupting
 * it before harness_inject_raw); returns its length. */
size_t harness_build(struct harness *h, uint8_t *buf, size_t cap, uint8_t flags, uint32_t seq, uint32_t ack,
                     uint16_t win, const void *payload, uint32_t len, const struct wire_tcp_options *opts);
/* Hands raw bytes to stack_input at the harness's time. */
void harness_inject_raw(struct harness *h, const uint8_t *pkt, size_t len);
/* Segments sent and not yet read with harness_next. */
int harness_pending(const struct harness *h);
/* Forgets every segment sent so far. */
void harness_skip_all(struct harness *h);
/* When the segment last returned by harness_next/harness_expect was sent. */
tcp_time_t harness_last_out_time(const struct harness *h);
/* True if a state event from -> to was seen for the tuple (by remote port). */
bool harness_saw_state(const struct harness *h, uint16_t remote_port, enum tcp_state from, enum tcp_state to);
/* A counter by its nstat name ("TCPChallengeACK"); fails the test if unknown. */
uint64_t harness_counter(const struct harness *h, const char *name);
/* The ss view of the connection entry (not a listener) with this remote
 * port; false if there is none. */
bool harness_conn_info(struct harness *h, uint16_t remote_port, struct stack_conn_info *out);
/* A listener on local with this backlog: its descriptor. */
int harness_listen(struct harness *h, int backlog);
/* Like harness_passive_open, with options on the peer's SYN and a backlog. */
int harness_passive_open_opts(struct harness *h, int *listener, uint32_t *iss, int backlog,
                              const struct wire_tcp_options *syn_opts);

#endif
