/* synack demo on a real wire. The process moves itself into a fresh,
 * anonymous network namespace (unshare(CLONE_NEWNET)): whatever it creates
 * there (the TUN device, its addresses, the kernel's sockets) disappears
 * with the namespace when the process and its children exit, even if they
 * are killed, so there is nothing to clean up by name. In it:
 *
 *     kernel   10.77.0.2/24 on synack0   curl, the kernel's TCP
 *     synack   10.77.0.1                 this process: HTTP on port 80
 *
 * (link/tun.h explains the addressing.) Every packet on the device goes
 * into the ladder's event log and the pcap; synack's states come from its
 * state_change hook, the kernel's are inferred from the segments (the
 * kernel does not tell) and checked against `ss -tan` at the end. */
#include "cli/demo_tun.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include "app/app.h"
#include "cli/commands.h"
#include "sim/events.h"
#include "sim/render.h"

#define DEMO_TUN "synack0"
#define DEMO_SYNACK_ADDR "10.77.0.1"
#define DEMO_KERNEL_ADDR "10.77.0.2"
#define DEMO_URL "http://" DEMO_SYNACK_ADDR "/"
#define DEMO_PCAP "synack-demo.pcap"
#define DEMO_LIMIT TCP_SEC(20)
#define DEMO_POLL TCP_MSEC(10)
#define DEMO_MAX_KCONNS 8

/* The kernel's side of a connection, as the segments show it. */
struct kconn {
    struct wire_tuple tuple; /* kernel-local view */
    enum tcp_state state;
    bool fin_sent;
    uint32_t fin_end; /* sequence number after the kernel's FIN */
};

struct demo {
    struct sim_log log;
    int kernel, synack; /* host indices in the log */
    tcp_time_t start;
    long current_in;    /* the segment being fed to the stack */
    tcp_time_t current_in_now;
    struct kconn k[DEMO_MAX_KCONNS];
    size_t nk;
    struct rt *rt;
    struct rt_timer poll;
    tcp_time_t deadline;
    pid_t client;
    int client_status;
    bool client_done, timed_out;
    int client_out;
    char body[4096];
    size_t body_len;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: synack demo [--pcap FILE] [--format text|json|mermaid|svg] [--simulated]\n\n"
            "The tour. As root (with /dev/net/tun) it runs on a real wire: in a network\n"
            "namespace of its own, synack serves HTTP on a TUN device, curl fetches from it\n"
            "with the kernel's TCP, both close, and the ladder diagram shows every segment\n"
            "with both hosts' states. The pcap stays behind; the namespace and the device go.\n"
            "Otherwise (or with --simulated) it replays a connection in virtual time.\n\n"
            "  --pcap FILE     where the capture goes (default " DEMO_PCAP ")\n"
            "  --format F      text (ladder, default), json (JSON lines), mermaid or svg\n"
            "  --simulated     the simulated tour, even as root\n");
}

static tcp_time_t rel(const struct demo *d, tcp_time_t now)
{
    /* Milliseconds, as the ladder prints them: what happens in one
     * millisecond shares a row's time, so a state change sits beside the
     * segment it caused. */
    return now > d->start ? (now - d->start) / 1000u * 1000u : 0;
}

/* ---- the kernel's states, inferred (RFC 9293 §3.3.2 Figure 5) ---- */
static struct kconn *kconn_find(struct demo *d, const struct wire_tuple *t, bool create)
{
    for (size_t i = 0; i < d->nk; i++)
        if (wire_tuple_eq(&d->k[i].tuple, t))
            return &d->k[i];
    if (!create || d->nk == DEMO_MAX_KCONNS)
        return NULL;
    struct kconn *k = &d->k[d->nk++];
    memset(k, 0, sizeof *k);
    k->tuple = *t;
    k->state = TCP_STATE_CLOSED;
    return k;
}

static void kstep(struct demo *d, struct kconn *k, enum tcp_state to, tcp_time_t t, long cause)
{
    if (k->state == to)
        return;
    sim_log_state(&d->log, t, d->kernel, k->state, to, &k->tuple, -1, cause);
    k->state = to;
}

