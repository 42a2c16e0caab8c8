/* Socket calls made by the scenarios' applications, each logged as an
 * "app" event: call(args) = result. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/runner_internal.h"

const char *sim_errno_name(int err)
{
    static const struct {
        int err;
        const char *name;
    } names[] = {
        {EAGAIN, "EAGAIN"},           {EINPROGRESS, "EINPROGRESS"}, {ECONNREFUSED, "ECONNREFUSED"},
        {ETIMEDOUT, "ETIMEDOUT"},     {ECONNRESET, "ECONNRESET"},   {EPIPE, "EPIPE"},
        {EADDRINUSE, "EADDRINUSE"},   {ENOTCONN, "ENOTCONN"},       {EINVAL, "EINVAL"},
        {EBADF, "EBADF"},             {EISCONN, "EISCONN"},         {EALREADY, "EALREADY"},
        {ENOMEM, "ENOMEM"},           {EMFILE, "EMFILE"},           {EOPNOTSUPP, "EOPNOTSUPP"},
        {EADDRNOTAVAIL, "EADDRNOTAVAIL"}, {EHOSTUNREACH, "EHOSTUNREACH"}, {ENETUNREACH, "ENETUNREACH"},
        {ECONNABORTED, "ECONNABORTED"}, {ENOBUFS, "ENOBUFS"},       {EAFNOSUPPORT, "EAFNOSUPPORT"},
    };
    static _Thread_local char other[16];
    if (err < 0)
        err = -err;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].err == err)
            return names[i].name;
    snprintf(other, sizeof other, "E%d", err);
    return other;
}

/* ---- descriptors the apps hold ---- */

void sim_hold_sd(struct sim_run *run, int host, int sd)
{
    struct sim_host_rt *h = &run->hosts[host];
    int *sds = realloc(h->sds, (h->nsds + 1) * sizeof *sds);
    if (!sds) {
        sim_fail(run, "out of memory");
        return;
    }
    h->sds = sds;
    h->sds[h->nsds++] = sd;
}

void sim_release_sd(struct sim_run *run, int host, int sd)
{
    struct sim_host_rt *h = &run->hosts[host];
    for (size_t i = 0; i < h->nsds; i++)
        if (h->sds[i] == sd) {
            memmove(h->sds + i, h->sds + i + 1, (h->nsds - i - 1) * sizeof *h->sds);
            h->nsds--;
            return;
        }
}

/* ---- logged socket calls ---- */

static void result_text(long rc, char *buf, size_t cap)
{
    if (rc < 0)
        snprintf(buf, cap, "%s", sim_errno_name((int)-rc));
    else
        snprintf(buf, cap, "%ld", rc);
}

int sim_listen(struct sim_run *run, int host, uint16_t port, int backlog)
{
    struct stack *s = sim_stack(run, host);
    if (!s)
        return -EINVAL;
    char args[SIM_APP_ARGS_MAX], res[SIM_APP_RESULT_MAX];
    snprintf(args, sizeof args, ":%u", port);
    long ev = sim_log_app_args(&run->log, sim_now(run), host, "listen", args, "");
    int sd = stack_socket(s);
    int rc = sd;
    if (sd >= 0) {
        struct wire_endpoint local = {*simnet_host_addr(run->net, host), port};
        rc = stack_bind(s, sd, &local);
        if (rc >= 0)
            rc = stack_listen(s, sd, backlog);
        if (rc < 0)
            stack_close(s, sd, sim_now(run));
        else
            sim_hold_sd(run, host, sd);
    }
    result_text(rc < 0 ? rc : 0, res, sizeof res);
    sim_log_app_result(&run->log, ev, res);
    return rc < 0 ? rc : sd;
}

int sim_connect(struct sim_run *run, int host, int server_host, uint16_t port, uint16_t local_port)
{
    struct stack *s = sim_stack(run, host);
    const struct wire_addr *to = simnet_host_addr(run->net, server_host);
    if (!s || !to)
        return -EINVAL;
    char args[WIRE_ENDPOINT_STRLEN], res[SIM_APP_RESULT_MAX];
    struct wire_endpoint target = {*to, port};
    wire_endpoint_str(&target, args);
    long ev = sim_log_app_args(&run->log, sim_now(run), host, "connect", args, "");
    int sd = stack_socket(s);
    int rc = sd;
    if (sd >= 0) {
        if (local_port) {
            struct wire_endpoint local = {*simnet_host_addr(run->net, host), local_port};
            rc = stack_bind(s, sd, &local);
        }
        struct wire_endpoint remote = {*to, port};
        if (rc >= 0)
            rc = stack_connect(s, sd, &remote, sim_now(run));
        if (rc < 0 && rc != -EINPROGRESS) {
            stack_close(s, sd, sim_now(run));
        } else {
            sim_hold_sd(run, host, sd);
        }
    }
    result_text(rc, res, sizeof res);
    sim_log_app_result(&run->log, ev, res);
    return rc < 0 && rc != -EINPROGRESS ? rc : sd;
}

int sim_accept(struct sim_run *run, int host, int lsd)
{
    struct stack *s = sim_stack(run, host);
    if (!s)
        return -EINVAL;
    struct wire_endpoint peer;
    int sd = stack_accept(s, lsd, &peer);
    if (sd == -EAGAIN)
        return sd;
    char res[SIM_APP_RESULT_MAX];
    if (sd >= 0) {
        char ep[WIRE_ENDPOINT_STRLEN];
        snprintf(res, sizeof res, "%d (%s)", sd, wire_endpoint_str(&peer, ep));
        sim_hold_sd(run, host, sd);
    } else {
        result_text(sd, res, sizeof res);
    }
    sim_log_app(&run->log, sim_now(run), host, "accept", res);
    return sd;
}

