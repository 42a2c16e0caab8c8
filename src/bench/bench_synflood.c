/* bench synflood: served clients under a simulated flood, the CPU cost of
 * a cookie SYN-ACK beside the kernel's, and the memory of a half-open
 * entry (bench_synflood.h says what each figure is). */
#include "bench/bench_synflood.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "bench/bench_internal.h"
#include "sim/flood_lab.h"
#include "stack/stack.h"
#include "tcp/tcp.h"

#define SF "synflood"
#define SF_SERVER BENCH_SERVER_ADDR    /* 198.18.0.2 */
#define SF_SPOOF_BASE 0xC6130000u      /* 198.19.0.0/16: the spoofed sources */
#define SF_SPOOF_SPAN 0xFFFEu
#define SF_RING 65536u                 /* distinct SYNs replayed in turn */
#define SF_MEMORY_ENTRIES 100000u
#define SF_KERNEL_PORT 8080

/* ---- crafted SYNs ---- */

/* n SYNs to dst:port from spoofed sources, each carrying what a Linux
 * client offers (MSS, SACK-permitted, timestamps, wscale 7): the case where
 * a cookie must also carry options in its timestamp. distinct: sources
 * numbered in order (no two alike) rather than drawn at random. */
struct syn_ring {
    uint8_t (*pkt)[64];
    uint8_t *len;
    uint32_t n;
};

static int syn_ring_build(struct syn_ring *ring, uint32_t n, uint32_t dst, uint16_t port, bool distinct)
{
    ring->pkt = malloc((size_t)n * sizeof *ring->pkt);
    ring->len = malloc(n);
    ring->n = n;
    if (!ring->pkt || !ring->len)
        return -1;
    uint64_t x = 0x2545f4914f6cdd1du;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t rnd = bench_rand(&x);
        struct wire_seg s = {0};
        s.tuple.src = wire_addr_v4(SF_SPOOF_BASE + 1 + (distinct ? i / 60000 : (uint32_t)(rnd % SF_SPOOF_SPAN)));
        s.tuple.dst = wire_addr_v4(dst);
        s.tuple.sport = (uint16_t)(1024 + (distinct ? i % 60000 : (rnd >> 20) % 60000));
        s.tuple.dport = port;
        s.ip_version = 4;
        s.flags = WIRE_SYN;
        s.seq = (uint32_t)(rnd >> 32);
        s.window = 64240;
        s.opt.present = WIRE_OPT_MSS | WIRE_OPT_SACK_PERM | WIRE_OPT_TIMESTAMP | WIRE_OPT_WSCALE;
        s.opt.mss = 1460;
        s.opt.wscale = 7;
        s.opt.ts_val = (uint32_t)rnd;
        size_t len = wire_build(ring->pkt[i], sizeof ring->pkt[i], &s);
        if (!len)
            return -1;
        ring->len[i] = (uint8_t)len;
    }
    return 0;
}

static void syn_ring_free(struct syn_ring *ring)
{
    free(ring->pkt);
    free(ring->len);
}

/* ---- a synack listener fed SYNs directly ---- */

struct sf_server {
    struct stack *s;
    uint64_t out;
};

static void sf_output(void *ctx, const uint8_t *pkt, size_t len)
{
    (void)pkt, (void)len;
    ((struct sf_server *)ctx)->out++;
}

static int sf_server_new(struct sf_server *sv, int64_t syncookies, uint32_t backlog)
{
    memset(sv, 0, sizeof *sv);
    struct stack_config cfg;
    stack_config_default(&cfg);
    memset(cfg.secret, 5, sizeof cfg.secret);
    cfg.max_sockets = 1024;
    cfg.tcp.tcp_syncookies = syncookies;
    cfg.tcp.tcp_max_syn_backlog = backlog;
    cfg.tcp.somaxconn = backlog;
    struct stack_hooks hooks = {.ctx = sv, .output = sf_output};
    sv->s = stack_new(&cfg, &hooks, TCP_SEC(1));
    if (!sv->s)
        return -1;
    struct wire_endpoint ep = {wire_addr_v4(SF_SERVER), BENCH_SERVER_PORT};
    int sd = stack_socket(sv->s);
    return sd < 0 || stack_bind(sv->s, sd, &ep) < 0 || stack_listen(sv->s, sd, (int)backlog) < 0 ? -1 : 0;
}

/* ---- (a) the simulated flood ---- */

struct sim_progress {
    const struct bench_opts *o;
    const char *mode;
    const struct flood_lab_params *p;
    struct bench_clock clock;
};

