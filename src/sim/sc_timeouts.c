/* Timers that end connections nobody answers: SYN and SYN-ACK
 * retransmission, the orphan's FIN-WAIT-2 timeout and FIN retries,
 * keepalive. */
#include "sim/scenarios.h"

/* ---- syn-timeout ---- */
static int syn_timeout_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0)
        return -1;
    sim_vanish(run, p.server, 0, "(powered off)");
    /* tcp_syn_retries = 6: SYNs at 0, 1, 3, 7, 15, 31, 63 s; connect()
     * fails 64 s after the last one (Linux's tcp_write_timeout). */
    return sim_pair_connect(run, &p);
}

const struct sim_scenario sim_sc_syn_timeout = {
    "syn-timeout",
    "nobody answers: SYNs at 0, 1, 3, 7, 15, 31, 63 s (tcp_syn_retries=6), connect() fails ETIMEDOUT at 127 s",
    syn_timeout_setup, 0,
};

/* ---- synack-timeout ---- */
static int synack_timeout_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0 || sim_pair_start(run, &p, 16) < 0)
        return -1;
    /* Gone right after its SYN left: a half-open entry stays behind. */
    sim_vanish(run, p.client, 1, "right after sending its SYN");
    return 0;
}

const struct sim_scenario sim_sc_synack_timeout = {
    "synack-timeout",
    "the client vanishes after its SYN: SYN-ACKs at 0, 1, 3, 7, 15, 31 s (tcp_synack_retries=5), the half-open "
    "entry is gone at 63 s",
    synack_timeout_setup, 0,
};

/* ---- fin-wait-2-timeout ---- */
static int fin_wait_2_timeout_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0)
        return -1;
    p.cli->send_on_connect = "hello";
    p.cli->close_after_connect = TCP_MSEC(980);
    /* The server application never closes its end... */
    if (sim_pair_start(run, &p, 16) < 0)
        return -1;
    /* ...the client closes (its connection becomes an orphan in FIN-WAIT-2,
     * limited to tcp_fin_timeout = 60 s), and long after that the server
     * finally closes: its FIN finds nothing and is answered with RST. */
    return sim_at_action(run, TCP_SEC(100), SIM_ACT_CLOSE, p.server, &p.srv->sd, NULL);
}

const struct sim_scenario sim_sc_fin_wait_2_timeout = {
    "fin-wait-2-timeout",
    "the client closes, the server never does: the orphan leaves FIN-WAIT-2 after tcp_fin_timeout (60 s); the "
    "server's late FIN gets a RST",
    fin_wait_2_timeout_setup, 0,
};

/* ---- orphan-fin-retries ---- */
static int orphan_fin_retries_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0)
        return -1;
    p.srv->echo = true;
    p.cli->send_on_connect = "hello";
    if (sim_pair_start(run, &p, 16) < 0)
        return -1;
    sim_vanish(run, p.server, TCP_MSEC(500), "(unplugged)");
    return sim_at_action(run, TCP_SEC(1), SIM_ACT_CLOSE, p.client, &p.cli->sd, NULL);
}

const struct sim_scenario sim_sc_orphan_fin_retries = {
    "orphan-fin-retries",
    "the client closes but the server has vanished: the orphan retransmits its FIN with backoff, then gives up "
    "(tcp_orphan_retries)",
    orphan_fin_retries_setup, 0,
};

/* ---- keepalive-dead-peer ---- */
#define KEEPALIVE_IDLE_S 10
#define KEEPALIVE_INTVL_S 5
#define KEEPALIVE_CNT 3

static int keepalive_dead_peer_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0)
        return -1;
    p.srv->echo = true;
    p.cli->send_on_connect = "hello";
    if (sim_pair_start(run, &p, 16) < 0)
        return -1;
    int sd = p.cli->sd;
    /* Short knobs so the ladder stays small (defaults: 7200 s, 75 s, 9). */
    if (sim_setsockopt(run, p.client, sd, STACK_SO_KEEPALIVE, 1) < 0 ||
        sim_setsockopt(run, p.client, sd, STACK_TCP_KEEPIDLE, KEEPALIVE_IDLE_S) < 0 ||
        sim_setsockopt(run, p.client, sd, STACK_TCP_KEEPINTVL, KEEPALIVE_INTVL_S) < 0 ||
        sim_setsockopt(run, p.client, sd, STACK_TCP_KEEPCNT, KEEPALIVE_CNT) < 0)
        return -1;
    sim_vanish(run, p.server, TCP_SEC(1), "without a FIN (power cut)");
    return 0;
}

const struct sim_scenario sim_sc_keepalive_dead_peer = {
    "keepalive-dead-peer",
    "the server vanishes without a FIN; the idle client's keepalive probes (idle 10 s, every 5 s, 3 probes) go "
    "unanswered: ETIMEDOUT",
    keepalive_dead_peer_setup, 0,
};
