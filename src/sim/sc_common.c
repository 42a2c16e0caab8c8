/* Helpers the scenarios share. */
#include "sim/scenarios.h"

int sim_pair_setup_with(struct sim_run *run, struct sim_pair *p, const struct tcp_config *client,
                        const struct tcp_config *server)
{
    p->client = sim_host(run, "client", SIM_CLIENT_ADDR, client);
    p->server = sim_host(run, "server", SIM_SERVER_ADDR, server);
    p->cli = sim_app_new(run);
    p->srv = sim_app_new(run);
    p->client_port = 0;
    if (p->client < 0 || p->server < 0 || !p->cli || !p->srv)
        return -1;
    return sim_link(run, p->client, p->server, SIM_DEFAULT_DELAY);
}

int sim_pair_setup(struct sim_run *run, struct sim_pair *p)
{
    return sim_pair_setup_with(run, p, NULL, NULL);
}

int sim_pair_setup_server_knob(struct sim_run *run, struct sim_pair *p, const char *knob, int64_t value,
                               struct tcp_config *effective)
{
    struct tcp_config server;
    tcp_config_default(&server);
    if (tcp_config_set(&server, knob, value) < 0)
        return -1;
    if (effective)
        sim_host_config(run, &server, effective);
    return sim_pair_setup_with(run, p, NULL, &server);
}

int sim_pair_listen(struct sim_run *run, struct sim_pair *p, int backlog)
{
    return sim_app_server(run, p->srv, p->server, SIM_SERVER_PORT, backlog) < 0 ? -1 : 0;
}

int sim_pair_connect(struct sim_run *run, struct sim_pair *p)
{
    return sim_app_client(run, p->cli, p->client, p->server, SIM_SERVER_PORT, p->client_port) < 0 ? -1 : 0;
}

int sim_pair_start(struct sim_run *run, struct sim_pair *p, int backlog)
{
    return sim_pair_listen(run, p, backlog) < 0 ? -1 : sim_pair_connect(run, p);
}
