/* Differential tests: running a script against synack or the kernel (diff.h). */
#include "diff.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/rt.h"
#include "interop.h"

#define SUBJECT_DEV_SYNACK "dfs0"
#define SUBJECT_DEV_KERNEL "dfk0" /* ours; dfk1 is in the kernel subject's namespace */
#define NFT_TABLE "synackdiff"
#define DROP_WINDOW_MS 300   /* how long a step's drop rule stays */
#define SETTLE_MS 200        /* states unchanged this long, no retransmission pending: settled */
#define SETTLE_MAX_MS IO_LIGHT(8000, 20000) /* a peer that never answers: give up waiting */

struct diff_env {
    int ns_ours, ns_kernel;     /* namespace descriptors */
    int diag_ours, diag_kernel; /* NETLINK_SOCK_DIAG sockets in each */
    struct rt *rt;
    /* the run in progress */
    bool synack;
    struct diff_trace *trace;
    uint16_t subject_port, peer_port;
    struct in_addr subject_addr, peer_addr;
};

/* One end of the connection under test. */
struct end {
    bool synack; /* a synack descriptor, else a kernel fd */
    bool in_kernel_ns;
    int listener, conn;
    struct in_addr addr;
    uint16_t port;
};

static void run(const char *const argv[])
{
    char out[1024];
    int st = io_run(argv, out, sizeof out, 5000);
    if (st != 0)
        fail_msg("%s %s %s failed: %s", argv[0], argv[1], argv[2] ? argv[2] : "", out);
}

/* nft with one argument: commands separated by ';'. (No shell: under
 * valgrind a traced sh per rule would cost a second each.) */
static void nft(const char *cmds)
{
    const char *const argv[] = {"nft", cmds, NULL};
    run(argv);
}

static int diag_socket(void)
{
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    assert_true(fd >= 0);
    return fd;
}

static void enter(struct diff_env *e, bool kernel_ns)
{
    assert_int_equal(setns(kernel_ns ? e->ns_kernel : e->ns_ours, CLONE_NEWNET), 0);
}

static void state_change(void *ctx, const struct stack_state_change *ch)
{
    struct diff_env *e = ctx;
    if (e->trace && e->synack && ch->tuple.sport == e->subject_port && ch->tuple.dport == e->peer_port)
        diff_trace_seen(e->trace, ch->to);
}

struct diff_env *diff_env_new(char *why, size_t cap)
{
    const char *reason = io_prepare();
    if (!reason && !io_have("nft"))
        reason = "the differential tests need nft (Debian: nftables) for their packet drops";
    if (reason) {
        snprintf(why, cap, "%s", reason);
        return NULL;
    }
    struct diff_env *e = calloc(1, sizeof *e);
    assert_non_null(e);
    e->ns_ours = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    assert_true(e->ns_ours >= 0);

    /* synack on a TUN device, in this process. */
    struct rt_config cfg;
    rt_config_default(&cfg);
    snprintf(cfg.tun_name, sizeof cfg.tun_name, "%s", SUBJECT_DEV_SYNACK);
    assert_true(rt_addr_parse("10.88.1.1/24", &cfg.addrs[cfg.naddrs++]));
    assert_true(rt_addr_parse("10.88.1.2/24", &cfg.kernel_addrs[cfg.nkernel_addrs++]));
    cfg.observer.ctx = e;
    cfg.observer.state_change = state_change;
    char err[256];
    e->rt = rt_new(&cfg, err, sizeof err);
    if (!e->rt)
        fail_msg("rt_new: %s", err);

