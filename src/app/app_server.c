/* The server side of the built-in apps: listeners, accepting (possibly
 * late, to model a slow application), and the close paths every
 * connection shares. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_internal.h"

static const struct {
    const char *name;
    uint16_t port;
} kinds[] = {
#define APP_KIND_DESC(id, name, port, help) {name, port},
    APP_KINDS(APP_KIND_DESC)
#undef APP_KIND_DESC
};

const char *app_kind_name(enum app_kind k) { return (unsigned)k < APP_KIND_COUNT ? kinds[k].name : "?"; }
uint16_t app_kind_port(enum app_kind k) { return (unsigned)k < APP_KIND_COUNT ? kinds[k].port : 0; }

int app_kind_parse(const char *name)
{
    for (int i = 0; i < APP_KIND_COUNT; i++)
        if (!strcmp(name, kinds[i].name))
            return i;
    return -1;
}

void app_server_config_default(struct app_server_config *c)
{
    memset(c, 0, sizeof *c);
    c->kind = APP_HTTP;
    c->backlog = 511;
    c->http_keepalive_timeout_s = 75;
    c->http_keepalive_requests = 1000;
    c->lingering_timeout_s = 5;
}

size_t app_server_active(const struct app_server *s) { return s ? s->active : 0; }

/* ---- connections ---- */
static void conn_free(struct app_conn *c)
{
    struct app_server *s = c->srv;
    rt_timer_cancel(s->rt, &c->timer);
    rt_sock_unwatch(s->rt, c->sd);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->active--;
    free(c->buf);
    free(c);
}

void app_conn_close(struct app_conn *c)
{
    stack_close(rt_stack(c->srv->rt), c->sd, rt_now());
    conn_free(c);
}

void app_conn_abort(struct app_conn *c)
{
    struct stack *st = rt_stack(c->srv->rt);
    stack_setsockopt(st, c->sd, STACK_SO_LINGER, 0);
    rt_event_app(c->srv->rt, c->sd, "close", "SO_LINGER 0");
    stack_close(st, c->sd, rt_now());
    conn_free(c);
}

void app_conn_fail(struct app_conn *c, const char *call, long err)
{
    rt_event_app(c->srv->rt, c->sd, call, rt_errno_name((int)err));
    app_conn_close(c);
}

static void linger_expired(struct rt *rt, struct rt_timer *t)
{
    (void)rt;
    app_conn_close(t->arg);
}

void app_conn_linger(struct app_conn *c)
{
    struct rt *rt = c->srv->rt;
    if (c->peer_eof) { /* nothing more will come: close now */
        app_conn_close(c);
        return;
    }
    stack_shutdown(rt_stack(rt), c->sd, STACK_SHUT_WR, rt_now());
    c->lingering = true;
    rt_timer_cancel(rt, &c->timer);
    rt_timer_init(&c->timer, linger_expired, c);
    rt_timer_arm(rt, &c->timer, rt_now() + TCP_SEC(c->srv->cfg.lingering_timeout_s));
    rt_sock_kick(rt, c->sd);
}

bool app_conn_drain(struct app_conn *c)
{
    static char scratch[APP_BUF];
    for (;;) {
        ssize_t n = stack_recv(rt_stack(c->srv->rt), c->sd, scratch, sizeof scratch, rt_now());
        if (n > 0)
            continue;
        if (n == -EAGAIN)
            return false;
        if (n == 0)
            app_conn_close(c);
        else
            app_conn_fail(c, "recv", n);
        return true;
    }
}

static void conn_event(struct rt *rt, int sd, unsigned events, void *arg)
{
    (void)rt;
    (void)sd;
    struct app_conn *c = arg;
    if (c->lingering) {
        app_conn_drain(c);
        return;
    }
    switch (c->srv->cfg.kind) {
    case APP_ECHO: app_echo_event(c, events); break;
    case APP_DISCARD: app_discard_event(c, events); break;
    case APP_HTTP: app_http_event(c, events); break;
    case APP_KIND_COUNT: break;
    }
}

