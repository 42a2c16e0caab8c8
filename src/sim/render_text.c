/* The ladder as text, in the style of the figures of RFC 9293 §3.5:
 *
 *      time  client                                                server
 *            CLOSED                                                CLOSED
 *     0.000                  |                                   | LISTEN
 *     0.000  SYN-SENT        |--[S] seq=1000 ------------------->| SYN-RECEIVED
 *     0.010  ESTABLISHED     |<------------- [S.] seq=300 ack=1--|
 *
 * States are written beside the arrows whenever they change; a lost
 * segment's arrow ends in X; app calls are written inside the ladder next to
 * their host's lifeline; notes take a whole line. */
#include <stdio.h>
#include <string.h>

#include "sim/ladder.h"
#include "sim/render.h"

#define TEXT_STATE_W 16
#define TEXT_ARROW_W 46
#define TEXT_LOST_AT 34 /* where a lost arrow ends */

static void repeat(char *buf, size_t *len, size_t cap, char c, int count)
{
    for (int i = 0; i < count && *len + 1 < cap; i++)
        buf[(*len)++] = c;
    buf[*len] = '\0';
}

static void add(char *buf, size_t *len, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > cap)
        n = cap - 1 - *len;
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = '\0';
}

/* The middle of a segment row, exactly TEXT_ARROW_W wide unless the label
 * is too long. */
static void arrow(char *buf, size_t cap, const struct ladder_row *r, bool lost)
{
    size_t len = 0;
    int label = (int)strlen(r->label);
    buf[0] = '\0';
    bool right = r->from_col == 0 || (r->from_col < 0 && r->to_col == 1);
    if (right) {
        add(buf, &len, cap, "--");
        add(buf, &len, cap, r->label);
        add(buf, &len, cap, " ");
        if (lost) {
            repeat(buf, &len, cap, '-', TEXT_LOST_AT - 1 - (int)len);
            add(buf, &len, cap, "X");
        } else {
            repeat(buf, &len, cap, '-', TEXT_ARROW_W - 1 - (int)len);
            add(buf, &len, cap, ">");
        }
    } else {
        int body = label + 3; /* " " label "--" */
        if (lost) {
            int dashes = TEXT_LOST_AT - 1 - body;
            if (dashes < 2)
                dashes = 2;
            repeat(buf, &len, cap, ' ', TEXT_ARROW_W - 1 - dashes - body);
            add(buf, &len, cap, "X");
            repeat(buf, &len, cap, '-', dashes);
        } else {
            add(buf, &len, cap, "<");
            repeat(buf, &len, cap, '-', TEXT_ARROW_W - 1 - body);
        }
        add(buf, &len, cap, " ");
        add(buf, &len, cap, r->label);
        add(buf, &len, cap, "--");
    }
    repeat(buf, &len, cap, ' ', TEXT_ARROW_W - (int)len);
}

static void trim_right(char *s)
{
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ')
        s[--n] = '\0';
}

static void print_row(FILE *out, const char *time, const char *left, const char *middle, const char *right,
                      bool lifelines)
{
    char line[512];
    snprintf(line, sizeof line, "%9s  %-*s %s%-*s%s %s", time, TEXT_STATE_W, left, lifelines ? "|" : " ",
             TEXT_ARROW_W, middle, lifelines ? "|" : " ", right);
    trim_right(line);
    fprintf(out, "%s\n", line);
}

/* The state each host starts in: the "from" of its first change. */
static const char *initial_state(const struct sim_log *log, int host)
{
    for (size_t i = 0; i < log->n; i++)
        if (log->ev[i].kind == SIM_EV_STATE && log->ev[i].host == host)
            return tcp_state_name(log->ev[i].from);
    return "";
}

int sim_render_text(const struct sim_log *log, FILE *out)
{
    struct ladder l;
    if (ladder_build(log, &l) < 0)
        return -1;
    if (log->name[0])
        fprintf(out, "synack sim %s: %s\n\n", log->name, log->description);

    char left[64] = "", right[64] = "", middle[512];
    if (l.host[0] >= 0)
        snprintf(left, sizeof left, "%s", sim_log_host_name(log, l.host[0]));
    if (l.host[1] >= 0)
        snprintf(right, sizeof right, "%s", sim_log_host_name(log, l.host[1]));
    print_row(out, "time", left, "", right, false);
    print_row(out, "", l.host[0] >= 0 ? initial_state(log, l.host[0]) : "", "",
              l.host[1] >= 0 ? initial_state(log, l.host[1]) : "", true);

    for (size_t i = 0; i < l.n; i++) {
        const struct ladder_row *r = &l.rows[i];
        char time[24], text[256];
        snprintf(time, sizeof time, "%.3f", (double)r->t / 1e6);
        middle[0] = '\0';
        switch (r->kind) {
        case LADDER_SEGMENT:
            arrow(middle, sizeof middle, r, log->ev[r->ev].lost);
            break;
        case LADDER_STATE:
            break;
        case LADDER_APP:
            ladder_app_text(&log->ev[r->ev], text, sizeof text);
            if (r->col == 1)
                snprintf(middle, sizeof middle, "%*s  ", TEXT_ARROW_W - 2, text);
            else
                snprintf(middle, sizeof middle, "  %s", text);
            break;
        case LADDER_SUMMARY:
            ladder_summary_text(log, r, text, sizeof text);
            fprintf(out, "%9s  ~ %s\n", time, text);
            continue;
        case LADDER_NOTE: {
            const struct sim_event *e = &log->ev[r->ev];
            if (e->host >= 0)
                fprintf(out, "%9s  * %s: %s\n", time, sim_log_host_name(log, e->host), e->text ? e->text : "");
            else
                fprintf(out, "%9s  * %s\n", time, e->text ? e->text : "");
            continue;
        }
        }
        print_row(out, time, r->state[0], middle, r->state[1], true);
    }
    ladder_free(&l);
    return ferror(out) ? -1 : 0;
}
