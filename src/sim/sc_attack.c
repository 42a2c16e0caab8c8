/* Hostile traffic: blind in-window RST and SYN (RFC 5961), and a spoofed
 * SYN flood met with SYN cookies (RFC 4987 §3.6). */
#include <stdio.h>

#include "link/simnet.h"
#include "sim/scenarios.h"

/* A segment from src:sport to dst:dport, put on the wire at now by host. */
static int inject(struct sim_run *run, int from_host, const struct wire_endpoint *src,
                  const struct wire_endpoint *dst, uint8_t flags, uint32_t seq)
{
    struct wire_seg s = {0};
    s.tuple.src = src->addr;
    s.tuple.dst = dst->addr;
    s.tuple.sport = src->port;
    s.tuple.dport = dst->port;
    s.ip_version = 4;
    s.flags = flags;
    s.seq = seq;
    s.window = 64240;
    if (flags & WIRE_SYN) {
        s.opt.present = WIRE_OPT_MSS;
        s.opt.mss = 1460;
    }
    uint8_t pkt[WIRE_MAX_HEADER];
    size_t len = wire_build(pkt, sizeof pkt, &s);
    return len ? simnet_inject(sim_net(run), sim_now(run), from_host, pkt, len) : -1;
}

/* ---- challenge-ack ---- */
#define CHALLENGE_OFFSET_RST 1000u
#define CHALLENGE_OFFSET_SYN 2000u

struct blind {
    struct sim_pair p;
};

/* The client's next sequence number, as the server expects it: what an
 * attacker has to guess (RFC 5961 §1). */
static bool client_next_seq(struct sim_run *run, const struct blind *b, struct wire_endpoint *src,
                            struct wire_endpoint *dst, uint32_t *next)
{
    const struct sim_log *log = sim_log(run);
    for (size_t i = log->n; i-- > 0;) {
        const struct sim_event *e = &log->ev[i];
        if (e->kind == SIM_EV_SEGMENT && e->src == b->p.client && !e->injected) {
            *next = e->seq + e->len + !!(e->flags & WIRE_SYN) + !!(e->flags & WIRE_FIN);
            src->addr = e->tuple.src;
            src->port = e->tuple.sport;
            dst->addr = e->tuple.dst;
            dst->port = e->tuple.dport;
            return true;
        }
    }
    return false;
}

static void blind_rst(struct sim_run *run, void *arg)
{
    struct blind *b = arg;
    struct wire_endpoint src, dst;
    uint32_t next;
    if (!client_next_seq(run, b, &src, &dst, &next))
        return;
    sim_note(run, -1, "an off-path attacker spoofs the client: RST with seq = RCV.NXT + %u, inside the window "
                      "but not exact (RFC 5961 §3)", CHALLENGE_OFFSET_RST);
    inject(run, b->p.client, &src, &dst, WIRE_RST, next + CHALLENGE_OFFSET_RST);
}

static void blind_syn(struct sim_run *run, void *arg)
{
    struct blind *b = arg;
    struct wire_endpoint src, dst;
    uint32_t next;
    if (!client_next_seq(run, b, &src, &dst, &next))
        return;
    sim_note(run, -1, "then a spoofed SYN on the established connection (RFC 5961 §4)");
    inject(run, b->p.client, &src, &dst, WIRE_SYN, next + CHALLENGE_OFFSET_SYN);
}

static int challenge_ack_setup(struct sim_run *run)
{
    struct blind *b = sim_alloc(run, sizeof *b);
    if (!b || sim_pair_setup(run, &b->p) < 0)
        return -1;
    b->p.srv->echo = true;
    b->p.srv->close_after_eof = 0;
    b->p.cli->send_on_connect = "hello";
    if (sim_pair_start(run, &b->p, 16) < 0)
        return -1;
    if (sim_at(run, TCP_SEC(1), blind_rst, b) < 0 || sim_at(run, TCP_MSEC(1500), blind_syn, b) < 0)
        return -1;
    return sim_at_action(run, TCP_SEC(3), SIM_ACT_CLOSE, b->p.client, &b->p.cli->sd, NULL);
}

