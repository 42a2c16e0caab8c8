/* bench stream: one connection's bulk throughput, synack beside the kernel
 * (bench_stream.h says what each figure is). The namespaces are made in
 * child processes, so the caller's network is left alone. */
#include "bench/bench_stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/rt.h"
#include "bench/bench_internal.h"
#include "stack/stack.h"

#define ST "stream"
#define ST_PORT 5001
#define ST_TUN_DEV "bst0"
#define ST_SYNACK_ADDR "10.77.250.1"   /* only inside the bench's own namespace */
#define ST_TUN_KERNEL_ADDR "10.77.250.2"
#define ST_VETH_ADDR_A "10.78.250.1"
#define ST_VETH_ADDR_B "10.78.250.2"
#define ST_BUF (4u << 20)      /* synack's SO_SNDBUF / SO_RCVBUF (Linux's tcp_rmem max is 6 MiB) */
#define ST_CHUNK 65536u        /* application reads and writes */
#define ST_PERIOD 1048573u     /* the pattern's period: a prime, longer than any window here */
#define ST_IO_TIMEOUT_S 20     /* a kernel socket stuck this long gives up */
#define ST_MIB (1024.0 * 1024.0)

/* ---- the pattern every receiver checks ---- */
static uint8_t *st_pattern; /* ST_PERIOD + ST_CHUNK bytes: any chunk is contiguous */

static int pattern_init(void)
{
    if (st_pattern)
        return 0;
    st_pattern = malloc(ST_PERIOD + ST_CHUNK);
    if (!st_pattern)
        return -1;
    uint64_t x = 0x5EED5EED5EED5EEDull;
    for (size_t i = 0; i < ST_PERIOD + ST_CHUNK; i++) {
        if (i < ST_PERIOD)
            st_pattern[i] = (uint8_t)(bench_rand(&x) >> 56);
        else
            st_pattern[i] = st_pattern[i - ST_PERIOD];
    }
    return 0;
}

static const uint8_t *pattern_at(uint64_t off) { return st_pattern + off % ST_PERIOD; }

static size_t chunk_for(uint64_t done, uint64_t total)
{
    return total - done < ST_CHUNK ? (size_t)(total - done) : ST_CHUNK;
}

/* Does buf hold the stream's bytes at off..off+len? */
static bool pattern_check(const uint8_t *buf, size_t len, uint64_t off)
{
    while (len) {
        size_t piece = len < ST_CHUNK ? len : ST_CHUNK;
        if (memcmp(buf, pattern_at(off), piece) != 0)
            return false;
        buf += piece;
        off += piece;
        len -= piece;
    }
    return true;
}

/* ---- a measure in a child process (namespaces stay there) ---- */
struct st_result {
    int ok;
    uint64_t bytes;    /* received and checked */
    double seconds;    /* wall */
    uint64_t end_ns;   /* receiver's end (kernel pair) */
    uint64_t retrans;  /* synack's RetransSegs */
    char why[200];
};

struct st_job {
    const struct bench_opts *o;
    uint64_t bytes;
    bool synack_sends; /* tun: direction */
    bool offload;      /* tun: the device's offloads (rt_config.offload) */
    bool veth;         /* kernel: veth pair, else loopback */
};

typedef void (*st_measure_fn)(const struct st_job *job, struct st_result *res);

