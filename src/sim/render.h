/* sim/render — an event log as text (a ladder diagram), JSON lines
 * (DESIGN.md §3), a mermaid sequenceDiagram, or a self-contained SVG. */
#ifndef SYNACK_SIM_RENDER_H
#define SYNACK_SIM_RENDER_H

#include <stdio.h>

#include "sim/events.h"

enum sim_format { SIM_FORMAT_TEXT, SIM_FORMAT_JSON, SIM_FORMAT_MERMAID, SIM_FORMAT_SVG, SIM_FORMAT_COUNT };

/* "text" "json" "mermaid" "svg" -> format, or -1. */
int sim_format_parse(const char *name);
const char *sim_format_name(enum sim_format f);

/* Each returns 0, or -1 on a write error or lack of memory. */
int sim_render(const struct sim_log *log, enum sim_format f, FILE *out);
int sim_render_text(const struct sim_log *log, FILE *out);
int sim_render_json(const struct sim_log *log, FILE *out);
int sim_render_mermaid(const struct sim_log *log, FILE *out);
int sim_render_svg(const struct sim_log *log, FILE *out);

/* One JSON line for one event (no newline); returns -1 on a write error.
 * ARRIVAL events print nothing and return 0. */
int sim_render_json_event(const struct sim_log *log, const struct sim_event *e, FILE *out);

#endif
