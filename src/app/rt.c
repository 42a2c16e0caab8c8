/* The runtime loop: epoll over the TUN device, the stop eventfd and the
 * watched descriptors; the stack's timers and the application timers give
 * the timeout. Stack readiness is queued by the stack's ready hook and
 * delivered from the loop, so applications never re-enter the stack from
 * inside one of its calls. */
#include "app/rt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "app/control.h"
#include "link/pcap_writer.h"

#define RT_READ_BATCH 256       /* packets read per wakeup before timers run again */
#define RT_DISPATCH_ROUNDS 64   /* readiness rounds per pass (a self-kicking app cannot starve the loop) */
#define RT_MAX_EVENTS 64
#define RT_PKT_BUF (65536 + 64)
#define RT_DEFAULT_MTU 1500

struct rt_sock_watcher {
    rt_sock_fn fn;
    void *arg;
};

struct rt_fd_watcher {
    int fd;
    uint32_t events;
    bool always_ready; /* a regular file: epoll refuses it, reads and writes never block */
    rt_fd_fn fn;
    void *arg;
};

struct rt {
    struct rt_config cfg;
    char tun_name[TUN_NAME_MAX];
    int mtu;
    int tun_fd, epfd, stop_fd;
    bool vnet; /* offloads on: a virtio_net_hdr before every packet */
    struct rt_gso *gso; /* with offloads: the run of segments held */
    volatile int stopping;
    char error[160];
    tcp_time_t started, realtime_offset;
    struct stack *stack;
    struct pcap_writer *pcap;
    struct ctl_server *ctl;
    struct rt_link_counters link;
    uint64_t loss_state; /* xorshift64 state for cfg.loss_ppm */

    struct rt_sock_watcher *socks; /* by descriptor */
    uint8_t *queued;
    int *queue, *work;
    size_t nqueue;
    uint32_t nsocks;

    struct rt_fd_watcher *fds;
    size_t nfds, capfds;

    struct rt_timer **heap;
    size_t nheap, capheap;

    uint8_t pkt[RT_PKT_BUF];
};

/* ---- small things ---- */
tcp_time_t rt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (tcp_time_t)ts.tv_sec * 1000000u + (tcp_time_t)ts.tv_nsec / 1000u;
}

static tcp_time_t realtime_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (tcp_time_t)ts.tv_sec * 1000000u + (tcp_time_t)ts.tv_nsec / 1000u;
}

bool rt_addr_parse(const char *text, struct rt_addr *out)
{
    char buf[WIRE_ADDR_STRLEN + 8];
    if (!text || strlen(text) >= sizeof buf)
        return false;
    strcpy(buf, text);
    char *slash = strchr(buf, '/');
    int prefix = -1;
    if (slash) {
        *slash = '\0';
        char *end;
        long v = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || v < 0 || v > 128)
            return false;
        prefix = (int)v;
    }
    if (!wire_addr_parse(buf, &out->addr))
        return false;
    bool v4 = wire_addr_is_v4(&out->addr);
    if (prefix > (v4 ? 32 : 128))
        return false;
    if (wire_addr_is_unspecified(&out->addr))
        return false;
    out->prefix = prefix < 0 ? (v4 ? 32 : 128) : prefix;
    return true;
}

void rt_config_default(struct rt_config *c)
{
    memset(c, 0, sizeof *c);
    stack_config_default(&c->stack);
}

const char *rt_errno_name(int err)
{
    if (err < 0)
        err = -err;
    switch (err) {
    case 0: return "OK";
    case EAGAIN: return "EAGAIN";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case ECONNABORTED: return "ECONNABORTED";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EPIPE: return "EPIPE";
    case ENOTCONN: return "ENOTCONN";
    case EINPROGRESS: return "EINPROGRESS";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ENETUNREACH: return "ENETUNREACH";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case ENOMEM: return "ENOMEM";
    case EMFILE: return "EMFILE";
    case EISCONN: return "EISCONN";
    case EALREADY: return "EALREADY";
    default: return "E?";
    }
}

struct stack *rt_stack(struct rt *rt) { return rt->stack; }
const struct rt_config *rt_get_config(const struct rt *rt) { return &rt->cfg; }
const char *rt_tun_name(const struct rt *rt) { return rt->tun_name; }
tcp_time_t rt_started(const struct rt *rt) { return rt->started; }
bool rt_stopping(const struct rt *rt) { return rt->stopping != 0; }
const char *rt_error(const struct rt *rt) { return rt->error; }
const struct rt_link_counters *rt_link_counters(const struct rt *rt) { return &rt->link; }