static void kernel_infer(struct demo *d, const struct wire_seg *seg, bool kernel_sent, long index, tcp_time_t t)
{
    struct wire_tuple kt = kernel_sent ? seg->tuple : wire_tuple_reverse(&seg->tuple);
    uint8_t f = seg->flags;
    struct kconn *k = kconn_find(d, &kt, kernel_sent && (f & WIRE_SYN));
    if (!k)
        return;
    if (kernel_sent) {
        if (f & WIRE_RST) {
            kstep(d, k, TCP_STATE_CLOSED, t, -1);
            return;
        }
        if ((f & (WIRE_SYN | WIRE_ACK)) == WIRE_SYN)
            kstep(d, k, TCP_STATE_SYN_SENT, t, -1);
        else if (f & WIRE_SYN)
            kstep(d, k, TCP_STATE_SYN_RECEIVED, t, -1);
        if (f & WIRE_FIN) {
            k->fin_sent = true;
            k->fin_end = seg->seq + seg->payload_len + 1;
            if (k->state == TCP_STATE_ESTABLISHED)
                kstep(d, k, TCP_STATE_FIN_WAIT_1, t, -1);
            else if (k->state == TCP_STATE_CLOSE_WAIT)
                kstep(d, k, TCP_STATE_LAST_ACK, t, -1);
        }
        return;
    }
    if (f & WIRE_RST) {
        kstep(d, k, TCP_STATE_CLOSED, t, index);
        return;
    }
    if ((f & WIRE_SYN) && (f & WIRE_ACK) && k->state == TCP_STATE_SYN_SENT)
        kstep(d, k, TCP_STATE_ESTABLISHED, t, index);
    else if ((f & WIRE_ACK) && k->state == TCP_STATE_SYN_RECEIVED)
        kstep(d, k, TCP_STATE_ESTABLISHED, t, index);
    if ((f & WIRE_ACK) && k->fin_sent && seq_ge(seg->ack, k->fin_end)) {
        if (k->state == TCP_STATE_FIN_WAIT_1)
            kstep(d, k, TCP_STATE_FIN_WAIT_2, t, index);
        else if (k->state == TCP_STATE_CLOSING)
            kstep(d, k, TCP_STATE_TIME_WAIT, t, index);
        else if (k->state == TCP_STATE_LAST_ACK)
            kstep(d, k, TCP_STATE_CLOSED, t, index);
    }
    if (f & WIRE_FIN) {
        if (k->state == TCP_STATE_ESTABLISHED)
            kstep(d, k, TCP_STATE_CLOSE_WAIT, t, index);
        else if (k->state == TCP_STATE_FIN_WAIT_1)
            kstep(d, k, TCP_STATE_CLOSING, t, index);
        else if (k->state == TCP_STATE_FIN_WAIT_2)
            kstep(d, k, TCP_STATE_TIME_WAIT, t, index);
    }
}

/* ---- the runtime's observer ---- */
static void on_packet(void *ctx, bool outgoing, const uint8_t *pkt, size_t len, tcp_time_t now)
{
    struct demo *d = ctx;
    struct wire_seg seg;
    if (wire_parse(pkt, len, 0, &seg) != WIRE_ERR_OK)
        return;
    struct sim_event e;
    memset(&e, 0, sizeof e);
    e.kind = SIM_EV_SEGMENT;
    e.t = e.arrives = rel(d, now);
    e.src = e.host = outgoing ? d->synack : d->kernel;
    e.dst = outgoing ? d->kernel : d->synack;
    e.flags = seg.flags;
    e.seq = seg.seq;
    e.ack = seg.ack;
    e.len = seg.payload_len;
    e.win = seg.window;
    e.opt = seg.opt;
    e.tuple = seg.tuple;
    e.cause = -1;
    long index = sim_log_push(&d->log, &e);
    if (index < 0)
        return;
    struct sim_event a;
    memset(&a, 0, sizeof a);
    a.kind = SIM_EV_ARRIVAL;
    a.t = e.t;
    a.host = e.dst;
    a.segment = index;
    a.cause = -1;
    sim_log_push(&d->log, &a);
    if (!outgoing) {
        d->current_in = index;
        d->current_in_now = now;
    }
    kernel_infer(d, &seg, !outgoing, index, e.t);
}

