/* bench memory: bytes per half-open entry, established connection and
 * TIME-WAIT entry, measured from the allocator: the growth of mallinfo2()
 * (in-use chunks, headers and padding included, plus mmapped blocks such
 * as big hash-bucket arrays) while n entries are made, divided by n. So a
 * figure is what the entry really costs: its struct, malloc's chunk
 * overhead and its share of the 4-tuple table.
 *
 * synack and lwIP: one server filled by a scripted client (bench_script.c)
 * for half-open and established entries; a back-to-back pair whose client
 * keeps n TIME-WAIT entries. Buffers are counted apart: the bytes a
 * connection gains holding a 64-byte request unread and a 128-byte response
 * unacknowledged. Half-open and TIME-WAIT entries come from pools (blocks of
 * many), which the growth counts with their slack. Linux: slab object sizes (request_sock_TCP, TCP,
 * tw_sock_TCP) from /proc/slabinfo. */
#include <stdlib.h>
#include <string.h>

#include "bench/bench_internal.h"
#include "stack/stack.h"
#include "tcp/tcp.h"

struct mem_server {
    struct stack *s;
    int listener;
    uint8_t last[2048];
    size_t last_len;
    tcp_time_t now;
};

static void mem_output(void *ctx, const uint8_t *pkt, size_t len)
{
    struct mem_server *m = ctx;
    if (len <= sizeof m->last) {
        memcpy(m->last, pkt, len);
        m->last_len = len;
    }
}

static int mem_server_init(struct mem_server *m, uint64_t n)
{
    memset(m, 0, sizeof *m);
    struct stack_config cfg;
    stack_config_default(&cfg);
    memset(cfg.secret, 3, sizeof cfg.secret);
    cfg.max_sockets = (uint32_t)(n + 1024);
    cfg.tcp.tcp_max_syn_backlog = (int64_t)(n + 1024);
    cfg.tcp.somaxconn = (int64_t)(n + 1024);
    struct stack_hooks hooks = {.ctx = m, .output = mem_output};
    m->now = TCP_SEC(1);
    m->s = stack_new(&cfg, &hooks, m->now);
    if (!m->s)
        return -1;
    struct wire_endpoint ep = {.addr = wire_addr_v4(BENCH_SERVER_ADDR), .port = BENCH_SERVER_PORT};
    stack_set_local_addr(m->s, &ep.addr);
    m->listener = stack_socket(m->s);
    if (m->listener < 0 || stack_bind(m->s, m->listener, &ep) < 0 ||
        stack_listen(m->s, m->listener, (int)(n + 1024)) < 0)
        return -1;
    return 0;
}

static void mem_inject(struct mem_server *m, const uint8_t *pkt, size_t len)
{
    m->now += 1;
    m->last_len = 0;
    stack_input(m->s, pkt, len, m->now);
}

/* Bytes per descriptor slot: the socket table is allocated whole by
 * stack_new (max_sockets entries), so it is measured apart. */
static double synack_descriptor_slot(void)
{
    struct stack_config cfg;
    stack_config_default(&cfg);
    struct stack_hooks hooks = {.output = mem_output};
    struct mem_server dummy;
    hooks.ctx = &dummy;
    size_t sizes[2];
    uint32_t counts[2] = {1u << 16, 1u << 20};
    for (int i = 0; i < 2; i++) {
        cfg.max_sockets = counts[i];
        size_t h0 = bench_heap_used();
        struct stack *s = stack_new(&cfg, &hooks, 0);
        sizes[i] = bench_heap_used() - h0;
        stack_free(s);
    }
    return ((double)sizes[1] - (double)sizes[0]) / (double)(counts[1] - counts[0]);
}