bool rt_is_local_addr(const struct rt *rt, const struct wire_addr *a)
{
    for (size_t i = 0; i < rt->cfg.naddrs; i++)
        if (wire_addr_eq(&rt->cfg.addrs[i].addr, a))
            return true;
    return false;
}

bool rt_local_addr(const struct rt *rt, bool ipv6, struct wire_addr *out)
{
    for (size_t i = 0; i < rt->cfg.naddrs; i++)
        if (wire_addr_is_v4(&rt->cfg.addrs[i].addr) != ipv6) {
            *out = rt->cfg.addrs[i].addr;
            return true;
        }
    return false;
}

int rt_socket(struct rt *rt, bool ipv6)
{
    int sd = stack_socket(rt->stack);
    if (sd < 0)
        return sd;
    /* IPv4 and IPv6 headers without options: 20 / 40 bytes, TCP 20. */
    int mss = rt->mtu - (ipv6 ? 60 : 40);
    if (mss < rt->cfg.stack.tcp.tcp_mss)
        stack_setsockopt(rt->stack, sd, STACK_TCP_MAXSEG, mss < 88 ? 88 : mss);
    return sd;
}

/* ---- link counters table ---- */
static const struct {
    const char *name, *help;
    size_t offset;
} link_counters[] = {
#define RT_LINK_DESC(n, h) {#n, h, offsetof(struct rt_link_counters, n)},
    RT_LINK_COUNTERS(RT_LINK_DESC)
#undef RT_LINK_DESC
};
#define LINK_COUNTER_COUNT ((int)(sizeof link_counters / sizeof link_counters[0]))

int rt_link_counter_count(void) { return LINK_COUNTER_COUNT; }
const char *rt_link_counter_name(int i) { return i >= 0 && i < LINK_COUNTER_COUNT ? link_counters[i].name : NULL; }
const char *rt_link_counter_help(int i) { return i >= 0 && i < LINK_COUNTER_COUNT ? link_counters[i].help : NULL; }

uint64_t rt_link_counter_get(const struct rt_link_counters *c, int i)
{
    return i >= 0 && i < LINK_COUNTER_COUNT ? *(const uint64_t *)((const char *)c + link_counters[i].offset) : 0;
}

/* ---- events ---- */
static void event_head(struct rt *rt, const char *kind, tcp_time_t now)
{
    tcp_time_t t = now > rt->started ? now - rt->started : 0;
    fprintf(rt->cfg.events, "{\"kind\":\"%s\",\"t\":%llu.%06llu,\"host\":\"synack\"", kind,
            (unsigned long long)(t / 1000000u), (unsigned long long)(t % 1000000u));
}

static void event_tuple(struct rt *rt, const struct wire_endpoint *local, const struct wire_endpoint *remote)
{
    char l[WIRE_ENDPOINT_STRLEN], r[WIRE_ENDPOINT_STRLEN];
    fprintf(rt->cfg.events, ",\"local\":\"%s\",\"remote\":\"%s\"", wire_endpoint_str(local, l),
            wire_endpoint_str(remote, r));
}

void rt_event_app(struct rt *rt, int sd, const char *call, const char *result)
{
    if (!rt->cfg.events)
        return;
    event_head(rt, "app", rt_now());
    fprintf(rt->cfg.events, ",\"call\":\"%s\",\"result\":\"%s\"", call, result);
    struct wire_endpoint local, remote;
    if (stack_getsockname(rt->stack, sd, &local) == 0 && stack_getpeername(rt->stack, sd, &remote) == 0)
        event_tuple(rt, &local, &remote);
    fputs("}\n", rt->cfg.events);
    fflush(rt->cfg.events);
}

/* The emulated lossy link: true when this packet is to be lost. */
static bool lose_packet(struct rt *rt)
{
    if (!rt->cfg.loss_ppm)
        return false;
    uint64_t x = rt->loss_state; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rt->loss_state = x;
    if ((uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32) % 1000000u >= rt->cfg.loss_ppm)
        return false;
    rt->link.TunLossDrops++;
    return true;
}

/* ---- packets out ----
 * With offloads, a run of our back-to-back data segments of one
 * connection (same addresses, ports, ACK, window and options; consecutive
 * sequence numbers; all but the last a full gso_size) is held and written
 * as one GSO packet, which the kernel cuts back into those segments or, for
 * its own local TCP, takes whole as GRO would. Anything else flushes the
 * run first, so the order on the wire is the order of output. */
