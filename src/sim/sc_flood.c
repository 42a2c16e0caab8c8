/* The listener under attack: a spoofed SYN flood met with SYN cookies
 * (RFC 4987 §3.6, tcp_syncookies as Linux has it), and the helpers the
 * flood and listener scenarios share. */
#include <stdio.h>

#include "link/simnet.h"
#include "sim/scenarios.h"

#define FLOOD_SOURCE_BASE 0xc6336401u /* 198.51.100.1 (TEST-NET-2, RFC 5737) */
#define FLOOD_MAX_SOURCES 254u
#define FLOOD_FIRST_PORT 1024u

/* ---- the flood ---- */

static tcp_time_t flood_due(const struct sim_flood *f, unsigned i)
{
    return f->start + (tcp_time_t)i * TCP_SEC(1) / f->rate;
}

/* The i-th spoofed SYN, put on the wire now as if the attacker sent it. */
static void flood_send(struct sim_flood *f)
{
    struct sim_run *run = f->run;
    struct wire_seg s = {0};
    s.tuple.src = wire_addr_v4(FLOOD_SOURCE_BASE + f->sent % f->sources);
    s.tuple.dst = *simnet_host_addr(sim_net(run), f->target);
    s.tuple.sport = (uint16_t)(FLOOD_FIRST_PORT + f->sent);
    s.tuple.dport = f->port;
    s.ip_version = 4;
    s.flags = WIRE_SYN;
    f->seq = f->seq * 1103515245u + 12345u;
    s.seq = f->seq;
    s.window = 64240;
    s.opt.present = WIRE_OPT_MSS;
    s.opt.mss = 1460;
    uint8_t pkt[WIRE_MAX_HEADER];
    size_t len = wire_build(pkt, sizeof pkt, &s);
    if (len)
        simnet_inject(sim_net(run), sim_now(run), f->attacker, pkt, len);
    f->sent++;
}

/* Sends every SYN due by now, then sleeps until the next one is due. */
static void flood_tick(void *ctx)
{
    struct sim_flood *f = ctx;
    tcp_time_t now = sim_now(f->run);
    while (f->sent < f->count && flood_due(f, f->sent) <= now)
        flood_send(f);
    if (f->sent < f->count)
        simnet_at(sim_net(f->run), flood_due(f, f->sent), flood_tick, f);
}

int sim_flood_start(struct sim_run *run, struct sim_flood *f)
{
    if (f->rate == 0 || f->sources == 0 || f->sources > FLOOD_MAX_SOURCES || f->count == 0 ||
        FLOOD_FIRST_PORT + f->count > 65536u)
        return -1;
    f->run = run;
    f->sent = 0;
    f->seq = 1;
    f->attacker = sim_ghost(run, "attacker", "198.51.100.255");
    if (f->attacker < 0 || sim_link(run, f->attacker, f->target, SIM_DEFAULT_DELAY) < 0)
        return -1;
    for (unsigned i = 0; i < f->sources; i++) {
        struct wire_addr a = wire_addr_v4(FLOOD_SOURCE_BASE + i);
        if (simnet_add_address(sim_net(run), f->attacker, &a) < 0)
            return -1;
    }
    char every[48] = "";
    tcp_time_t gap = TCP_SEC(1) / f->rate;
    if (TCP_SEC(1) % f->rate == 0)
        snprintf(every, sizeof every, ", one every %llu %s", (unsigned long long)(gap % 1000 ? gap : gap / 1000),
                 gap % 1000 ? "us" : "ms");
    char text[160];
    snprintf(text, sizeof text, "%u spoofed SYNs from %u addresses, %u a second%s", f->count, f->sources, f->rate,
             every);
    if (sim_at_action(run, f->start, SIM_ACT_NOTE, f->attacker, NULL, text) < 0)
        return -1;
    return simnet_at(sim_net(run), f->start, flood_tick, f);
}

/* ---- clients and verdicts ---- */

struct early_client {
    struct sim_app *app;
    int host, server_host;
    uint16_t port;
    const char *text;
};

static void early_client_start(struct sim_run *run, void *arg)
{
    struct early_client *e = arg;
    int sd = sim_connect(run, e->host, e->server_host, e->port, 0);
    if (sd < 0) {
        e->app->failed = true;
        return;
    }
    sim_send(run, e->host, sd, e->text);
    sim_app_attach(run, e->app, e->host, sd);
}