static int run_synack(const struct bench_opts *o, struct bench_results *r, uint64_t n)
{
    uint8_t pkt[512];
    struct mem_server m;
    /* Half-open: n SYNs, n SYN-ACKs sent, n entries in the SYN queue. */
    if (mem_server_init(&m, n) < 0)
        goto fail;
    size_t h0 = bench_heap_used();
    for (uint64_t i = 0; i < n; i++) {
        struct bench_script_conn c;
        bench_script_endpoints(&c, i);
        mem_inject(&m, pkt, bench_script_syn(&c, pkt, sizeof pkt));
    }
    size_t h1 = bench_heap_used();
    if (stack_conn_count(m.s) != n) {
        fprintf(stderr, "synack: bench memory: %zu half-open entries of %lu\n", stack_conn_count(m.s), (unsigned long)n);
        goto fail;
    }
    double half = ((double)h1 - (double)h0) / (double)n;
    stack_free(m.s);
    m.s = NULL;
    bench_progress(o, "memory synack: half-open done");

    /* Established: n handshakes, n accepted descriptors. */
    if (mem_server_init(&m, n) < 0)
        goto fail;
    struct bench_script_conn *conns = malloc(n * sizeof *conns);
    if (!conns)
        goto fail;
    h0 = bench_heap_used(); /* after conns: that array is the harness's */
    for (uint64_t i = 0; i < n; i++) {
        struct bench_script_conn *c = &conns[i];
        bench_script_endpoints(c, i);
        mem_inject(&m, pkt, bench_script_syn(c, pkt, sizeof pkt));
        if (!bench_script_synack(c, m.last, m.last_len)) {
            fprintf(stderr, "synack: bench memory: no SYN-ACK for scripted SYN %lu\n", (unsigned long)i);
            free(conns);
            goto fail;
        }
        mem_inject(&m, pkt, bench_script_ack(c, pkt, sizeof pkt, 0));
        if (stack_accept(m.s, m.listener, NULL) < 0) {
            fprintf(stderr, "synack: bench memory: connection %lu not accepted\n", (unsigned long)i);
            free(conns);
            goto fail;
        }
    }
    h1 = bench_heap_used();
    double est = ((double)h1 - (double)h0) / (double)n;
    /* Buffers: each connection receives the request (left unread) and
     * sends the response (left unacknowledged). Descriptors are 1..n. */
    h0 = bench_heap_used();
    for (uint64_t i = 0; i < n; i++) {
        mem_inject(&m, pkt, bench_script_ack(&conns[i], pkt, sizeof pkt, BENCH_REQ_LEN));
        if (stack_send(m.s, (int)(i + 1), bench_response, BENCH_RESP_LEN, m.now) != BENCH_RESP_LEN) {
            fprintf(stderr, "synack: bench memory: send on connection %lu failed\n", (unsigned long)i);
            free(conns);
            goto fail;
        }
    }
    h1 = bench_heap_used();
    double bufs = ((double)h1 - (double)h0) / (double)n;
    free(conns);
    stack_free(m.s);
    m.s = NULL;
    bench_progress(o, "memory synack: established done");

    /* TIME-WAIT: n lifecycles back to back; the client keeps n entries
     * (60 s of TIME-WAIT, about 10 us of virtual time per lifecycle). */
    struct sy_pair *p = sy_pair_new(n);
    if (!p)
        goto fail;
    /* One connection held first, so that each side's control-block and
     * half-open pools have their first block: a host's fixed cost, not a
     * TIME-WAIT entry's. */
    if (sy_open_held(p) < 0) {
        fprintf(stderr, "synack: bench memory: %s\n", sy_pair_error(p));
        sy_pair_free(p);
        goto fail;
    }
    h0 = bench_heap_used();
    for (uint64_t i = 0; i < n; i++)
        if (sy_lifecycle(p) < 0) {
            fprintf(stderr, "synack: bench memory: %s\n", sy_pair_error(p));
            sy_pair_free(p);
            goto fail;
        }
    h1 = bench_heap_used();
    if (sy_conn_count(p, 0) != n + 1 || sy_conn_count(p, 1) != 1) {
        fprintf(stderr, "synack: bench memory: %zu TIME-WAIT entries of %lu\n", sy_conn_count(p, 0), (unsigned long)n);
        sy_pair_free(p);
        goto fail;
    }
    double tw = ((double)h1 - (double)h0) / (double)n;
    sy_pair_free(p);
    double slot = synack_descriptor_slot();

    bench_figure_set(bench_figure_get(r, "memory", "half_open_B", "B", true), BENCH_SYNACK, half);
    bench_figure_set(bench_figure_get(r, "memory", "established_B", "B", true), BENCH_SYNACK, est);
    bench_figure_set(bench_figure_get(r, "memory", "descriptor_slot_B", "B", true), BENCH_SYNACK, slot);
    bench_figure_set(bench_figure_get(r, "memory", "buffers_in_use_B", "B", true), BENCH_SYNACK, bufs);
    bench_figure_set(bench_figure_get(r, "memory", "time_wait_B", "B", true), BENCH_SYNACK, tw);
    /* IPv4 entries; IPv6 ones keep a whole struct wire_tuple (24 bytes more). */
    bench_figure_set(bench_figure_get(r, "memory", "sizeof_half_open_B", "B", true), BENCH_SYNACK,
                     (double)TCP_REQ_SIZE(false));
    bench_figure_set(bench_figure_get(r, "memory", "sizeof_half_open_v6_B", "B", true), BENCH_SYNACK,
                     (double)TCP_REQ_SIZE(true));
    bench_figure_set(bench_figure_get(r, "memory", "sizeof_established_B", "B", true), BENCH_SYNACK,
                     (double)sizeof(struct tcp_conn));
    /* An IPv6 control block keeps its tuple in the host's tuple pool. */
    bench_figure_set(bench_figure_get(r, "memory", "sizeof_established_v6_B", "B", true), BENCH_SYNACK,
                     (double)(sizeof(struct tcp_conn) + sizeof(struct wire_tuple)));
    /* Held only while a timer is armed (counted in buffers_in_use_B). */
    bench_figure_set(bench_figure_get(r, "memory", "sizeof_timers_B", "B", true), BENCH_SYNACK,
                     (double)sizeof(struct tcp_timers));
    bench_figure_set(bench_figure_get(r, "memory", "sizeof_time_wait_B", "B", true), BENCH_SYNACK,
                     (double)TCP_TW_SIZE(false));
    bench_figure_set(bench_figure_get(r, "memory", "sizeof_time_wait_v6_B", "B", true), BENCH_SYNACK,
                     (double)TCP_TW_SIZE(true));
    bench_figure_set(bench_figure_get(r, "memory", "sizeof_listener_B", "B", true), BENCH_SYNACK,
                     (double)sizeof(struct tcp_listener));
    bench_figure_set(bench_figure_get(r, "memory", "held_1M_est_1M_tw_MiB", "MiB", true), BENCH_SYNACK,
                     (est + slot + tw) * 1e6 / 1048576.0);
    return 0;
fail:
    if (m.s)
        stack_free(m.s);
    return -1;
}

