/* `synack connect`: in_fd -> connection -> out_fd, like nc. Each direction
 * holds at most one buffer: while the connection cannot take more, in_fd
 * is not read; while out_fd cannot take more, the connection is not read
 * (its window closes and the peer waits). When in_fd ends, our side is
 * shut down for writing (half-close) and the peer may go on sending; the
 * exchange is over when both directions are. The process then stays until
 * the close handshake has finished (our FIN acknowledged), so the peer is
 * never left waiting for a last ACK. The peer's FIN is passed on: once its
 * data is written, out_fd is closed (replaced by /dev/null), so a reader
 * of our stdout sees end of file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "app/app.h"

#define PIPE_BUF_SIZE 65536
#define PIPE_POLL_US TCP_MSEC(10)
#define PIPE_CLOSE_LIMIT TCP_SEC(300) /* waiting for the close handshake, at most */

struct app_pipe {
    struct rt *rt;
    struct app_pipe_config cfg;
    int sd;
    bool connected, in_eof, peer_eof, wr_shut, closed, done;
    bool in_watched, out_watched, out_closed;
    char in[PIPE_BUF_SIZE];
    size_t in_len, in_off;
    char out[PIPE_BUF_SIZE];
    size_t out_len, out_off;
    int result;
    char message[160];
    struct rt_timer close_timer;
    tcp_time_t close_deadline;
};

void app_pipe_config_default(struct app_pipe_config *c)
{
    memset(c, 0, sizeof *c);
    c->in_fd = 0;
    c->out_fd = 1;
    c->linger = -1;
}

int app_pipe_result(const struct app_pipe *p, const char **message)
{
    if (message)
        *message = p->done || p->result ? p->message : "interrupted before the connection ended";
    return p->done || p->result ? p->result : EINTR;
}

static void finish(struct app_pipe *p);

static void fail(struct app_pipe *p, const char *what, int err)
{
    if (err < 0)
        err = -err;
    if (!p->result) {
        char r[WIRE_ENDPOINT_STRLEN];
        p->result = err ? err : EIO;
        snprintf(p->message, sizeof p->message, "%s %s: %s (%s)", what, wire_endpoint_str(&p->cfg.remote, r),
                 strerror(p->result), rt_errno_name(p->result));
    }
    rt_event_app(p->rt, p->sd, what, rt_errno_name(err));
    finish(p);
}

/* Is the close handshake over: no entry left but TIME-WAIT (or none at
 * all when keep_timewait)? */
struct pipe_walk {
    const struct app_pipe *p;
    size_t busy;
};

static void walk_busy(void *ctx, const struct stack_conn_info *info)
{
    struct pipe_walk *w = ctx;
    if (info->state == TCP_STATE_LISTEN)
        return;
    if (info->state != TCP_STATE_TIME_WAIT || w->p->cfg.keep_timewait)
        w->busy++;
}

static void close_poll(struct rt *rt, struct rt_timer *t)
{
    struct app_pipe *p = t->arg;
    struct pipe_walk w = {p, 0};
    stack_walk(rt_stack(rt), walk_busy, &w);
    if (w.busy == 0 || rt_now() >= p->close_deadline) {
        rt_stop(rt);
        return;
    }
    rt_timer_arm(rt, t, rt_now() + PIPE_POLL_US);
}

static void unwatch_fds(struct app_pipe *p)
{
    if (p->in_watched)
        rt_fd_unwatch(p->rt, p->cfg.in_fd);
    if (p->out_watched)
        rt_fd_unwatch(p->rt, p->cfg.out_fd);
    p->in_watched = p->out_watched = false;
}

/* The exchange is over (or failed): release the descriptor and wait for
 * the stack to finish the close. */
static void finish(struct app_pipe *p)
{
    if (p->done)
        return;
    p->done = true;
    unwatch_fds(p);
    rt_sock_unwatch(p->rt, p->sd);
    if (!p->closed) {
        stack_close(rt_stack(p->rt), p->sd, rt_now());
        p->closed = true;
    }
    p->close_deadline = rt_now() + PIPE_CLOSE_LIMIT;
    rt_timer_arm(p->rt, &p->close_timer, rt_now());
}

