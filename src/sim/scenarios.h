/* The scenarios, one object each, defined in the sc_*.c files by theme, and
 * the helpers they share. Only catalog.c and the sc_*.c files include this. */
#ifndef SYNACK_SIM_SCENARIOS_H
#define SYNACK_SIM_SCENARIOS_H

#include "sim/runner.h"

/* The usual two hosts: client 10.0.0.1 and server 10.0.0.2 joined by a
 * link with a 10 ms one-way delay; the server's apps listen on port 80. */
#define SIM_CLIENT_ADDR "10.0.0.1"
#define SIM_SERVER_ADDR "10.0.0.2"
#define SIM_SERVER_PORT 80
struct sim_pair {
    int client, server;
};
int sim_pair_setup(struct sim_run *run, struct sim_pair *p);
/* The same with knobs for each host (NULL: Linux's defaults). */
int sim_pair_setup_with(struct sim_run *run, struct sim_pair *p, const struct tcp_config *client,
                        const struct tcp_config *server);

/* sc_handshake.c */
extern const struct sim_scenario sim_sc_handshake, sim_sc_data_on_third_ack, sim_sc_syn_lost,
    sim_sc_synack_lost, sim_sc_ack_lost, sim_sc_stale_syn, sim_sc_simultaneous_open;
/* sc_timeouts.c */
extern const struct sim_scenario sim_sc_syn_timeout, sim_sc_synack_timeout, sim_sc_fin_wait_2_timeout,
    sim_sc_orphan_fin_retries, sim_sc_keepalive_dead_peer;
/* sc_close.c */
extern const struct sim_scenario sim_sc_close_merged_finack, sim_sc_half_close, sim_sc_simultaneous_close,
    sim_sc_last_ack_lost, sim_sc_process_exit;
/* sc_reset.c */
extern const struct sim_scenario sim_sc_rst_refused, sim_sc_rst_in_syn_received, sim_sc_rst_abort;
/* sc_listen.c */
extern const struct sim_scenario sim_sc_accept_queue_full;
/* sc_attack.c */
extern const struct sim_scenario sim_sc_challenge_ack, sim_sc_syn_flood;

#endif
