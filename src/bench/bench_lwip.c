/* lwIP as a peer: Debian's liblwip (2.1.3, raw API) with two in-memory
 * netifs, a client at BENCH_CLIENT_ADDR and a server at BENCH_SERVER_ADDR.
 * Each netif's output copies the IP packet into one FIFO; the pump hands it
 * to the other netif's input (ip_input) as a fresh pbuf, 1 us of virtual
 * time per packet, like synack's harness.
 *
 * Loaded with dlopen(RTLD_LOCAL), called through a table of pointers: lwIP
 * and synack's tcp/ share function names (tcp_accept, tcp_connect,
 * tcp_output...), and a library linked in the ordinary way would have its
 * own internal calls bound to synack's functions. Loaded locally, lwIP only
 * ever sees itself. Its headers give the struct layouts and macros.
 *
 * The packaged library is built for the Hurd's socket layer (NO_SYS 0, core
 * locking); its raw API works from one thread as long as tcpip_init() is
 * never called (sys_check_core_locking then checks nothing). Its TCP timers
 * run in virtual time: tcp_tmr() every TCP_TMR_INTERVAL (250 ms), as a
 * NO_SYS main loop does (its sys_now() reads the real clock and cannot be
 * replaced in a library loaded locally). lwIP keeps one global stack per
 * process, so both ends live in it and share its lists (it finds a
 * connection by walking linked lists: that cost is lwIP's and part of its
 * figures). Pools are malloc() (MEMP_MEM_MALLOC 1 in Debian's lwipopts),
 * so the allocator sees its control blocks like synack's. */
#include "bench/bench_internal.h"

#ifndef SYNACK_HAVE_LWIP

const char *lw_unavailable(void) { return "synack was built without liblwip-dev"; }
int lw_reset(void) { return -1; }
int lw_lifecycle(void) { return -1; }
int lw_open_held(void) { return -1; }
void lw_advance_us(uint64_t dt_us) { (void)dt_us; }
uint64_t lw_replay_ack(uint64_t i) { (void)i; return 0; }
uint64_t lw_held_count(void) { return 0; }
uint64_t lw_segments(void) { return 0; }
size_t lw_timewait_count(void) { return 0; }
size_t lw_active_count(void) { return 0; }
uint64_t lw_timewait_len_us(void) { return 0; }
unsigned lw_local_ports(void) { return 0; }
const char *lw_error(void) { return lw_unavailable(); }
int lw_memory(uint64_t n, double *h, double *e, double *t)
{
    (void)n, (void)h, (void)e, (void)t;
    return -1;
}
size_t lw_sizeof_pcb(void) { return 0; }
size_t lw_sizeof_pcb_listen(void) { return 0; }

#else

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"

/* Every lwIP function this file calls, resolved in the library itself.
 * __typeof__ names the types without referring to the symbols. */
#define LW_FUNCTIONS(X)                                                                        \
    X(lwip_init) X(netif_add) X(netif_set_up) X(netif_set_link_up) X(ip_input) X(pbuf_alloc)   \
    X(pbuf_take) X(pbuf_copy_partial) X(pbuf_free) X(tcp_new) X(tcp_bind) X(tcp_bind_netif)    \
    X(tcp_listen_with_backlog) X(tcp_accept) X(tcp_arg) X(tcp_recv) X(tcp_err) X(tcp_write)     \
    X(tcp_output) X(tcp_recved) X(tcp_close) X(tcp_abort) X(tcp_connect) X(tcp_tmr)

static struct {
#define LW_FIELD(name) __typeof__(&name) name;
    LW_FUNCTIONS(LW_FIELD)
#undef LW_FIELD
    struct tcp_pcb **active_pcbs, **tw_pcbs;
} L;

/* lwIP's ephemeral range (tcp.c TCP_LOCAL_PORT_RANGE_START..END), one per
 * host whatever the remote end: its port allocator checks local ports only. */
#define LW_LOCAL_PORTS (0xffffu - 0xc000u + 1u)

#define LW_QUEUE_SLOTS 64
#define LW_PKT_MAX 2048
#define LW_REPLAY_MAX 64

struct lw_slot {
    uint16_t len;
    uint8_t to;
    uint8_t data[LW_PKT_MAX];
};

