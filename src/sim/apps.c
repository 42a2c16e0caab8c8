/* Ready-made applications: a client that connects and talks, a server
 * that accepts, reads, echoes and closes, as struct sim_app configures. */
#include <errno.h>
#include <string.h>

#include "sim/runner_internal.h"

/* One connection driven by a struct sim_app. */
struct sim_conn {
    struct sim_app *app;
    int host, sd;
    bool connected, eof, done;
    int close_sd; /* read by the delayed close action */
    /* what was read, checked against app->expect */
    size_t rx_bytes, rx_first_bad;
    bool rx_bad;
    uint64_t rx_hash;
};

uint64_t sim_fnv1a(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3u;
    }
    return h;
}

struct sim_app *sim_app_new(struct sim_run *run)
{
    struct sim_app *app = sim_alloc(run, sizeof *app);
    if (app) {
        app->read = true;
        app->accept = true;
        app->close_after_eof = SIM_NEVER;
        app->close_after_connect = SIM_NEVER;
        app->sd = app->lsd = -1;
    }
    return app;
}

static void conn_finish(struct sim_run *run, struct sim_conn *c)
{
    if (c->done)
        return;
    c->done = true;
    sim_close(run, c->host, c->sd);
}

/* Compares what was just read with the expected stream. */
static void check_read(struct sim_conn *c, const char *buf, size_t n)
{
    const char *want = c->app->expect;
    size_t want_len = strlen(want);
    for (size_t i = 0; i < n && !c->rx_bad; i++)
        if (c->rx_bytes + i >= want_len || buf[i] != want[c->rx_bytes + i]) {
            c->rx_bad = true;
            c->rx_first_bad = c->rx_bytes + i;
        }
    c->rx_bytes += n;
    c->rx_hash = sim_fnv1a(c->rx_hash, buf, n);
}

static void note_stream_end(struct sim_run *run, struct sim_conn *c)
{
    size_t want_len = strlen(c->app->expect);
    if (!c->rx_bad && c->rx_bytes == want_len)
        sim_note(run, c->host, "EOF: all %zu bytes arrived intact and in order (fnv1a %016llx)", c->rx_bytes,
                 (unsigned long long)c->rx_hash);
    else if (c->rx_bad)
        sim_note(run, c->host, "EOF: the stream is corrupt from byte %zu on (%zu bytes read, fnv1a %016llx)",
                 c->rx_first_bad, c->rx_bytes, (unsigned long long)c->rx_hash);
    else
        sim_note(run, c->host, "EOF: only %zu of %zu bytes arrived", c->rx_bytes, want_len);
}

static void conn_io(struct sim_run *run, struct sim_conn *c, unsigned revents)
{
    struct sim_app *app = c->app;
    if (c->eof || c->done)
        return;
    if (!app->read) {
        if (revents & STACK_POLLERR) {
            int err = stack_sock_error(run->hosts[c->host].stack, c->sd);
            sim_log_app_args(&run->log, sim_now(run), c->host, "getsockopt", "SO_ERROR", sim_errno_name(err));
            conn_finish(run, c);
        }
        return;
    }
    if (!(revents & (STACK_POLLIN | STACK_POLLERR | STACK_POLLHUP | STACK_POLLRDHUP)))
        return;
    char buf[SIM_RECV_CHUNK + 1];
    for (;;) {
        ssize_t n = sim_recv_into(run, c->host, c->sd, buf, SIM_RECV_CHUNK);
        if (n == -EAGAIN)
            return;
        if (n > 0) {
            if (app->expect)
                check_read(c, buf, (size_t)n);
            if (app->echo) {
                buf[n] = '\0';
                sim_send(run, c->host, c->sd, buf);
            }
            continue;
        }
        if (n == 0) {
            c->eof = true;
            if (app->expect)
                note_stream_end(run, c);
            if (app->close_after_eof == 0) {
                conn_finish(run, c);
            } else if (app->close_after_eof != SIM_NEVER) {
                c->close_sd = c->sd;
                sim_at_action(run, sim_now(run) + app->close_after_eof, SIM_ACT_CLOSE, c->host, &c->close_sd,
                              NULL);
            }
            return;
        }
        conn_finish(run, c); /* an error: the app gives up on the socket */
        return;
    }
}

