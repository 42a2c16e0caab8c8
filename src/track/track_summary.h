/* track/summary — the `ss -s` picture from the wire: connections per
 * RFC 9293 state per host (of the connections in the table now), Zeek
 * conn_state totals, frame counters and the top anomalies. */
#ifndef SYNACK_TRACK_SUMMARY_H
#define SYNACK_TRACK_SUMMARY_H

#include <stdbool.h>
#include <stdio.h>

#include "track/track.h"

/* Remembers the first anomaly of each kind, as an example to print. */
struct track_summary_examples {
    bool have[TRACK_ANOM_COUNT];
    struct track_anomaly first[TRACK_ANOM_COUNT];
};

void track_summary_note(struct track_summary_examples *ex, const struct track_anomaly *a);

struct track_summary_opts {
    bool json;          /* JSON lines instead of a table */
    int max_hosts;      /* rows of the per-host table (0: 20) */
    int max_anomalies;  /* rows of the top anomalies (0: 10) */
    const char *title;  /* first line, e.g. "end of capture" */
};

/* The per-host states and conn_state totals of t as it is now. Take it
 * before track_flush to keep the states of the connections still open;
 * print it after, so the anomalies raised at the end are counted. */
struct track_summary_snapshot;
struct track_summary_snapshot *track_summary_snapshot(const struct track *t);
void track_summary_snapshot_free(struct track_summary_snapshot *s);

/* Prints a snapshot with t's counters and anomaly totals. ex may be NULL.
 * Returns 0, or -1 if snap is NULL (allocation failure). */
int track_summary_print(FILE *f, const struct track *t, const struct track_summary_snapshot *snap,
                        const struct track_summary_examples *ex, const struct track_summary_opts *opts);

#endif
