/* The Linux kernel as a peer: ordinary blocking sockets over 127.0.0.1
 * (loopback only), a client thread and a server thread on the CPU the
 * benchmark is pinned to; and the kernel's slab object sizes. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench_internal.h"

static int read_full(int fd, uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

static int listen_loopback(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4096) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static int connect_loopback(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* ---- lifecycles ---- */
struct lx_server {
    int lfd;
    atomic_bool stop;
    uint64_t served;
};

static void *lx_serve(void *arg)
{
    struct lx_server *sv = arg;
    uint8_t buf[BENCH_REQ_LEN];
    while (!atomic_load(&sv->stop)) {
        int s = accept(sv->lfd, NULL, NULL);
        if (s < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            break; /* the listener was shut down */
        }
        if (read_full(s, buf, BENCH_REQ_LEN) == 0 &&
            write(s, bench_response, BENCH_RESP_LEN) == BENCH_RESP_LEN) {
            /* Wait for the client's FIN: the client closes first. */
            while (read(s, buf, sizeof buf) > 0)
                ;
            sv->served++;
        }
        close(s);
    }
    return NULL;
}

int64_t lx_lifecycles(uint64_t n, double *cpu_s, double *wall_s, char *err, size_t errlen)
{
    struct lx_server sv = {0};
    uint16_t port;
    sv.lfd = listen_loopback(&port);
    if (sv.lfd < 0) {
        snprintf(err, errlen, "cannot listen on 127.0.0.1: %s", strerror(errno));
        return -1;
    }
    pthread_t th;
    if (pthread_create(&th, NULL, lx_serve, &sv) != 0) {
        snprintf(err, errlen, "cannot start the server thread");
        close(sv.lfd);
        return -1;
    }
    uint8_t buf[BENCH_RESP_LEN];
    uint64_t done = 0;
    struct bench_clock clk;
    bench_clock_start(&clk);
    for (; done < n; done++) {
        int fd = connect_loopback(port);
        if (fd < 0) {
            snprintf(err, errlen, "connect(): %s (ephemeral ports held in TIME-WAIT)", strerror(errno));
            break;
        }
        if (write(fd, bench_request, BENCH_REQ_LEN) != BENCH_REQ_LEN || read_full(fd, buf, BENCH_RESP_LEN) < 0) {
            snprintf(err, errlen, "request/response failed: %s", strerror(errno));
            close(fd);
            break;
        }
        close(fd);
    }
    *cpu_s = bench_clock_cpu_s(&clk);
    *wall_s = bench_clock_wall_s(&clk);
    atomic_store(&sv.stop, true);
    shutdown(sv.lfd, SHUT_RDWR);
    pthread_join(th, NULL);
    close(sv.lfd);
    return (int64_t)done;
}

/* ---- connections held open ----
 * The server ends stay in this process, the client ends in a child
 * process, so that each needs n descriptors, not 2n (RLIMIT_NOFILE). The
 * child connects while we accept, tells us when it holds all n, then waits
 * until we close the pipe and exits. */
struct lx_held {
    int *fds;
    size_t nfds;
    int lfds[64];
    int nlisten;
    pid_t child;
    int release_fd; /* closing it lets the child go */
};

void lx_release(struct lx_held *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->nfds; i++)
        close(h->fds[i]);
    for (int i = 0; i < h->nlisten; i++)
        close(h->lfds[i]);
    if (h->release_fd >= 0)
        close(h->release_fd);
    if (h->child > 0)
        waitpid(h->child, NULL, 0);
    free(h->fds);
    free(h);
}

static int raise_nofile(uint64_t need, char *err, size_t errlen)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
        return 0;
    rl.rlim_cur = need;
    if (rl.rlim_max < need)
        rl.rlim_max = need; /* needs CAP_SYS_RESOURCE */
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        snprintf(err, errlen, "needs %lu descriptors per process (RLIMIT_NOFILE): %s", (unsigned long)need,
                 strerror(errno));
        return -1;
    }
    return 0;
}