int sim_early_client_at(struct sim_run *run, struct sim_app *app, tcp_time_t t, int host, int server_host,
                        uint16_t port, const char *text)
{
    struct early_client *e = sim_alloc(run, sizeof *e);
    if (!e)
        return -1;
    *e = (struct early_client){app, host, server_host, port, text};
    app->host = host;
    return sim_at(run, t, early_client_start, e);
}

void sim_flood_verdict(struct sim_run *run, int server, struct sim_app *const *clients, size_t n)
{
    const struct tcp_counters *c = stack_counters(sim_stack(run, server));
    size_t in = 0;
    for (size_t i = 0; i < n; i++)
        in += clients[i]->connected;
    sim_note(run, server,
             "so far: SyncookiesSent %llu, SyncookiesRecv %llu, TCPReqQFullDoCookies %llu, TCPReqQFullDrop %llu, "
             "ListenOverflows %llu; %zu of %zu real client(s) connected",
             (unsigned long long)c->SyncookiesSent, (unsigned long long)c->SyncookiesRecv,
             (unsigned long long)c->TCPReqQFullDoCookies, (unsigned long long)c->TCPReqQFullDrop,
             (unsigned long long)c->ListenOverflows, in, n);
}

/* ---- syn-flood-cookies ---- */
#define SFC_SYNS 1000
#define SFC_RATE 1000
#define SFC_SOURCES 200
#define SFC_BACKLOG 16
#define SFC_CLIENTS 5

static const char *const sfc_requests[SFC_CLIENTS] = {
    "GET /1", "GET /2", "GET /3", "GET /4", "GET /5",
};

struct sfc {
    int server;
    struct sim_app *clients[SFC_CLIENTS];
};

static void sfc_verdict(struct sim_run *run, void *arg)
{
    struct sfc *s = arg;
    sim_flood_verdict(run, s->server, s->clients, SFC_CLIENTS);
}

static const char *cookie_mode_text(int64_t mode)
{
    switch (mode) {
    case 0: return "tcp_syncookies=0: no cookies; a SYN that finds the SYN queue full is dropped";
    case 1: return "tcp_syncookies=1: cookies only once the SYN queue is full";
    default: return "tcp_syncookies=2: every SYN is answered with a cookie; the listener keeps no half-open state";
    }
}

static int syn_flood_cookies_setup(struct sim_run *run)
{
    struct tcp_config effective;
    struct sim_pair p;
    if (sim_pair_setup_server_knob(run, &p, "tcp_syncookies", 2, &effective) < 0)
        return -1;
    struct sfc *s = sim_alloc(run, sizeof *s);
    struct sim_flood *f = sim_alloc(run, sizeof *f);
    if (!s || !f)
        return -1;
    s->server = p.server;
    p.srv->echo = true;
    p.srv->close_after_eof = 0;
    if (sim_pair_listen(run, &p, SFC_BACKLOG) < 0)
        return -1;
    sim_note(run, p.server, "%s", cookie_mode_text(effective.tcp_syncookies));
    *f = (struct sim_flood){.target = p.server, .port = SIM_SERVER_PORT, .count = SFC_SYNS, .rate = SFC_RATE,
                            .sources = SFC_SOURCES};
    if (sim_flood_start(run, f) < 0)
        return -1;
    /* Real clients write right after connect(): their request rides on the
     * cookie ACK, which must create the connection with its data. */
    for (int i = 0; i < SFC_CLIENTS; i++) {
        struct sim_app *cli = s->clients[i] = sim_app_new(run);
        if (!cli)
            return -1;
        /* They stay connected 4 s: a capture of the run then shows that no
         * SYN-ACK of the flood was ever sent again (no state to time out). */
        cli->close_after_connect = TCP_SEC(4);
        if (sim_early_client_at(run, cli, TCP_MSEC(100) + TCP_MSEC(200) * (tcp_time_t)i, p.client, p.server,
                                SIM_SERVER_PORT, sfc_requests[i]) < 0)
            return -1;
    }
    return sim_at(run, TCP_MSEC(2500), sfc_verdict, s);
}

const struct sim_scenario sim_sc_syn_flood_cookies = {
    "syn-flood-cookies",
    "tcp_syncookies=2 under a 1000 SYN/s spoofed flood: no half-open state at all, and 5 real clients "
    "whose requests ride on their cookie ACKs all get answers",
    syn_flood_cookies_setup, 0,
};