static void sim_progress(void *ctx, const struct flood_lab_result *r)
{
    struct sim_progress *sp = ctx;
    bench_progress(sp->o, "synflood sim, %s: t=%.1f of %.1f virtual s, %llu spoofed SYNs, %u of %u clients served, "
                          "%u gave up (%.1f s)",
                   sp->mode, (double)r->now / 1e6, (double)(sp->p->clients_end + sp->p->deadline) / 1e6,
                   (unsigned long long)r->syns_sent, r->served, sp->p->clients, r->gave_up,
                   bench_clock_wall_s(&sp->clock));
}

static int sim_figures(const struct bench_opts *o, struct bench_results *r)
{
    static const struct {
        int64_t cookies;
        const char *mode, *figure;
    } modes[] = {
        {1, "tcp_syncookies=1", "sim_served_cookies_on_pct"},
        {0, "tcp_syncookies=0", "sim_served_cookies_off_pct"},
        {2, "tcp_syncookies=2", "sim_served_cookies_2_pct"},
    };
    struct flood_lab_params p;
    flood_lab_default(&p);
    if (o->quick) { /* the same shape, scaled down to run in a second */
        p.syn_rate = 100000;
        p.clients = 1000;
        p.flood_end = TCP_SEC(3);
        p.clients_start = TCP_MSEC(300);
        p.clients_end = TCP_MSEC(1300);
        p.deadline = TCP_MSEC(1500);
    }
    bench_progress(o, "synflood sim%s: %llu spoofed SYN/s for %.1f virtual s against listen(%u), %u real clients "
                      "starting over [%.1f, %.1f) s, each served within %.1f s or it gives up",
                   o->quick ? " (quick: scaled down from 1,000,000 SYN/s and 10,000 clients)" : "",
                   (unsigned long long)p.syn_rate, (double)p.flood_end / 1e6, p.backlog, p.clients,
                   (double)p.clients_start / 1e6, (double)p.clients_end / 1e6, (double)p.deadline / 1e6);
    int rc = 0;
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        struct sim_progress sp = {o, modes[m].mode, &p, {0, 0}};
        bench_clock_start(&sp.clock);
        p.syncookies = modes[m].cookies;
        p.progress = o->progress ? sim_progress : NULL;
        p.progress_ctx = &sp;
        p.progress_every = o->quick ? TCP_SEC(1) : TCP_MSEC(500);
        struct flood_lab_result res;
        const char *why;
        if (flood_lab_run(&p, &res, &why) < 0 || res.conns_left) {
            fprintf(stderr, "synack: bench synflood: the simulation failed: %s\n",
                    why ? why : "connections left after the run");
            rc = -1;
            continue;
        }
        double pct = 100.0 * res.served / p.clients;
        bench_progress(o, "synflood sim, %s: %u of %u served (%.2f%%), %u gave up, %u failed; %llu SYNs, "
                          "SyncookiesSent %llu, TCPReqQFullDrop %llu; SYN queue peak %u of %u; served in %.0f ms "
                          "(p50) %.0f ms (p99); %llu events in %.1f s",
                       modes[m].mode, res.served, p.clients, pct, res.gave_up, res.failed,
                       (unsigned long long)res.syns_sent, (unsigned long long)res.server.SyncookiesSent,
                       (unsigned long long)res.server.TCPReqQFullDrop, res.syn_q_peak, res.syn_q_max,
                       (double)res.served_p50 / 1e3, (double)res.served_p99 / 1e3, (unsigned long long)res.events,
                       bench_clock_wall_s(&sp.clock));
        bench_figure_set(bench_figure_get(r, SF, modes[m].figure, "%", false), BENCH_SYNACK, pct);
        if (modes[m].cookies == 1 && res.served)
            bench_figure_set(bench_figure_get(r, SF, "sim_served_p99_ms", "ms", true), BENCH_SYNACK,
                             (double)res.served_p99 / 1e3);
    }
    return rc;
}

/* ---- (b) cookie SYN-ACKs per CPU-second ---- */