static void lx_child(const uint16_t *ports, uint64_t n, int ready_fd, int release_fd)
{
    int *fds = malloc(n * sizeof *fds);
    char status = 'x';
    if (fds) {
        uint64_t i = 0;
        for (; i < n; i++)
            if ((fds[i] = connect_loopback(ports[i / BENCH_CONNS_PER_ADDR])) < 0)
                break;
        if (i == n)
            status = 'k';
    }
    if (write(ready_fd, &status, 1) != 1)
        _exit(1);
    char c;
    while (read(release_fd, &c, 1) > 0)
        ;
    _exit(0); /* the kernel closes the n client ends */
}

struct lx_held *lx_hold(uint64_t n, char *err, size_t errlen)
{
    if (raise_nofile(n + 256, err, errlen) < 0)
        return NULL;
    uint64_t listeners = (n + BENCH_CONNS_PER_ADDR - 1) / BENCH_CONNS_PER_ADDR;
    if (listeners > 64) {
        snprintf(err, errlen, "too many connections for one loopback address");
        return NULL;
    }
    struct lx_held *h = calloc(1, sizeof *h);
    if (!h || !(h->fds = malloc(n * sizeof *h->fds))) {
        free(h);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->release_fd = -1;
    uint16_t ports[64];
    for (uint64_t i = 0; i < listeners; i++) {
        h->lfds[i] = listen_loopback(&ports[i]);
        if (h->lfds[i] < 0) {
            snprintf(err, errlen, "cannot listen on 127.0.0.1: %s", strerror(errno));
            lx_release(h);
            return NULL;
        }
        h->nlisten++;
    }
    int ready[2], release[2];
    if (pipe2(ready, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        lx_release(h);
        return NULL;
    }
    if (pipe2(release, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        close(ready[0]), close(ready[1]);
        lx_release(h);
        return NULL;
    }
    fflush(NULL);
    h->child = fork();
    if (h->child == 0) {
        close(ready[0]);
        close(release[1]);
        for (int i = 0; i < h->nlisten; i++)
            close(h->lfds[i]);
        lx_child(ports, n, ready[1], release[0]);
    }
    close(ready[1]);
    close(release[0]);
    h->release_fd = release[1];
    if (h->child < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(ready[0]);
        lx_release(h);
        return NULL;
    }
    for (uint64_t i = 0; i < n; i++) {
        int s = accept(h->lfds[i / BENCH_CONNS_PER_ADDR], NULL, NULL);
        if (s < 0) {
            snprintf(err, errlen, "accept() #%lu: %s", (unsigned long)i, strerror(errno));
            close(ready[0]);
            lx_release(h);
            return NULL;
        }
        h->fds[h->nfds++] = s;
    }
    char status = 0;
    bool ok = read(ready[0], &status, 1) == 1 && status == 'k';
    close(ready[0]);
    if (!ok) {
        snprintf(err, errlen, "the client process could not open %lu connections", (unsigned long)n);
        lx_release(h);
        return NULL;
    }
    return h;
}

/* ---- slab objects ---- */
/* Sizes read from /proc/slabinfo on Linux 6.18 x86-64 (the machine the
 * committed results come from), used when slabinfo cannot be read. */
static const struct {
    const char *cache;
    size_t size;
} documented_slabs[] = {
    {"request_sock_TCP", 320},
    {"TCP", 2368},
    {"tw_sock_TCP", 256},
};

size_t lx_slab_object_size(const char *cache, bool *documented)
{
    *documented = false;
    FILE *f = fopen("/proc/slabinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            char name[64];
            unsigned long active, num, objsize;
            if (sscanf(line, "%63s %lu %lu %lu", name, &active, &num, &objsize) == 4 && !strcmp(name, cache)) {
                fclose(f);
                return objsize;
            }
        }
        fclose(f);
    }
    *documented = true;
    for (size_t i = 0; i < sizeof documented_slabs / sizeof documented_slabs[0]; i++)
        if (!strcmp(documented_slabs[i].cache, cache))
            return documented_slabs[i].size;
    return 0;
}
