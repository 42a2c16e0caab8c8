/* The tracker's tables: anomaly names, Zeek conn_state codes, RFC 9293
 * state names (from the shared TCP_STATES table), timeout classes,
 * counters and the default configuration. */
#include <string.h>

#include "track/track_internal.h"

static const struct {
    const char *name, *help;
    char scope;
} anomalies[TRACK_ANOM_COUNT] = {
#define TRACK_ANOMALY_ROW(id, name, scope, help) {name, help, scope},
    TRACK_ANOMALIES(TRACK_ANOMALY_ROW)
#undef TRACK_ANOMALY_ROW
};

const char *track_anomaly_name(enum track_anomaly_kind k)
{
    return (unsigned)k < TRACK_ANOM_COUNT ? anomalies[k].name : "?";
}

const char *track_anomaly_help(enum track_anomaly_kind k)
{
    return (unsigned)k < TRACK_ANOM_COUNT ? anomalies[k].help : "?";
}

char track_anomaly_scope(enum track_anomaly_kind k)
{
    return (unsigned)k < TRACK_ANOM_COUNT ? anomalies[k].scope : '?';
}

int track_anomaly_parse(const char *name)
{
    for (int i = 0; i < TRACK_ANOM_COUNT; i++)
        if (strcmp(anomalies[i].name, name) == 0)
            return i;
    return -1;
}

static const struct {
    const char *name, *help;
} conn_states[TRACK_CS_COUNT] = {
#define TRACK_CONN_STATE_ROW(id, help) {#id, help},
    TRACK_CONN_STATES(TRACK_CONN_STATE_ROW)
#undef TRACK_CONN_STATE_ROW
};

const char *track_conn_state_name(enum track_conn_state s)
{
    return (unsigned)s < TRACK_CS_COUNT ? conn_states[s].name : "?";
}

const char *track_conn_state_help(enum track_conn_state s)
{
    return (unsigned)s < TRACK_CS_COUNT ? conn_states[s].help : "?";
}

int track_conn_state_parse(const char *name)
{
    for (int i = 0; i < TRACK_CS_COUNT; i++)
        if (strcmp(conn_states[i].name, name) == 0)
            return i;
    return -1;
}

/* Our own array over the shared TCP_STATES table (same names as
 * tcp_state_name), so track/ needs nothing from tcp/ but its header. */
static const char *const state_names[TCP_STATE_COUNT] = {
#define TRACK_STATE_ROW(id, name, ss) name,
    TCP_STATES(TRACK_STATE_ROW)
#undef TRACK_STATE_ROW
};

const char *track_state_name(int state)
{
    if (state >= 0 && state < TCP_STATE_COUNT)
        return state_names[state];
    return "-";
}

static const char *const timeout_names[TRACK_TO_COUNT] = {
#define TRACK_TIMEOUT_ROW(id, name, secs) name,
    TRACK_TIMEOUTS(TRACK_TIMEOUT_ROW)
#undef TRACK_TIMEOUT_ROW
};

const char *track_timeout_name(enum track_timeout_class c)
{
    return (unsigned)c < TRACK_TO_COUNT ? timeout_names[c] : "?";
}

void track_config_default(struct track_config *c)
{
    memset(c, 0, sizeof *c);
    c->max_conns = 1u << 18; /* about 240 MB of connections at most */
    static const unsigned secs[TRACK_TO_COUNT] = {
#define TRACK_TIMEOUT_SECS(id, name, s) s,
        TRACK_TIMEOUTS(TRACK_TIMEOUT_SECS)
#undef TRACK_TIMEOUT_SECS
    };
    for (int i = 0; i < TRACK_TO_COUNT; i++)
        c->timeout[i] = TCP_SEC(secs[i]);
    c->close_wait_leak = TCP_SEC(60);
    c->fin_wait_2_long = TCP_SEC(60);
    c->time_wait_per_host = 1000;
    c->syn_flood_rate = 100;
    c->syn_flood_window_s = 10;
    c->syn_answer_timeout = TCP_SEC(3);
    c->seed = 0x73796e61636bULL; /* "synack" */
}

static const struct {
    const char *name, *help;
} counters[] = {
#define TRACK_COUNTER_ROW(name, help) {#name, help},
    TRACK_COUNTERS(TRACK_COUNTER_ROW)
#undef TRACK_COUNTER_ROW
};

int track_counter_count(void)
{
    return (int)(sizeof counters / sizeof counters[0]);
}

const char *track_counter_name(int i)
{
    return i >= 0 && i < track_counter_count() ? counters[i].name : "?";
}

const char *track_counter_help(int i)
{
    return i >= 0 && i < track_counter_count() ? counters[i].help : "?";
}

uint64_t track_counter_get(const struct track_stats *s, int i)
{
    const uint64_t *v[] = {
#define TRACK_COUNTER_PTR(name, help) &s->name,
        TRACK_COUNTERS(TRACK_COUNTER_PTR)
#undef TRACK_COUNTER_PTR
    };
    return i >= 0 && i < track_counter_count() ? *v[i] : 0;
}
