/* The scenarios, one object each, defined in the sc_*.c files by theme, and
 * the helpers they share. Only catalog.c and the sc_*.c files include this. */
#ifndef SYNACK_SIM_SCENARIOS_H
#define SYNACK_SIM_SCENARIOS_H

#include "sim/runner.h"

/* The usual two hosts: client 10.0.0.1 and server 10.0.0.2 joined by a
 * link with a 10 ms one-way delay, and an app for each (sim_app_new's
 * defaults, to be configured before they start); the server's app listens
 * on port 80. */
#define SIM_CLIENT_ADDR "10.0.0.1"
#define SIM_SERVER_ADDR "10.0.0.2"
#define SIM_SERVER_PORT 80
struct sim_pair {
    int client, server;
    struct sim_app *cli, *srv;
    uint16_t client_port; /* the client's local port (0: ephemeral) */
};
int sim_pair_setup(struct sim_run *run, struct sim_pair *p);
/* The same with knobs for each host (NULL: Linux's defaults). */
int sim_pair_setup_with(struct sim_run *run, struct sim_pair *p, const struct tcp_config *client,
                        const struct tcp_config *server);
/* The pair, the server running Linux's defaults but knob = value (a name
 * of tcp_types.h's table); the run's --sysctl overrides still apply, and
 * *effective (if not NULL) gets what the server runs with. */
int sim_pair_setup_server_knob(struct sim_run *run, struct sim_pair *p, const char *knob, int64_t value,
                               struct tcp_config *effective);
/* The server's app listens (and accepts, as p->srv says). Returns 0 or -1. */
int sim_pair_listen(struct sim_run *run, struct sim_pair *p, int backlog);
/* The client's app connects to the server now. Returns 0 or -1. */
int sim_pair_connect(struct sim_run *run, struct sim_pair *p);
/* Both: listen, then connect. Returns 0 or -1. */
int sim_pair_start(struct sim_run *run, struct sim_pair *p, int backlog);

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
extern const struct sim_scenario sim_sc_accept_queue_full, sim_sc_accept_queue_full_abort, sim_sc_slow_accept;
/* sc_attack.c */
extern const struct sim_scenario sim_sc_challenge_ack, sim_sc_syn_flood;
/* sc_flood.c */
extern const struct sim_scenario sim_sc_syn_flood_cookies;
/* sc_stream.c */
extern const struct sim_scenario sim_sc_bulk_transfer, sim_sc_reorder, sim_sc_duplicate,
    sim_sc_loss_fast_retransmit, sim_sc_loss_rto, sim_sc_zero_window_persist, sim_sc_retries2_timeout;

/* ---- sc_flood.c: helpers of the listener-under-attack scenarios ---- */
/* A spoofed SYN flood: `count` SYNs (MSS option only, like a flooding
 * tool) at `rate` per second from start on, each from its own port, the
 * sources cycling through `sources` addresses from 198.51.100.1 (TEST-NET-2,
 * RFC 5737; at most 254). A ghost host "attacker" owns them all, so every
 * SYN-ACK is absorbed and never answered, as when the addresses do not
 * exist. */
struct sim_flood {
    int target;         /* host attacked */
    uint16_t port;
    unsigned count;
    uint32_t rate;      /* SYNs per second */
    unsigned sources;
    tcp_time_t start;
    /* filled in by sim_flood_start */
    int attacker;
    struct sim_run *run;
    unsigned sent;
    uint32_t seq;
};
/* Adds the attacker (linked to target), says what it does in a note and
 * schedules the SYNs. Returns 0 or -1. */
int sim_flood_start(struct sim_run *run, struct sim_flood *f);
/* A client that connects at t and calls send(text) at once, still in
 * SYN-SENT, so that the text rides on the handshake's third segment; then
 * app runs on the socket (reading, closing as app says). Returns 0 or -1. */
int sim_early_client_at(struct sim_run *run, struct sim_app *app, tcp_time_t t, int host, int server_host,
                        uint16_t port, const char *text);
/* A note from the server on what its listener did: cookies, half-open
 * entries, drops (from its counters), and how many of the n clients got in. */
void sim_flood_verdict(struct sim_run *run, int server, struct sim_app *const *clients, size_t n);

#endif