static void check_done(struct app_pipe *p)
{
    if (p->done)
        return;
    bool sent_all = p->in_eof && p->in_off == p->in_len;
    bool got_all = p->peer_eof && p->out_off == p->out_len;
    if ((sent_all && got_all) || (p->closed && sent_all))
        finish(p);
}

static void set_in_interest(struct app_pipe *p, bool want)
{
    if (p->in_watched)
        rt_fd_modify(p->rt, p->cfg.in_fd, want ? EPOLLIN : 0);
}

static void in_eof_action(struct app_pipe *p)
{
    struct stack *st = rt_stack(p->rt);
    if (p->cfg.close_on_eof) {
        if (p->cfg.linger >= 0)
            stack_setsockopt(st, p->sd, STACK_SO_LINGER, p->cfg.linger);
        rt_event_app(p->rt, p->sd, "close", p->cfg.linger == 0 ? "SO_LINGER 0" : "OK");
        rt_sock_unwatch(p->rt, p->sd);
        stack_close(st, p->sd, rt_now());
        p->closed = true;
    } else if (!p->wr_shut) {
        stack_shutdown(st, p->sd, STACK_SHUT_WR, rt_now());
        p->wr_shut = true;
    }
}

/* in buffer -> connection. */
static bool pump_out(struct app_pipe *p)
{
    struct stack *st = rt_stack(p->rt);
    while (p->in_off < p->in_len) {
        ssize_t n = stack_send(st, p->sd, p->in + p->in_off, p->in_len - p->in_off, rt_now());
        if (n == -EAGAIN)
            return true;
        if (n < 0) {
            fail(p, "send", (int)n);
            return false;
        }
        p->in_off += (size_t)n;
    }
    p->in_off = p->in_len = 0;
    if (p->in_eof)
        in_eof_action(p);
    else
        set_in_interest(p, true);
    return true;
}

static void out_event(struct rt *rt, int fd, uint32_t events, void *arg);

/* out buffer -> out_fd. False if it cannot take more now. */
static bool write_out(struct app_pipe *p)
{
    while (p->out_off < p->out_len) {
        ssize_t n = write(p->cfg.out_fd, p->out + p->out_off, p->out_len - p->out_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (!p->out_watched && rt_fd_watch(p->rt, p->cfg.out_fd, EPOLLOUT, out_event, p) == 0)
                p->out_watched = true;
            else if (p->out_watched)
                rt_fd_modify(p->rt, p->cfg.out_fd, EPOLLOUT);
            return false;
        }
        if (n <= 0) { /* the reader went away (EPIPE): stop receiving, as nc does */
            p->out_off = p->out_len = 0;
            p->peer_eof = true;
            return false;
        }
        p->out_off += (size_t)n;
    }
    p->out_off = p->out_len = 0;
    if (p->out_watched)
        rt_fd_modify(p->rt, p->cfg.out_fd, 0);
    return true;
}

/* The peer's FIN, passed on to whoever reads out_fd. */
static void close_out(struct app_pipe *p)
{
    if (p->out_closed)
        return;
    p->out_closed = true;
    if (p->out_watched)
        rt_fd_unwatch(p->rt, p->cfg.out_fd);
    p->out_watched = false;
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, p->cfg.out_fd);
        close(null);
    }
}

/* connection -> out buffer -> out_fd. */
static bool pump_in(struct app_pipe *p)
{
    struct stack *st = rt_stack(p->rt);
    while (!p->peer_eof && write_out(p)) {
        ssize_t n = stack_recv(st, p->sd, p->out, sizeof p->out, rt_now());
        if (n == -EAGAIN)
            return true;
        if (n < 0) {
            fail(p, "recv", (int)n);
            return false;
        }
        if (n == 0) {
            p->peer_eof = true;
            rt_event_app(p->rt, p->sd, "recv", "EOF");
            break;
        }
        p->out_len = (size_t)n;
    }
    if (p->peer_eof && p->out_off == p->out_len)
        close_out(p);
    return true;
}