struct lw_held_conn {
    struct tcp_pcb *cli, *srv;
    uint8_t replay_len;
    uint8_t replay[LW_REPLAY_MAX];
};

static struct {
    bool ready;
    const char *unavailable;
    bool load_tried;
    uint64_t tmr_us; /* when tcp_tmr() last ran (virtual) */
    struct netif nif[2]; /* 0 client, 1 server */
    struct tcp_pcb *listener;
    struct lw_slot q[LW_QUEUE_SLOTS];
    uint32_t head, tail;
    uint64_t now_us;
    uint64_t delivered, dropped, server_sent;
    bool discard; /* memory bench: keep nothing that is sent */
    /* the lifecycle in progress */
    struct tcp_pcb *cli, *srv;
    uint32_t cli_got, srv_got;
    bool connected, cli_closed, srv_closed, failed;
    /* held connections */
    bool holding, record;
    struct lw_held_conn *held;
    uint64_t nheld, held_cap;
    uint8_t last_len;
    uint8_t last[LW_REPLAY_MAX];
    /* scripted client (memory bench) */
    uint64_t accepted;
    char error[160];
} lw;

static const char *lw_load(void)
{
    if (lw.load_tried)
        return lw.unavailable;
    lw.load_tried = true;
    static const char *const names[] = {"liblwip.so.0", "liblwip.so"};
    void *h = NULL;
    for (size_t i = 0; i < 2 && !h; i++)
        h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return lw.unavailable = "cannot load liblwip.so.0 (Debian package liblwip0)";
    static const struct {
        const char *name;
        void **slot;
    } syms[] = {
#define LW_SYM(name) {#name, (void **)&L.name},
        LW_FUNCTIONS(LW_SYM)
#undef LW_SYM
        {"tcp_active_pcbs", (void **)&L.active_pcbs},
        {"tcp_tw_pcbs", (void **)&L.tw_pcbs},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++)
        if (!(*syms[i].slot = dlsym(h, syms[i].name)))
            return lw.unavailable = "liblwip.so.0 lacks a raw-API symbol this benchmark needs";
    return NULL; /* the library stays loaded for the life of the process */
}

static void lw_fail(const char *what, long got)
{
    if (!lw.error[0])
        snprintf(lw.error, sizeof lw.error, "lwip: %s (got %ld) after %lu segments", what, got,
                 (unsigned long)lw.delivered);
    lw.failed = true;
}

static err_t lw_output(struct netif *netif, struct pbuf *p, const ip4_addr_t *dest)
{
    (void)dest;
    int from = netif == &lw.nif[1];
    if (from == 1)
        lw.server_sent++;
    if (lw.discard)
        return ERR_OK;
    if (lw.tail - lw.head >= LW_QUEUE_SLOTS || p->tot_len > LW_PKT_MAX) {
        lw.dropped++;
        return ERR_OK;
    }
    struct lw_slot *s = &lw.q[lw.tail++ & (LW_QUEUE_SLOTS - 1)];
    s->len = (uint16_t)L.pbuf_copy_partial(p, s->data, p->tot_len, 0);
    s->to = (uint8_t)!from;
    if (lw.record && from == 0 && s->len <= LW_REPLAY_MAX) {
        lw.last_len = (uint8_t)s->len;
        memcpy(lw.last, s->data, s->len);
    }
    return ERR_OK;
}

static err_t lw_netif_init(struct netif *netif)
{
    netif->name[0] = 'b';
    netif->name[1] = netif == &lw.nif[0] ? 'c' : 's';
    netif->output = lw_output;
    netif->mtu = 1500;
    netif->flags = NETIF_FLAG_LINK_UP; /* point to point: no broadcast, no ARP */
    return ERR_OK;
}

static void lw_inject(int to, const uint8_t *pkt, size_t len)
{
    struct pbuf *p = L.pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM);
    if (!p) {
        lw_fail("pbuf_alloc", 0);
        return;
    }
    L.pbuf_take(p, pkt, (u16_t)len);
    lw.now_us += 1;
    lw.delivered++;
    lw.nif[to].input(p, &lw.nif[to]);
}

static void lw_pump(void)
{
    while (lw.head != lw.tail) {
        struct lw_slot *s = &lw.q[lw.head++ & (LW_QUEUE_SLOTS - 1)];
        lw_inject(s->to, s->data, s->len);
    }
}