#define RT_GSO_MAX 65535 /* an IPv4 total length */

struct rt_gso {
    uint8_t pkt[RT_GSO_MAX];
    size_t len;          /* bytes held; 0: nothing */
    size_t ip_len, hdr_len; /* IP header, IP + TCP headers */
    uint16_t seg;        /* payload of the first segment: gso_size */
    uint32_t next_seq;   /* after the held payload */
    unsigned count;      /* segments held */
    bool closed;         /* the last one was short or pushed: nothing may follow */
};

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* A TCP data segment a run may hold: IPv4 without options or IPv6 without
 * extension headers, ACK with PSH at most. Sets the header lengths. */
static bool gso_candidate(const uint8_t *pkt, size_t len, size_t *ip_len, size_t *hdr_len)
{
    if (len < 40)
        return false;
    if ((pkt[0] >> 4) == 4) {
        if (pkt[0] != 0x45 || pkt[9] != 6 || (pkt[6] & 0x3f) || pkt[7])
            return false; /* options, not TCP, or a fragment */
        *ip_len = 20;
    } else if ((pkt[0] >> 4) == 6) {
        if (len < 60 || pkt[6] != 6)
            return false;
        *ip_len = 40;
    } else {
        return false;
    }
    const uint8_t *tcp = pkt + *ip_len;
    size_t thl = (size_t)(tcp[12] >> 4) * 4;
    *hdr_len = *ip_len + thl;
    return thl >= 20 && *hdr_len < len && (tcp[13] & ~(WIRE_ACK | WIRE_PSH)) == 0 && (tcp[13] & WIRE_ACK);
}

static bool gso_follows(const struct rt_gso *g, const uint8_t *pkt, size_t len, size_t ip_len, size_t hdr_len)
{
    if (g->closed || ip_len != g->ip_len || hdr_len != g->hdr_len || len - hdr_len > g->seg ||
        g->len + (len - hdr_len) > RT_GSO_MAX)
        return false;
    const uint8_t *a = g->pkt, *b = pkt;
    /* Same addresses (and IPv4 TTL/TOS, IPv6 flow label). */
    bool same_ip = ip_len == 20 ? !memcmp(a + 12, b + 12, 8) && a[1] == b[1] && a[8] == b[8]
                                : !memcmp(a, b, 4) && !memcmp(a + 8, b + 8, 32);
    if (!same_ip)
        return false;
    const uint8_t *ta = a + ip_len, *tb = b + ip_len;
    /* Ports, then ACK, offset, window and every option byte (TSval too);
     * the flags may differ in PSH only. */
    return !memcmp(ta, tb, 4) && get32(tb + 4) == g->next_seq && !memcmp(ta + 8, tb + 8, 5) &&
           !memcmp(ta + 14, tb + 14, 2) && !memcmp(ta + 18, tb + 18, hdr_len - ip_len - 18);
}

static void write_out(struct rt *rt, const struct tun_vnet_hdr *h, const uint8_t *pkt, size_t len, unsigned segs)
{
    ssize_t n;
    if (rt->vnet) {
        uint8_t hdr[TUN_VNET_HDR_LEN];
        tun_vnet_write(h, hdr);
        struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)pkt, len}};
        do
            n = writev(rt->tun_fd, iov, 2);
        while (n < 0 && errno == EINTR);
        n -= n >= TUN_VNET_HDR_LEN ? TUN_VNET_HDR_LEN : 0;
    } else {
        do
            n = write(rt->tun_fd, pkt, len);
        while (n < 0 && errno == EINTR);
    }
    if (n != (ssize_t)len)
        rt->link.TunOutErrors += segs; /* TCP retransmits what mattered */
    else
        rt->link.TunOutPackets += segs; /* counted as the segments on the wire */
}

/* Writes the held run: as it is when it is one segment, else as a GSO
 * packet with the lengths of the whole and the TCP checksum left partial
 * (the pseudo-header sum; the kernel completes it, RFC 1071). */