const struct sim_scenario sim_sc_challenge_ack = {
    "challenge-ack",
    "a spoofed in-window RST and SYN do not kill the connection: the server answers each with a challenge ACK "
    "(RFC 5961)",
    challenge_ack_setup, 0,
};

/* ---- syn-flood ---- */
#define FLOOD_SOURCES 64
#define FLOOD_SYNS 200
#define FLOOD_RATE 200 /* one every 5 ms */
#define FLOOD_BACKLOG 16

struct flood_demo {
    int client, server;
    int64_t cookies; /* the server's tcp_syncookies, --sysctl included */
    struct sim_app *cli;
};

/* At 3 s the client is done either way: it has had its echo, or its
 * connect() is still hanging and it gives up. */
static void flood_demo_end(struct sim_run *run, void *arg)
{
    struct flood_demo *d = arg;
    sim_flood_verdict(run, d->server, &d->cli, 1);
    if (!d->cli->connected)
        sim_note(run, d->client, "connect() has not completed in 2.5 s: with tcp_syncookies=%lld the flood holds "
                                 "every slot of the SYN queue and the client's SYNs are dropped; it gives up",
                 (long long)d->cookies);
}

static int syn_flood_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0)
        return -1;
    struct flood_demo *d = sim_alloc(run, sizeof *d);
    struct sim_flood *f = sim_alloc(run, sizeof *f);
    if (!d || !f)
        return -1;
    struct tcp_config server_cfg;
    sim_host_config(run, NULL, &server_cfg);
    d->client = p.client;
    d->server = p.server;
    d->cookies = server_cfg.tcp_syncookies;
    /* The attacker owns every spoofed source: the SYN-ACKs go to it and are
     * never answered, as when the spoofed addresses do not exist. */
    *f = (struct sim_flood){.target = p.server, .port = SIM_SERVER_PORT, .count = FLOOD_SYNS, .rate = FLOOD_RATE,
                            .sources = FLOOD_SOURCES};
    if (sim_flood_start(run, f) < 0)
        return -1;
    struct sim_app *cli = d->cli = p.cli;
    p.srv->echo = true;
    p.srv->close_after_eof = 0;
    cli->send_on_connect = "hello";
    if (sim_pair_listen(run, &p, FLOOD_BACKLOG) < 0)
        return -1;
    sim_note(run, p.server, "%s",
             d->cookies == 0 ? "tcp_syncookies=0: once the SYN queue (16) is full, every SYN is dropped"
             : d->cookies == 1 ? "tcp_syncookies=1 (Linux's default): once the SYN queue (16) is full, SYNs are "
                                 "answered with cookies"
                               : "tcp_syncookies=2: every SYN is answered with a cookie, no half-open entry is kept");
    /* In the middle of the flood, a real client connects: the SYN queue
     * (backlog 16) is full, so the server answers with a SYN cookie and
     * keeps no state until the client's ACK proves the cookie. */
    if (sim_at_action(run, TCP_MSEC(500), SIM_ACT_NOTE, p.client, NULL, "a real client connects during the flood") < 0 ||
        sim_app_client_at(run, cli, TCP_MSEC(500), p.client, p.server, SIM_SERVER_PORT, 0) < 0)
        return -1;
    if (sim_at(run, TCP_SEC(3), flood_demo_end, d) < 0)
        return -1;
    return sim_at_action(run, TCP_SEC(3), SIM_ACT_CLOSE, p.client, &cli->sd, NULL);
}

const struct sim_scenario sim_sc_syn_flood = {
    "syn-flood",
    "200 spoofed SYNs fill the SYN queue (backlog 16): a real client gets in with a SYN cookie; "
    "with --sysctl tcp_syncookies=0 it is locked out",
    syn_flood_setup, 0,
};
