/* The interop harness: namespace, synack children, kernel sockets, ss. */
#include "interop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app/control.h"

#define IO_POOL 8
#define IO_READY_MS 10000

static struct io_synack pool[IO_POOL];
static int pool_used;
static int next_n; /* per process; a namespace of our own makes names unique */
static char later[4][160];
static int nlater;
static pid_t all_children[256];
static int nchildren;

bool io_light(void)
{
    static int light = -1;
    if (light < 0) {
        const char *v = getenv("SYNACK_VALGRIND");
        light = v && *v && strcmp(v, "0") != 0;
    }
    return light;
}

int io_ms(int ms)
{
    return io_light() ? ms * IO_SLOW_FACTOR : ms;
}

long long io_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void io_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void kill_children(void)
{
    for (int i = 0; i < nchildren; i++)
        if (all_children[i] > 0 && kill(all_children[i], SIGKILL) == 0)
            waitpid(all_children[i], NULL, 0);
    nchildren = 0;
}

static void remember_child(pid_t pid)
{
    if (nchildren < (int)(sizeof all_children / sizeof all_children[0]))
        all_children[nchildren++] = pid;
}

static bool lo_up(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return false;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    bool ok = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
    ifr.ifr_flags |= IFF_UP;
    ok = ok && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
    close(fd);
    return ok;
}

const char *io_prepare(void)
{
    static bool done;
    static const char *why;
    if (done)
        return why;
    done = true;
    if (geteuid() != 0)
        why = "the interop tests need root (a network namespace and a TUN device)";
    else if (access("/dev/net/tun", R_OK | W_OK) != 0)
        why = "the interop tests need /dev/net/tun";
    else if (access(SYNACK_BIN, X_OK) != 0)
        why = "the synack binary is not built";
    else if (unshare(CLONE_NEWNET) != 0)
        why = "cannot create a network namespace (unshare CLONE_NEWNET)";
    else if (!lo_up())
        why = "cannot bring up loopback in the namespace";
    if (!why) {
        atexit(kill_children);
        signal(SIGPIPE, SIG_IGN);
    }
    return why;
}

/* ---- children ---- */
static void set_nonblocking(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void spawn(struct io_synack *s, const char *const *argv, bool pipe_stdin)
{
    int in[2] = {-1, -1}, out[2], err[2];
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(err, O_CLOEXEC), 0);
    if (pipe_stdin)
        assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (pipe_stdin)
            dup2(in[0], 0);
        else {
            int null = open("/dev/null", O_RDONLY);
            dup2(null, 0);
        }
        dup2(out[1], 1);
        dup2(err[1], 2);
        execv(SYNACK_BIN, (char *const *)argv);
        _exit(127);
    }
    remember_child(pid);
    s->pid = pid;
    close(out[1]);
    close(err[1]);
    s->out_fd = out[0];
    s->err_fd = err[0];
    set_nonblocking(s->err_fd);
    s->in_fd = -1;
    if (pipe_stdin) {
        close(in[0]);
        s->in_fd = in[1];
    }
}

static struct io_synack *new_child(bool ipv6)
{
    assert_true(pool_used < IO_POOL);
    struct io_synack *s = &pool[pool_used++];
    memset(s, 0, sizeof *s);
    s->n = ++next_n;
    assert_true(s->n < 250);
    s->in_fd = s->out_fd = s->err_fd = -1;
    snprintf(s->tun, sizeof s->tun, "io%d", s->n);
    snprintf(s->control, sizeof s->control, "/tmp/synack-io-%d-%d.sock", (int)getpid(), s->n);
    snprintf(s->events, sizeof s->events, "/tmp/synack-io-%d-%d.events", (int)getpid(), s->n);
    snprintf(s->synack4, sizeof s->synack4, "10.77.%d.1", s->n);
    snprintf(s->kernel4, sizeof s->kernel4, "10.77.%d.2", s->n);
    if (ipv6) {
        snprintf(s->synack6, sizeof s->synack6, "fd77:%d::1", s->n);
        snprintf(s->kernel6, sizeof s->kernel6, "fd77:%d::2", s->n);
    }
    return s;
}

#define IO_MAX_ARGS 64