static void gso_flush(struct rt *rt)
{
    struct rt_gso *g = rt->gso;
    if (!g || !g->len)
        return;
    struct tun_vnet_hdr h = {0};
    if (g->count > 1) {
        uint8_t *ip = g->pkt, *tcp = g->pkt + g->ip_len;
        size_t tcp_len = g->len - g->ip_len;
        uint8_t pseudo[40];
        size_t plen;
        if (g->ip_len == 20) {
            put16(ip + 2, (uint16_t)g->len);
            put16(ip + 10, 0);
            put16(ip + 10, wire_csum_fold(wire_csum_add(0, ip, 20)));
            memcpy(pseudo, ip + 12, 8);
            pseudo[8] = 0;
            pseudo[9] = 6;
            put16(pseudo + 10, (uint16_t)tcp_len);
            plen = 12;
        } else {
            put16(ip + 4, (uint16_t)tcp_len);
            memcpy(pseudo, ip + 8, 32);
            pseudo[32] = (uint8_t)(tcp_len >> 24);
            pseudo[33] = (uint8_t)(tcp_len >> 16);
            pseudo[34] = (uint8_t)(tcp_len >> 8);
            pseudo[35] = (uint8_t)tcp_len;
            pseudo[36] = pseudo[37] = pseudo[38] = 0;
            pseudo[39] = 6;
            plen = 40;
        }
        put16(tcp + 16, (uint16_t)~wire_csum_fold(wire_csum_add(0, pseudo, plen)));
        h.flags = TUN_VNET_NEEDS_CSUM;
        h.gso_type = g->ip_len == 20 ? TUN_VNET_GSO_TCPV4 : TUN_VNET_GSO_TCPV6;
        h.hdr_len = (uint16_t)g->hdr_len;
        h.gso_size = g->seg;
        h.csum_start = (uint16_t)g->ip_len;
        h.csum_offset = 16;
        rt->link.TunOutGso++;
    }
    write_out(rt, &h, g->pkt, g->len, g->count);
    g->len = 0;
    g->count = 0;
}

/* ---- stack hooks ---- */
static void hook_output(void *ctx, const uint8_t *pkt, size_t len)
{
    struct rt *rt = ctx;
    if (lose_packet(rt))
        return;
    tcp_time_t now = rt_now();
    if (rt->pcap)
        pcap_writer_write(rt->pcap, now + rt->realtime_offset, pkt, len);
    if (rt->cfg.observer.packet)
        rt->cfg.observer.packet(rt->cfg.observer.ctx, true, pkt, len, now);
    struct rt_gso *g = rt->gso;
    size_t ip_len, hdr_len;
    if (!g || !gso_candidate(pkt, len, &ip_len, &hdr_len)) {
        gso_flush(rt);
        struct tun_vnet_hdr plain = {0};
        write_out(rt, &plain, pkt, len, 1);
        return;
    }
    size_t payload = len - hdr_len;
    if (g->len && gso_follows(g, pkt, len, ip_len, hdr_len)) {
        memcpy(g->pkt + g->len, pkt + hdr_len, payload);
        g->pkt[ip_len + 13] |= pkt[ip_len + 13]; /* PSH, if this one has it */
        g->len += payload;
    } else {
        gso_flush(rt);
        memcpy(g->pkt, pkt, len);
        g->len = len;
        g->ip_len = ip_len;
        g->hdr_len = hdr_len;
        g->seg = (uint16_t)payload;
    }
    g->count++;
    g->next_seq = get32(pkt + ip_len + 4) + (uint32_t)payload;
    g->closed = payload < g->seg || (pkt[ip_len + 13] & WIRE_PSH);
}

static void hook_state_change(void *ctx, const struct stack_state_change *ch)
{
    struct rt *rt = ctx;
    if (rt->cfg.observer.state_change)
        rt->cfg.observer.state_change(rt->cfg.observer.ctx, ch);
    if (rt->cfg.events) {
        event_head(rt, "state", ch->now);
        fprintf(rt->cfg.events, ",\"from\":\"%s\",\"to\":\"%s\",\"sd\":%d", tcp_state_name(ch->from),
                tcp_state_name(ch->to), ch->sd);
        struct wire_endpoint local = {ch->tuple.src, ch->tuple.sport}, remote = {ch->tuple.dst, ch->tuple.dport};
        event_tuple(rt, &local, &remote);
        fputs("}\n", rt->cfg.events);
        fflush(rt->cfg.events);
    }
}

static void hook_ready(void *ctx, int sd, unsigned events)
{
    (void)events; /* polled again when delivered: it may change before */
    rt_sock_kick(ctx, sd);
}

/* ---- stack descriptors ---- */
int rt_sock_watch(struct rt *rt, int sd, rt_sock_fn fn, void *arg)
{
    if (sd < 0 || (uint32_t)sd >= rt->nsocks || !fn)
        return -EBADF;
    rt->socks[sd].fn = fn;
    rt->socks[sd].arg = arg;
    return 0;
}

