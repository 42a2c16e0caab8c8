/* See stack_peek.h: stack.c itself, then two accessors. fuzz_stack links
 * synack_tcp and synack_wire but not synack_stack, so each stack_*
 * function exists once. */
#include "stack/stack.c"

#include "stack_peek.h"

struct tcp_host *fuzz_stack_host(struct stack *s)
{
    return &s->host;
}

struct tcp_conn *fuzz_stack_conn(struct stack *s, int sd)
{
    struct stack_sock *k = sock_get(s, sd);
    return k && k->kind == SOCK_CONN ? k->conn : NULL;
}