static void in_event(struct rt *rt, int fd, uint32_t events, void *arg)
{
    (void)rt;
    (void)events;
    struct app_pipe *p = arg;
    if (p->in_len || p->in_eof || p->done)
        return;
    ssize_t n = read(fd, p->in, sizeof p->in);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) { /* EOF, or an error reading: the same for the peer */
        p->in_eof = true;
        rt_fd_unwatch(p->rt, fd);
        p->in_watched = false;
        in_eof_action(p);
        check_done(p);
        return;
    }
    p->in_len = (size_t)n;
    set_in_interest(p, false);
    if (pump_out(p))
        check_done(p);
}

static void out_event(struct rt *rt, int fd, uint32_t events, void *arg)
{
    (void)fd;
    (void)events;
    struct app_pipe *p = arg;
    if (p->done)
        return;
    if (write_out(p)) {
        if (p->peer_eof)
            close_out(p);
        else
            rt_sock_kick(rt, p->sd); /* room again: resume receiving */
    }
    check_done(p);
}

static void sock_event(struct rt *rt, int sd, unsigned events, void *arg)
{
    struct app_pipe *p = arg;
    if (p->done)
        return;
    if (!p->connected) {
        if (events & STACK_POLLERR) {
            fail(p, "connect", stack_sock_error(rt_stack(rt), sd));
            return;
        }
        if (!(events & STACK_POLLOUT))
            return;
        p->connected = true;
        rt_event_app(rt, sd, "connect", "OK");
        if (rt_fd_watch(rt, p->cfg.in_fd, EPOLLIN, in_event, p) == 0) {
            p->in_watched = true;
        } else {
            p->in_eof = true; /* nothing to send */
            in_eof_action(p);
        }
    }
    if (events & STACK_POLLERR) {
        /* A reset or a timeout: the pending error says which (SO_ERROR). */
        int err = stack_sock_error(rt_stack(rt), sd);
        if (err) {
            fail(p, "connection to", err);
            return;
        }
    }
    if (!p->closed && !pump_out(p))
        return;
    if (!p->closed && !pump_in(p))
        return;
    check_done(p);
}

struct app_pipe *app_pipe_start(struct rt *rt, const struct app_pipe_config *cfg, char *err, size_t errlen)
{
    struct app_pipe *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->rt = rt;
    p->cfg = *cfg;
    rt_timer_init(&p->close_timer, close_poll, p);
    struct stack *st = rt_stack(rt);
    bool v6 = !wire_addr_is_v4(&cfg->remote.addr);
    struct wire_addr local;
    if (!rt_local_addr(rt, v6, &local)) {
        snprintf(err, errlen, "no %s address of our own to connect from (--addr)", v6 ? "IPv6" : "IPv4");
        free(p);
        return NULL;
    }
    stack_set_local_addr(st, &local);
    p->sd = rt_socket(rt, v6);
    int rc = p->sd < 0 ? p->sd : 0;
    if (!rc && cfg->keepalive)
        rc = stack_setsockopt(st, p->sd, STACK_SO_KEEPALIVE, 1);
    if (!rc)
        rc = stack_connect(st, p->sd, &cfg->remote, rt_now());
    if (rc != -EINPROGRESS) {
        char r[WIRE_ENDPOINT_STRLEN];
        snprintf(err, errlen, "connect %s: %s", wire_endpoint_str(&cfg->remote, r), rt_errno_name(rc));
        if (p->sd >= 0)
            stack_close(st, p->sd, rt_now());
        free(p);
        return NULL;
    }
    rt_event_app(rt, p->sd, "connect", "EINPROGRESS");
    rt_sock_watch(rt, p->sd, sock_event, p);
    return p;
}

void app_pipe_free(struct app_pipe *p)
{
    if (!p)
        return;
    rt_timer_cancel(p->rt, &p->close_timer);
    unwatch_fds(p);
    if (!p->closed) {
        rt_sock_unwatch(p->rt, p->sd);
        stack_abort(rt_stack(p->rt), p->sd, rt_now()); /* interrupted: the peer learns at once */
    }
    free(p);
}