static void on_state(void *ctx, const struct stack_state_change *ch)
{
    struct demo *d = ctx;
    long cause = ch->now == d->current_in_now ? d->current_in : -1;
    sim_log_state(&d->log, rel(d, ch->now), d->synack, ch->from, ch->to, &ch->tuple, ch->sd, cause);
}

/* ---- the kernel's client ---- */
static bool find_in_path(const char *name)
{
    const char *path = getenv("PATH");
    char dir[512];
    while (path && *path) {
        size_t n = strcspn(path, ":");
        if (n && n < sizeof dir - strlen(name) - 2) {
            snprintf(dir, sizeof dir, "%.*s/%s", (int)n, path, name);
            if (access(dir, X_OK) == 0)
                return true;
        }
        path += n + (path[n] == ':');
    }
    return false;
}

/* No curl: the same request with a kernel socket. */
static int builtin_fetch(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(80)};
    sa.sin_addr.s_addr = htonl(0x0a4d0001); /* 10.77.0.1 */
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        return 7;
    static const char req[] = "GET / HTTP/1.1\r\nHost: " DEMO_SYNACK_ADDR "\r\nUser-Agent: synack-demo\r\n\r\n";
    if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1))
        return 55;
    char buf[4096];
    size_t len = 0;
    const char *body = NULL;
    long clen = -1;
    while (len < sizeof buf - 1) {
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        if (!body && (body = strstr(buf, "\r\n\r\n"))) {
            body += 4;
            const char *cl = strstr(buf, "Content-Length: ");
            clen = cl ? strtol(cl + 16, NULL, 10) : 0;
        }
        if (body && (long)(buf + len - body) >= clen)
            break;
    }
    if (body && write(1, body, (size_t)(buf + len - body)) < 0)
        return 23;
    close(fd);
    return body ? 0 : 56;
}

static pid_t start_client(int *out_fd, bool use_curl)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(p[1], 1);
        if (use_curl) {
            execlp("curl", "curl", "-sS", "--max-time", "10", DEMO_URL, (char *)NULL);
            _exit(127);
        }
        _exit(builtin_fetch());
    }
    close(p[1]);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    *out_fd = p[0];
    return pid;
}

static void on_client_out(struct rt *rt, int fd, uint32_t events, void *arg)
{
    (void)events;
    struct demo *d = arg;
    for (;;) {
        char tmp[1024];
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0 || errno != EAGAIN)
                rt_fd_unwatch(rt, fd);
            return;
        }
        size_t room = sizeof d->body - 1 - d->body_len;
        size_t take = (size_t)n < room ? (size_t)n : room;
        memcpy(d->body + d->body_len, tmp, take);
        d->body_len += take;
        d->body[d->body_len] = '\0';
    }
}

/* Done when the client has exited and synack holds nothing but its
 * listener and TIME-WAIT entries. */
static void count_busy(void *ctx, const struct stack_conn_info *c)
{
    if (c->state != TCP_STATE_LISTEN && c->state != TCP_STATE_TIME_WAIT)
        ++*(size_t *)ctx;
}

static void poll_tick(struct rt *rt, struct rt_timer *t)
{
    struct demo *d = t->arg;
    if (!d->client_done && waitpid(d->client, &d->client_status, WNOHANG) == d->client) {
        d->client_done = true;
        sim_log_note(&d->log, rel(d, rt_now()), d->kernel, "curl has exited (its close() sent the FIN above)");
    }
    size_t busy = 0;
    stack_walk(rt_stack(rt), count_busy, &busy);
    if (d->client_done && busy == 0) {
        rt_stop(rt);
        return;
    }
    if (rt_now() > d->deadline) {
        d->timed_out = true;
        rt_stop(rt);
        return;
    }
    rt_timer_arm(rt, t, rt_now() + DEMO_POLL);
}

