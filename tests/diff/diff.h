/* Differential tests: the same random script of socket calls and packet
 * drops, run twice inside the test's own network namespace (interop.h):
 *
 *   synack run:  subject = synack (in this process, app/rt on TUN dfs0)
 *                peer    = the kernel, 10.88.1.2
 *   kernel run:  subject = the kernel in a second namespace, over the veth
 *                pair dfk0 (ours) / dfk1 (its), 10.88.2.1
 *                peer    = the kernel, 10.88.2.2
 *
 * Drops are nftables rules on the netdev ingress (subject -> peer) and
 * egress (peer -> subject) hooks of dfs0 / dfk0, so both runs lose the same
 * packets in the same way. After each step both ends settle, and the trace
 * records the call's result (bytes or errno name) and both ends' states
 * (synack: its table; the kernel: sock_diag / inet_diag). The traces must
 * agree step by step, and the subject's states the kernel was seen in
 * (sampled every few ms) must appear, in order, among synack's
 * state-change events. Deliberate differences are tolerated only where
 * docs/differences-from-linux.md says so (none is needed so far). */
#ifndef SYNACK_TESTS_DIFF_H
#define SYNACK_TESTS_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcp/tcp_types.h"

enum diff_op_kind { DIFF_CONNECT, DIFF_ACCEPT, DIFF_SEND, DIFF_RECV, DIFF_SHUT_WR, DIFF_CLOSE, DIFF_ABORT };
enum diff_side { DIFF_SUBJECT, DIFF_PEER };
/* Which packets a step drops while its call runs (then the link heals). */
enum diff_drop { DIFF_DROP_NONE, DIFF_DROP_ALL, DIFF_DROP_FIN };

#define DIFF_MAX_OPS 14
#define DIFF_MAX_STATES 24
#define DIFF_RESULT_MAX 48

struct diff_op {
    enum diff_op_kind kind;
    enum diff_side side;
    uint16_t len;             /* DIFF_SEND: bytes */
    enum diff_drop drop_to_peer, drop_to_subject;
};

struct diff_script {
    uint32_t seed;
    enum diff_side server;    /* the end that listens; the other connects */
    int nops;
    struct diff_op ops[DIFF_MAX_OPS];
};

/* A random script (same seed, same script). */
void diff_script_make(uint32_t seed, struct diff_script *out);
/* "subject send 1200 [drop->peer all]" */
void diff_op_str(const struct diff_op *op, char *buf, size_t cap);

struct diff_step {
    char result[DIFF_RESULT_MAX]; /* "sent 1200", "EAGAIN", "EOF", "read 300 EAGAIN" */
    enum tcp_state subject, peer; /* settled */
};

struct diff_trace {
    struct diff_step steps[DIFF_MAX_OPS];
    int nsteps;
    /* The subject connection's states in order (collapsed): synack's
     * events, or the kernel's samples. */
    enum tcp_state seen[DIFF_MAX_STATES];
    int nseen;
};

void diff_trace_seen(struct diff_trace *t, enum tcp_state s);
/* Compares a synack trace with a kernel trace. Returns -1 if they agree,
 * else the index of the first differing step (nsteps for the state
 * sequence), with a one-line reason. */
int diff_compare(const struct diff_script *sc, const struct diff_trace *synack, const struct diff_trace *kernel,
                 char *why, size_t cap);
/* Prints the script and both traces side by side (stdout). */
void diff_print(const struct diff_script *sc, const struct diff_trace *synack, const struct diff_trace *kernel);

/* ---- running (diff_run.c) ---- */
struct diff_env;
/* Sets up both subjects in the test's namespace (NULL with a reason in why
 * if this machine cannot: no root, no TUN, no nft). */
struct diff_env *diff_env_new(char *why, size_t cap);
void diff_env_free(struct diff_env *e);
/* Runs the script against synack (synack true) or the kernel. Ports come
 * from index, unique per script within one env. */
void diff_run(struct diff_env *e, bool synack, const struct diff_script *sc, int index, struct diff_trace *out);

#endif
