/* See stack_peek.h: stack.c itself, then two accessors. fuzz_stack links
 * synack_tcp and synack_wire but not synack_stack, so each stack_*
 * function exists once.
 *
 * stack.c's large blocks (struct stack holds a host's packet buffers, the
 * port table is 128 KiB) come back from a small cache instead of the
 * allocator: under ASan every such calloc/free was an mmap/munmap with its
 * page faults, two thirds of each run. The blocks are still zeroed like
 * calloc's, and every other allocation is the sanitizer's. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PEEK_BIG (32u << 10) /* blocks this large are cached */
#define PEEK_SLOTS 16

/* Blocks handed out (live) and blocks given back (free), with sizes. */
static struct peek_block {
    void *p;
    size_t size;
    bool live;
} peek_blocks[PEEK_SLOTS];

static void *peek_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t bytes = n * size;
    if (bytes < PEEK_BIG)
        return calloc(n, size);
    for (int i = 0; i < PEEK_SLOTS; i++)
        if (peek_blocks[i].p && !peek_blocks[i].live && peek_blocks[i].size == bytes) {
            peek_blocks[i].live = true;
            return memset(peek_blocks[i].p, 0, bytes);
        }
    void *p = calloc(n, size);
    for (int i = 0; p && i < PEEK_SLOTS; i++)
        if (!peek_blocks[i].p) {
            peek_blocks[i] = (struct peek_block){p, bytes, true};
            break;
        }
    return p;
}

static void peek_free(void *p)
{
    for (int i = 0; p && i < PEEK_SLOTS; i++)
        if (peek_blocks[i].p == p && peek_blocks[i].live) {
            peek_blocks[i].live = false; /* kept for the next run */
            return;
        }
    free(p);
}

#define calloc(n, size) peek_calloc(n, size)
#define free(p) peek_free(p)
#include "stack/stack.c"
#undef calloc
#undef free

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