/* ---- the application, as raw-API callbacks ---- */
static err_t held_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg, (void)err;
    if (p) {
        L.tcp_recved(pcb, p->tot_len);
        L.pbuf_free(p);
    }
    return ERR_OK;
}

static void lifecycle_err(void *arg, err_t err)
{
    (void)arg;
    lw_fail("connection error callback", err);
}

static err_t srv_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg, (void)err;
    if (!p) { /* the client's FIN: close our end */
        if (lw.srv_got != BENCH_REQ_LEN)
            lw_fail("server saw the end of stream before the request", lw.srv_got);
        L.tcp_arg(pcb, NULL);
        L.tcp_err(pcb, NULL);
        L.tcp_recv(pcb, NULL);
        lw.srv = NULL;
        lw.srv_closed = true;
        if (L.tcp_close(pcb) != ERR_OK)
            lw_fail("server tcp_close", 0);
        return ERR_OK;
    }
    lw.srv_got += p->tot_len;
    L.tcp_recved(pcb, p->tot_len);
    L.pbuf_free(p);
    if (lw.srv_got == BENCH_REQ_LEN) {
        if (L.tcp_write(pcb, bench_response, BENCH_RESP_LEN, TCP_WRITE_FLAG_COPY) != ERR_OK)
            lw_fail("server tcp_write", 0);
        L.tcp_output(pcb);
    }
    return ERR_OK;
}

static err_t srv_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    lw.accepted++;
    if (lw.holding) {
        L.tcp_recv(pcb, held_recv);
        if (lw.nheld < lw.held_cap)
            lw.held[lw.nheld].srv = pcb;
        return ERR_OK;
    }
    lw.srv = pcb;
    L.tcp_err(pcb, lifecycle_err);
    L.tcp_recv(pcb, srv_recv);
    return ERR_OK;
}

static err_t cli_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg, (void)err;
    if (!p) {
        lw_fail("client saw the server close first", lw.cli_got);
        return ERR_OK;
    }
    lw.cli_got += p->tot_len;
    L.tcp_recved(pcb, p->tot_len);
    L.pbuf_free(p);
    if (lw.cli_got == BENCH_RESP_LEN) { /* the client closes first: TIME-WAIT is its */
        L.tcp_err(pcb, NULL);
        L.tcp_recv(pcb, NULL);
        lw.cli = NULL;
        lw.cli_closed = true;
        if (L.tcp_close(pcb) != ERR_OK)
            lw_fail("client tcp_close", 0);
    }
    return ERR_OK;
}

static err_t cli_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK)
        return lw_fail("connect callback", err), ERR_OK;
    lw.connected = true;
    if (lw.holding)
        return ERR_OK;
    if (L.tcp_write(pcb, bench_request, BENCH_REQ_LEN, TCP_WRITE_FLAG_COPY) != ERR_OK)
        lw_fail("client tcp_write", 0);
    L.tcp_output(pcb);
    return ERR_OK;
}

static int lw_setup(void)
{
    if (lw.ready)
        return 0;
    if (lw_load()) {
        snprintf(lw.error, sizeof lw.error, "lwip: %s", lw.unavailable);
        return -1;
    }
    lw.now_us = lw.tmr_us = 1000000;
    L.lwip_init();
    ip4_addr_t ip[2], mask, gw[2];
    IP4_ADDR(&ip[0], 198, 19, 0, 1);
    IP4_ADDR(&ip[1], 198, 18, 0, 2);
    IP4_ADDR(&mask, 255, 255, 255, 255);
    gw[0] = ip[1];
    gw[1] = ip[0];
    /* Point-to-point links: each netif's gateway is the other end, so
     * routing picks the right one; connections are bound to theirs anyway. */
    for (int i = 0; i < 2; i++) {
        if (!L.netif_add(&lw.nif[i], &ip[i], &mask, &gw[i], NULL, lw_netif_init, L.ip_input)) {
            snprintf(lw.error, sizeof lw.error, "lwip: netif_add failed");
            return -1;
        }
        L.netif_set_up(&lw.nif[i]);
        L.netif_set_link_up(&lw.nif[i]);
    }
    struct tcp_pcb *pcb = L.tcp_new();
    ip_addr_t srv;
    ip_addr_copy_from_ip4(srv, ip[1]);
    if (!pcb || L.tcp_bind(pcb, &srv, BENCH_SERVER_PORT) != ERR_OK) {
        snprintf(lw.error, sizeof lw.error, "lwip: cannot bind the server");
        return -1;
    }
    lw.listener = L.tcp_listen_with_backlog(pcb, 255);
    if (!lw.listener) {
        snprintf(lw.error, sizeof lw.error, "lwip: tcp_listen failed");
        return -1;
    }
    L.tcp_bind_netif(lw.listener, &lw.nif[1]);
    L.tcp_accept(lw.listener, srv_accept);
    lw.ready = true;
    return 0;
}