static void in_child(st_measure_fn fn, const struct st_job *job, struct st_result *res, int timeout_s)
{
    memset(res, 0, sizeof *res);
    int fds[2];
    if (pipe(fds) < 0) {
        snprintf(res->why, sizeof res->why, "pipe: %s", strerror(errno));
        return;
    }
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        alarm((unsigned)timeout_s + 30); /* whatever happens, the child ends */
        struct st_result r = {0};
        fn(job, &r);
        ssize_t w = write(fds[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fds[1]);
    bool got = false;
    if (child > 0) {
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        if (poll(&pfd, 1, timeout_s * 1000 + 60000) == 1)
            got = read(fds[0], res, sizeof *res) == (ssize_t)sizeof *res;
        else
            kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    } else {
        snprintf(res->why, sizeof res->why, "fork: %s", strerror(errno));
    }
    close(fds[0]);
    if (!got && !res->why[0])
        snprintf(res->why, sizeof res->why, "the measuring process failed");
    if (!got)
        res->ok = 0;
}

static int run_quiet(const char *cmd)
{
    char line[512];
    snprintf(line, sizeof line, "(%s) >/dev/null 2>&1", cmd);
    return system(line);
}

/* ---- kernel sockets ---- */
static void set_io_timeout(int fd)
{
    struct timeval tv = {.tv_sec = ST_IO_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int kernel_listen(const char *addr, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, addr, &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int kernel_accept(int lfd)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    if (poll(&p, 1, ST_IO_TIMEOUT_S * 1000) != 1)
        return -1;
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
        set_io_timeout(fd);
    return fd;
}

static int kernel_dial(const char *addr, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, addr, &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    set_io_timeout(fd);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Writes bytes of the pattern, then closes (FIN). */
static bool kernel_send_stream(int fd, uint64_t bytes, _Atomic uint64_t *done)
{
    uint64_t off = 0;
    while (off < bytes) {
        ssize_t n = write(fd, pattern_at(off), chunk_for(off, bytes));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return false;
        }
        off += (uint64_t)n;
        if (done)
            atomic_store(done, off);
    }
    return close(fd) == 0;
}

/* Reads to EOF, checking every byte; the count and the time of EOF. */
static bool kernel_recv_stream(int fd, uint64_t bytes, uint64_t *got, uint64_t *end_ns, char *why, size_t whylen,
                               _Atomic uint64_t *done)
{
    static _Thread_local uint8_t buf[ST_CHUNK];
    uint64_t off = 0;
    bool ok = true;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(why, whylen, "the kernel's read failed after %llu bytes: %s", (unsigned long long)off,
                     strerror(errno));
            ok = false;
            break;
        }
        if (n == 0)
            break;
        if (ok && !pattern_check(buf, (size_t)n, off)) {
            snprintf(why, whylen, "the kernel received wrong bytes at offset %llu..%llu", (unsigned long long)off,
                     (unsigned long long)off + (unsigned long long)n);
            ok = false;
        }
        off += (uint64_t)n;
        if (done)
            atomic_store(done, off);
    }
    *end_ns = bench_now_ns();
    *got = off;
    close(fd);
    if (ok && off != bytes) {
        snprintf(why, whylen, "the kernel received %llu bytes of %llu", (unsigned long long)off,
                 (unsigned long long)bytes);
        ok = false;
    }
    return ok;
}

/* ---- synack over TUN against the kernel ---- */
struct tun_kernel {
    pthread_t thread;
    bool receives; /* else sends */
    int lfd;       /* receives: the listener */
    uint64_t bytes, got, start_ns, end_ns;
    _Atomic uint64_t done;
    bool ok;
    char why[160];
};

static void *tun_kernel_main(void *arg)
{
    struct tun_kernel *k = arg;
    if (k->receives) {
        int fd = kernel_accept(k->lfd);
        k->start_ns = bench_now_ns();
        if (fd < 0) {
            snprintf(k->why, sizeof k->why, "the kernel accepted no connection from synack");
            return NULL;
        }
        k->ok = kernel_recv_stream(fd, k->bytes, &k->got, &k->end_ns, k->why, sizeof k->why, &k->done);
    } else {
        int fd = kernel_dial(ST_SYNACK_ADDR, ST_PORT);
        k->start_ns = bench_now_ns();
        if (fd < 0) {
            snprintf(k->why, sizeof k->why, "the kernel could not connect to synack: %s", strerror(errno));
            return NULL;
        }
        k->ok = kernel_send_stream(fd, k->bytes, &k->done);
        if (!k->ok)
            snprintf(k->why, sizeof k->why, "the kernel's write failed after %llu bytes",
                     (unsigned long long)atomic_load(&k->done));
    }
    return NULL;
}

struct tun_app {
    struct rt *rt;
    uint64_t bytes, done, end_ns;
    bool shut, finished, failed;
    char why[160];
    uint8_t buf[ST_CHUNK];
};

static void tun_app_fail(struct tun_app *a, int sd, const char *what, long err)
{
    if (err < 0)
        err = -err;
    if (!a->failed)
        snprintf(a->why, sizeof a->why, "synack: %s after %llu bytes: %s", what, (unsigned long long)a->done,
                 rt_errno_name((int)err));
    a->failed = a->finished = true;
    rt_sock_unwatch(a->rt, sd);
}

/* synack sends: the pattern, then shutdown(SHUT_WR); done at the peer's FIN. */
static void tun_send_event(struct rt *rt, int sd, unsigned events, void *arg)
{
    struct tun_app *a = arg;
    struct stack *st = rt_stack(rt);
    if (events & STACK_POLLERR) {
        tun_app_fail(a, sd, "the connection failed", stack_sock_error(st, sd));
        return;
    }
    while (a->done < a->bytes) {
        ssize_t n = stack_send(st, sd, pattern_at(a->done), chunk_for(a->done, a->bytes), rt_now());
        if (n == -EAGAIN || n == -ENOTCONN)
            return; /* POLLOUT calls again */
        if (n < 0) {
            tun_app_fail(a, sd, "send", (long)n);
            return;
        }
        a->done += (uint64_t)n;
    }
    if (!a->shut) {
        stack_shutdown(st, sd, STACK_SHUT_WR, rt_now());
        a->shut = true;
    }
    for (;;) {
        ssize_t n = stack_recv(st, sd, a->buf, sizeof a->buf, rt_now());
        if (n > 0)
            continue;
        if (n == -EAGAIN)
            return;
        if (n < 0) {
            tun_app_fail(a, sd, "recv", (long)n);
            return;
        }
        rt_sock_unwatch(rt, sd);
        stack_close(st, sd, rt_now());
        a->finished = true;
        return;
    }
}

/* synack receives: checks every byte; done at EOF. */
static void tun_recv_event(struct rt *rt, int sd, unsigned events, void *arg)
{
    struct tun_app *a = arg;
    struct stack *st = rt_stack(rt);
    (void)events;
    for (;;) {
        ssize_t n = stack_recv(st, sd, a->buf, sizeof a->buf, rt_now());
        if (n == -EAGAIN)
            return;
        if (n < 0) {
            tun_app_fail(a, sd, "recv", (long)n);
            return;
        }
        if (n == 0) {
            a->end_ns = bench_now_ns();
            if (a->done != a->bytes && !a->failed) {
                snprintf(a->why, sizeof a->why, "synack received %llu bytes of %llu", (unsigned long long)a->done,
                         (unsigned long long)a->bytes);
                a->failed = true;
            }
            rt_sock_unwatch(rt, sd);
            stack_close(st, sd, rt_now());
            a->finished = true;
            return;
        }
        if (!a->failed && !pattern_check(a->buf, (size_t)n, a->done)) {
            snprintf(a->why, sizeof a->why, "synack received wrong bytes at offset %llu..%llu",
                     (unsigned long long)a->done, (unsigned long long)a->done + (unsigned long long)n);
            a->failed = true;
        }
        a->done += (uint64_t)n;
    }
}

static void tun_listen_event(struct rt *rt, int sd, unsigned events, void *arg)
{
    (void)events;
    struct wire_endpoint peer;
    int c = stack_accept(rt_stack(rt), sd, &peer);
    if (c >= 0) {
        rt_sock_watch(rt, c, tun_recv_event, arg);
        rt_sock_kick(rt, c);
    }
}

static void set_buffers(struct stack *st, int sd)
{
    stack_setsockopt(st, sd, STACK_SO_SNDBUF, (int)ST_BUF);
    stack_setsockopt(st, sd, STACK_SO_RCVBUF, (int)ST_BUF);
}

static void tun_measure(const struct st_job *job, struct st_result *res)
{
    if (unshare(CLONE_NEWNET) < 0) {
        snprintf(res->why, sizeof res->why, "cannot make a network namespace (%s; needs root)", strerror(errno));
        return;
    }
    struct rt_config cfg;
    rt_config_default(&cfg);
    snprintf(cfg.tun_name, sizeof cfg.tun_name, "%s", ST_TUN_DEV);
    if (!rt_addr_parse(ST_SYNACK_ADDR "/24", &cfg.addrs[0]) ||
        !rt_addr_parse(ST_TUN_KERNEL_ADDR "/24", &cfg.kernel_addrs[0]))
        return;
    cfg.naddrs = cfg.nkernel_addrs = 1;
    cfg.offload = job->offload;
    char err[200];
    struct rt *rt = rt_new(&cfg, err, sizeof err);
    if (!rt) {
        snprintf(res->why, sizeof res->why, "%s", err);
        return;
    }
    static struct tun_app app; /* its buffer is large: not on the stack */
    memset(&app, 0, sizeof app);
    app.rt = rt;
    app.bytes = job->bytes;
    struct tun_kernel k = {.receives = job->synack_sends, .lfd = -1, .bytes = job->bytes};
    struct stack *st = rt_stack(rt);
    int sd = rt_socket(rt, false);
    set_buffers(st, sd);
    if (job->synack_sends) {
        k.lfd = kernel_listen(ST_TUN_KERNEL_ADDR, ST_PORT);
        struct wire_endpoint remote = {.port = ST_PORT};
        wire_addr_parse(ST_TUN_KERNEL_ADDR, &remote.addr);
        if (k.lfd < 0 || stack_connect(st, sd, &remote, rt_now()) != -EINPROGRESS) {
            snprintf(res->why, sizeof res->why, "cannot set the connection up");
            goto out;
        }
        rt_sock_watch(rt, sd, tun_send_event, &app);
    } else {
        struct wire_endpoint local = {.port = ST_PORT};
        wire_addr_parse(ST_SYNACK_ADDR, &local.addr);
        if (stack_bind(st, sd, &local) < 0 || stack_listen(st, sd, 4) < 0) {
            snprintf(res->why, sizeof res->why, "synack cannot listen");
            goto out;
        }
        rt_sock_watch(rt, sd, tun_listen_event, &app);
    }
    if (pthread_create(&k.thread, NULL, tun_kernel_main, &k) != 0) {
        snprintf(res->why, sizeof res->why, "cannot start the kernel's thread");
        goto out;
    }
    const char *dir = job->synack_sends ? "synack -> kernel" : "kernel -> synack";
    uint64_t deadline = bench_now_ns() + (uint64_t)(60 + job->bytes / (4u << 20)) * 1000000000u;
    uint64_t step = job->bytes / 4, next = step;
    while (!app.finished) {
        if (rt_run_once(rt, 50) < 0) {
            snprintf(app.why, sizeof app.why, "%s", rt_error(rt));
            app.failed = true;
            break;
        }
        if (bench_now_ns() > deadline) {
            snprintf(app.why, sizeof app.why, "synack did not finish in time (%llu bytes moved)",
                     (unsigned long long)app.done);
            app.failed = true;
            break;
        }
        if (!job->o->quick && app.done >= next && next < job->bytes) {
            bench_progress(job->o, "stream tun, %s: %llu of %llu MiB", dir, (unsigned long long)(app.done >> 20),
                           (unsigned long long)(job->bytes >> 20));
            next += step;
        }
    }
    /* Let the last segments (our FIN's ACK, the peer's) go out. */
    for (int i = 0; i < 20 && !app.failed; i++)
        rt_run_once(rt, 5);
    pthread_join(k.thread, NULL);
    res->retrans = stack_counters(st)->RetransSegs;
    if (app.failed) {
        snprintf(res->why, sizeof res->why, "%s", app.why);
    } else if (!k.ok) {
        snprintf(res->why, sizeof res->why, "%s", k.why);
    } else {
        uint64_t end = job->synack_sends ? k.end_ns : app.end_ns;
        res->bytes = job->synack_sends ? k.got : app.done;
        res->seconds = (double)(end - k.start_ns) / 1e9;
        res->ok = res->seconds > 0;
    }
out:
    if (k.lfd >= 0)
        close(k.lfd);
    rt_free(rt);
}

/* ---- the kernel to itself: veth pair between two namespaces, or loopback ---- */
static void kernel_measure(const struct st_job *job, struct st_result *res)
{
    if (unshare(CLONE_NEWNET) < 0) {
        snprintf(res->why, sizeof res->why, "cannot make a network namespace (%s; needs root)", strerror(errno));
        return;
    }
    const char *server = job->veth ? ST_VETH_ADDR_B : "127.0.0.1";
    if (run_quiet(job->veth ? "ip link set lo up && ip link add bsv0 type veth peer name bsv1 && "
                              "ip addr add " ST_VETH_ADDR_A "/24 dev bsv0 && ip link set bsv0 up"
                            : "ip link set lo up") != 0) {
        snprintf(res->why, sizeof res->why, "cannot set the namespace up with ip(8) (iproute2%s)",
                 job->veth ? ", veth" : "");
        return;
    }
    int down[2], up[2];
    if (pipe(down) < 0 || pipe(up) < 0) {
        snprintf(res->why, sizeof res->why, "pipe: %s", strerror(errno));
        return;
    }
    pid_t rx = fork();
    if (rx == 0) { /* the receiver, in a second namespace for veth */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        struct st_result r = {0};
        char stage = 'u', go;
        if (job->veth && unshare(CLONE_NEWNET) < 0)
            stage = 'x';
        if (write(up[1], &stage, 1) != 1 || stage == 'x' || read(down[0], &go, 1) != 1)
            _exit(1);
        if (job->veth && run_quiet("ip link set lo up && ip addr add " ST_VETH_ADDR_B "/24 dev bsv1 && "
                                   "ip link set bsv1 up") != 0)
            stage = 'x';
        int lfd = stage == 'x' ? -1 : kernel_listen(server, ST_PORT);
        stage = lfd < 0 ? 'x' : 'l';
        if (write(up[1], &stage, 1) != 1 || stage == 'x')
            _exit(1);
        int fd = kernel_accept(lfd);
        if (fd < 0)
            snprintf(r.why, sizeof r.why, "the receiver accepted nothing");
        else
            r.ok = kernel_recv_stream(fd, job->bytes, &r.bytes, &r.end_ns, r.why, sizeof r.why, NULL);
        _exit(write(up[1], &r, sizeof r) == (ssize_t)sizeof r ? 0 : 1);
    }
    char stage = 0;
    if (rx < 0 || read(up[0], &stage, 1) != 1 || stage != 'u') {
        snprintf(res->why, sizeof res->why, "the receiving process could not start");
        goto out;
    }
    if (job->veth) {
        char cmd[96];
        snprintf(cmd, sizeof cmd, "ip link set bsv1 netns %d", (int)rx);
        if (run_quiet(cmd) != 0) {
            snprintf(res->why, sizeof res->why, "cannot move the veth peer into the second namespace");
            goto out;
        }
    }
    if (write(down[1], "g", 1) != 1 || read(up[0], &stage, 1) != 1 || stage != 'l') {
        snprintf(res->why, sizeof res->why, "the receiver could not listen");
        goto out;
    }
    int fd = kernel_dial(server, ST_PORT);
    uint64_t start = bench_now_ns();
    if (fd < 0 || !kernel_send_stream(fd, job->bytes, NULL)) {
        snprintf(res->why, sizeof res->why, "the kernel's sender failed: %s", strerror(errno));
        goto out;
    }
    struct st_result r;
    if (read(up[0], &r, sizeof r) != (ssize_t)sizeof r) {
        snprintf(res->why, sizeof res->why, "the receiver gave no result");
        goto out;
    }
    if (!r.ok) {
        snprintf(res->why, sizeof res->why, "%s", r.why);
        goto out;
    }
    res->bytes = r.bytes;
    res->seconds = (double)(r.end_ns - start) / 1e9;
    res->ok = res->seconds > 0;
out:
    if (rx > 0) {
        kill(rx, SIGKILL);
        waitpid(rx, NULL, 0);
    }
}

/* ---- synack to synack in memory (sans-I/O, virtual time) ---- */
#define MEM_SLOTS 16384 /* power of two, above two windows of segments and their ACKs */
#define MEM_PKT_MAX 1600

struct mem_slot {
    uint16_t len;
    uint8_t to;
    uint8_t data[MEM_PKT_MAX];
};

struct mem_pair;
struct mem_side {
    struct mem_pair *p;
    uint8_t index;
};

struct mem_pair {
    struct stack *host[2]; /* 0 sends, 1 receives */
    struct mem_side side[2];
    struct mem_slot *q;
    uint32_t head, tail;
    tcp_time_t now;
    uint64_t dropped;
};

static void mem_output(void *ctx, const uint8_t *pkt, size_t len)
{
    struct mem_side *side = ctx;
    struct mem_pair *p = side->p;
    if (p->tail - p->head >= MEM_SLOTS || len > MEM_PKT_MAX) {
        p->dropped++;
        return;
    }
    struct mem_slot *s = &p->q[p->tail++ & (MEM_SLOTS - 1)];
    s->len = (uint16_t)len;
    s->to = (uint8_t)!side->index;
    memcpy(s->data, pkt, len);
}

/* Delivers what is in flight, 1 us of virtual time per packet, and runs
 * the timers due. True if anything moved. */
static bool mem_pump(struct mem_pair *p)
{
    bool moved = p->head != p->tail;
    while (p->head != p->tail) {
        struct mem_slot *s = &p->q[p->head++ & (MEM_SLOTS - 1)];
        p->now += 1;
        stack_input(p->host[s->to], s->data, s->len, p->now);
    }
    for (int i = 0; i < 2; i++)
        if (stack_next_timer(p->host[i]) <= p->now)
            stack_tick(p->host[i], p->now);
    return moved;
}

static void mem_pair_free(struct mem_pair *p)
{
    if (!p)
        return;
    for (int i = 0; i < 2; i++)
        stack_free(p->host[i]);
    free(p->q);
    free(p);
}

static int memory_run(const struct bench_opts *o, uint64_t bytes, struct st_result *res)
{
    memset(res, 0, sizeof *res);
    struct mem_pair *p = calloc(1, sizeof *p);
    uint8_t *buf = malloc(ST_CHUNK);
    if (!p || !buf || !(p->q = malloc(sizeof *p->q * MEM_SLOTS))) {
        free(buf);
        mem_pair_free(p);
        snprintf(res->why, sizeof res->why, "out of memory");
        return -1;
    }
    struct stack_config cfg;
    stack_config_default(&cfg);
    for (size_t i = 0; i < sizeof cfg.secret; i++)
        cfg.secret[i] = (uint8_t)(i * 29 + 3);
    p->now = TCP_SEC(1);
    for (int i = 0; i < 2; i++) {
        p->side[i] = (struct mem_side){p, (uint8_t)i};
        struct stack_hooks hooks = {.ctx = &p->side[i], .output = mem_output};
        p->host[i] = stack_new(&cfg, &hooks, p->now);
        if (!p->host[i]) {
            free(buf);
            mem_pair_free(p);
            snprintf(res->why, sizeof res->why, "cannot create the stacks");
            return -1;
        }
    }
    struct wire_endpoint server = {.addr = wire_addr_v4(BENCH_SERVER_ADDR), .port = BENCH_SERVER_PORT};
    struct wire_addr client = wire_addr_v4(BENCH_CLIENT_ADDR);
    stack_set_local_addr(p->host[0], &client);
    stack_set_local_addr(p->host[1], &server.addr);
    struct stack *tx = p->host[0], *rx = p->host[1];
    int lsd = stack_socket(rx), csd = stack_socket(tx), ssd = -1;
    set_buffers(rx, lsd);
    set_buffers(tx, csd);
    if (stack_bind(rx, lsd, &server) < 0 || stack_listen(rx, lsd, 4) < 0 ||
        stack_connect(tx, csd, &server, p->now) != -EINPROGRESS) {
        snprintf(res->why, sizeof res->why, "cannot set the connection up");
        goto out;
    }
    mem_pump(p);
    ssd = stack_accept(rx, lsd, NULL);
    if (ssd < 0) {
        snprintf(res->why, sizeof res->why, "no connection to accept");
        goto out;
    }
    uint64_t sent = 0, got = 0, idle = 0, step = bytes / 4, next = step;
    bool shut = false, eof = false;
    struct bench_clock clk;
    bench_clock_start(&clk);
    while (!eof) {
        bool progress = false;
        while (sent < bytes) {
            ssize_t n = stack_send(tx, csd, pattern_at(sent), chunk_for(sent, bytes), p->now);
            if (n == -EAGAIN)
                break;
            if (n < 0) {
                snprintf(res->why, sizeof res->why, "send failed: %s", rt_errno_name((int)n));
                goto out;
            }
            sent += (uint64_t)n;
            progress = true;
        }
        if (sent == bytes && !shut) {
            stack_shutdown(tx, csd, STACK_SHUT_WR, p->now);
            shut = true;
        }
        progress |= mem_pump(p);
        for (;;) {
            ssize_t n = stack_recv(rx, ssd, buf, ST_CHUNK, p->now);
            if (n == -EAGAIN)
                break;
            if (n < 0) {
                snprintf(res->why, sizeof res->why, "recv failed: %s", rt_errno_name((int)n));
                goto out;
            }
            if (n == 0) {
                eof = true;
                break;
            }
            if (!pattern_check(buf, (size_t)n, got)) {
                snprintf(res->why, sizeof res->why, "wrong bytes at offset %llu", (unsigned long long)got);
                goto out;
            }
            got += (uint64_t)n;
            progress = true;
        }
        if (!progress) { /* nothing in flight: the next timer (a delayed ACK...) */
            tcp_time_t t0 = stack_next_timer(tx), t1 = stack_next_timer(rx), t = t0 < t1 ? t0 : t1;
            if (t == TCP_TIME_NEVER || ++idle > 100000) {
                snprintf(res->why, sizeof res->why, "the transfer stalled at %llu bytes", (unsigned long long)got);
                goto out;
            }
            if (t > p->now)
                p->now = t;
            mem_pump(p);
        }
        if (!o->quick && got >= next && next < bytes) {
            bench_progress(o, "stream memory, synack: %llu of %llu MiB", (unsigned long long)(got >> 20),
                           (unsigned long long)(bytes >> 20));
            next += step;
        }
    }
    res->seconds = bench_clock_cpu_s(&clk);
    res->bytes = got;
    res->retrans = stack_counters(tx)->RetransSegs;
    if (got != bytes)
        snprintf(res->why, sizeof res->why, "received %llu bytes of %llu", (unsigned long long)got,
                 (unsigned long long)bytes);
    else if (p->dropped)
        snprintf(res->why, sizeof res->why, "%llu packets did not fit the harness's queue",
                 (unsigned long long)p->dropped);
    else
        res->ok = res->seconds > 0;
out:
    free(buf);
    mem_pair_free(p);
    return res->ok ? 0 : -1;
}

/* ---- the rows ---- */
static double mibs(const struct st_result *r) { return (double)r->bytes / ST_MIB / r->seconds; }

static void report(const struct bench_opts *o, const char *row, const char *who, const struct st_result *r)
{
    if (r->ok)
        bench_progress(o, "stream %s, %s: %llu MiB in %.2f s: %.1f MiB/s (%llu retransmissions)", row, who,
                       (unsigned long long)(r->bytes >> 20), r->seconds, mibs(r), (unsigned long long)r->retrans);
    else
        bench_progress(o, "stream %s, %s: not measured (%s)", row, who, r->why);
}

int bench_stream(const struct bench_opts *o, struct bench_results *r)
{
    if (pattern_init() < 0) {
        fprintf(stderr, "synack: bench stream: out of memory\n");
        return -1;
    }
    uint64_t tun_bytes = o->quick ? (128u << 20) : (1u << 30);
    uint64_t kernel_bytes = o->quick ? (256u << 20) : (1u << 30);
    int timeout_s = o->quick ? 60 : 600;
    int rc = 0;
    struct st_result res;
    static const struct {
        const char *figure, *row;
        bool synack_sends, offload;
    } rows[] = {
        {"tun_send_MiB_per_s", "tun send", true, true},
        {"tun_recv_MiB_per_s", "tun recv", false, true},
        {"tun_send_plain_MiB_per_s", "tun send plain", true, false},
        {"tun_recv_plain_MiB_per_s", "tun recv plain", false, false},
    };
    double veth[2] = {0, 0}; /* by direction (the kernel's is symmetric): reused by the plain rows */
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct bench_figure *f = bench_figure_get(r, ST, rows[i].figure, "MiB/s", false);
        if (o->peer[BENCH_SYNACK]) {
            if (!tun_available()) {
                bench_progress(o, "stream %s, synack: skipped: no TUN device (needs root and /dev/net/tun)",
                               rows[i].row);
            } else {
                struct st_job job = {
                    .o = o, .bytes = tun_bytes, .synack_sends = rows[i].synack_sends, .offload = rows[i].offload};
                in_child(tun_measure, &job, &res, timeout_s);
                report(o, rows[i].row, rows[i].synack_sends ? "synack -> kernel" : "kernel -> synack", &res);
                if (res.ok)
                    bench_figure_set(f, BENCH_SYNACK, mibs(&res));
                else if (strncmp(res.why, "cannot", 6) != 0)
                    rc = -1; /* synack ran and failed */
            }
        }
        if (o->peer[BENCH_LINUX]) {
            double *v = &veth[rows[i].synack_sends];
            if (*v == 0) {
                struct st_job job = {.o = o, .bytes = kernel_bytes, .veth = true};
                in_child(kernel_measure, &job, &res, timeout_s);
                report(o, rows[i].row, "kernel -> kernel over veth", &res);
                *v = res.ok ? mibs(&res) : -1;
            }
            if (*v > 0)
                bench_figure_set(f, BENCH_LINUX, *v);
        }
    }
    struct bench_figure *f = bench_figure_get(r, ST, "memory_MiB_per_s", "MiB/s", false);
    if (o->peer[BENCH_SYNACK]) {
        if (memory_run(o, kernel_bytes, &res) == 0)
            bench_figure_set(f, BENCH_SYNACK, mibs(&res));
        else
            rc = -1;
        report(o, "memory", "synack -> synack (CPU time)", &res);
    }
    if (o->peer[BENCH_LINUX]) {
        struct st_job job = {.o = o, .bytes = kernel_bytes, .veth = false};
        in_child(kernel_measure, &job, &res, timeout_s);
        report(o, "memory", "kernel -> kernel over loopback", &res);
        if (res.ok)
            bench_figure_set(f, BENCH_LINUX, mibs(&res));
    }
    return rc;
}
