/* Differential tests: random scripts, traces and their comparison. */
#include "diff.h"

#include <stdio.h>
#include <string.h>

static uint32_t next_random(uint32_t *s)
{
    /* xorshift32 */
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static unsigned pick(uint32_t *s, unsigned n)
{
    return next_random(s) % n;
}

/* A quarter of the steps lose packets one way: all TCP, or only FINs. */
static void maybe_drop(uint32_t *rng, struct diff_op *op)
{
    if (pick(rng, 4) != 0)
        return;
    enum diff_drop kind = pick(rng, 3) == 0 ? DIFF_DROP_FIN : DIFF_DROP_ALL;
    if (pick(rng, 2))
        op->drop_to_peer = kind;
    else
        op->drop_to_subject = kind;
}

void diff_script_make(uint32_t seed, struct diff_script *out)
{
    memset(out, 0, sizeof *out);
    out->seed = seed;
    uint32_t rng = seed * 2654435761u + 0x9e3779b9u;
    if (!rng)
        rng = 1;
    for (int i = 0; i < 4; i++)
        next_random(&rng);
    out->server = pick(&rng, 2) ? DIFF_SUBJECT : DIFF_PEER;
    enum diff_side client = out->server == DIFF_SUBJECT ? DIFF_PEER : DIFF_SUBJECT;
    out->ops[out->nops] = (struct diff_op){.kind = DIFF_CONNECT, .side = client};
    maybe_drop(&rng, &out->ops[out->nops++]);
    out->ops[out->nops++] = (struct diff_op){.kind = DIFF_ACCEPT, .side = out->server};
    bool closed[2] = {false, false}, shut[2] = {false, false};
    int extra = 3 + (int)pick(&rng, DIFF_MAX_OPS - 4);
    while (extra-- > 0 && !(closed[0] && closed[1])) {
        enum diff_side side = pick(&rng, 2) ? DIFF_PEER : DIFF_SUBJECT;
        if (closed[side])
            side = side == DIFF_PEER ? DIFF_SUBJECT : DIFF_PEER;
        struct diff_op op = {.side = side};
        unsigned r = pick(&rng, 10);
        if (r < 3) {
            op.kind = DIFF_SEND;
            op.len = (uint16_t)(1 + pick(&rng, 4000));
        } else if (r < 6) {
            op.kind = DIFF_RECV;
        } else if (r < 8) {
            op.kind = shut[side] ? DIFF_CLOSE : DIFF_SHUT_WR;
        } else if (r < 9) {
            op.kind = DIFF_CLOSE;
        } else {
            op.kind = DIFF_ABORT;
        }
        if (op.kind == DIFF_SHUT_WR)
            shut[side] = true;
        if (op.kind == DIFF_CLOSE || op.kind == DIFF_ABORT)
            closed[side] = true;
        maybe_drop(&rng, &op);
        out->ops[out->nops++] = op;
    }
}

static const char *drop_name(enum diff_drop d)
{
    return d == DIFF_DROP_ALL ? "all" : "FINs";
}

void diff_op_str(const struct diff_op *op, char *buf, size_t cap)
{
    static const char *const names[] = {"connect", "accept", "send", "recv", "shutdown(WR)", "close",
                                        "close(SO_LINGER 0)"};
    int n = snprintf(buf, cap, "%s %s", op->side == DIFF_SUBJECT ? "subject" : "peer   ", names[op->kind]);
    if (op->kind == DIFF_SEND && n >= 0 && (size_t)n < cap)
        n += snprintf(buf + n, cap - (size_t)n, " %u", op->len);
    if (op->drop_to_peer && n >= 0 && (size_t)n < cap)
        n += snprintf(buf + n, cap - (size_t)n, " [drop %s subject->peer]", drop_name(op->drop_to_peer));
    if (op->drop_to_subject && n >= 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, " [drop %s peer->subject]", drop_name(op->drop_to_subject));
}

void diff_trace_seen(struct diff_trace *t, enum tcp_state s)
{
    if (t->nseen == 0 && s == TCP_STATE_CLOSED)
        return; /* not there yet */
    if (t->nseen > 0 && t->seen[t->nseen - 1] == s)
        return;
    if (t->nseen < DIFF_MAX_STATES)
        t->seen[t->nseen++] = s;
}

/* Is every state of sub in seq, in the same order? (Sampling the kernel
 * can miss a short-lived state; it cannot invent one.) */
static bool subsequence(const enum tcp_state *sub, int nsub, const enum tcp_state *seq, int nseq)
{
    int j = 0;
    for (int i = 0; i < nseq && j < nsub; i++)
        if (seq[i] == sub[j])
            j++;
    return j == nsub;
}

int diff_compare(const struct diff_script *sc, const struct diff_trace *synack, const struct diff_trace *kernel,
                 char *why, size_t cap)
{
    for (int i = 0; i < sc->nops; i++) {
        const struct diff_step *a = &synack->steps[i], *b = &kernel->steps[i];
        if (strcmp(a->result, b->result) != 0) {
            snprintf(why, cap, "step %d: synack's call returned %s, the kernel's %s", i, a->result, b->result);
            return i;
        }
        if (a->subject != b->subject) {
            snprintf(why, cap, "step %d: synack settled in %s, the kernel in %s", i, tcp_state_name(a->subject),
                     tcp_state_name(b->subject));
            return i;
        }
        if (a->peer != b->peer) {
            snprintf(why, cap, "step %d: the peer settled in %s facing synack, in %s facing the kernel", i,
                     tcp_state_name(a->peer), tcp_state_name(b->peer));
            return i;
        }
    }
    if (!subsequence(kernel->seen, kernel->nseen, synack->seen, synack->nseen)) {
        snprintf(why, cap, "the kernel passed through states synack's events do not show, or in another order");
        return sc->nops;
    }
    return -1;
}

static void print_seen(const char *who, const struct diff_trace *t)
{
    printf("  %s states:", who);
    for (int i = 0; i < t->nseen; i++)
        printf(" %s", tcp_state_name(t->seen[i]));
    printf("\n");
}

void diff_print(const struct diff_script *sc, const struct diff_trace *synack, const struct diff_trace *kernel)
{
    printf("  seed %u, subject is the %s\n", sc->seed, sc->server == DIFF_SUBJECT ? "server" : "client");
    printf("  %-2s %-52s | %-16s %-12s %-12s | %-16s %-12s %-12s\n", "#", "step", "synack: result", "subject",
           "peer", "kernel: result", "subject", "peer");
    for (int i = 0; i < sc->nops; i++) {
        char op[96];
        diff_op_str(&sc->ops[i], op, sizeof op);
        const struct diff_step *a = &synack->steps[i], *b = &kernel->steps[i];
        printf("  %-2d %-52s | %-16s %-12s %-12s | %-16s %-12s %-12s%s\n", i, op, a->result,
               tcp_state_name(a->subject), tcp_state_name(a->peer), b->result, tcp_state_name(b->subject),
               tcp_state_name(b->peer),
               strcmp(a->result, b->result) || a->subject != b->subject || a->peer != b->peer ? "  <--" : "");
    }
    print_seen("synack (events)", synack);
    print_seen("kernel (sampled)", kernel);
}
