/* track/log — Zeek-compatible logs: conn.log (Zeek's fields, then ours:
 * orig_state, resp_state, handshake_rtt, anomalies) and an anomaly log
 * shaped like Zeek's weird.log. TSV with Zeek's header, or JSON lines with
 * the same field names (unset fields omitted, as Zeek's JSON writer does). */
#ifndef SYNACK_TRACK_LOG_H
#define SYNACK_TRACK_LOG_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "track/track.h"

enum track_log_format {
    TRACK_LOG_TSV,
    TRACK_LOG_JSON,
};

enum track_log_kind {
    TRACK_LOG_CONN,    /* #path conn */
    TRACK_LOG_ANOMALY, /* #path anomaly (weird.log's fields) */
};

struct track_log {
    FILE *f;
    enum track_log_format format;
    enum track_log_kind kind;
    time_t open_time;
    bool header_done;
    unsigned long records;
};

/* open_time is written in the TSV header (#open). */
void track_log_init(struct track_log *w, FILE *f, enum track_log_format format, enum track_log_kind kind,
                    time_t open_time);
/* Writes the TSV header now (it is otherwise written before the first record). */
void track_log_header(struct track_log *w);
void track_log_conn(struct track_log *w, const struct track_conn_info *c);
void track_log_anomaly(struct track_log *w, const struct track_anomaly *a);
/* TSV: writes the header if nothing was written, then #close. */
void track_log_close(struct track_log *w, time_t close_time);

/* "1700000000.123456": seconds with microseconds, exactly. */
#define TRACK_TIME_STRLEN 32
char *track_time_str(tcp_time_t t, char buf[TRACK_TIME_STRLEN]);

#endif