    /* The kernel subject: a second namespace, held by its descriptor. */
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        char c = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c = 0;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    close(ready[1]);
    assert_int_equal(c, 'y');
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/net", (int)child);
    e->ns_kernel = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(e->ns_kernel >= 0);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)child);
    run((const char *const[]){"ip", "link", "add", SUBJECT_DEV_KERNEL, "type", "veth", "peer", "name", "dfk1", "netns",
                              pid, NULL});
    run((const char *const[]){"ip", "addr", "add", "10.88.2.2/24", "dev", SUBJECT_DEV_KERNEL, NULL});
    run((const char *const[]){"ip", "link", "set", SUBJECT_DEV_KERNEL, "up", NULL});
    enter(e, true);
    run((const char *const[]){"ip", "link", "set", "lo", "up", NULL});
    run((const char *const[]){"ip", "addr", "add", "10.88.2.1/24", "dev", "dfk1", NULL});
    run((const char *const[]){"ip", "link", "set", "dfk1", "up", NULL});
    e->diag_kernel = diag_socket();
    enter(e, false);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    e->diag_ours = diag_socket();

    /* Drops: netdev ingress = what the subject sends, egress = what it gets. */
    nft("add table netdev " NFT_TABLE "; "
        "add chain netdev " NFT_TABLE " s_in { type filter hook ingress device \"" SUBJECT_DEV_SYNACK
        "\" priority 0; policy accept; }; "
        "add chain netdev " NFT_TABLE " s_out { type filter hook egress device \"" SUBJECT_DEV_SYNACK
        "\" priority 0; policy accept; }; "
        "add chain netdev " NFT_TABLE " k_in { type filter hook ingress device \"" SUBJECT_DEV_KERNEL
        "\" priority 0; policy accept; }; "
        "add chain netdev " NFT_TABLE " k_out { type filter hook egress device \"" SUBJECT_DEV_KERNEL
        "\" priority 0; policy accept; }");
    return e;
}

void diff_env_free(struct diff_env *e)
{
    if (!e)
        return;
    rt_free(e->rt);
    close(e->diag_ours);
    close(e->diag_kernel);
    close(e->ns_kernel);
    close(e->ns_ours);
    free(e);
}

/* ---- states ---- */
/* The kernel's socket states (include/net/tcp_states.h), by number. */
static enum tcp_state from_linux(int st)
{
    static const enum tcp_state linux_states[] = {
        [1] = TCP_STATE_ESTABLISHED, [2] = TCP_STATE_SYN_SENT,   [3] = TCP_STATE_SYN_RECEIVED,
        [4] = TCP_STATE_FIN_WAIT_1,  [5] = TCP_STATE_FIN_WAIT_2, [6] = TCP_STATE_TIME_WAIT,
        [7] = TCP_STATE_CLOSED,      [8] = TCP_STATE_CLOSE_WAIT, [9] = TCP_STATE_LAST_ACK,
        [10] = TCP_STATE_LISTEN,     [11] = TCP_STATE_CLOSING,   [12] = TCP_STATE_SYN_RECEIVED, /* NEW_SYN_RECV */
    };
    return st > 0 && st < (int)(sizeof linux_states / sizeof linux_states[0]) ? linux_states[st] : TCP_STATE_CLOSED;
}

/* The kernel's state of local:lport <-> *:rport (sock_diag, RFC 9293
 * names); CLOSED when it holds none. */
