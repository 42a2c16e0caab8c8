/* sim/ladder — an event log laid out as the rows of a ladder diagram, shared
 * by the text and SVG renderers (and the mermaid one's labels).
 *
 * Two columns, one per host (the first two hosts of the log). A row is a
 * segment arrow, a state change, an app call or a note. A host's new state
 * is written beside the arrow that made it change: the sender's state on a
 * segment's row when it changed while sending, the receiver's when the
 * segment arrived before anything else happened (else on its own row at
 * the arrival time), as in the figures of RFC 9293 §3.5. */
#ifndef SYNACK_SIM_LADDER_H
#define SYNACK_SIM_LADDER_H

#include <stdbool.h>
#include <stddef.h>

#include "sim/events.h"

/* LADDER_SUMMARY: traffic of hosts without a column (a flood), counted. */
enum ladder_row_kind { LADDER_SEGMENT, LADDER_STATE, LADDER_APP, LADDER_NOTE, LADDER_SUMMARY };

#define LADDER_SUMMARY_KINDS 6

#define LADDER_LABEL_MAX 160
#define LADDER_STATE_MAX 24

struct ladder_row {
    enum ladder_row_kind kind;
    tcp_time_t t;
    long ev;              /* SEGMENT, APP, NOTE: index in the log */
    int from_col, to_col; /* SEGMENT: 0, 1, or -1 for a host with no column */
    int col;              /* APP, NOTE: the host's column, or -1 */
    bool merged;          /* SEGMENT: arrived before any other row */
    double arrive_pos;    /* SEGMENT: row position of the arrival; < 0 if lost */
    char label[LADDER_LABEL_MAX];               /* SEGMENT: "[S.] seq=0 ack=1" */
    char state[2][LADDER_STATE_MAX];            /* new state beside each column */
    /* SUMMARY: segments by sender, receiver and flags; state changes */
    struct {
        int src, dst;
        uint8_t flags;
        unsigned count;
    } sum[LADDER_SUMMARY_KINDS];
    unsigned nsum, other_segments, states;
};

struct ladder {
    struct ladder_row *rows;
    size_t n, cap;
    int host[2];  /* log host index of each column, or -1 */
    bool multi;   /* several connections: states and arrows carry "#id" */
    bool failed;  /* out of memory */
};

/* Lays out log; free with ladder_free. Returns 0 or -1 (out of memory). */
int ladder_build(const struct sim_log *log, struct ladder *out);
void ladder_free(struct ladder *l);

/* The tcpdump-like label of a segment, e.g. "[P.] seq=1:6 ack=1": sequence
 * numbers are absolute on SYNs (the ISNs) and relative to each side's ISN
 * afterwards, as tcpdump prints them (relative to the latest SYN of that
 * direction that gives a small number, so an old duplicate SYN does not
 * throw the numbering off). isns tracks the SYNs seen (zero it first). */
#define LADDER_ISNS_PER_DIR 4
struct ladder_isns {
    struct {
        struct wire_tuple tuple;
        uint32_t isn[LADDER_ISNS_PER_DIR]; /* the SYNs seen, newest first */
        unsigned count;
        uint32_t next; /* highest sequence number sent so far + 1 */
    } dir[64];
    size_t n;
};
void ladder_segment_label(const struct sim_event *seg, struct ladder_isns *isns, char *buf, size_t cap);
/* "attacker -> server: 37 [S]; server -> attacker: 20 [S.]; 5 state changes" */
void ladder_summary_text(const struct sim_log *log, const struct ladder_row *r, char *buf, size_t cap);
/* Application call text: "connect() = EINPROGRESS". */
void ladder_app_text(const struct sim_event *app, char *buf, size_t cap);

#endif