static void run_lwip(const struct bench_opts *o, struct bench_results *r, uint64_t n)
{
    const char *why = lw_unavailable();
    if (why) {
        bench_progress(o, "memory lwip: skipped: %s", why);
        return;
    }
    /* lwIP walks a list per segment; 10,000 keeps the fill to seconds. */
    if (n > 10000)
        n = 10000;
    double half, est, tw;
    if (lw_memory(n, &half, &est, &tw) < 0) {
        fprintf(stderr, "synack: bench memory: %s\n", lw_error());
        lw_reset();
        return;
    }
    bench_figure_set(bench_figure_get(r, "memory", "half_open_B", "B", true), BENCH_LWIP, half);
    bench_figure_set(bench_figure_get(r, "memory", "established_B", "B", true), BENCH_LWIP, est);
    bench_figure_set(bench_figure_get(r, "memory", "time_wait_B", "B", true), BENCH_LWIP, tw);
    /* lwIP keeps a whole tcp_pcb in every state. */
    double pcb = (double)lw_sizeof_pcb();
    bench_figure_set(bench_figure_get(r, "memory", "sizeof_half_open_B", "B", true), BENCH_LWIP, pcb);
    bench_figure_set(bench_figure_get(r, "memory", "sizeof_established_B", "B", true), BENCH_LWIP, pcb);
    bench_figure_set(bench_figure_get(r, "memory", "sizeof_time_wait_B", "B", true), BENCH_LWIP, pcb);
    bench_figure_set(bench_figure_get(r, "memory", "sizeof_listener_B", "B", true), BENCH_LWIP,
                     (double)lw_sizeof_pcb_listen());
    bench_figure_set(bench_figure_get(r, "memory", "held_1M_est_1M_tw_MiB", "MiB", true), BENCH_LWIP,
                     (est + tw) * 1e6 / 1048576.0);
    bench_progress(o, "memory lwip: done over %lu connections", (unsigned long)n);
}

