/* The control socket's server side: accept, read lines, answer, write
 * back without ever blocking the runtime loop. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "app/control.h"
#include "app/rt.h"

#define CTL_MAX_PENDING_OUT (64u << 20) /* replies not yet read by the client */

struct ctl_client {
    int fd;
    char *in;
    size_t inlen;
    bool discarding; /* the current line went past CTL_MAX_LINE: skip to its end */
    bool eof;        /* the client finished sending: answer, then close */
    struct jbuf out;
};

struct ctl_server {
    struct rt *rt;
    int fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct ctl_client *clients[CTL_MAX_CLIENTS];
};

void ctl_default_path(const char *tun_name, char *buf, size_t cap)
{
    const char *dir = getenv("XDG_RUNTIME_DIR");
    if (dir && *dir)
        snprintf(buf, cap, "%s/synack-%s.sock", dir, tun_name);
    else
        snprintf(buf, cap, "/tmp/synack-%u-%s.sock", (unsigned)getuid(), tun_name);
}

/* ---- requests ---- */
static void reply_error(struct jbuf *out, const char *msg)
{
    jbuf_puts(out, "{\"ok\":false,\"error\":");
    jbuf_str(out, msg);
    jbuf_puts(out, "}");
}

static const char *timer_name(enum stack_timer_kind k)
{
    switch (k) {
    case STACK_TIMER_ON: return "on";
    case STACK_TIMER_KEEPALIVE: return "keepalive";
    case STACK_TIMER_TIMEWAIT: return "timewait";
    case STACK_TIMER_PERSIST: return "persist";
    case STACK_TIMER_OFF: break;
    }
    return "off";
}

struct ss_walk {
    struct jbuf *out;
    tcp_time_t now;
    bool first;
};

static void ss_one(void *ctx, const struct stack_conn_info *c)
{
    struct ss_walk *w = ctx;
    char l[WIRE_ENDPOINT_STRLEN], r[WIRE_ENDPOINT_STRLEN];
    jbuf_puts(w->out, w->first ? "{" : ",{");
    w->first = false;
    jbuf_printf(w->out, "\"state\":\"%s\",\"sd\":%d,\"local\":", tcp_state_name(c->state), c->sd);
    jbuf_str(w->out, wire_endpoint_str(&c->local, l));
    jbuf_puts(w->out, ",\"remote\":");
    jbuf_str(w->out, wire_endpoint_str(&c->remote, r));
    jbuf_printf(w->out, ",\"recv_q\":%u,\"send_q\":%u,\"syn_q\":%u,\"syn_q_max\":%u", c->recv_q, c->send_q,
                c->syn_q, c->syn_q_max);
    enum stack_timer_kind timer = c->timer_expires ? c->timer : STACK_TIMER_OFF;
    jbuf_printf(w->out, ",\"timer\":\"%s\"", timer_name(timer));
    if (timer != STACK_TIMER_OFF) {
        tcp_time_t left = c->timer_expires > w->now ? c->timer_expires - w->now : 0;
        jbuf_printf(w->out, ",\"expires_us\":%llu", (unsigned long long)left);
    }
    jbuf_printf(w->out, ",\"retrans\":%u,\"orphan\":%s}", c->retransmits, c->orphan ? "true" : "false");
}

static void reply_ss(struct rt *rt, struct jbuf *out)
{
    struct ss_walk w = {out, rt_now(), true};
    jbuf_printf(out, "{\"ok\":true,\"now_us\":%llu,\"sockets\":[", (unsigned long long)(w.now - rt_started(rt)));
    stack_walk(rt_stack(rt), ss_one, &w);
    jbuf_puts(out, "]}");
}

static void reply_nstat(struct rt *rt, struct jbuf *out)
{
    const struct tcp_counters *c = stack_counters(rt_stack(rt));
    jbuf_puts(out, "{\"ok\":true,\"tcp\":{");
    for (int i = 0; i < tcp_counter_count(); i++)
        jbuf_printf(out, "%s\"%s\":%llu", i ? "," : "", tcp_counter_name(i),
                    (unsigned long long)tcp_counter_get(c, i));
    jbuf_puts(out, "},\"link\":{");
    const struct rt_link_counters *lc = rt_link_counters(rt);
    for (int i = 0; i < rt_link_counter_count(); i++)
        jbuf_printf(out, "%s\"%s\":%llu", i ? "," : "", rt_link_counter_name(i),
                    (unsigned long long)rt_link_counter_get(lc, i));
    jbuf_puts(out, "}}");
}

