/* Opening a connection: the three-way handshake and what losses, old
 * duplicates and a simultaneous open do to it (RFC 9293 §3.5). */
#include <string.h>

#include "link/simnet.h"
#include "sim/scenarios.h"

/* An echo server that closes half a second after the client's FIN (so its
 * ACK of that FIN leaves on its own first: a four-segment close), and a
 * client that says "hello" and closes `linger` after it connected (so the
 * script still makes sense with --loss). */
static int echo_pair(struct sim_run *run, struct sim_pair *p, tcp_time_t linger)
{
    p->srv->echo = true;
    p->srv->close_after_eof = TCP_MSEC(500);
    p->cli->send_on_connect = "hello";
    p->cli->close_after_connect = linger;
    return sim_pair_start(run, p, 16);
}

/* ---- handshake ---- */
static int handshake_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0)
        return -1;
    return echo_pair(run, &p, TCP_SEC(1));
}

const struct sim_scenario sim_sc_handshake = {
    "handshake",
    "3-way handshake, data both ways, 4-way close (client closes first, TIME-WAIT 60 s)",
    handshake_setup, 0,
};

/* ---- data-on-third-ack ---- */
/* The client writes right after connect(), while still in SYN-SENT: the
 * stack queues the data (RFC 9293 §3.10.2, SEND in SYN-SENT) and it leaves
 * with the handshake's third segment, [P.] instead of a pure [.]; that
 * segment's ACK completes the server's handshake and its text is delivered
 * (RFC 9293 §3.10.7.4: SYN-RECEIVED + acceptable ACK -> ESTABLISHED, then
 * the text is processed). */
static int data_on_third_ack_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0)
        return -1;
    p.srv->echo = true;
    p.srv->close_after_eof = TCP_MSEC(500);
    p.cli->close_after_connect = TCP_SEC(1);
    if (sim_pair_start(run, &p, 16) < 0)
        return -1;
    sim_note(run, p.client, "send() in SYN-SENT: the data waits for the SYN-ACK and rides on the third segment");
    return sim_send(run, p.client, p.cli->sd, "hello") == 5 ? 0 : -1;
}

const struct sim_scenario sim_sc_data_on_third_ack = {
    "data-on-third-ack",
    "the client sends before the handshake completes: its data rides on the third segment, whose ACK completes the server's handshake",
    data_on_third_ack_setup, 0,
};

/* ---- syn-lost ---- */
static int syn_lost_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0 || simnet_drop_nth(sim_net(run), p.client, "S", 1) < 0)
        return -1;
    return echo_pair(run, &p, TCP_SEC(2));
}

const struct sim_scenario sim_sc_syn_lost = {
    "syn-lost",
    "the first SYN is lost; the client retransmits it after the initial RTO of 1 s (RFC 6298 §2.1)",
    syn_lost_setup, 0,
};

/* ---- synack-lost ---- */
static int synack_lost_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0 || simnet_drop_nth(sim_net(run), p.server, "S.", 1) < 0)
        return -1;
    return echo_pair(run, &p, TCP_SEC(2));
}

const struct sim_scenario sim_sc_synack_lost = {
    "synack-lost",
    "the SYN-ACK is lost; both ends time out after 1 s and retransmit (SYN and SYN-ACK)",
    synack_lost_setup, 0,
};

/* ---- ack-lost ---- */
static int ack_lost_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0 || simnet_drop_nth(sim_net(run), p.client, ".", 1) < 0)
        return -1;
    /* The client has nothing to say: only the server's SYN-ACK timer can
     * repair the lost ACK. */
    p.srv->close_after_eof = TCP_MSEC(500);
    p.cli->close_after_connect = TCP_SEC(3);
    return sim_pair_start(run, &p, 16);
}

const struct sim_scenario sim_sc_ack_lost = {
    "ack-lost",
    "the handshake's final ACK is lost: the server stays in SYN-RECEIVED, retransmits the SYN-ACK, the client "
    "ACKs again",
    ack_lost_setup, 0,
};

/* ---- stale-syn ---- */
#define STALE_SYN_CLIENT_PORT 40000
#define STALE_SYN_OLD_SEQ 90u

static int stale_syn_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0)
        return -1;
    struct simnet *net = sim_net(run);
    /* RFC 9293 §3.5 Figure 8: an old duplicate SYN of an earlier incarnation
     * of the same connection reaches the server before the new one. */
    struct wire_seg old = {0};
    old.tuple.src = *simnet_host_addr(net, p.client);
    old.tuple.dst = *simnet_host_addr(net, p.server);
    old.tuple.sport = STALE_SYN_CLIENT_PORT;
    old.tuple.dport = SIM_SERVER_PORT;
    old.ip_version = 4;
    old.flags = WIRE_SYN;
    old.seq = STALE_SYN_OLD_SEQ;
    old.window = 64240;
    old.opt.present = WIRE_OPT_MSS;
    old.opt.mss = 1460;
    uint8_t pkt[WIRE_MAX_HEADER];
    size_t len = wire_build(pkt, sizeof pkt, &old);
    if (!len || simnet_inject(net, 0, p.client, pkt, len) < 0)
        return -1;
    /* The new SYN takes a slower path and arrives after the old one has been
     * dealt with. */
    if (simnet_delay_nth(net, p.client, "S", 1, TCP_MSEC(50)) < 0)
        return -1;
    sim_note(run, -1, "an old duplicate SYN (seq=%u) from an earlier incarnation of 10.0.0.1:%u is still in "
                      "the network; the new SYN is delayed",
             STALE_SYN_OLD_SEQ, STALE_SYN_CLIENT_PORT);
    p.client_port = STALE_SYN_CLIENT_PORT;
    return echo_pair(run, &p, TCP_SEC(1));
}

const struct sim_scenario sim_sc_stale_syn = {
    "stale-syn",
    "an old duplicate SYN arrives first: the client answers the wrong SYN-ACK with RST, the server returns to "
    "LISTEN (RFC 9293 §3.5)",
    stale_syn_setup, 0,
};

/* ---- simultaneous-open ---- */
#define SIMOPEN_PORT_A 5000
#define SIMOPEN_PORT_B 6000

static int simultaneous_open_setup(struct sim_run *run)
{
    int a = sim_host(run, "peer-a", SIM_CLIENT_ADDR, NULL);
    int b = sim_host(run, "peer-b", SIM_SERVER_ADDR, NULL);
    if (a < 0 || b < 0 || sim_link(run, a, b, SIM_DEFAULT_DELAY) < 0)
        return -1;
    struct sim_app *app_a = sim_app_new(run), *app_b = sim_app_new(run);
    if (!app_a || !app_b)
        return -1;
    app_b->close_after_eof = TCP_MSEC(500);
    app_a->close_after_connect = TCP_SEC(1);
    /* RFC 9293 §3.5 Figure 7: both ends send a SYN before either arrives. */
    if (sim_app_client(run, app_a, a, b, SIMOPEN_PORT_B, SIMOPEN_PORT_A) < 0 ||
        sim_app_client(run, app_b, b, a, SIMOPEN_PORT_A, SIMOPEN_PORT_B) < 0)
        return -1;
    return 0;
}

const struct sim_scenario sim_sc_simultaneous_open = {
    "simultaneous-open",
    "both ends connect to each other at once: SYNs cross, both go SYN-SENT -> SYN-RECEIVED -> ESTABLISHED",
    simultaneous_open_setup, 0,
};
