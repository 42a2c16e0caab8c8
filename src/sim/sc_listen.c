/* The listener's queues: what happens when the application does not
 * accept fast enough. */
#include "sim/scenarios.h"

#define AQF_CLIENTS 3
#define AQF_BACKLOG 1

struct aqf {
    struct sim_app *srv;
    int server;
};

static void start_accepting(struct sim_run *run, void *arg)
{
    struct aqf *a = arg;
    sim_note(run, a->server, "the application starts calling accept()");
    a->srv->accept = true;
    sim_poke(run, a->server, a->srv->lsd);
}

static int accept_queue_full_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0)
        return -1;
    struct aqf *a = sim_alloc(run, sizeof *a);
    struct sim_app *srv = sim_app_new(run);
    if (!a || !srv)
        return -1;
    a->srv = srv;
    a->server = p.server;
    /* listen(backlog 1) and no accept() for 5 s. Like Linux, the accept
     * queue holds backlog + 1 connections; a SYN that arrives while it is
     * full is dropped and counted (ListenOverflows), so the third client
     * gets in only with the SYN it retransmits after the application has
     * drained the queue. */
    srv->accept = false;
    srv->close_after_eof = 0;
    if (sim_app_server(run, srv, p.server, SIM_SERVER_PORT, AQF_BACKLOG) < 0)
        return -1;
    for (int i = 0; i < AQF_CLIENTS; i++) {
        struct sim_app *cli = sim_app_new(run);
        if (!cli)
            return -1;
        cli->send_on_connect = "hi";
        if (sim_app_client_at(run, cli, TCP_MSEC(100) * (tcp_time_t)i, p.client, p.server, SIM_SERVER_PORT, 0) < 0 ||
            sim_at_action(run, TCP_SEC(30), SIM_ACT_CLOSE, p.client, &cli->sd, NULL) < 0)
            return -1;
    }
    return sim_at(run, TCP_SEC(5), start_accepting, a);
}

const struct sim_scenario sim_sc_accept_queue_full = {
    "accept-queue-full",
    "listen(backlog 1), no accept() for 5 s: a SYN that finds the accept queue full is dropped (ListenOverflows); "
    "it gets in after the app accepts",
    accept_queue_full_setup, 0,
};