/* ---- accepting ---- */
static void accept_all(struct app_server *s, struct app_listener *l)
{
    struct rt *rt = s->rt;
    struct stack *st = rt_stack(rt);
    for (;;) {
        struct wire_endpoint peer;
        int sd = stack_accept(st, l->sd, &peer);
        if (sd < 0)
            return; /* -EAGAIN; -EMFILE leaves the rest in the queue */
        struct app_conn *c = calloc(1, sizeof *c);
        if (c && s->cfg.kind != APP_DISCARD)
            c->buf = malloc(s->cfg.kind == APP_HTTP ? HTTP_MAX_HEAD : APP_BUF);
        if (!c || (s->cfg.kind != APP_DISCARD && !c->buf)) {
            if (c)
                free(c);
            stack_abort(st, sd, rt_now());
            continue;
        }
        c->srv = s;
        c->sd = sd;
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->active++;
        rt_sock_watch(rt, sd, conn_event, c);
        if (s->cfg.kind == APP_HTTP)
            app_http_start(c);
        rt_sock_kick(rt, sd);
    }
}

static void listener_event(struct rt *rt, int sd, unsigned events, void *arg)
{
    (void)sd;
    struct app_listener *l = arg;
    struct app_server *s = l->srv;
    if (!(events & STACK_POLLIN))
        return;
    tcp_time_t now = rt_now();
    if (now < s->accept_at) {
        if (s->accept_at != TCP_TIME_NEVER && !rt_timer_armed(&s->accept_timer))
            rt_timer_arm(rt, &s->accept_timer, s->accept_at);
        return;
    }
    accept_all(s, l);
}

static void accept_time(struct rt *rt, struct rt_timer *t)
{
    struct app_server *s = t->arg;
    for (size_t i = 0; i < s->nlisteners; i++)
        rt_sock_kick(rt, s->listeners[i].sd);
}

struct app_server *app_server_start(struct rt *rt, const struct app_server_config *cfg, char *err, size_t errlen)
{
    if (cfg->nlisten == 0 || cfg->nlisten > APP_MAX_LISTEN || (unsigned)cfg->kind >= APP_KIND_COUNT) {
        snprintf(err, errlen, "nothing to listen on");
        return NULL;
    }
    struct app_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->rt = rt;
    s->cfg = *cfg;
    s->accept_at = cfg->accept_delay == TCP_TIME_NEVER ? TCP_TIME_NEVER : rt_now() + cfg->accept_delay;
    rt_timer_init(&s->accept_timer, accept_time, s);
    struct stack *st = rt_stack(rt);
    for (size_t i = 0; i < cfg->nlisten; i++) {
        const struct wire_endpoint *ep = &cfg->listen[i];
        char text[WIRE_ENDPOINT_STRLEN];
        wire_endpoint_str(ep, text);
        if (!wire_addr_is_unspecified(&ep->addr) && !rt_is_local_addr(rt, &ep->addr)) {
            snprintf(err, errlen, "cannot listen on %s: not one of synack's addresses (--addr)", text);
            app_server_free(s);
            return NULL;
        }
        int sd = rt_socket(rt, !wire_addr_is_v4(&ep->addr));
        int rc = sd < 0 ? sd : 0;
        if (!rc && cfg->keepalive)
            rc = stack_setsockopt(st, sd, STACK_SO_KEEPALIVE, 1);
        if (!rc)
            rc = stack_bind(st, sd, ep);
        if (!rc)
            rc = stack_listen(st, sd, cfg->backlog);
        if (rc < 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", text, rt_errno_name(rc));
            if (sd >= 0)
                stack_close(st, sd, rt_now());
            app_server_free(s);
            return NULL;
        }
        struct app_listener *l = &s->listeners[s->nlisteners++];
        l->srv = s;
        l->sd = sd;
        rt_sock_watch(rt, sd, listener_event, l);
    }
    return s;
}

void app_server_free(struct app_server *s)
{
    if (!s)
        return;
    struct rt *rt = s->rt;
    struct stack *st = rt_stack(rt);
    rt_timer_cancel(rt, &s->accept_timer);
    while (s->conns) {
        struct app_conn *c = s->conns;
        stack_abort(st, c->sd, rt_now());
        conn_free(c);
    }
    for (size_t i = 0; i < s->nlisteners; i++) {
        rt_sock_unwatch(rt, s->listeners[i].sd);
        stack_close(st, s->listeners[i].sd, rt_now());
    }
    free(s);
}