/* ---- the kernel's view afterwards ---- */
static void kernel_ss(char *buf, size_t cap)
{
    buf[0] = '\0';
    if (!find_in_path("ss"))
        return;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        execlp("ss", "ss", "-tan", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char out[8192];
    size_t len = 0;
    ssize_t n;
    while (pid > 0 && len < sizeof out - 1 && (n = read(p[0], out + len, sizeof out - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(p[0]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    size_t used = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strstr(line, DEMO_SYNACK_ADDR ":80"))
            continue;
        /* collapse runs of spaces */
        char clean[256];
        size_t c = 0;
        for (const char *s = line; *s && c + 1 < sizeof clean; s++)
            if (*s != ' ' || (c && clean[c - 1] != ' '))
                clean[c++] = *s;
        while (c && clean[c - 1] == ' ')
            c--;
        clean[c] = '\0';
        int w = snprintf(buf + used, cap - used, "    %s\n", clean);
        if (w < 0 || (size_t)w >= cap - used)
            break;
        used += (size_t)w;
    }
}

static int parse_args(int argc, char **argv, const char **pcap, int *format, bool *simulated)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--simulated")) {
            *simulated = true;
        } else if (!strcmp(a, "--pcap") || !strcmp(a, "--format")) {
            if (i + 1 >= argc || !argv[i + 1][0])
                return cli_usage_error("demo", "%s needs a value", a);
            if (!strcmp(a, "--pcap")) {
                *pcap = argv[++i];
            } else {
                *format = sim_format_parse(argv[++i]);
                if (*format < 0)
                    return cli_usage_error("demo", "--format: '%s' is not text, json, mermaid or svg", argv[i]);
            }
        } else {
            return cli_usage_error("demo", "unexpected argument '%s' (see synack demo --help)", a);
        }
    }
    return CLI_OK;
}