static void reply_info(struct rt *rt, struct jbuf *out)
{
    const struct rt_config *cfg = rt_get_config(rt);
    jbuf_printf(out, "{\"ok\":true,\"pid\":%ld,\"tun\":", (long)getpid());
    jbuf_str(out, rt_tun_name(rt));
    jbuf_puts(out, ",\"app\":");
    jbuf_str(out, cfg->app_name ? cfg->app_name : "");
    jbuf_puts(out, ",\"addrs\":[");
    for (size_t i = 0; i < cfg->naddrs; i++) {
        char a[WIRE_ADDR_STRLEN], text[WIRE_ADDR_STRLEN + 8];
        snprintf(text, sizeof text, "%s/%d", wire_addr_str(&cfg->addrs[i].addr, a), cfg->addrs[i].prefix);
        if (i)
            jbuf_puts(out, ",");
        jbuf_str(out, text);
    }
    jbuf_printf(out, "],\"connections\":%zu,\"uptime_us\":%llu}", stack_conn_count(rt_stack(rt)),
                (unsigned long long)(rt_now() - rt_started(rt)));
}

void ctl_handle_line(struct rt *rt, const char *line, size_t len, struct jbuf *out)
{
    char err[96];
    struct json *req = json_parse(line, len, err, sizeof err);
    if (!req) {
        char msg[128];
        snprintf(msg, sizeof msg, "bad request: %s", err);
        reply_error(out, msg);
        return;
    }
    const char *cmd = json_get_str(req, "cmd", NULL);
    if (req->type != JSON_OBJECT)
        reply_error(out, "bad request: expected a JSON object like {\"cmd\":\"ss\"}");
    else if (!cmd)
        reply_error(out, "bad request: no \"cmd\" string");
    else if (!strcmp(cmd, "ss"))
        reply_ss(rt, out);
    else if (!strcmp(cmd, "nstat"))
        reply_nstat(rt, out);
    else if (!strcmp(cmd, "info"))
        reply_info(rt, out);
    else if (!strcmp(cmd, "ping"))
        jbuf_puts(out, "{\"ok\":true}");
    else
        reply_error(out, "unknown cmd (ss, nstat, info, ping)");
    json_free(req);
}

/* ---- clients ---- */
static void client_free(struct ctl_server *s, int slot)
{
    struct ctl_client *c = s->clients[slot];
    if (!c)
        return;
    rt_fd_unwatch(s->rt, c->fd);
    close(c->fd);
    free(c->in);
    jbuf_free(&c->out);
    free(c);
    s->clients[slot] = NULL;
}

static int client_slot(struct ctl_server *s, int fd)
{
    for (int i = 0; i < CTL_MAX_CLIENTS; i++)
        if (s->clients[i] && s->clients[i]->fd == fd)
            return i;
    return -1;
}

/* Writes what the client will take; false if the client is gone. */
static bool client_flush(struct ctl_server *s, struct ctl_client *c)
{
    while (c->out.len) {
        ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0)
            return false;
        jbuf_consume(&c->out, (size_t)n);
    }
    uint32_t want = (c->eof ? 0 : EPOLLIN) | (c->out.len ? EPOLLOUT : 0);
    return rt_fd_modify(s->rt, c->fd, want) == 0;
}

static void client_lines(struct ctl_server *s, struct ctl_client *c)
{
    size_t start = 0;
    for (size_t i = 0; i < c->inlen; i++) {
        if (c->in[i] != '\n')
            continue;
        if (c->discarding) {
            c->discarding = false;
        } else {
            size_t len = i - start;
            if (len && c->in[start + len - 1] == '\r')
                len--;
            bool blank = true;
            for (size_t k = start; k < start + len; k++)
                if (c->in[k] != ' ' && c->in[k] != '\t')
                    blank = false;
            if (!blank) {
                ctl_handle_line(s->rt, c->in + start, len, &c->out);
                jbuf_puts(&c->out, "\n");
            }
        }
        start = i + 1;
    }
    memmove(c->in, c->in + start, c->inlen - start);
    c->inlen -= start;
    if (c->inlen == CTL_MAX_LINE) { /* a line too long: answer once, skip to its end */
        if (!c->discarding) {
            reply_error(&c->out, "request line too long");
            jbuf_puts(&c->out, "\n");
        }
        c->discarding = true;
        c->inlen = 0;
    }
}