static enum tcp_state kernel_state(int diag, struct in_addr local, uint16_t lport, uint16_t rport, bool *busy)
{
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 req;
    } msg = {
        .nlh = {.nlmsg_len = sizeof msg, .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
        .req = {.sdiag_family = AF_INET, .sdiag_protocol = IPPROTO_TCP, .idiag_states = ~0u},
    };
    struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
    assert_true(sendto(diag, &msg, sizeof msg, 0, (struct sockaddr *)&nl, sizeof nl) == (ssize_t)sizeof msg);
    enum tcp_state found = TCP_STATE_CLOSED;
    static char buf[32768] __attribute__((aligned(8)));
    for (;;) {
        ssize_t n = recv(diag, buf, sizeof buf, 0);
        assert_true(n > 0);
        for (size_t off = 0; off + sizeof(struct nlmsghdr) <= (size_t)n;) {
            const struct nlmsghdr *h = (const struct nlmsghdr *)(buf + off);
            if (h->nlmsg_len < sizeof *h || off + h->nlmsg_len > (size_t)n)
                break;
            off += NLMSG_ALIGN(h->nlmsg_len);
            if (h->nlmsg_type == NLMSG_DONE)
                return found;
            if (h->nlmsg_type == NLMSG_ERROR)
                fail_msg("sock_diag: error");
            const struct inet_diag_msg *m = NLMSG_DATA(h);
            if (ntohs(m->id.idiag_sport) == lport && ntohs(m->id.idiag_dport) == rport &&
                m->id.idiag_src[0] == local.s_addr) {
                found = from_linux(m->idiag_state);
                /* timer 1: retransmission, loss probe or SYN-ACK; 4: probe0,
                 * which resends what a drop at our egress refused. */
                *busy |= m->idiag_timer == 1 || m->idiag_timer == 4 || m->idiag_wqueue > 0;
            }
        }
    }
}

struct walk_ctx {
    uint16_t lport, rport;
    enum tcp_state state;
    bool retransmitting;
};

static void walk_one(void *ctx, const struct stack_conn_info *info)
{
    struct walk_ctx *w = ctx;
    if (info->local.port == w->lport && info->remote.port == w->rport && info->state != TCP_STATE_LISTEN) {
        w->state = info->state;
        w->retransmitting |= info->timer == STACK_TIMER_ON || info->timer == STACK_TIMER_PERSIST || info->send_q > 0;
    }
}

/* retransmitting (optional) is or-ed with "data or a FIN is still to be
 * delivered" (a retransmission or probe timer runs, or the send queue
 * holds bytes). */
static enum tcp_state subject_state(struct diff_env *e, bool *retransmitting)
{
    bool dummy = false;
    if (!retransmitting)
        retransmitting = &dummy;
    if (e->synack) {
        struct walk_ctx w = {e->subject_port, e->peer_port, TCP_STATE_CLOSED, false};
        stack_walk(rt_stack(e->rt), walk_one, &w);
        *retransmitting |= w.retransmitting;
        return w.state;
    }
    return kernel_state(e->diag_kernel, e->subject_addr, e->subject_port, e->peer_port, retransmitting);
}

static enum tcp_state peer_state(struct diff_env *e, bool *retransmitting)
{
    return kernel_state(e->diag_ours, e->peer_addr, e->peer_port, e->subject_port, retransmitting);
}

/* ---- time passes: synack's loop runs, the kernel subject is sampled ---- */
static void pump(struct diff_env *e, int ms)
{
    long long deadline = io_now_ms() + ms;
    do {
        long long left = deadline - io_now_ms();
        int slice = left < 5 ? (int)(left > 0 ? left : 0) : 5;
        if (e->synack) {
            if (rt_run_once(e->rt, slice) < 0)
                fail_msg("synack's loop: %s", rt_error(e->rt));
        } else {
            io_sleep_ms(slice);
            diff_trace_seen(e->trace, subject_state(e, NULL));
        }
    } while (io_now_ms() < deadline);
}

/* Until both states held for SETTLE_MS with nothing left to deliver on
 * either end (the stacks' retransmission timing differs: only where they
 * end up is compared). */
static void settle(struct diff_env *e, struct diff_step *step)
{
    long long start = io_now_ms(), since = start;
    bool busy = false;
    enum tcp_state s = subject_state(e, &busy), p = peer_state(e, &busy);
    while ((busy || io_now_ms() - since < SETTLE_MS) && io_now_ms() - start < SETTLE_MAX_MS) {
        pump(e, 10);
        busy = false;
        enum tcp_state s2 = subject_state(e, &busy), p2 = peer_state(e, &busy);
        if (s2 != s || p2 != p) {
            s = s2;
            p = p2;
            since = io_now_ms();
        }
    }
    step->subject = s;
    step->peer = p;
}

