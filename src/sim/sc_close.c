/* Closing a connection: the FIN handshakes of RFC 9293 §3.6. */
#include "link/simnet.h"
#include "sim/scenarios.h"

/* A server that reads and, once the client's FIN is read, closes after
 * delay; a client that says hello and closes `linger` after it connected. */
static int close_pair(struct sim_run *run, struct sim_pair *p, tcp_time_t server_delay, tcp_time_t linger)
{
    p->srv->echo = true;
    p->srv->close_after_eof = server_delay;
    p->cli->send_on_connect = "hello";
    p->cli->close_after_eof = 0;
    p->cli->close_after_connect = linger;
    return sim_pair_start(run, p, 16);
}

/* ---- close-merged-finack ---- */
static int close_merged_finack_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0)
        return -1;
    /* The server closes the moment it reads EOF: its ACK of the client's
     * FIN is still delayed, so it leaves with the FIN in one segment. */
    return close_pair(run, &p, 0, TCP_SEC(1));
}

const struct sim_scenario sim_sc_close_merged_finack = {
    "close-merged-finack",
    "the passive closer has nothing left to send: its ACK and FIN leave in one segment, a three-segment close",
    close_merged_finack_setup, 0,
};

/* ---- half-close ---- */
static int half_close_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0)
        return -1;
    struct sim_app *srv = p.srv, *cli = p.cli;
    cli->send_on_connect = "request";
    cli->close_after_eof = 0;
    if (sim_pair_start(run, &p, 16) < 0)
        return -1;
    /* The client is done sending (shutdown SHUT_WR) but keeps reading; the
     * server answers from CLOSE-WAIT, then closes. */
    if (sim_at_action(run, TCP_MSEC(500), SIM_ACT_SHUTDOWN_WR, p.client, &cli->sd, NULL) < 0 ||
        sim_at_action(run, TCP_SEC(1), SIM_ACT_SEND, p.server, &srv->sd, "part 1") < 0 ||
        sim_at_action(run, TCP_MSEC(1500), SIM_ACT_SEND, p.server, &srv->sd, "part 2") < 0 ||
        sim_at_action(run, TCP_SEC(2), SIM_ACT_SEND, p.server, &srv->sd, "part 3") < 0)
        return -1;
    return sim_at_action(run, TCP_MSEC(2500), SIM_ACT_CLOSE, p.server, &srv->sd, NULL);
}

const struct sim_scenario sim_sc_half_close = {
    "half-close",
    "the client shuts down writing and keeps reading; the server sends from CLOSE-WAIT, then closes",
    half_close_setup, 0,
};

/* ---- simultaneous-close ---- */
static int simultaneous_close_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0 || close_pair(run, &p, SIM_NEVER, SIM_NEVER) < 0)
        return -1;
    /* Both close at the same instant: the FINs cross (RFC 9293 §3.6 Figure 13). */
    if (sim_at_action(run, TCP_SEC(1), SIM_ACT_CLOSE, p.client, &p.cli->sd, NULL) < 0)
        return -1;
    return sim_at_action(run, TCP_SEC(1), SIM_ACT_CLOSE, p.server, &p.srv->sd, NULL);
}

const struct sim_scenario sim_sc_simultaneous_close = {
    "simultaneous-close",
    "both ends close at once: FINs cross, FIN-WAIT-1 -> CLOSING -> TIME-WAIT on both hosts",
    simultaneous_close_setup, 0,
};

/* ---- last-ack-lost ---- */
struct last_ack_filter {
    int client, server;
    bool have_fin, dropped;
    uint32_t fin_end; /* the sequence number after the server's FIN */
};

/* Drops the client's first ACK of the server's FIN. */
static bool drop_ack_of_fin(void *ctx, const struct simnet_packet *p)
{
    struct last_ack_filter *f = ctx;
    if (!p->seg_ok)
        return false;
    if (p->src == f->server && (p->seg.flags & WIRE_FIN) && !f->have_fin) {
        f->have_fin = true;
        f->fin_end = p->seg.seq + wire_seg_len(&p->seg);
        return false;
    }
    if (p->src == f->client && f->have_fin && !f->dropped && p->seg.flags == WIRE_ACK && p->seg.ack == f->fin_end) {
        f->dropped = true;
        return true;
    }
    return false;
}

static int last_ack_lost_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0)
        return -1;
    struct last_ack_filter *f = sim_alloc(run, sizeof *f);
    if (!f)
        return -1;
    f->client = p.client;
    f->server = p.server;
    if (simnet_drop_if(sim_net(run), drop_ack_of_fin, f) < 0)
        return -1;
    return close_pair(run, &p, TCP_MSEC(500), TCP_SEC(1));
}

const struct sim_scenario sim_sc_last_ack_lost = {
    "last-ack-lost",
    "the final ACK is lost: LAST-ACK retransmits its FIN, TIME-WAIT ACKs it again and restarts its 60 s",
    last_ack_lost_setup, 0,
};

/* ---- process-exit ---- */
static int process_exit_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0 || close_pair(run, &p, SIM_NEVER, SIM_NEVER) < 0)
        return -1;
    /* The server process ends without calling close(): the kernel closes
     * its descriptors, and the orphaned connection still closes with a FIN. */
    return sim_at_action(run, TCP_SEC(1), SIM_ACT_EXIT, p.server, NULL,
                         "the server process exits without close(); the OS closes its descriptors");
}

const struct sim_scenario sim_sc_process_exit = {
    "process-exit",
    "the server process exits without closing: the stack closes the orphaned connection with a FIN",
    process_exit_setup, 0,
};
