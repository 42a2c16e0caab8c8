/* The tables of tcp_types.h turned into lookups. */
#include "tcp/tcp_types.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

static const char *const state_names[TCP_STATE_COUNT] = {
#define STATE_NAME(id, name, ss) name,
    TCP_STATES(STATE_NAME)
#undef STATE_NAME
};

static const char *const state_ss_names[TCP_STATE_COUNT] = {
#define STATE_SS(id, name, ss) ss,
    TCP_STATES(STATE_SS)
#undef STATE_SS
};

const char *tcp_state_name(enum tcp_state s)
{
    return (unsigned)s < TCP_STATE_COUNT ? state_names[s] : "?";
}

const char *tcp_state_ss_name(enum tcp_state s)
{
    return (unsigned)s < TCP_STATE_COUNT ? state_ss_names[s] : "?";
}

int tcp_state_parse(const char *name)
{
    for (int i = 0; i < TCP_STATE_COUNT; i++)
        if (!strcasecmp(name, state_names[i]) || !strcasecmp(name, state_ss_names[i]))
            return i;
    return -1;
}

/* ---- knobs ---- */
struct knob_desc {
    const char *name, *unit, *help;
    int64_t def;
    size_t offset;
};

static const struct knob_desc knobs[] = {
#define KNOB_DESC(f, d, u, h) {#f, u, h, d, offsetof(struct tcp_config, f)},
    TCP_KNOBS(KNOB_DESC)
#undef KNOB_DESC
};
#define KNOB_COUNT ((int)(sizeof knobs / sizeof knobs[0]))

void tcp_config_default(struct tcp_config *c)
{
    for (int i = 0; i < KNOB_COUNT; i++)
        *(int64_t *)((char *)c + knobs[i].offset) = knobs[i].def;
}

int tcp_config_set(struct tcp_config *c, const char *name, int64_t value)
{
    static const char *const prefixes[] = {"net.ipv4.", "net.core.", "net/ipv4/", "net/core/"};
    for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++)
        if (!strncmp(name, prefixes[p], strlen(prefixes[p])))
            name += strlen(prefixes[p]);
    for (int i = 0; i < KNOB_COUNT; i++) {
        if (!strcmp(name, knobs[i].name)) {
            *(int64_t *)((char *)c + knobs[i].offset) = value;
            return 0;
        }
    }
    return -1;
}

int tcp_config_count(void) { return KNOB_COUNT; }
const char *tcp_config_name(int i) { return i >= 0 && i < KNOB_COUNT ? knobs[i].name : NULL; }
const char *tcp_config_help(int i) { return i >= 0 && i < KNOB_COUNT ? knobs[i].help : NULL; }
const char *tcp_config_unit(int i) { return i >= 0 && i < KNOB_COUNT ? knobs[i].unit : NULL; }

int64_t tcp_config_get(const struct tcp_config *c, int i)
{
    return i >= 0 && i < KNOB_COUNT ? *(const int64_t *)((const char *)c + knobs[i].offset) : 0;
}

/* ---- counters ---- */
struct counter_desc {
    const char *name, *help;
    size_t offset;
};

static const struct counter_desc counters[] = {
#define COUNTER_DESC(n, h) {#n, h, offsetof(struct tcp_counters, n)},
    TCP_COUNTERS(COUNTER_DESC)
#undef COUNTER_DESC
};
#define COUNTER_COUNT ((int)(sizeof counters / sizeof counters[0]))

int tcp_counter_count(void) { return COUNTER_COUNT; }
const char *tcp_counter_name(int i) { return i >= 0 && i < COUNTER_COUNT ? counters[i].name : NULL; }
const char *tcp_counter_help(int i) { return i >= 0 && i < COUNTER_COUNT ? counters[i].help : NULL; }

uint64_t tcp_counter_get(const struct tcp_counters *c, int i)
{
    return i >= 0 && i < COUNTER_COUNT ? *(const uint64_t *)((const char *)c + counters[i].offset) : 0;
}
