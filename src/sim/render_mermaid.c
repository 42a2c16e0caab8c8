/* A mermaid sequenceDiagram: segments as messages (lost ones end in x),
 * states as notes over their host, app calls as notes beside it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/ladder.h"
#include "sim/render.h"

/* Mermaid reads '#' as an entity and ';' as a statement end. */
static void mermaid_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '#')
            fputs("no.", out);
        else if (*s == ';')
            fputc(',', out);
        else
            fputc(*s, out);
    }
}

static void participant(FILE *out, const struct sim_log *log, int host)
{
    char addr[WIRE_ADDR_STRLEN];
    fprintf(out, "    participant %s as %s %s\n", sim_log_host_name(log, host), sim_log_host_name(log, host),
            wire_addr_str(&log->host_addrs[host], addr));
}

static void state_notes(FILE *out, const struct sim_log *log, const struct ladder *l, const struct ladder_row *r)
{
    for (int c = 0; c < 2; c++)
        if (r->state[c][0]) {
            fprintf(out, "    Note over %s: ", sim_log_host_name(log, l->host[c]));
            mermaid_text(out, r->state[c]);
            fputc('\n', out);
        }
}

/* Drawn from the ladder's rows, so a flood is summarized the same way. */
int sim_render_mermaid(const struct sim_log *log, FILE *out)
{
    struct ladder l;
    if (ladder_build(log, &l) < 0)
        return -1;
    fputs("sequenceDiagram\n", out);
    if (log->name[0]) {
        fputs("    %% synack sim ", out);
        mermaid_text(out, log->name);
        fputs(": ", out);
        mermaid_text(out, log->description);
        fputc('\n', out);
    }
    for (int c = 0; c < 2; c++)
        if (l.host[c] >= 0)
            participant(out, log, l.host[c]);
    const char *left = l.host[0] >= 0 ? sim_log_host_name(log, l.host[0]) : "?";
    const char *right = l.host[1] >= 0 ? sim_log_host_name(log, l.host[1]) : left;
    for (size_t i = 0; i < l.n; i++) {
        const struct ladder_row *r = &l.rows[i];
        char text[256], t[24];
        snprintf(t, sizeof t, "%.3f", (double)r->t / 1e6);
        switch (r->kind) {
        case LADDER_SEGMENT: {
            const struct sim_event *e = &log->ev[r->ev];
            /* The sender's new state first, then the message, then the receiver's. */
            if (r->state[r->from_col][0]) {
                fprintf(out, "    Note over %s: ", sim_log_host_name(log, e->src));
                mermaid_text(out, r->state[r->from_col]);
                fputc('\n', out);
            }
            fprintf(out, "    %s%s%s: %s ", sim_log_host_name(log, e->src), e->lost ? "-x" : "->>",
                    sim_log_host_name(log, e->dst), t);
            mermaid_text(out, r->label);
            if (e->lost)
                fprintf(out, " lost (%s)", e->drop);
            fputc('\n', out);
            if (r->state[r->to_col][0]) {
                fprintf(out, "    Note over %s: ", sim_log_host_name(log, e->dst));
                mermaid_text(out, r->state[r->to_col]);
                fputc('\n', out);
            }
            break;
        }
        case LADDER_STATE:
            state_notes(out, log, &l, r);
            break;
        case LADDER_APP: {
            const struct sim_event *e = &log->ev[r->ev];
            ladder_app_text(e, text, sizeof text);
            fprintf(out, "    Note %s of %s: %s ", r->col == 1 ? "right" : "left", sim_log_host_name(log, e->host), t);
            mermaid_text(out, text);
            fputc('\n', out);
            break;
        }
        case LADDER_NOTE: {
            const struct sim_event *e = &log->ev[r->ev];
            if (r->col >= 0)
                fprintf(out, "    Note over %s: ", sim_log_host_name(log, e->host));
            else
                fprintf(out, "    Note over %s,%s: ", left, right);
            if (e->host >= 0 && r->col < 0) {
                mermaid_text(out, sim_log_host_name(log, e->host));
                fputs(": ", out);
            }
            mermaid_text(out, e->text ? e->text : "");
            fputc('\n', out);
            break;
        }
        case LADDER_SUMMARY:
            ladder_summary_text(log, r, text, sizeof text);
            fprintf(out, "    Note over %s,%s: %s ", left, right, t);
            mermaid_text(out, text);
            fputc('\n', out);
            break;
        }
    }
    ladder_free(&l);
    return ferror(out) ? -1 : 0;
}
