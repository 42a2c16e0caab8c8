/* The control socket's client side, used by `synack ss` and `synack nstat`:
 * one request line out, one reply line back, within a deadline. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "app/control.h"

#define CTL_MAX_REPLY (256u << 20)

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        return n;
    }
}

struct json *ctl_request(const char *path, const char *request, int timeout_ms, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!path || strlen(path) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "control socket path too long");
        return NULL;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return NULL;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        snprintf(err, errlen, "cannot reach synack at %s: %s%s", path, strerror(errno),
                 errno == ENOENT || errno == ECONNREFUSED ? " (is `synack serve` running? see --control)" : "");
        close(fd);
        return NULL;
    }
    long long deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 5000);
    size_t reqlen = strlen(request);
    char *line = malloc(reqlen + 2);
    if (!line) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(line, request, reqlen);
    line[reqlen++] = '\n';
    size_t sent = 0;
    while (sent < reqlen) {
        if (wait_fd(fd, POLLOUT, deadline) <= 0)
            break;
        ssize_t n = send(fd, line + sent, reqlen - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    free(line);
    if (sent < reqlen) {
        snprintf(err, errlen, "sending the request to %s failed", path);
        close(fd);
        return NULL;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    struct json *reply = NULL;
    bool done = false;
    while (buf && !done) {
        if (wait_fd(fd, POLLIN, deadline) <= 0) {
            snprintf(err, errlen, "no reply from %s within %d ms", path, timeout_ms);
            break;
        }
        if (len + 1 == cap) {
            char *bigger = cap < CTL_MAX_REPLY ? realloc(buf, cap * 2) : NULL;
            if (!bigger) {
                snprintf(err, errlen, "reply too large");
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t n = recv(fd, buf + len, cap - 1 - len, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "connection to %s closed before the reply ended", path);
            break;
        }
        char *nl = memchr(buf + len, '\n', (size_t)n);
        len += (size_t)n;
        if (nl) {
            char perr[96];
            reply = json_parse(buf, (size_t)(nl - buf), perr, sizeof perr);
            if (!reply)
                snprintf(err, errlen, "bad reply from %s: %s", path, perr);
            done = true;
        }
    }
    if (!buf)
        snprintf(err, errlen, "out of memory");
    free(buf);
    close(fd);
    return reply;
}
