/* sim/catalog — the named scenarios (DESIGN.md §4). Names are part of the
 * interface: `synack sim NAME`, and a test per scenario. */
#ifndef SYNACK_SIM_CATALOG_H
#define SYNACK_SIM_CATALOG_H

#include <stddef.h>

#include "sim/runner.h"

size_t sim_scenario_count(void);
/* In catalog order (the order of `synack sim --list`); NULL past the end. */
const struct sim_scenario *sim_scenario_at(size_t i);
const struct sim_scenario *sim_scenario_find(const char *name);

#endif