static int base_args(struct io_synack *s, const char **argv, bool ipv6)
{
    static char addr4[IO_POOL][40], kaddr4[IO_POOL][40], addr6[IO_POOL][72], kaddr6[IO_POOL][72];
    int k = (int)(s - pool), n = 0;
    snprintf(addr4[k], sizeof addr4[k], "%s/24", s->synack4);
    snprintf(kaddr4[k], sizeof kaddr4[k], "%s/24", s->kernel4);
    argv[n++] = "--tun";
    argv[n++] = s->tun;
    argv[n++] = "--addr";
    argv[n++] = addr4[k];
    argv[n++] = "--kernel-addr";
    argv[n++] = kaddr4[k];
    if (ipv6) {
        snprintf(addr6[k], sizeof addr6[k], "%s/64", s->synack6);
        snprintf(kaddr6[k], sizeof kaddr6[k], "%s/64", s->kernel6);
        argv[n++] = "--addr";
        argv[n++] = addr6[k];
        argv[n++] = "--kernel-addr";
        argv[n++] = kaddr6[k];
    }
    argv[n++] = "--control";
    argv[n++] = s->control;
    argv[n++] = "--events";
    argv[n++] = s->events;
    return n;
}

static int extra_args(const char **argv, int n, va_list ap)
{
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL) {
        assert_true(n < IO_MAX_ARGS - 1);
        argv[n++] = a;
    }
    argv[n] = NULL;
    return n;
}

static void fail_with_stderr(struct io_synack *s, const char *what)
{
    char err[2048];
    io_stderr(s, err, sizeof err);
    fail_msg("%s; synack said: %s", what, err);
}

struct io_synack *io_serve(const char *app, int ipv6, ...)
{
    struct io_synack *s = new_child(ipv6);
    const char *argv[IO_MAX_ARGS];
    int n = 0;
    argv[n++] = "synack";
    argv[n++] = "serve";
    argv[n++] = "--app";
    argv[n++] = app;
    n += base_args(s, argv + n, ipv6);
    va_list ap;
    va_start(ap, ipv6);
    extra_args(argv, n, ap);
    va_end(ap);
    spawn(s, argv, false);
    long long deadline = io_now_ms() + io_ms(IO_READY_MS);
    while (io_now_ms() < deadline) {
        if (io_wait(s, 0) != -1)
            fail_with_stderr(s, "synack serve exited at start");
        char err[128];
        struct json *r = ctl_request(s->control, "{\"cmd\":\"ping\"}", io_ms(1000), err, sizeof err);
        if (r) {
            bool ok = json_get_bool(r, "ok", false);
            json_free(r);
            if (ok)
                return s;
        }
        io_sleep_ms(20);
    }
    fail_with_stderr(s, "synack serve did not answer on its control socket");
    return NULL;
}

struct io_synack *io_connect(int port, int ipv6, ...)
{
    struct io_synack *s = new_child(ipv6);
    const char *argv[IO_MAX_ARGS];
    static char target[IO_POOL][80];
    int n = 0, k = (int)(s - pool);
    if (ipv6)
        snprintf(target[k], sizeof target[k], "[%s]:%d", s->kernel6, port);
    else
        snprintf(target[k], sizeof target[k], "%s:%d", s->kernel4, port);
    argv[n++] = "synack";
    argv[n++] = "connect";
    argv[n++] = target[k];
    n += base_args(s, argv + n, ipv6);
    va_list ap;
    va_start(ap, ipv6);
    extra_args(argv, n, ap);
    va_end(ap);
    spawn(s, argv, true);
    set_nonblocking(s->out_fd);
    return s;
}

int io_wait(struct io_synack *s, int timeout_ms)
{
    if (s->exited)
        return s->status;
    long long deadline = io_now_ms() + io_ms(timeout_ms);
    for (;;) {
        pid_t r = waitpid(s->pid, &s->status, WNOHANG);
        if (r == s->pid) {
            s->exited = true;
            for (int i = 0; i < nchildren; i++)
                if (all_children[i] == s->pid)
                    all_children[i] = -1;
            return s->status;
        }
        if (io_now_ms() >= deadline)
            return -1;
        io_sleep_ms(5);
    }
}

int io_stop(struct io_synack *s)
{
    if (!s->exited) {
        kill(s->pid, SIGTERM);
        if (io_wait(s, 5000) == -1) { /* stretched under valgrind: the exit includes the leak check */
            kill(s->pid, SIGKILL);
            io_wait(s, 5000);
        }
    }
    return s->status;
}

