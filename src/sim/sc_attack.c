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
    struct sim_app *cli;
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
    struct sim_app *srv = sim_app_new(run);
    b->cli = sim_app_new(run);
    if (!srv || !b->cli)
        return -1;
    srv->echo = true;
    srv->close_after_eof = 0;
    b->cli->send_on_connect = "hello";
    if (sim_app_server(run, srv, b->p.server, SIM_SERVER_PORT, 16) < 0 ||
        sim_app_client(run, b->cli, b->p.client, b->p.server, SIM_SERVER_PORT, 0) < 0)
        return -1;
    if (sim_at(run, TCP_SEC(1), blind_rst, b) < 0 || sim_at(run, TCP_MSEC(1500), blind_syn, b) < 0)
        return -1;
    return sim_at_action(run, TCP_SEC(3), SIM_ACT_CLOSE, b->p.client, &b->cli->sd, NULL);
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
#define FLOOD_BACKLOG 16

struct flood {
    int attacker, server;
    unsigned sent;
    uint32_t seq;
};

static void flood_syn(struct sim_run *run, void *arg)
{
    struct flood *f = arg;
    /* 198.51.100.1-64 (TEST-NET-2, RFC 5737), each from its own port. */
    struct wire_endpoint src = {wire_addr_v4(0xc6336401u + f->sent % FLOOD_SOURCES),
                                (uint16_t)(1024 + f->sent)};
    struct wire_endpoint dst = {*simnet_host_addr(sim_net(run), f->server), SIM_SERVER_PORT};
    f->seq = f->seq * 1103515245u + 12345u;
    inject(run, f->attacker, &src, &dst, WIRE_SYN, f->seq);
    if (++f->sent < FLOOD_SYNS)
        sim_at(run, sim_now(run) + TCP_MSEC(5), flood_syn, f);
}

static int syn_flood_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0)
        return -1;
    struct flood *f = sim_alloc(run, sizeof *f);
    if (!f)
        return -1;
    f->server = p.server;
    f->seq = 1;
    /* The attacker owns every spoofed source: the SYN-ACKs go to it and are
     * never answered, as when the spoofed addresses do not exist. */
    f->attacker = sim_ghost(run, "attacker", "198.51.100.200");
    if (f->attacker < 0 || sim_link(run, f->attacker, p.server, SIM_DEFAULT_DELAY) < 0)
        return -1;
    for (unsigned i = 0; i < FLOOD_SOURCES; i++) {
        struct wire_addr a = wire_addr_v4(0xc6336401u + i);
        if (simnet_add_address(sim_net(run), f->attacker, &a) < 0)
            return -1;
    }
    struct sim_app *srv = sim_app_new(run), *cli = sim_app_new(run);
    if (!srv || !cli)
        return -1;
    srv->echo = true;
    srv->close_after_eof = 0;
    cli->send_on_connect = "hello";
    if (sim_app_server(run, srv, p.server, SIM_SERVER_PORT, FLOOD_BACKLOG) < 0)
        return -1;
    sim_note(run, f->attacker, "%d spoofed SYNs from %d addresses, one every 5 ms", FLOOD_SYNS, FLOOD_SOURCES);
    if (sim_at(run, 0, flood_syn, f) < 0)
        return -1;
    /* In the middle of the flood, a real client connects: the SYN queue
     * (backlog 16) is full, so the server answers with a SYN cookie and
     * keeps no state until the client's ACK proves the cookie. */
    if (sim_at_action(run, TCP_MSEC(500), SIM_ACT_NOTE, p.client, NULL, "a real client connects during the flood") < 0 ||
        sim_app_client_at(run, cli, TCP_MSEC(500), p.client, p.server, SIM_SERVER_PORT, 0) < 0)
        return -1;
    return sim_at_action(run, TCP_SEC(3), SIM_ACT_CLOSE, p.client, &cli->sd, NULL);
}

const struct sim_scenario sim_sc_syn_flood = {
    "syn-flood",
    "200 spoofed SYNs fill the SYN queue (backlog 16); a real client still gets in with a SYN cookie",
    syn_flood_setup, 0,
};