static int synack_cookie_rate(const struct bench_opts *o, struct bench_results *r)
{
    uint64_t n = o->quick ? 2000000u : 20000000u;
    struct syn_ring ring;
    struct sf_server sv;
    int rc = -1;
    if (syn_ring_build(&ring, SF_RING, SF_SERVER, BENCH_SERVER_PORT, false) < 0 || sf_server_new(&sv, 2, 128) < 0) {
        fprintf(stderr, "synack: bench synflood: cannot set the server up\n");
        goto out;
    }
    tcp_time_t now = TCP_SEC(1);
    for (uint32_t i = 0; i < SF_RING; i++) /* warm the caches */
        stack_input(sv.s, ring.pkt[i], ring.len[i], now++);
    sv.out = 0;
    struct bench_clock clock;
    bench_clock_start(&clock);
    for (uint64_t i = 0; i < n; i++)
        stack_input(sv.s, ring.pkt[i % SF_RING], ring.len[i % SF_RING], now++);
    double cpu = bench_clock_cpu_s(&clock);
    if (sv.out != n || stack_conn_count(sv.s) != 0) {
        fprintf(stderr, "synack: bench synflood: %llu SYNs gave %llu SYN-ACKs and %zu entries\n",
                (unsigned long long)n, (unsigned long long)sv.out, stack_conn_count(sv.s));
        goto out;
    }
    bench_progress(o, "synflood cpu, synack: %llu SYNs answered with cookies in %.3f CPU s (%.0f ns each)",
                   (unsigned long long)n, cpu, cpu * 1e9 / (double)n);
    bench_figure_set(bench_figure_get(r, SF, "cookie_synacks_per_cpu_s", "1/s", false), BENCH_SYNACK,
                     (double)n / cpu);
    rc = 0;
out:
    stack_free(sv.s);
    syn_ring_free(&ring);
    return rc;
}

/* The kernel's measure, done in a child process that leaves this one's
 * network alone: a namespace of its own, the listener on 198.18.0.2 (on
 * an ifb device, which drops whatever is sent through it, so SYN-ACKs to
 * the spoofed 198.19.0.0/16 die there), tcp_syncookies=2, SYNs sent with
 * a raw socket for a bounded time. */
struct kernel_result {
    int ok;
    long long cookies;
    double cpu_s, wall_s, process_s;
    char why[200];
};

static long long netstat_value(const char *group, const char *name)
{
    FILE *f = fopen("/proc/net/netstat", "r");
    if (!f)
        return -1;
    char head[8192], vals[8192];
    long long v = -1;
    while (v < 0 && fgets(head, sizeof head, f) && fgets(vals, sizeof vals, f)) {
        size_t gl = strlen(group);
        if (strncmp(head, group, gl) || head[gl] != ':')
            continue;
        char *sh, *sv;
        char *k = strtok_r(head + gl + 1, " \n", &sh), *val = strtok_r(vals + gl + 1, " \n", &sv);
        for (; k && val; k = strtok_r(NULL, " \n", &sh), val = strtok_r(NULL, " \n", &sv))
            if (!strcmp(k, name))
                v = atoll(val);
    }
    fclose(f);
    return v;
}

/* Ticks one CPU spent busy (/proc/stat: user, nice, system, irq, softirq,
 * steal): the sender and the kernel's softirq work for it, wherever the
 * kernel accounts the latter, and whatever else ran there. */
static long long cpu_busy_ticks(int cpu)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    char line[512], want[16];
    snprintf(want, sizeof want, "cpu%d ", cpu);
    long long ticks = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, want, strlen(want))) {
            unsigned long long user, nice, sys, idle, iowait, irq, softirq, steal;
            if (sscanf(line + strlen(want), "%llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle,
                       &iowait, &irq, &softirq, &steal) == 8)
                ticks = (long long)(user + nice + sys + irq + softirq + steal);
            break;
        }
    fclose(f);
    return ticks;
}

static double rusage_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int rc = fputs(text, f) < 0 ? -1 : 0;
    return fclose(f) != 0 ? -1 : rc;
}

