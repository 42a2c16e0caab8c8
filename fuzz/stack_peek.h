/* fuzz/stack_peek — the fuzz harness's window into a stack's connections,
 * to check RFC invariants on the control blocks (SND.UNA <= SND.NXT <=
 * SND.MAX, table accounting) and to learn each connection's ISNs. The
 * stack keeps struct stack private and the harness must not change
 * stack/, so stack_peek.c compiles stack.c a second time, inside the fuzz
 * target, with these accessors after it. */
#ifndef SYNACK_FUZZ_STACK_PEEK_H
#define SYNACK_FUZZ_STACK_PEEK_H

#include "stack/stack.h"
#include "tcp/tcp.h"

struct tcp_host *fuzz_stack_host(struct stack *s);
/* The connection behind a connected descriptor, or NULL (free, new,
 * listening, or no connection). */
struct tcp_conn *fuzz_stack_conn(struct stack *s, int sd);

#endif