/* ---- drops ---- */
static void set_drop(struct diff_env *e, bool to_peer, enum diff_drop d)
{
    if (d == DIFF_DROP_NONE)
        return;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "add rule netdev " NFT_TABLE " %s_%s ip protocol tcp %s drop", e->synack ? "s" : "k",
             to_peer ? "in" : "out", d == DIFF_DROP_FIN ? "tcp flags & fin != 0" : "");
    nft(cmd);
}

static void heal(struct diff_env *e)
{
    nft(e->synack ? "flush chain netdev " NFT_TABLE " s_in; flush chain netdev " NFT_TABLE " s_out"
                  : "flush chain netdev " NFT_TABLE " k_in; flush chain netdev " NFT_TABLE " k_out");
}

/* ---- calls ---- */
static void result_errno(char *out, int err)
{
    const char *name = strerrorname_np(err);
    snprintf(out, DIFF_RESULT_MAX, "%s", name ? name : "E?");
}

static void result_int(char *out, long v)
{
    if (v < 0)
        result_errno(out, (int)-v);
    else
        snprintf(out, DIFF_RESULT_MAX, "%s", v == 0 ? "OK" : "?");
}

static int kernel_socket(struct diff_env *e, const struct end *x)
{
    if (x->in_kernel_ns)
        enter(e, true);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    enter(e, false);
    assert_true(fd >= 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(x->port), .sin_addr = x->addr};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static int synack_socket(struct diff_env *e, const struct end *x)
{
    int sd = rt_socket(e->rt, false);
    assert_true(sd >= 0);
    struct wire_endpoint local = {.addr = wire_addr_v4(ntohl(x->addr.s_addr)), .port = x->port};
    assert_int_equal(stack_bind(rt_stack(e->rt), sd, &local), 0);
    return sd;
}

static void do_listen(struct diff_env *e, struct end *x)
{
    if (x->synack) {
        x->listener = synack_socket(e, x);
        assert_int_equal(stack_listen(rt_stack(e->rt), x->listener, 8), 0);
    } else {
        x->listener = kernel_socket(e, x);
        assert_int_equal(listen(x->listener, 8), 0);
    }
}

static void do_op(struct diff_env *e, struct end *x, const struct end *other, const struct diff_op *op, char *out)
{
    struct stack *st = rt_stack(e->rt);
    tcp_time_t now = rt_now();
    static char data[65536];
    if (op->kind != DIFF_CONNECT && op->kind != DIFF_ACCEPT && x->conn < 0) {
        snprintf(out, DIFF_RESULT_MAX, "no socket");
        return;
    }
    switch (op->kind) {
    case DIFF_CONNECT:
        if (x->synack) {
            x->conn = synack_socket(e, x);
            struct wire_endpoint remote = {.addr = wire_addr_v4(ntohl(other->addr.s_addr)), .port = other->port};
            result_int(out, stack_connect(st, x->conn, &remote, now));
        } else {
            x->conn = kernel_socket(e, x);
            struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(other->port), .sin_addr = other->addr};
            result_int(out, connect(x->conn, (struct sockaddr *)&sa, sizeof sa) == 0 ? 0 : -errno);
        }
        return;
    case DIFF_ACCEPT: {
        int r;
        if (x->synack) {
            struct wire_endpoint peer;
            r = stack_accept(st, x->listener, &peer);
        } else {
            r = accept4(x->listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (r < 0)
                r = -errno;
        }
        if (r >= 0)
            x->conn = r;
        result_int(out, r < 0 ? r : 0);
        return;
    }
    case DIFF_SEND: {
        for (int i = 0; i < op->len; i++)
            data[i] = (char)('a' + i % 26);
        ssize_t r = x->synack ? stack_send(st, x->conn, data, op->len, now)
                              : send(x->conn, data, op->len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (!x->synack && r < 0)
            r = -errno;
        if (r >= 0)
            snprintf(out, DIFF_RESULT_MAX, "sent %zd", r);
        else
            result_errno(out, (int)-r);
        return;
    }
    case DIFF_RECV: {
        long total = 0;
        ssize_t r;
        for (;;) {
            r = x->synack ? stack_recv(st, x->conn, data, sizeof data, now)
                          : recv(x->conn, data, sizeof data, MSG_DONTWAIT);
            if (!x->synack && r < 0)
                r = -errno;
            if (r <= 0)
                break;
            total += r;
        }
        char end[20];
        if (r == 0)
            snprintf(end, sizeof end, "EOF");
        else
            result_errno(end, (int)-r);
        snprintf(out, DIFF_RESULT_MAX, "read %ld %s", total, end);
        return;
    }
    case DIFF_SHUT_WR:
        result_int(out, x->synack ? stack_shutdown(st, x->conn, STACK_SHUT_WR, now)
                                  : (shutdown(x->conn, SHUT_WR) == 0 ? 0 : -errno));
        return;
    case DIFF_ABORT:
        if (x->synack)
            assert_int_equal(stack_setsockopt(st, x->conn, STACK_SO_LINGER, 0), 0);
        else {
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            assert_int_equal(setsockopt(x->conn, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
        }
        /* fall through */
    case DIFF_CLOSE:
        result_int(out, x->synack ? stack_close(st, x->conn, now) : (close(x->conn) == 0 ? 0 : -errno));
        x->conn = -1;
        return;
    }
}

static void release(struct diff_env *e, struct end *x)
{
    struct stack *st = rt_stack(e->rt);
    if (x->conn >= 0) {
        if (x->synack) {
            stack_abort(st, x->conn, rt_now());
        } else {
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(x->conn, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            close(x->conn);
        }
    }
    if (x->listener >= 0) {
        if (x->synack)
            stack_close(st, x->listener, rt_now());
        else
            close(x->listener);
    }
    x->conn = x->listener = -1;
}

void diff_run(struct diff_env *e, bool synack, const struct diff_script *sc, int index, struct diff_trace *out)
{
    memset(out, 0, sizeof *out);
    assert_true(index >= 0 && index < 10000);
    struct end ends[2];
    struct end *subject = &ends[DIFF_SUBJECT], *peer = &ends[DIFF_PEER];
    *subject = (struct end){.synack = synack, .in_kernel_ns = !synack, .listener = -1, .conn = -1};
    *peer = (struct end){.synack = false, .listener = -1, .conn = -1};
    inet_pton(AF_INET, synack ? "10.88.1.1" : "10.88.2.1", &subject->addr);
    inet_pton(AF_INET, synack ? "10.88.1.2" : "10.88.2.2", &peer->addr);
    struct end *server = &ends[sc->server], *client = &ends[!sc->server];
    server->port = (uint16_t)(20000 + index);
    client->port = (uint16_t)(40000 + index);

    e->synack = synack;
    e->trace = out;
    e->subject_port = subject->port;
    e->peer_port = peer->port;
    e->subject_addr = subject->addr;
    e->peer_addr = peer->addr;

    do_listen(e, server);
    for (int i = 0; i < sc->nops; i++) {
        const struct diff_op *op = &sc->ops[i];
        set_drop(e, true, op->drop_to_peer);
        set_drop(e, false, op->drop_to_subject);
        do_op(e, &ends[op->side], &ends[!op->side], op, out->steps[i].result);
        bool dropping = op->drop_to_peer || op->drop_to_subject;
        if (dropping) {
            pump(e, DROP_WINDOW_MS);
            heal(e);
        }
        settle(e, &out->steps[i]);
        out->nsteps = i + 1;
    }
    release(e, subject);
    release(e, peer);
    pump(e, 50);
    e->trace = NULL;
}