void rt_sock_unwatch(struct rt *rt, int sd)
{
    if (sd >= 0 && (uint32_t)sd < rt->nsocks) {
        rt->socks[sd].fn = NULL;
        rt->socks[sd].arg = NULL;
    }
}

void rt_sock_kick(struct rt *rt, int sd)
{
    if (sd < 0 || (uint32_t)sd >= rt->nsocks || !rt->socks[sd].fn || rt->queued[sd])
        return;
    rt->queued[sd] = 1;
    rt->queue[rt->nqueue++] = sd;
}

static void dispatch(struct rt *rt)
{
    for (int round = 0; round < RT_DISPATCH_ROUNDS && rt->nqueue; round++) {
        size_t n = rt->nqueue;
        int *work = rt->queue;
        rt->queue = rt->work;
        rt->work = work;
        rt->nqueue = 0;
        for (size_t i = 0; i < n; i++)
            rt->queued[work[i]] = 0;
        for (size_t i = 0; i < n; i++) {
            int sd = work[i];
            struct rt_sock_watcher w = rt->socks[sd];
            if (w.fn)
                w.fn(rt, sd, stack_poll(rt->stack, sd), w.arg);
        }
    }
}

/* ---- file descriptors ---- */
static struct rt_fd_watcher *fd_find(struct rt *rt, int fd)
{
    for (size_t i = 0; i < rt->nfds; i++)
        if (rt->fds[i].fd == fd)
            return &rt->fds[i];
    return NULL;
}

int rt_fd_watch(struct rt *rt, int fd, uint32_t events, rt_fd_fn fn, void *arg)
{
    if (fd < 0 || !fn || fd_find(rt, fd)) {
        errno = EINVAL;
        return -1;
    }
    if (rt->nfds == rt->capfds) {
        size_t cap = rt->capfds ? rt->capfds * 2 : 16;
        struct rt_fd_watcher *fds = realloc(rt->fds, cap * sizeof *fds);
        if (!fds)
            return -1;
        rt->fds = fds;
        rt->capfds = cap;
    }
    struct rt_fd_watcher w = {.fd = fd, .events = events, .fn = fn, .arg = arg};
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(rt->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        if (errno != EPERM)
            return -1;
        w.always_ready = true;
    }
    rt->fds[rt->nfds++] = w;
    return 0;
}

int rt_fd_modify(struct rt *rt, int fd, uint32_t events)
{
    struct rt_fd_watcher *w = fd_find(rt, fd);
    if (!w) {
        errno = EBADF;
        return -1;
    }
    w->events = events;
    if (w->always_ready)
        return 0;
    struct epoll_event ev = {.events = events, .data.fd = fd};
    return epoll_ctl(rt->epfd, EPOLL_CTL_MOD, fd, &ev);
}

void rt_fd_unwatch(struct rt *rt, int fd)
{
    struct rt_fd_watcher *w = fd_find(rt, fd);
    if (!w)
        return;
    if (!w->always_ready)
        epoll_ctl(rt->epfd, EPOLL_CTL_DEL, fd, NULL);
    *w = rt->fds[--rt->nfds];
}

static void fd_event(struct rt *rt, int fd, uint32_t events)
{
    struct rt_fd_watcher *w = fd_find(rt, fd);
    if (!w)
        return;
    rt_fd_fn fn = w->fn;
    void *arg = w->arg;
    fn(rt, fd, events, arg);
}

static bool always_ready_pending(const struct rt *rt)
{
    for (size_t i = 0; i < rt->nfds; i++)
        if (rt->fds[i].always_ready && rt->fds[i].events)
            return true;
    return false;
}

static void run_always_ready(struct rt *rt)
{
    /* Watchers may come and go in the callbacks: walk by fd. */
    int fds[RT_MAX_EVENTS];
    size_t n = 0;
    for (size_t i = 0; i < rt->nfds && n < RT_MAX_EVENTS; i++)
        if (rt->fds[i].always_ready && rt->fds[i].events)
            fds[n++] = rt->fds[i].fd;
    for (size_t i = 0; i < n; i++) {
        struct rt_fd_watcher *w = fd_find(rt, fds[i]);
        if (w && w->events)
            fd_event(rt, fds[i], w->events & (EPOLLIN | EPOLLOUT));
    }
}

/* ---- timers ---- */
void rt_timer_init(struct rt_timer *t, rt_timer_fn fn, void *arg)
{
    memset(t, 0, sizeof *t);
    t->fn = fn;
    t->arg = arg;
}