size_t io_stderr(struct io_synack *s, char *buf, size_t cap)
{
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t n = read(s->err_fd, buf + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}

void io_close_stdin(struct io_synack *s)
{
    if (s->in_fd >= 0)
        close(s->in_fd);
    s->in_fd = -1;
}

int io_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < pool_used; i++) {
        struct io_synack *s = &pool[i];
        io_stop(s);
        io_close_stdin(s);
        if (s->out_fd >= 0)
            close(s->out_fd);
        if (s->err_fd >= 0)
            close(s->err_fd);
        unlink(s->events);
        unlink(s->control);
    }
    pool_used = 0;
    for (int i = 0; i < nlater; i++)
        unlink(later[i]);
    nlater = 0;
    return 0;
}

void io_remove_later(const char *path)
{
    assert_true(nlater < 4 && strlen(path) < sizeof later[0]);
    strcpy(later[nlater++], path);
}

/* ---- synack's view ---- */
struct json *io_ctl(const struct io_synack *s, const char *cmd)
{
    char req[64], err[256];
    snprintf(req, sizeof req, "{\"cmd\":\"%s\"}", cmd);
    struct json *r = ctl_request(s->control, req, io_ms(5000), err, sizeof err);
    if (!r)
        fail_msg("control request %s: %s", cmd, err);
    return r;
}

uint64_t io_counter(const struct io_synack *s, const char *name)
{
    struct json *r = io_ctl(s, "nstat");
    int64_t v = json_get_int(json_get(r, "tcp"), name, -1);
    if (v < 0)
        v = json_get_int(json_get(r, "link"), name, -1);
    json_free(r);
    if (v < 0)
        fail_msg("no counter %s", name);
    return (uint64_t)v;
}

static int port_of(const char *endpoint)
{
    const char *colon = strrchr(endpoint, ':');
    return colon ? atoi(colon + 1) : -1;
}

int io_synack_count(const struct io_synack *s, const char *state, int remote_port)
{
    struct json *r = io_ctl(s, "ss");
    const struct json *list = json_get(r, "sockets");
    assert_non_null(list);
    int n = 0;
    for (const struct json *c = list->child; c; c = c->next) {
        const char *st = json_get_str(c, "state", "");
        if (state ? strcmp(st, state) != 0 : !strcmp(st, "LISTEN"))
            continue;
        if (remote_port && port_of(json_get_str(c, "remote", "")) != remote_port)
            continue;
        n++;
    }
    json_free(r);
    return n;
}

int io_synack_conns(const struct io_synack *s)
{
    return io_synack_count(s, NULL, 0);
}

bool io_wait_synack_count(const struct io_synack *s, const char *state, int remote_port, int want, int timeout_ms)
{
    long long deadline = io_now_ms() + io_ms(timeout_ms);
    for (;;) {
        if (io_synack_count(s, state, remote_port) == want)
            return true;
        if (io_now_ms() >= deadline)
            return false;
        io_sleep_ms(20);
    }
}

bool io_events_have(const struct io_synack *s, const char *a, const char *b)
{
    FILE *f = fopen(s->events, "r");
    if (!f)
        return false;
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, a) && (!b || strstr(line, b));
    fclose(f);
    return found;
}

bool io_wait_events(const struct io_synack *s, const char *a, const char *b, int timeout_ms)
{
    long long deadline = io_now_ms() + io_ms(timeout_ms);
    while (!io_events_have(s, a, b)) {
        if (io_now_ms() >= deadline)
            return false;
        io_sleep_ms(20);
    }
    return true;
}

/* ---- kernel sockets ---- */
static socklen_t sockaddr_for(const char *addr, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        return sizeof *in4;
    }
    if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        return sizeof *in6;
    }
    fail_msg("bad address %s", addr);
    return 0;
}

int io_dial(const char *addr, int port, int timeout_ms)
{
    struct sockaddr_storage ss;
    socklen_t len = sockaddr_for(addr, port, &ss);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int n = poll(&p, 1, io_ms(timeout_ms));
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (n <= 0) {
        close(fd);
        errno = ETIMEDOUT;
        return -1;
    }
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr) {
        close(fd);
        errno = soerr;
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

int io_listen(const char *addr, int port, int backlog)
{
    struct sockaddr_storage ss;
    socklen_t len = sockaddr_for(addr, port, &ss);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
    assert_int_equal(listen(fd, backlog), 0);
    return fd;
}

int io_accept(int lfd, int timeout_ms)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    if (poll(&p, 1, io_ms(timeout_ms)) <= 0)
        return -1;
    return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

bool io_send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len); /* SIGPIPE is ignored */
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

