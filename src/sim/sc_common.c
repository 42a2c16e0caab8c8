/* Helpers the scenarios share. */
#include "sim/scenarios.h"

int sim_pair_setup_with(struct sim_run *run, struct sim_pair *p, const struct tcp_config *client,
                        const struct tcp_config *server)
{
    p->client = sim_host(run, "client", SIM_CLIENT_ADDR, client);
    p->server = sim_host(run, "server", SIM_SERVER_ADDR, server);
    if (p->client < 0 || p->server < 0)
        return -1;
    return sim_link(run, p->client, p->server, SIM_DEFAULT_DELAY);
}

int sim_pair_setup(struct sim_run *run, struct sim_pair *p)
{
    return sim_pair_setup_with(run, p, NULL, NULL);
}