int demo_tun_run(int argc, char **argv)
{
    const char *pcap = DEMO_PCAP;
    int format = SIM_FORMAT_TEXT;
    bool simulated = false;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return CLI_OK;
        }
    int rc = parse_args(argc, argv, &pcap, &format, &simulated);
    if (rc != CLI_OK)
        return rc;
    if (simulated)
        return DEMO_TUN_FALLBACK;
    if (!tun_available()) {
        printf("(The tour on a real wire needs root, or CAP_NET_ADMIN, and /dev/net/tun: it creates\n"
               " a network namespace and a TUN device. Run it as root to see synack and the Linux\n"
               " kernel talk; here is the simulated tour instead.)\n\n");
        return DEMO_TUN_FALLBACK;
    }
    if (unshare(CLONE_NEWNET) < 0) {
        printf("(Cannot create a network namespace: %s. The simulated tour instead.)\n\n", strerror(errno));
        return DEMO_TUN_FALLBACK;
    }

    struct demo d;
    memset(&d, 0, sizeof d);
    d.current_in = -1;
    d.current_in_now = TCP_TIME_NEVER;
    d.client_out = -1;
    sim_log_init(&d.log);
    struct rt_addr kaddr, saddr;
    rt_addr_parse(DEMO_KERNEL_ADDR "/24", &kaddr);
    rt_addr_parse(DEMO_SYNACK_ADDR "/24", &saddr);
    d.kernel = sim_log_add_host(&d.log, "kernel (curl)", &kaddr.addr);
    d.synack = sim_log_add_host(&d.log, "synack", &saddr.addr);

    struct rt_config cfg;
    rt_config_default(&cfg);
    snprintf(cfg.tun_name, sizeof cfg.tun_name, DEMO_TUN);
    cfg.addrs[cfg.naddrs++] = saddr;
    cfg.kernel_addrs[cfg.nkernel_addrs++] = kaddr;
    cfg.pcap_path = pcap;
    cfg.app_name = "http";
    cfg.observer = (struct rt_observer){.ctx = &d, .packet = on_packet, .state_change = on_state};
    char err[256];
    d.rt = rt_new(&cfg, err, sizeof err);
    if (!d.rt) {
        sim_log_free(&d.log);
        printf("(Cannot set up the TUN device: %s. The simulated tour instead.)\n\n", err);
        return DEMO_TUN_FALLBACK;
    }
    d.start = rt_started(d.rt);
    struct app_server_config scfg;
    app_server_config_default(&scfg);
    scfg.listen[scfg.nlisten].addr = saddr.addr;
    scfg.listen[scfg.nlisten++].port = 80;
    struct app_server *srv = app_server_start(d.rt, &scfg, err, sizeof err);
    if (!srv) {
        rt_free(d.rt);
        sim_log_free(&d.log);
        printf("(Cannot start the HTTP server: %s. The simulated tour instead.)\n\n", err);
        return DEMO_TUN_FALLBACK;
    }

    bool use_curl = find_in_path("curl");
    sim_log_note(&d.log, rel(&d, rt_now()), d.kernel, "%s " DEMO_URL " (the kernel's TCP)",
                 use_curl ? "curl" : "a kernel-socket client (no curl installed) fetches");
    d.client = start_client(&d.client_out, use_curl);
    if (d.client < 0) {
        app_server_free(srv);
        rt_free(d.rt);
        sim_log_free(&d.log);
        return cli_fail("demo", "cannot start the client: %s", strerror(errno));
    }
    rt_fd_watch(d.rt, d.client_out, EPOLLIN, on_client_out, &d);
    d.deadline = rt_now() + DEMO_LIMIT;
    rt_timer_init(&d.poll, poll_tick, &d);
    rt_timer_arm(d.rt, &d.poll, rt_now() + DEMO_POLL);
    rt_stop_on_signals(d.rt);
    int run = rt_run(d.rt);
    rt_stop_on_signals(NULL);
    if (run < 0)
        snprintf(err, sizeof err, "%s", rt_error(d.rt));
    if (!d.client_done) {
        kill(d.client, SIGKILL);
        waitpid(d.client, &d.client_status, 0);
    }
    on_client_out(d.rt, d.client_out, EPOLLIN, &d);
    rt_fd_unwatch(d.rt, d.client_out);
    close(d.client_out);
    rt_timer_cancel(d.rt, &d.poll);

    char kss[2048];
    kernel_ss(kss, sizeof kss);
    const struct tcp_counters *tc = stack_counters(rt_stack(d.rt));
    unsigned long long in = tc->InSegs, out = tc->OutSegs;
    app_server_free(srv);
    rt_free(d.rt); /* the device goes; the pcap is closed */

    bool client_ok = d.client_done && WIFEXITED(d.client_status) && WEXITSTATUS(d.client_status) == 0;
    int status = CLI_OK;
    if (format != SIM_FORMAT_TEXT) {
        snprintf(d.log.name, sizeof d.log.name, "demo");
        snprintf(d.log.description, sizeof d.log.description,
                 "synack's HTTP server and curl (the kernel's TCP) over a TUN device, real time");
        if (sim_render(&d.log, (enum sim_format)format, stdout) < 0)
            status = cli_fail("demo", "cannot write the diagram");
    } else {
        printf("synack demo: synack's TCP against the Linux kernel's, on a real wire.\n\n"
               "In a network namespace of its own, a TUN device " DEMO_TUN " joins two hosts:\n"
               "  kernel (curl)  " DEMO_KERNEL_ADDR "/24 on " DEMO_TUN ", the kernel's TCP\n"
               "  synack         " DEMO_SYNACK_ADDR ", this process: an HTTP server on port 80\n\n"
               "Every segment on the wire and both hosts' states: synack's as its stack reports\n"
               "them, the kernel's inferred from the segments. Times in seconds.\n\n");
        sim_render_text(&d.log, stdout);
        printf("\n");
        if (d.body_len)
            printf("curl received: %s%s", d.body, d.body[d.body_len - 1] == '\n' ? "" : "\n");
        if (kss[0])
            printf("The kernel's side afterwards (ss -tan):\n%s"
                   "  Whoever closes first holds the TIME-WAIT (60 s on Linux); the other side is CLOSED.\n",
                   kss);
        printf("synack: %llu segments in, %llu out. Capture: %s (tshark -r %s).\n"
               "The namespace and the TUN device are gone with this process.\n"
               "More: synack sim --list, synack serve --help.\n",
               in, out, pcap, pcap);
    }
    if (run < 0)
        status = cli_fail("demo", "%s", err);
    else if (d.timed_out)
        status = cli_fail("demo", "the exchange did not finish within %llu s", (unsigned long long)(DEMO_LIMIT / 1000000u));
    else if (!client_ok)
        status = cli_fail("demo", "the client failed (exit status %d)",
                          WIFEXITED(d.client_status) ? WEXITSTATUS(d.client_status) : -1);
    sim_log_free(&d.log);
    return status;
}