static void kernel_measure(double seconds, struct kernel_result *kr)
{
    memset(kr, 0, sizeof *kr);
    int cpu = sched_getcpu();
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (cpu < 0 || sched_setaffinity(0, sizeof set, &set) < 0) {
        snprintf(kr->why, sizeof kr->why, "cannot pin to one CPU");
        return;
    }
    if (unshare(CLONE_NEWNET) < 0) {
        snprintf(kr->why, sizeof kr->why, "cannot make a network namespace (%s; needs root)", strerror(errno));
        return;
    }
    if (system("ip link set lo up && ip link add sf0 type ifb && ip link set sf0 up && "
               "ip addr add 198.18.0.2/15 dev sf0 2>/dev/null") != 0) {
        snprintf(kr->why, sizeof kr->why, "cannot set the namespace up with ip(8) (iproute2, ifb device)");
        return;
    }
    if (write_file("/proc/sys/net/ipv4/tcp_syncookies", "2") < 0) {
        snprintf(kr->why, sizeof kr->why, "cannot set tcp_syncookies in the namespace");
        return;
    }
    struct sockaddr_in server = {.sin_family = AF_INET, .sin_port = htons(SF_KERNEL_PORT)};
    server.sin_addr.s_addr = htonl(SF_SERVER);
    int lsd = socket(AF_INET, SOCK_STREAM, 0), raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (lsd < 0 || raw < 0 || bind(lsd, (struct sockaddr *)&server, sizeof server) < 0 || listen(lsd, 128) < 0) {
        snprintf(kr->why, sizeof kr->why, "cannot listen or open a raw socket (%s)", strerror(errno));
        return;
    }
    struct syn_ring ring;
    if (syn_ring_build(&ring, 4096, SF_SERVER, SF_KERNEL_PORT, false) < 0) {
        snprintf(kr->why, sizeof kr->why, "out of memory");
        return;
    }
    enum { BATCH = 64 };
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    long long cookies0 = netstat_value("TcpExt", "SyncookiesSent"), busy0 = cpu_busy_ticks(cpu);
    double proc0 = rusage_s();
    uint64_t start = bench_now_ns(), deadline = start + (uint64_t)(seconds * 1e9);
    uint32_t k = 0;
    while (bench_now_ns() < deadline) {
        memset(msgs, 0, sizeof msgs);
        for (int i = 0; i < BATCH; i++, k = (k + 1) % ring.n) {
            iov[i].iov_base = ring.pkt[k];
            iov[i].iov_len = ring.len[k];
            msgs[i].msg_hdr.msg_name = &server;
            msgs[i].msg_hdr.msg_namelen = sizeof server;
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        if (sendmmsg(raw, msgs, BATCH, 0) < 0 && errno != ENOBUFS) {
            snprintf(kr->why, sizeof kr->why, "sendmmsg: %s", strerror(errno));
            syn_ring_free(&ring);
            return;
        }
    }
    kr->wall_s = (double)(bench_now_ns() - start) / 1e9;
    kr->process_s = rusage_s() - proc0;
    long long cookies1 = netstat_value("TcpExt", "SyncookiesSent"), busy1 = cpu_busy_ticks(cpu);
    syn_ring_free(&ring);
    if (cookies0 < 0 || cookies1 < 0 || busy0 < 0 || busy1 < 0) {
        snprintf(kr->why, sizeof kr->why, "cannot read /proc/net/netstat or /proc/stat");
        return;
    }
    kr->cookies = cookies1 - cookies0;
    kr->cpu_s = (double)(busy1 - busy0) / (double)sysconf(_SC_CLK_TCK);
    if (kr->cpu_s < kr->process_s)
        kr->cpu_s = kr->process_s;
    kr->ok = kr->cookies > 0 && kr->cpu_s > 0;
    if (!kr->ok)
        snprintf(kr->why, sizeof kr->why, "the kernel sent no cookie");
}

static void kernel_cookie_rate(const struct bench_opts *o, struct bench_results *r)
{
    double seconds = o->quick ? 1.0 : 4.0;
    struct kernel_result kr = {0};
    int fds[2];
    if (pipe(fds) < 0) {
        bench_progress(o, "synflood cpu, linux: not measured (pipe: %s)", strerror(errno));
        return;
    }
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        alarm((unsigned)seconds + 30); /* whatever happens, the child ends */
        kernel_measure(seconds, &kr);
        ssize_t w = write(fds[1], &kr, sizeof kr);
        _exit(w == (ssize_t)sizeof kr ? 0 : 1);
    }
    close(fds[1]);
    bool got = false;
    if (child > 0) {
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        if (poll(&pfd, 1, (int)(seconds * 1000) + 60000) == 1)
            got = read(fds[0], &kr, sizeof kr) == (ssize_t)sizeof kr;
        else
            kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
    close(fds[0]);
    if (!got || !kr.ok) {
        bench_progress(o, "synflood cpu, linux: not measured (%s)", got ? kr.why : "the measuring process failed");
        return;
    }
    bench_progress(o, "synflood cpu, linux: %lld SYNs answered with cookies in %.2f s, its CPU busy %.2f s (the "
                      "sending process %.2f s of it, the rest softirq work and any other load on that CPU); the "
                      "raw socket's send path is part of the cost, synack's figure has no I/O at all",
                   kr.cookies, kr.wall_s, kr.cpu_s, kr.process_s);
    bench_figure_set(bench_figure_get(r, SF, "cookie_synacks_per_cpu_s", "1/s", false), BENCH_LINUX,
                     (double)kr.cookies / kr.cpu_s);
}

/* ---- (c) memory ---- */

static int memory_figures(const struct bench_opts *o, struct bench_results *r)
{
    const uint32_t n = SF_MEMORY_ENTRIES;
    struct syn_ring ring;
    struct sf_server held, cookies;
    memset(&held, 0, sizeof held);
    memset(&cookies, 0, sizeof cookies);
    int rc = -1;
    if (syn_ring_build(&ring, n, SF_SERVER, BENCH_SERVER_PORT, true) < 0 || sf_server_new(&held, 0, 2 * n) < 0 ||
        sf_server_new(&cookies, 2, 128) < 0) {
        fprintf(stderr, "synack: bench synflood: cannot set the memory measure up\n");
        goto out;
    }
    /* n half-open entries (tcp_syncookies=0, a SYN queue big enough). */
    size_t before = bench_heap_used();
    for (uint32_t i = 0; i < n; i++)
        stack_input(held.s, ring.pkt[i], ring.len[i], TCP_SEC(1) + i);
    size_t after = bench_heap_used();
    if (stack_conn_count(held.s) != n) {
        fprintf(stderr, "synack: bench synflood: %zu half-open entries of %u\n", stack_conn_count(held.s), n);
        goto out;
    }
    if (after <= before) { /* a sanitizer's allocator, which mallinfo2 does not see */
        bench_progress(o, "synflood memory, synack: not measured (the allocator shows no growth: a sanitizer build?)");
        bench_figure_set(bench_figure_get(r, SF, "sizeof_half_open_B", "B", true), BENCH_SYNACK,
                         (double)sizeof(struct tcp_req));
        rc = 0;
        goto out;
    }
    double half_open = (double)(after - before) / n;
    /* n SYNs answered with cookies: nothing may stay. */
    before = bench_heap_used();
    for (uint32_t i = 0; i < n; i++)
        stack_input(cookies.s, ring.pkt[i], ring.len[i], TCP_SEC(1) + i);
    after = bench_heap_used();
    double per_cookie = after > before ? (double)(after - before) / n : 0.0;
    if (cookies.out != n || stack_conn_count(cookies.s) != 0) {
        fprintf(stderr, "synack: bench synflood: cookies made %zu entries\n", stack_conn_count(cookies.s));
        goto out;
    }
    bench_progress(o, "synflood memory, synack: %u half-open entries take %.1f bytes each (sizeof(struct tcp_req) "
                      "%zu, the rest malloc's chunk header and the 4-tuple table); %u cookie SYN-ACKs keep %.1f "
                      "bytes each",
                   n, half_open, sizeof(struct tcp_req), n, per_cookie);
    bench_figure_set(bench_figure_get(r, SF, "half_open_B", "B", true), BENCH_SYNACK, half_open);
    bench_figure_set(bench_figure_get(r, SF, "sizeof_half_open_B", "B", true), BENCH_SYNACK,
                     (double)sizeof(struct tcp_req));
    bench_figure_set(bench_figure_get(r, SF, "kept_per_cookie_syn_B", "B", true), BENCH_SYNACK, per_cookie);
    rc = 0;
out:
    stack_free(held.s);
    stack_free(cookies.s);
    syn_ring_free(&ring);
    return rc;
}

static void kernel_memory(const struct bench_opts *o, struct bench_results *r)
{
    bool documented;
    size_t size = lx_slab_object_size("request_sock_TCP", &documented);
    if (!size || documented) {
        bench_progress(o, "synflood memory, linux: not measured (/proc/slabinfo unreadable)");
        return;
    }
    bench_progress(o, "synflood memory, linux: a half-open entry is a request_sock_TCP slab object of %zu bytes "
                      "(/proc/slabinfo)", size);
    bench_figure_set(bench_figure_get(r, SF, "half_open_B", "B", true), BENCH_LINUX, (double)size);
    bench_figure_set(bench_figure_get(r, SF, "sizeof_half_open_B", "B", true), BENCH_LINUX, (double)size);
}

int bench_synflood(const struct bench_opts *o, struct bench_results *r)
{
    int rc = 0;
    if (o->peer[BENCH_SYNACK]) {
        rc |= sim_figures(o, r);
        rc |= synack_cookie_rate(o, r);
        rc |= memory_figures(o, r);
    }
    if (o->peer[BENCH_LINUX]) {
        kernel_cookie_rate(o, r);
        kernel_memory(o, r);
    }
    return rc ? -1 : 0;
}