static void heap_swap(struct rt *rt, size_t a, size_t b)
{
    struct rt_timer *t = rt->heap[a];
    rt->heap[a] = rt->heap[b];
    rt->heap[b] = t;
    rt->heap[a]->slot = a + 1;
    rt->heap[b]->slot = b + 1;
}

static void heap_up(struct rt *rt, size_t i)
{
    while (i > 0 && rt->heap[(i - 1) / 2]->at > rt->heap[i]->at) {
        heap_swap(rt, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(struct rt *rt, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < rt->nheap && rt->heap[l]->at < rt->heap[m]->at)
            m = l;
        if (r < rt->nheap && rt->heap[r]->at < rt->heap[m]->at)
            m = r;
        if (m == i)
            return;
        heap_swap(rt, i, m);
        i = m;
    }
}

void rt_timer_cancel(struct rt *rt, struct rt_timer *t)
{
    if (!t->slot)
        return;
    size_t i = t->slot - 1;
    t->slot = 0;
    rt->nheap--;
    if (i == rt->nheap)
        return;
    rt->heap[i] = rt->heap[rt->nheap];
    rt->heap[i]->slot = i + 1;
    heap_down(rt, i);
    heap_up(rt, i);
}

void rt_timer_arm(struct rt *rt, struct rt_timer *t, tcp_time_t at)
{
    rt_timer_cancel(rt, t);
    if (rt->nheap == rt->capheap) {
        size_t cap = rt->capheap ? rt->capheap * 2 : 64;
        struct rt_timer **heap = realloc(rt->heap, cap * sizeof *heap);
        if (!heap) {
            /* Out of memory: fire on the next pass rather than never. */
            t->at = 0;
            t->fn(rt, t);
            return;
        }
        rt->heap = heap;
        rt->capheap = cap;
    }
    t->at = at;
    rt->heap[rt->nheap] = t;
    t->slot = ++rt->nheap;
    heap_up(rt, rt->nheap - 1);
}

static void run_timers(struct rt *rt, tcp_time_t now)
{
    while (rt->nheap && rt->heap[0]->at <= now) {
        struct rt_timer *t = rt->heap[0];
        rt_timer_cancel(rt, t);
        t->fn(rt, t);
    }
}

/* ---- packets in ---- */
static void packet_in(struct rt *rt, const uint8_t *pkt, size_t len)
{
    tcp_time_t now = rt_now();
    rt->link.TunInPackets++;
    if (lose_packet(rt))
        return;
    struct tun_ip_info ip;
    if (!tun_ip_info(pkt, len, &ip)) {
        rt->link.TunInTruncated++;
        return;
    }
    /* Neighbour solicitations, MLD reports, router solicitations... go to
     * multicast addresses: not ours. */
    if (!rt_is_local_addr(rt, &ip.dst)) {
        rt->link.TunInNotOurs++;
        return;
    }
    if (rt->pcap)
        pcap_writer_write(rt->pcap, now + rt->realtime_offset, pkt, len);
    if ((ip.version == 4 && ip.protocol == 1) || (ip.version == 6 && ip.protocol == 58)) {
        rt->link.TunInIcmp++; /* TCP here needs no ICMP: no PMTU discovery on a TUN link */
        return;
    }
    if (rt->cfg.observer.packet)
        rt->cfg.observer.packet(rt->cfg.observer.ctx, false, pkt, len, now);
    stack_input(rt->stack, pkt, len, now);
}

static int read_tun(struct rt *rt)
{
    for (int i = 0; i < RT_READ_BATCH; i++) {
        ssize_t n = read(rt->tun_fd, rt->pkt, sizeof rt->pkt);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            snprintf(rt->error, sizeof rt->error, "reading %s: %s", rt->tun_name, strerror(errno));
            return -1;
        }
        if (n > 0 && rt->vnet) {
            struct tun_vnet_hdr h;
            if (n < TUN_VNET_HDR_LEN) {
                rt->link.TunInTruncated++;
                continue;
            }
            tun_vnet_read(rt->pkt, &h);
            uint8_t *ip = rt->pkt + TUN_VNET_HDR_LEN;
            size_t len = (size_t)n - TUN_VNET_HDR_LEN;
            rt->link.TunInGso += h.gso_type != TUN_VNET_GSO_NONE;
            if (!tun_vnet_finish(&h, ip, len))
                rt->link.TunInTruncated++;
            else
                packet_in(rt, ip, len);
        } else if (n > 0) {
            packet_in(rt, rt->pkt, (size_t)n);
        }
        dispatch(rt);
    }
    return 0;
}