static void client_event(struct rt *rt, int fd, uint32_t events, void *arg)
{
    (void)rt;
    struct ctl_server *s = arg;
    int slot = client_slot(s, fd);
    if (slot < 0)
        return;
    struct ctl_client *c = s->clients[slot];
    if (events & EPOLLERR) {
        client_free(s, slot);
        return;
    }
    if (!c->eof && (events & (EPOLLIN | EPOLLHUP))) {
        for (;;) {
            ssize_t n = recv(fd, c->in + c->inlen, CTL_MAX_LINE - c->inlen, MSG_DONTWAIT);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN)
                break;
            if (n < 0) {
                client_free(s, slot);
                return;
            }
            if (n == 0) { /* EOF: answer what came (a last line may lack its newline), then go */
                if (c->inlen && !c->discarding && c->inlen < CTL_MAX_LINE)
                    c->in[c->inlen++] = '\n';
                client_lines(s, c);
                c->eof = true;
                break;
            }
            c->inlen += (size_t)n;
            client_lines(s, c);
            if (c->out.failed || c->out.len > CTL_MAX_PENDING_OUT) {
                client_free(s, slot);
                return;
            }
        }
    }
    if (!client_flush(s, c) || (c->eof && !c->out.len))
        client_free(s, slot);
}

static void listen_event(struct rt *rt, int fd, uint32_t events, void *arg)
{
    (void)events;
    struct ctl_server *s = arg;
    for (;;) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            return; /* EAGAIN, or a transient error: try on the next wakeup */
        int slot = -1;
        for (int i = 0; i < CTL_MAX_CLIENTS && slot < 0; i++)
            if (!s->clients[i])
                slot = i;
        struct ctl_client *c = slot >= 0 ? calloc(1, sizeof *c) : NULL;
        char *in = c ? malloc(CTL_MAX_LINE) : NULL;
        if (!c || !in) {
            static const char busy[] = "{\"ok\":false,\"error\":\"too many control clients\"}\n";
            ssize_t n = send(cfd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)n;
            close(cfd);
            free(c);
            free(in);
            continue;
        }
        c->fd = cfd;
        c->in = in;
        jbuf_init(&c->out);
        if (rt_fd_watch(rt, cfd, EPOLLIN, client_event, s) < 0) {
            close(cfd);
            free(in);
            free(c);
            continue;
        }
        s->clients[slot] = c;
    }
}

/* A socket file nobody answers on (its synack died) may be replaced; one
 * that is not a socket, or not ours, may not. */
static bool stale_socket(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) || st.st_uid != geteuid())
        return false;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path) + 1);
    bool dead = connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno == ECONNREFUSED;
    close(fd);
    return dead;
}

struct ctl_server *ctl_server_new(struct rt *rt, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!path || !*path || strlen(path) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "control socket path is empty or longer than %zu bytes", sizeof sa.sun_path - 1);
        return NULL;
    }
    struct ctl_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->rt = rt;
    memcpy(s->path, path, strlen(path) + 1);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        snprintf(err, errlen, "control socket: %s", strerror(errno));
        free(s);
        return NULL;
    }
    /* Mode 0600 from the start: no window where others could connect. */
    mode_t old = umask(0177);
    int rc = bind(s->fd, (struct sockaddr *)&sa, sizeof sa);
    if (rc < 0 && errno == EADDRINUSE && stale_socket(path)) {
        unlink(path);
        rc = bind(s->fd, (struct sockaddr *)&sa, sizeof sa);
    }
    int bind_errno = errno;
    umask(old);
    if (rc < 0) {
        snprintf(err, errlen, "control socket %s: %s%s", path, strerror(bind_errno),
                 bind_errno == EADDRINUSE ? " (another synack is using it? pick one with --control)" : "");
        close(s->fd);
        free(s);
        return NULL;
    }
    if (chmod(path, 0600) < 0 || listen(s->fd, 16) < 0 || rt_fd_watch(rt, s->fd, EPOLLIN, listen_event, s) < 0) {
        snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
        unlink(path);
        close(s->fd);
        free(s);
        return NULL;
    }
    return s;
}

void ctl_server_free(struct ctl_server *s)
{
    if (!s)
        return;
    for (int i = 0; i < CTL_MAX_CLIENTS; i++)
        client_free(s, i);
    rt_fd_unwatch(s->rt, s->fd);
    close(s->fd);
    unlink(s->path);
    free(s);
}
