/* Resets: refused connections, a reset half-open connection, abortive
 * close (RFC 9293 §3.5.2, §3.10.7). */
#include "sim/scenarios.h"

/* ---- rst-refused ---- */
static int rst_refused_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0)
        return -1;
    /* Nothing listens on the server's port 80 (RFC 9293 §3.10.7.1). */
    sim_note(run, p.server, "nothing listens on port %u", SIM_SERVER_PORT);
    return sim_pair_connect(run, &p);
}

const struct sim_scenario sim_sc_rst_refused = {
    "rst-refused",
    "SYN to a closed port: RST with ack = ISN+1, connect() fails ECONNREFUSED",
    rst_refused_setup, 0,
};

/* ---- rst-in-syn-received ---- */
static int rst_in_syn_received_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0 || sim_pair_start(run, &p, 16) < 0)
        return -1;
    /* The client gives up while its SYN-ACK is in flight (close in SYN-SENT
     * just deletes the TCB, RFC 9293 §3.10.4); the SYN-ACK then finds no
     * connection and is answered with RST, which sends the server's
     * half-open connection back to LISTEN (§3.10.7.4). */
    return sim_at_action(run, TCP_MSEC(15), SIM_ACT_CLOSE, p.client, &p.cli->sd, NULL);
}

const struct sim_scenario sim_sc_rst_in_syn_received = {
    "rst-in-syn-received",
    "the client gives up during the handshake; its RST returns the passively opened connection to LISTEN",
    rst_in_syn_received_setup, 0,
};

/* ---- rst-abort ---- */
static void linger_zero_close(struct sim_run *run, void *arg)
{
    struct sim_app *cli = arg;
    if (cli->sd < 0)
        return;
    sim_setsockopt(run, cli->host, cli->sd, STACK_SO_LINGER, 0);
    sim_close(run, cli->host, cli->sd);
}

static int rst_abort_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0)
        return -1;
    p.srv->echo = true;
    p.cli->send_on_connect = "hello";
    if (sim_pair_start(run, &p, 16) < 0)
        return -1;
    /* SO_LINGER with a zero timeout: close() aborts (RST, no TIME-WAIT). */
    return sim_at(run, TCP_SEC(1), linger_zero_close, p.cli);
}

const struct sim_scenario sim_sc_rst_abort = {
    "rst-abort",
    "close() with SO_LINGER 0 sends RST instead of FIN; the server's recv() fails ECONNRESET",
    rst_abort_setup, 0,
};