/* ---- the loop ---- */
static int timeout_ms(struct rt *rt, int max_wait_ms)
{
    if (rt->nqueue || always_ready_pending(rt) || rt->stopping)
        return 0;
    tcp_time_t next = stack_next_timer(rt->stack);
    if (rt->nheap && rt->heap[0]->at < next)
        next = rt->heap[0]->at;
    int ms = -1;
    if (next != TCP_TIME_NEVER) {
        tcp_time_t now = rt_now();
        tcp_time_t wait = next > now ? next - now : 0;
        tcp_time_t w = (wait + 999) / 1000; /* round up: never wake early and spin */
        ms = w > INT_MAX ? INT_MAX : (int)w;
    }
    if (max_wait_ms >= 0 && (ms < 0 || ms > max_wait_ms))
        ms = max_wait_ms;
    return ms;
}

static void run_due(struct rt *rt)
{
    tcp_time_t now = rt_now();
    if (stack_next_timer(rt->stack) <= now)
        stack_tick(rt->stack, now);
    dispatch(rt);
    run_timers(rt, now);
    dispatch(rt);
}

int rt_run_once(struct rt *rt, int max_wait_ms)
{
    run_due(rt);
    gso_flush(rt); /* nothing stays held while the loop sleeps */
    struct epoll_event evs[RT_MAX_EVENTS];
    int n = epoll_wait(rt->epfd, evs, RT_MAX_EVENTS, timeout_ms(rt, max_wait_ms));
    if (n < 0) {
        if (errno == EINTR)
            return 0;
        snprintf(rt->error, sizeof rt->error, "epoll_wait: %s", strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        int fd = evs[i].data.fd;
        if (fd == rt->tun_fd) {
            if (read_tun(rt) < 0)
                return -1;
        } else if (fd == rt->stop_fd) {
            uint64_t v;
            if (read(rt->stop_fd, &v, sizeof v) < 0 && errno != EAGAIN)
                return -1;
        } else {
            fd_event(rt, fd, evs[i].events);
        }
        dispatch(rt);
    }
    run_always_ready(rt);
    dispatch(rt);
    run_due(rt);
    gso_flush(rt);
    return 0;
}

int rt_run(struct rt *rt)
{
    while (!rt->stopping)
        if (rt_run_once(rt, -1) < 0)
            return -1;
    return 0;
}

void rt_stop(struct rt *rt)
{
    rt->stopping = 1;
    uint64_t one = 1;
    ssize_t n = write(rt->stop_fd, &one, sizeof one);
    (void)n;
}

/* ---- setup ---- */
static int setup_device(struct rt *rt, char *err, size_t errlen)
{
    const char *name = rt->cfg.tun_name[0] ? rt->cfg.tun_name : NULL;
    if (rt->cfg.offload) {
        rt->tun_fd = tun_open_offload(name, rt->tun_name, err, errlen);
        rt->vnet = rt->tun_fd >= 0;
        if (rt->vnet && !(rt->gso = calloc(1, sizeof *rt->gso))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    if (rt->tun_fd < 0) /* offloads not wanted (or refused): plain packets */
        rt->tun_fd = tun_open(name, rt->tun_name, err, errlen);
    if (rt->tun_fd < 0)
        return -1;
    if (rt->cfg.mtu && tun_set_mtu(rt->tun_name, rt->cfg.mtu, err, errlen) < 0)
        return -1;
    size_t v4 = 0;
    for (size_t i = 0; i < rt->cfg.nkernel_addrs; i++)
        v4 += wire_addr_is_v4(&rt->cfg.kernel_addrs[i].addr);
    if (v4 > 1) { /* SIOCSIFADDR replaces the IPv4 address: one only */
        snprintf(err, errlen, "the kernel's end takes one IPv4 address (and any number of IPv6 ones)");
        return -1;
    }
    for (size_t i = 0; i < rt->cfg.nkernel_addrs; i++) {
        const struct rt_addr *a = &rt->cfg.kernel_addrs[i];
        if (rt_is_local_addr(rt, &a->addr)) {
            char s[WIRE_ADDR_STRLEN];
            snprintf(err, errlen, "%s cannot be both synack's address and the kernel's", wire_addr_str(&a->addr, s));
            return -1;
        }
        if (tun_add_kernel_addr(rt->tun_name, &a->addr, a->prefix, err, errlen) < 0)
            return -1;
    }
    if (tun_set_up(rt->tun_name, err, errlen) < 0)
        return -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = rt->tun_fd};
    if (epoll_ctl(rt->epfd, EPOLL_CTL_ADD, rt->tun_fd, &ev) < 0) {
        snprintf(err, errlen, "epoll: %s", strerror(errno));
        return -1;
    }
    return 0;
}

struct rt *rt_new(const struct rt_config *cfg, char *err, size_t errlen)
{
    if (cfg->naddrs == 0 || cfg->naddrs > RT_MAX_ADDRS || cfg->nkernel_addrs > RT_MAX_ADDRS) {
        snprintf(err, errlen, "synack needs one to %d addresses of its own", RT_MAX_ADDRS);
        return NULL;
    }
    if (cfg->mtu && (cfg->mtu < TUN_MTU_MIN || cfg->mtu > TUN_MTU_MAX)) {
        snprintf(err, errlen, "MTU %d is outside %d..%d", cfg->mtu, TUN_MTU_MIN, TUN_MTU_MAX);
        return NULL;
    }
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return NULL;
    }
    struct rt *rt = calloc(1, sizeof *rt);
    if (!rt) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    rt->cfg = *cfg;
    rt->tun_fd = rt->epfd = rt->stop_fd = -1;
    rt->mtu = cfg->mtu ? cfg->mtu : RT_DEFAULT_MTU;
    /* The MSS follows the link (tcp_mss: "clamped to the link MTU"). */
    if (rt->cfg.stack.tcp.tcp_mss > rt->mtu - 40)
        rt->cfg.stack.tcp.tcp_mss = rt->mtu - 40;
    if (!cfg->secret_given)
        randombytes_buf(rt->cfg.stack.secret, sizeof rt->cfg.stack.secret); /* RFC 6528 */
    rt->started = rt_now();
    rt->realtime_offset = realtime_us() - rt->started;
    rt->loss_state = cfg->loss_seed ? cfg->loss_seed : 0x9E3779B97F4A7C15ull;

    rt->epfd = epoll_create1(EPOLL_CLOEXEC);
    rt->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (rt->epfd < 0 || rt->stop_fd < 0) {
        snprintf(err, errlen, "epoll/eventfd: %s", strerror(errno));
        rt_free(rt);
        return NULL;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = rt->stop_fd};
    epoll_ctl(rt->epfd, EPOLL_CTL_ADD, rt->stop_fd, &ev);

    rt->nsocks = rt->cfg.stack.max_sockets;
    rt->socks = calloc(rt->nsocks, sizeof *rt->socks);
    rt->queued = calloc(rt->nsocks, 1);
    rt->queue = calloc(rt->nsocks, sizeof *rt->queue);
    rt->work = calloc(rt->nsocks, sizeof *rt->work);
    if (!rt->socks || !rt->queued || !rt->queue || !rt->work) {
        snprintf(err, errlen, "out of memory");
        rt_free(rt);
        return NULL;
    }
    if (setup_device(rt, err, errlen) < 0) {
        rt_free(rt);
        return NULL;
    }
    if (cfg->pcap_path) {
        rt->pcap = pcap_writer_open(cfg->pcap_path, err, errlen);
        if (!rt->pcap) {
            rt_free(rt);
            return NULL;
        }
    }
    struct stack_hooks hooks = {
        .ctx = rt, .output = hook_output, .state_change = hook_state_change, .ready = hook_ready};
    rt->stack = stack_new(&rt->cfg.stack, &hooks, rt->started);
    if (!rt->stack) {
        snprintf(err, errlen, "cannot start the stack (bad configuration or out of memory)");
        rt_free(rt);
        return NULL;
    }
    stack_set_local_addr(rt->stack, &rt->cfg.addrs[0].addr);
    if (cfg->control_path) {
        rt->ctl = ctl_server_new(rt, cfg->control_path, err, errlen);
        if (!rt->ctl) {
            rt_free(rt);
            return NULL;
        }
    }
    return rt;
}

void rt_free(struct rt *rt)
{
    if (!rt)
        return;
    ctl_server_free(rt->ctl);
    stack_free(rt->stack);
    pcap_writer_close(rt->pcap);
    if (rt->tun_fd >= 0)
        close(rt->tun_fd);
    if (rt->stop_fd >= 0)
        close(rt->stop_fd);
    if (rt->epfd >= 0)
        close(rt->epfd);
    free(rt->gso);
    free(rt->socks);
    free(rt->queued);
    free(rt->queue);
    free(rt->work);
    free(rt->fds);
    for (size_t i = 0; i < rt->nheap; i++)
        rt->heap[i]->slot = 0;
    free(rt->heap);
    free(rt);
}