static void run_linux(const struct bench_opts *o, struct bench_results *r)
{
    static const struct {
        const char *cache, *figure;
    } rows[] = {
        {"request_sock_TCP", "sizeof_half_open_B"},
        {"TCP", "sizeof_established_B"},
        {"tw_sock_TCP", "sizeof_time_wait_B"},
    };
    size_t size[3];
    bool any_documented = false;
    for (int i = 0; i < 3; i++) {
        bool documented;
        size[i] = lx_slab_object_size(rows[i].cache, &documented);
        any_documented |= documented;
        if (size[i])
            bench_figure_set(bench_figure_get(r, "memory", rows[i].figure, "B", true), BENCH_LINUX, (double)size[i]);
    }
    /* The kernel's per-connection cost is its slab object (the socket's
     * inode, file and buffers come on top and are not counted here). */
    if (size[0])
        bench_figure_set(bench_figure_get(r, "memory", "half_open_B", "B", true), BENCH_LINUX, (double)size[0]);
    if (size[1])
        bench_figure_set(bench_figure_get(r, "memory", "established_B", "B", true), BENCH_LINUX, (double)size[1]);
    if (size[2])
        bench_figure_set(bench_figure_get(r, "memory", "time_wait_B", "B", true), BENCH_LINUX, (double)size[2]);
    if (size[1] && size[2])
        bench_figure_set(bench_figure_get(r, "memory", "held_1M_est_1M_tw_MiB", "MiB", true), BENCH_LINUX,
                         (double)(size[1] + size[2]) * 1e6 / 1048576.0);
    bench_progress(o, "memory linux: slab object sizes %s", any_documented ? "as documented (/proc/slabinfo unreadable)"
                                                                         : "from /proc/slabinfo");
}

int bench_memory(const struct bench_opts *o, struct bench_results *r)
{
    uint64_t n = o->entries ? o->entries : o->quick ? 20000 : 100000;
    static const char *const rows[] = {
        "half_open_B", "established_B", "descriptor_slot_B", "buffers_in_use_B", "time_wait_B",
        "sizeof_half_open_B", "sizeof_half_open_v6_B", "sizeof_established_B", "sizeof_established_v6_B",
        "sizeof_timers_B", "sizeof_time_wait_B",
        "sizeof_time_wait_v6_B", "sizeof_listener_B",
        "held_1M_est_1M_tw_MiB",
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        bench_figure_get(r, "memory", rows[i], strstr(rows[i], "MiB") ? "MiB" : "B", true);
    int rc = 0;
    if (o->peer[BENCH_SYNACK] && run_synack(o, r, n) < 0)
        rc = -1;
    if (o->peer[BENCH_LWIP])
        run_lwip(o, r, n);
    if (o->peer[BENCH_LINUX])
        run_linux(o, r);
    return rc;
}
