/* app/view — the control socket's replies as people read them: `ss`-style
 * tables (State, Recv-Q, Send-Q, Local, Peer; timers like
 * timer:(timewait,42sec,0)), the per-state summary of `ss -s`, and the
 * counters as `nstat` prints them, by their table names. */
#ifndef SYNACK_APP_VIEW_H
#define SYNACK_APP_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "app/json.h"
#include "tcp/tcp_types.h"
#include "wire/wire.h"

struct ss_row {
    enum tcp_state state;
    int sd;
    struct wire_endpoint local, remote;
    uint32_t recv_q, send_q, syn_q, syn_q_max, retrans;
    char timer[12]; /* "on" "keepalive" "timewait" "persist", or "" */
    uint64_t expires_us;
    bool orphan;
};

enum {
    SS_LISTENING = 1u << 0, /* -l: listeners only */
    SS_ALL = 1u << 1,       /* -a: every socket */
    SS_NUMERIC = 1u << 2,   /* -n: no service names */
    SS_TIMERS = 1u << 3,    /* -o: timer information */
};

/* The rows of an {"cmd":"ss"} reply. Returns 0 (free *rows), or -1 with a
 * reason in err. */
int ss_rows_from_reply(const struct json *reply, struct ss_row **rows, size_t *n, char *err, size_t errlen);
/* Which rows a view shows, as ss does: by default the connected ones
 * (not LISTEN, SYN-RECV, TIME-WAIT or CLOSED); -l listeners; -a all. */
bool ss_row_selected(const struct ss_row *r, unsigned flags);
void ss_print_table(FILE *out, const struct ss_row *rows, size_t n, unsigned flags);
/* One JSON object per selected row, one a line. */
void ss_print_json(FILE *out, const struct ss_row *rows, size_t n, unsigned flags);
/* `ss -s`: totals and a count per state. */
void ss_print_summary(FILE *out, const struct ss_row *rows, size_t n);
/* ss's timer text for a time left: "200ms", "1.200sec", "42sec", "2min13sec", "119min". */
char *ss_timer_str(uint64_t ms, char *buf, size_t cap);

/* `nstat`: counters of an {"cmd":"nstat"} reply, non-zero ones unless
 * zeros; or the reply's counters as one JSON line. 0 or -1 (bad reply). */
int nstat_print(FILE *out, const struct json *reply, bool zeros, bool json);

#endif