const char *lw_unavailable(void) { return lw_load(); }

const char *lw_error(void) { return lw.error[0] ? lw.error : "lwip: unknown error"; }

static size_t list_len(const struct tcp_pcb *p)
{
    size_t n = 0;
    for (; p; p = p->next)
        n++;
    return n;
}

size_t lw_timewait_count(void) { return list_len(*L.tw_pcbs); }
size_t lw_active_count(void) { return list_len(*L.active_pcbs); }
uint64_t lw_timewait_len_us(void) { return 2u * TCP_MSL * 1000u; }
unsigned lw_local_ports(void) { return LW_LOCAL_PORTS; }
uint64_t lw_segments(void) { return lw.delivered; }
uint64_t lw_held_count(void) { return lw.nheld; }
size_t lw_sizeof_pcb(void) { return sizeof(struct tcp_pcb); }
size_t lw_sizeof_pcb_listen(void) { return sizeof(struct tcp_pcb_listen); }

int lw_reset(void)
{
    if (lw_setup() < 0)
        return -1;
    lw.discard = true;
    while (*L.active_pcbs)
        L.tcp_abort(*L.active_pcbs);
    while (*L.tw_pcbs)
        L.tcp_abort(*L.tw_pcbs);
    lw.discard = false;
    lw.head = lw.tail = 0;
    free(lw.held);
    lw.held = NULL;
    lw.nheld = lw.held_cap = 0;
    lw.cli = lw.srv = NULL;
    lw.holding = lw.record = lw.failed = false;
    lw.error[0] = '\0';
    lw.dropped = 0;
    return 0;
}

void lw_advance_us(uint64_t dt_us)
{
    lw.now_us += dt_us;
    while (lw.now_us - lw.tmr_us >= TCP_TMR_INTERVAL * 1000u) {
        lw.tmr_us += TCP_TMR_INTERVAL * 1000u;
        L.tcp_tmr();
        lw_pump();
    }
}

/* tcp_new + bind to the client netif + connect; the pump does the rest. */
static struct tcp_pcb *lw_connect(void)
{
    struct tcp_pcb *pcb = L.tcp_new();
    if (!pcb)
        return lw_fail("tcp_new", 0), NULL;
    ip_addr_t cli, srv;
    ip_addr_copy_from_ip4(cli, *netif_ip4_addr(&lw.nif[0]));
    ip_addr_copy_from_ip4(srv, *netif_ip4_addr(&lw.nif[1]));
    L.tcp_bind_netif(pcb, &lw.nif[0]);
    err_t err = L.tcp_bind(pcb, &cli, 0);
    if (err != ERR_OK) {
        L.tcp_abort(pcb);
        return lw_fail("tcp_bind (ephemeral ports exhausted?)", err), NULL;
    }
    if (!lw.holding) {
        L.tcp_err(pcb, lifecycle_err);
        L.tcp_recv(pcb, cli_recv);
    } else {
        L.tcp_recv(pcb, held_recv);
    }
    lw.connected = false;
    err = L.tcp_connect(pcb, &srv, BENCH_SERVER_PORT, cli_connected);
    if (err != ERR_OK) {
        L.tcp_abort(pcb);
        return lw_fail("tcp_connect", err), NULL;
    }
    return pcb;
}

int lw_lifecycle(void)
{
    lw.cli_got = lw.srv_got = 0;
    lw.cli_closed = lw.srv_closed = false;
    lw.srv = NULL;
    lw.cli = lw_connect();
    if (!lw.cli)
        return -1;
    lw_pump();
    if (lw.failed || !lw.cli_closed || !lw.srv_closed || lw.dropped) {
        lw_fail("lifecycle did not complete", (long)lw.dropped);
        return -1;
    }
    return 0;
}

