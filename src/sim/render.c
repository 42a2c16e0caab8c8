/* Format names and dispatch. */
#include "sim/render.h"

#include <string.h>

static const char *const format_names[SIM_FORMAT_COUNT] = {"text", "json", "mermaid", "svg"};

int sim_format_parse(const char *name)
{
    for (int i = 0; i < SIM_FORMAT_COUNT; i++)
        if (strcmp(name, format_names[i]) == 0)
            return i;
    return -1;
}

const char *sim_format_name(enum sim_format f)
{
    return (unsigned)f < SIM_FORMAT_COUNT ? format_names[f] : "?";
}

int sim_render(const struct sim_log *log, enum sim_format f, FILE *out)
{
    switch (f) {
    case SIM_FORMAT_TEXT:
        return sim_render_text(log, out);
    case SIM_FORMAT_JSON:
        return sim_render_json(log, out);
    case SIM_FORMAT_MERMAID:
        return sim_render_mermaid(log, out);
    case SIM_FORMAT_SVG:
        return sim_render_svg(log, out);
    case SIM_FORMAT_COUNT:
        break;
    }
    return -1;
}
