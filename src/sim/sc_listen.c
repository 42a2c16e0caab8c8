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
    if (!a)
        return -1;
    struct sim_app *srv = a->srv = p.srv;
    a->server = p.server;
    /* listen(backlog 1) and no accept() for 5 s. Like Linux, the accept
     * queue holds backlog + 1 connections; a SYN that arrives while it is
     * full is dropped and counted (ListenOverflows), so the third client
     * gets in only with the SYN it retransmits after the application has
     * drained the queue. */
    srv->accept = false;
    srv->close_after_eof = 0;
    if (sim_pair_listen(run, &p, AQF_BACKLOG) < 0)
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

/* ---- accept-queue-full-abort ---- */
#define AQA_CLIENTS 4
#define AQA_BACKLOG 2 /* the accept queue holds 3; the SYN queue 2 */

struct aqa {
    struct aqf accepting;
    int client;
    struct sim_app *clients[AQA_CLIENTS];
};

/* The clients still connected hang up (one that was reset has already
 * closed its socket). */
static void aqa_clients_close(struct sim_run *run, void *arg)
{
    struct aqa *a = arg;
    struct stack *s = sim_stack(run, a->client);
    for (int i = 0; i < AQA_CLIENTS; i++) {
        struct sim_app *cli = a->clients[i];
        if (cli->connected && cli->sd >= 0 && stack_sock_state(s, cli->sd) != TCP_STATE_CLOSED)
            sim_close(run, a->client, cli->sd);
    }
}

static int accept_queue_full_abort_setup(struct sim_run *run)
{
    struct tcp_config effective;
    struct sim_pair p;
    if (sim_pair_setup_server_knob(run, &p, "tcp_abort_on_overflow", 1, &effective) < 0)
        return -1;
    struct aqa *a = sim_alloc(run, sizeof *a);
    if (!a)
        return -1;
    struct sim_app *srv = a->accepting.srv = p.srv;
    a->accepting.server = p.server;
    a->client = p.client;
    /* listen(backlog 2) and no accept() for 5 s. Two clients connect at
     * once, then two more 50 ms later: each SYN finds room in the SYN queue
     * (2) and the accept queue, so all four get SYN-ACKs (no cookie); the
     * first three final ACKs fill the accept queue (backlog + 1, as Linux),
     * the fourth finds it full (ListenOverflows). */
    srv->accept = false;
    srv->echo = true;
    srv->close_after_eof = 0;
    if (sim_pair_listen(run, &p, AQA_BACKLOG) < 0)
        return -1;
    sim_note(run, p.server, "%s",
             effective.tcp_abort_on_overflow
                 ? "tcp_abort_on_overflow=1: a final ACK that finds the accept queue full is answered with a RST"
                 : "tcp_abort_on_overflow=0: a final ACK that finds the accept queue full is dropped; the entry "
                   "stays half-open and its SYN-ACK is sent again");
    for (int i = 0; i < AQA_CLIENTS; i++) {
        struct sim_app *cli = a->clients[i] = sim_app_new(run);
        if (!cli)
            return -1;
        cli->send_on_connect = "hi";
        tcp_time_t at = TCP_MSEC(50) * (tcp_time_t)(i / 2) + TCP_MSEC(1) * (tcp_time_t)(i % 2);
        if (sim_app_client_at(run, cli, at, p.client, p.server, SIM_SERVER_PORT, 0) < 0)
            return -1;
    }
    if (sim_at(run, TCP_SEC(5), start_accepting, &a->accepting) < 0)
        return -1;
    return sim_at(run, TCP_SEC(20), aqa_clients_close, a);
}

const struct sim_scenario sim_sc_accept_queue_full_abort = {
    "accept-queue-full-abort",
    "tcp_abort_on_overflow=1, backlog 2, no accept(): the final ACK that finds the accept queue full gets a RST; "
    "that client's first read: ECONNRESET",
    accept_queue_full_abort_setup, 0,
};

/* ---- slow-accept ---- */
#define SLOW_CLIENTS 4
#define SLOW_BACKLOG 3 /* the accept queue holds 4 */
#define SLOW_BYTES 3000

static int slow_accept_setup(struct sim_run *run)
{
    struct sim_pair p;
    if (sim_pair_setup(run, &p) < 0)
        return -1;
    struct aqf *a = sim_alloc(run, sizeof *a);
    char *request = sim_alloc(run, SLOW_BYTES + 1);
    if (!a || !request)
        return -1;
    for (int i = 0; i < SLOW_BYTES; i++)
        request[i] = (char)('a' + i % 26);
    struct sim_app *srv = a->srv = p.srv;
    a->server = p.server;
    /* The application is busy for 3 s before its first accept(). Each
     * client writes 3000 bytes right after connect(): the first segment
     * rides on the third ACK, the rest follow at once. The stack completes
     * the handshakes on its own, the data waits in the queued connections'
     * receive buffers (acknowledged), and is all there at accept(). */
    srv->accept = false;
    srv->echo = true;
    srv->close_after_eof = 0;
    if (sim_pair_listen(run, &p, SLOW_BACKLOG) < 0)
        return -1;
    sim_note(run, p.server, "the application is busy: no accept() for 3 s");
    for (int i = 0; i < SLOW_CLIENTS; i++) {
        struct sim_app *cli = sim_app_new(run);
        if (!cli)
            return -1;
        cli->close_after_connect = TCP_SEC(5);
        if (sim_early_client_at(run, cli, TCP_MSEC(50) * (tcp_time_t)i, p.client, p.server, SIM_SERVER_PORT,
                                request) < 0)
            return -1;
    }
    return sim_at(run, TCP_SEC(3), start_accepting, a);
}

const struct sim_scenario sim_sc_slow_accept = {
    "slow-accept",
    "the application accepts 3 s late: 4 clients that wrote 3000 bytes each right after connect() (on the third "
    "ACK) lose nothing",
    slow_accept_setup, 0,
};