size_t io_recv_all(int fd, char *buf, size_t cap, int timeout_ms, int *err)
{
    size_t len = 0;
    long long deadline = io_now_ms() + io_ms(timeout_ms);
    *err = ETIMEDOUT;
    while (len < cap) {
        long long left = deadline - io_now_ms();
        if (left <= 0)
            return len;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0) {
            *err = errno;
            return len;
        }
        if (n == 0) {
            *err = 0;
            return len;
        }
        len += (size_t)n;
    }
    *err = ENOBUFS;
    return len;
}

size_t io_recv_until(int fd, char *buf, size_t cap, const char *needle, int timeout_ms)
{
    size_t len = 0;
    long long deadline = io_now_ms() + io_ms(timeout_ms);
    buf[0] = '\0';
    while (len + 1 < cap && !strstr(buf, needle)) {
        long long left = deadline - io_now_ms();
        if (left <= 0)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
    }
    return len;
}

long io_http_response(int fd, char *buf, size_t cap, int *status, int timeout_ms)
{
    size_t len = io_recv_until(fd, buf, cap, "\r\n\r\n", timeout_ms);
    char *end = strstr(buf, "\r\n\r\n");
    if (!end || sscanf(buf, "HTTP/1.1 %d", status) != 1)
        return -1;
    const char *cl = strstr(buf, "Content-Length: ");
    long clen = cl ? strtol(cl + 16, NULL, 10) : 0;
    size_t have = len - (size_t)(end + 4 - buf);
    size_t need = (size_t)clen;
    if (end + 4 + need >= buf + cap)
        return -1;
    long long deadline = io_now_ms() + io_ms(timeout_ms);
    while (have < need && io_now_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = recv(fd, end + 4 + have, need - have, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    end[4 + have] = '\0';
    return have == need ? clen : -1;
}

uint16_t io_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                         : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

bool io_have(const char *program)
{
    const char *path = getenv("PATH");
    char buf[512];
    while (path && *path) {
        size_t n = strcspn(path, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, program);
        if (access(buf, X_OK) == 0)
            return true;
        path += n + (path[n] == ':');
    }
    return false;
}

int io_run(const char *const argv[], char *out, size_t cap, int timeout_ms)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(p[1], 1);
        dup2(p[1], 2);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    remember_child(pid);
    close(p[1]);
    size_t len = 0;
    long long deadline = io_now_ms() + io_ms(timeout_ms);
    for (;;) {
        long long left = deadline - io_now_ms();
        if (left <= 0)
            break;
        struct pollfd pf = {.fd = p[0], .events = POLLIN};
        if (poll(&pf, 1, (int)left) <= 0)
            continue;
        char tmp[4096];
        ssize_t n = read(p[0], tmp, sizeof tmp);
        if (n <= 0)
            break;
        size_t take = (size_t)n < cap - 1 - len ? (size_t)n : cap - 1 - len;
        memcpy(out + len, tmp, take);
        len += take;
    }
    out[len] = '\0';
    close(p[0]);
    int status;
    if (waitpid(pid, &status, WNOHANG) != pid) {
        long long until = io_now_ms() + 2000;
        while (waitpid(pid, &status, WNOHANG) != pid) {
            if (io_now_ms() > until) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                return -1;
            }
            io_sleep_ms(5);
        }
    }
    return status;
}

void io_kernel_state(int local_port, char *state, size_t cap)
{
    static const char *const argv[] = {"ss", "-tanH", NULL};
    char out[65536];
    state[0] = '\0';
    if (io_run(argv, out, sizeof out, 5000) != 0)
        fail_msg("ss -tan failed: %s", out);
    char want[16];
    snprintf(want, sizeof want, ":%d", local_port);
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char st[32], rq[16], sq[16], local[80], peer[80];
        if (sscanf(line, "%31s %15s %15s %79s %79s", st, rq, sq, local, peer) != 5)
            continue;
        size_t ll = strlen(local), wl = strlen(want);
        if (ll > wl && !strcmp(local + ll - wl, want) && (strstr(peer, "10.77.") || strstr(peer, "fd77:"))) {
            snprintf(state, cap, "%s", st);
            return;
        }
    }
}

bool io_wait_kernel_state(int local_port, const char *state, int timeout_ms)
{
    long long deadline = io_now_ms() + io_ms(timeout_ms);
    char st[32];
    for (;;) {
        io_kernel_state(local_port, st, sizeof st);
        if (!strcmp(st, state))
            return true;
        if (io_now_ms() >= deadline) {
            print_message("kernel state of port %d: '%s', wanted '%s'\n", local_port, st, state);
            return false;
        }
        io_sleep_ms(20);
    }
}