int lw_open_held(void)
{
    if (lw.nheld == lw.held_cap) {
        uint64_t cap = lw.held_cap ? lw.held_cap * 2 : 1024;
        struct lw_held_conn *h = realloc(lw.held, cap * sizeof *h);
        if (!h)
            return lw_fail("out of memory", 0), -1;
        lw.held = h;
        lw.held_cap = cap;
    }
    lw.holding = lw.record = true;
    lw.last_len = 0;
    lw.held[lw.nheld].srv = NULL;
    struct tcp_pcb *pcb = lw_connect();
    if (pcb)
        lw_pump();
    lw.holding = lw.record = false;
    if (!pcb || !lw.connected || !lw.held[lw.nheld].srv || lw.failed)
        return lw_fail("held connection did not open", (long)lw.nheld), -1;
    lw.held[lw.nheld].cli = pcb;
    lw.held[lw.nheld].replay_len = lw.last_len;
    memcpy(lw.held[lw.nheld].replay, lw.last, lw.last_len);
    lw.nheld++;
    return 0;
}

uint64_t lw_replay_ack(uint64_t i)
{
    uint64_t before = lw.server_sent;
    lw_inject(1, lw.held[i].replay, lw.held[i].replay_len);
    uint64_t sent = lw.server_sent - before;
    lw.head = lw.tail;
    return sent;
}

/* ---- memory ---- */
static int lw_take_synack(struct bench_script_conn *c)
{
    while (lw.head != lw.tail) {
        struct lw_slot *s = &lw.q[lw.head++ & (LW_QUEUE_SLOTS - 1)];
        if (bench_script_synack(c, s->data, s->len)) {
            lw.head = lw.tail;
            return 0;
        }
    }
    return -1;
}

int lw_memory(uint64_t n, double *half_open, double *established, double *time_wait)
{
    uint8_t pkt[256];
    if (lw_reset() < 0)
        return -1;
    /* Half-open: SYNs from n scripted clients, SYN-ACKs thrown away. */
    lw.discard = true;
    size_t h0 = bench_heap_used();
    for (uint64_t i = 0; i < n; i++) {
        struct bench_script_conn c;
        bench_script_endpoints(&c, i);
        lw_inject(1, pkt, bench_script_syn(&c, pkt, sizeof pkt));
    }
    size_t h1 = bench_heap_used();
    if (lw_active_count() != n)
        return lw_fail("half-open entries not all made", (long)lw_active_count()), -1;
    *half_open = ((double)h1 - (double)h0) / (double)n;
    lw_reset();

    /* Established: the whole handshake from n scripted clients, accepted. */
    uint64_t acc0 = lw.accepted;
    lw.holding = true;
    h0 = bench_heap_used();
    for (uint64_t i = 0; i < n; i++) {
        struct bench_script_conn c;
        bench_script_endpoints(&c, i);
        lw_inject(1, pkt, bench_script_syn(&c, pkt, sizeof pkt));
        if (lw_take_synack(&c) < 0)
            return lw.holding = false, lw_fail("no SYN-ACK for a scripted SYN", (long)i), -1;
        lw_inject(1, pkt, bench_script_ack(&c, pkt, sizeof pkt, 0));
    }
    h1 = bench_heap_used();
    lw.holding = false;
    if (lw.accepted - acc0 != n)
        return lw_fail("connections not all accepted", (long)(lw.accepted - acc0)), -1;
    *established = ((double)h1 - (double)h0) / (double)n;
    lw_reset();

    /* TIME-WAIT: n lifecycles without expiry; the client keeps n entries. */
    if (n > LW_LOCAL_PORTS - 1024)
        n = LW_LOCAL_PORTS - 1024;
    h0 = bench_heap_used();
    for (uint64_t i = 0; i < n; i++)
        if (lw_lifecycle() < 0)
            return -1;
    h1 = bench_heap_used();
    if (lw_timewait_count() != n)
        return lw_fail("TIME-WAIT entries not all kept", (long)lw_timewait_count()), -1;
    *time_wait = ((double)h1 - (double)h0) / (double)n;
    lw_reset();
    return 0;
}

#endif
