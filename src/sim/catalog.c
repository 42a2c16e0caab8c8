/* The catalog, in the order a reader would walk through it: opening,
 * losses during the opening, closing, timers, resets, listener limits,
 * then the byte stream. */
#include "sim/catalog.h"

#include <string.h>

#include "sim/scenarios.h"

static const struct sim_scenario *const catalog[] = {
    &sim_sc_handshake,
    &sim_sc_data_on_third_ack,
    &sim_sc_syn_lost,
    &sim_sc_syn_timeout,
    &sim_sc_synack_lost,
    &sim_sc_ack_lost,
    &sim_sc_synack_timeout,
    &sim_sc_stale_syn,
    &sim_sc_simultaneous_open,
    &sim_sc_close_merged_finack,
    &sim_sc_half_close,
    &sim_sc_simultaneous_close,
    &sim_sc_last_ack_lost,
    &sim_sc_fin_wait_2_timeout,
    &sim_sc_orphan_fin_retries,
    &sim_sc_rst_refused,
    &sim_sc_rst_in_syn_received,
    &sim_sc_rst_abort,
    &sim_sc_keepalive_dead_peer,
    &sim_sc_process_exit,
    &sim_sc_accept_queue_full,
    &sim_sc_accept_queue_full_abort,
    &sim_sc_slow_accept,
    &sim_sc_challenge_ack,
    &sim_sc_syn_flood,
    &sim_sc_syn_flood_cookies,
    &sim_sc_bulk_transfer,
    &sim_sc_reorder,
    &sim_sc_duplicate,
    &sim_sc_loss_fast_retransmit,
    &sim_sc_loss_rto,
    &sim_sc_zero_window_persist,
    &sim_sc_retries2_timeout,
};
#define CATALOG_SIZE (sizeof catalog / sizeof catalog[0])

size_t sim_scenario_count(void)
{
    return CATALOG_SIZE;
}

const struct sim_scenario *sim_scenario_at(size_t i)
{
    return i < CATALOG_SIZE ? catalog[i] : NULL;
}

const struct sim_scenario *sim_scenario_find(const char *name)
{
    for (size_t i = 0; i < CATALOG_SIZE; i++)
        if (strcmp(catalog[i]->name, name) == 0)
            return catalog[i];
    return NULL;
}