static void client_watch(struct sim_run *run, int host, int sd, unsigned revents, void *arg)
{
    struct sim_conn *c = arg;
    (void)host;
    (void)sd;
    if (!c->connected) {
        if (revents & STACK_POLLERR) {
            int err = stack_sock_error(run->hosts[c->host].stack, c->sd);
            sim_log_app(&run->log, sim_now(run), c->host, "connect", sim_errno_name(err));
            c->app->failed = true;
            conn_finish(run, c);
            return;
        }
        if (!(revents & STACK_POLLOUT))
            return;
        c->connected = c->app->connected = true;
        sim_log_app(&run->log, sim_now(run), c->host, "connect", "0");
        if (c->app->send_on_connect)
            sim_send(run, c->host, c->sd, c->app->send_on_connect);
        if (c->app->shutdown_after_send)
            sim_shutdown_wr(run, c->host, c->sd);
        if (c->app->close_after_connect != SIM_NEVER) {
            c->close_sd = c->sd;
            sim_at_action(run, sim_now(run) + c->app->close_after_connect, SIM_ACT_CLOSE, c->host, &c->close_sd,
                          NULL);
        }
    }
    conn_io(run, c, revents);
}

static void server_conn_watch(struct sim_run *run, int host, int sd, unsigned revents, void *arg)
{
    (void)host;
    (void)sd;
    conn_io(run, arg, revents);
}

static struct sim_conn *conn_new(struct sim_run *run, struct sim_app *app, int host, int sd)
{
    struct sim_conn *c = sim_alloc(run, sizeof *c);
    if (!c)
        return NULL;
    c->app = app;
    c->host = host;
    c->sd = sd;
    c->close_sd = -1;
    c->rx_hash = SIM_FNV1A_INIT;
    return c;
}

static void listener_watch(struct sim_run *run, int host, int lsd, unsigned revents, void *arg)
{
    struct sim_app *app = arg;
    if (!app->accept || !(revents & STACK_POLLIN))
        return;
    for (;;) {
        int sd = sim_accept(run, host, lsd);
        if (sd < 0)
            return;
        app->sd = sd;
        app->accepted++;
        struct sim_conn *c = conn_new(run, app, host, sd);
        if (!c)
            return;
        c->connected = true;
        if (app->send_on_connect)
            sim_send(run, host, sd, app->send_on_connect);
        if (app->shutdown_after_send)
            sim_shutdown_wr(run, host, sd);
        sim_watch(run, host, sd, server_conn_watch, c);
    }
}

int sim_app_client(struct sim_run *run, struct sim_app *app, int host, int server_host, uint16_t port,
                   uint16_t local_port)
{
    app->host = host;
    int sd = sim_connect(run, host, server_host, port, local_port);
    if (sd < 0) {
        app->failed = true;
        return sd;
    }
    app->sd = sd;
    return sim_app_attach(run, app, host, sd);
}

struct delayed_client {
    struct sim_app *app;
    int host, server_host;
    uint16_t port, local_port;
};

static void start_delayed_client(struct sim_run *run, void *arg)
{
    struct delayed_client *d = arg;
    sim_app_client(run, d->app, d->host, d->server_host, d->port, d->local_port);
}

int sim_app_client_at(struct sim_run *run, struct sim_app *app, tcp_time_t t, int host, int server_host,
                      uint16_t port, uint16_t local_port)
{
    struct delayed_client *d = sim_alloc(run, sizeof *d);
    if (!d)
        return -1;
    *d = (struct delayed_client){app, host, server_host, port, local_port};
    app->host = host;
    return sim_at(run, t, start_delayed_client, d);
}

int sim_app_attach(struct sim_run *run, struct sim_app *app, int host, int sd)
{
    app->host = host;
    app->sd = sd;
    struct sim_conn *c = conn_new(run, app, host, sd);
    if (!c || sim_watch(run, host, sd, client_watch, c) < 0)
        return -ENOMEM;
    return sd;
}

int sim_app_server(struct sim_run *run, struct sim_app *app, int host, uint16_t port, int backlog)
{
    app->host = host;
    int lsd = sim_listen(run, host, port, backlog);
    if (lsd < 0)
        return lsd;
    app->lsd = lsd;
    if (sim_watch(run, host, lsd, listener_watch, app) < 0)
        return -ENOMEM;
    return lsd;
}

static void start_reading(struct sim_run *run, void *arg)
{
    struct sim_app *app = arg;
    app->read = true;
    if (app->sd >= 0)
        sim_poke(run, app->host, app->sd);
}

int sim_app_read_from(struct sim_run *run, struct sim_app *app, tcp_time_t t)
{
    return sim_at(run, t, start_reading, app);
}