ssize_t sim_send(struct sim_run *run, int host, int sd, const char *text)
{
    struct stack *s = sim_stack(run, host);
    if (!s)
        return -EINVAL;
    char args[SIM_APP_ARGS_MAX], res[SIM_APP_RESULT_MAX];
    size_t len = strlen(text);
    if (len <= 24)
        snprintf(args, sizeof args, "\"%s\"", text);
    else
        snprintf(args, sizeof args, "\"%.21s...\"", text);
    long ev = sim_log_app_args(&run->log, sim_now(run), host, "send", args, "");
    ssize_t n = stack_send(s, sd, text, len, sim_now(run));
    if (n >= 0)
        snprintf(res, sizeof res, "%zd bytes", n);
    else
        result_text(n, res, sizeof res);
    sim_log_app_result(&run->log, ev, res);
    return n;
}

ssize_t sim_recv(struct sim_run *run, int host, int sd)
{
    char buf[SIM_RECV_CHUNK];
    return sim_recv_into(run, host, sd, buf, sizeof buf);
}

ssize_t sim_recv_into(struct sim_run *run, int host, int sd, char *buf, size_t cap)
{
    struct stack *s = sim_stack(run, host);
    if (!s)
        return -EINVAL;
    char res[SIM_APP_RESULT_MAX];
    ssize_t n = stack_recv(s, sd, buf, cap, sim_now(run));
    if (n == -EAGAIN)
        return n;
    if (n > 0)
        snprintf(res, sizeof res, "%zd bytes", n);
    else if (n == 0)
        snprintf(res, sizeof res, "EOF");
    else
        result_text(n, res, sizeof res);
    sim_log_app(&run->log, sim_now(run), host, "recv", res);
    return n;
}

static int simple_call(struct sim_run *run, int host, int sd, const char *name, const char *args,
                       int rc_of(struct stack *, int, tcp_time_t))
{
    struct stack *s = sim_stack(run, host);
    if (!s)
        return -EINVAL;
    char res[SIM_APP_RESULT_MAX], sdtext[16];
    if (!args) {
        snprintf(sdtext, sizeof sdtext, "%d", sd);
        args = sdtext;
    }
    long ev = sim_log_app_args(&run->log, sim_now(run), host, name, args, "");
    int rc = rc_of(s, sd, sim_now(run));
    result_text(rc, res, sizeof res);
    sim_log_app_result(&run->log, ev, res);
    return rc;
}

static int do_close(struct stack *s, int sd, tcp_time_t now)
{
    return stack_close(s, sd, now);
}

static int do_abort(struct stack *s, int sd, tcp_time_t now)
{
    return stack_abort(s, sd, now);
}

static int do_shutdown_wr(struct stack *s, int sd, tcp_time_t now)
{
    return stack_shutdown(s, sd, STACK_SHUT_WR, now);
}

int sim_close(struct sim_run *run, int host, int sd)
{
    sim_unwatch(run, host, sd);
    sim_release_sd(run, host, sd);
    return simple_call(run, host, sd, "close", NULL, do_close);
}

int sim_abort(struct sim_run *run, int host, int sd)
{
    sim_unwatch(run, host, sd);
    sim_release_sd(run, host, sd);
    return simple_call(run, host, sd, "abort", NULL, do_abort);
}

int sim_shutdown_wr(struct sim_run *run, int host, int sd)
{
    return simple_call(run, host, sd, "shutdown", "SHUT_WR", do_shutdown_wr);
}

int sim_setsockopt(struct sim_run *run, int host, int sd, enum stack_opt opt, int value)
{
    static const char *const names[] = {
        [STACK_SO_LINGER] = "SO_LINGER",     [STACK_SO_KEEPALIVE] = "SO_KEEPALIVE",
        [STACK_TCP_KEEPIDLE] = "TCP_KEEPIDLE", [STACK_TCP_KEEPINTVL] = "TCP_KEEPINTVL",
        [STACK_TCP_KEEPCNT] = "TCP_KEEPCNT", [STACK_TCP_NODELAY] = "TCP_NODELAY",
        [STACK_SO_RCVBUF] = "SO_RCVBUF",     [STACK_SO_SNDBUF] = "SO_SNDBUF",
        [STACK_SO_REUSEADDR] = "SO_REUSEADDR", [STACK_TCP_SYNCNT] = "TCP_SYNCNT",
        [STACK_TCP_MAXSEG] = "TCP_MAXSEG",
    };
    struct stack *s = sim_stack(run, host);
    if (!s)
        return -EINVAL;
    char args[SIM_APP_ARGS_MAX], res[SIM_APP_RESULT_MAX];
    const char *name = (unsigned)opt < sizeof names / sizeof names[0] && names[opt] ? names[opt] : "?";
    snprintf(args, sizeof args, "%s, %d", name, value);
    int rc = stack_setsockopt(s, sd, opt, value);
    result_text(rc, res, sizeof res);
    sim_log_app_args(&run->log, sim_now(run), host, "setsockopt", args, res);
    return rc;
}
