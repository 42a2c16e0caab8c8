/* The event log: a growing array, plus the queries tests and renderers use. */
#include "sim/events.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sim_log_init(struct sim_log *log)
{
    memset(log, 0, sizeof *log);
}

void sim_log_free(struct sim_log *log)
{
    for (size_t i = 0; i < log->n; i++)
        free(log->ev[i].text);
    free(log->ev);
    sim_log_init(log);
}

int sim_log_add_host(struct sim_log *log, const char *name, const struct wire_addr *addr)
{
    if (log->nhosts >= SIM_MAX_HOSTS || !name)
        return -1;
    int i = log->nhosts++;
    snprintf(log->host_names[i], sizeof log->host_names[i], "%s", name);
    if (addr)
        log->host_addrs[i] = *addr;
    return i;
}

int sim_log_host(const struct sim_log *log, const char *name)
{
    for (int i = 0; i < log->nhosts; i++)
        if (strcmp(log->host_names[i], name) == 0)
            return i;
    return -1;
}

const char *sim_log_host_name(const struct sim_log *log, int host)
{
    return host >= 0 && host < log->nhosts ? log->host_names[host] : "?";
}

long sim_log_push(struct sim_log *log, const struct sim_event *ev)
{
    if (log->n == log->cap) {
        size_t cap = log->cap ? log->cap * 2 : 64;
        struct sim_event *grown = realloc(log->ev, cap * sizeof *grown);
        if (!grown) {
            log->failed = true;
            return -1;
        }
        log->ev = grown;
        log->cap = cap;
    }
    log->ev[log->n] = *ev;
    return (long)log->n++;
}

long sim_log_state(struct sim_log *log, tcp_time_t t, int host, enum tcp_state from, enum tcp_state to,
                   const struct wire_tuple *tuple, int sd, long cause)
{
    struct sim_event ev = {.kind = SIM_EV_STATE, .t = t, .host = host, .from = from, .to = to,
                           .sd = sd, .cause = cause, .segment = -1};
    if (tuple)
        ev.tuple = *tuple;
    return sim_log_push(log, &ev);
}

long sim_log_app(struct sim_log *log, tcp_time_t t, int host, const char *call, const char *result)
{
    return sim_log_app_args(log, t, host, call, NULL, result);
}

long sim_log_app_args(struct sim_log *log, tcp_time_t t, int host, const char *call, const char *args,
                      const char *result)
{
    struct sim_event ev = {.kind = SIM_EV_APP, .t = t, .host = host, .sd = -1, .cause = -1, .segment = -1};
    snprintf(ev.call, sizeof ev.call, "%s", call);
    snprintf(ev.args, sizeof ev.args, "%s", args ? args : "");
    snprintf(ev.result, sizeof ev.result, "%s", result ? result : "");
    return sim_log_push(log, &ev);
}

void sim_log_app_result(struct sim_log *log, long index, const char *result)
{
    if (index >= 0 && (size_t)index < log->n && log->ev[index].kind == SIM_EV_APP)
        snprintf(log->ev[index].result, sizeof log->ev[index].result, "%s", result);
}

long sim_log_note(struct sim_log *log, tcp_time_t t, int host, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    struct sim_event ev = {.kind = SIM_EV_NOTE, .t = t, .host = host, .sd = -1, .cause = -1, .segment = -1};
    ev.text = strdup(buf);
    if (!ev.text) {
        log->failed = true;
        return -1;
    }
    long index = sim_log_push(log, &ev);
    if (index < 0)
        free(ev.text);
    return index;
}

/* ---- queries ---- */

static bool flags_match(uint8_t flags, const char *want)
{
    if (!want)
        return true;
    uint8_t parsed;
    return wire_flags_parse(want, &parsed) && parsed == flags;
}

const struct sim_event *sim_log_segment_nth(const struct sim_log *log, int src, const char *flags, unsigned n)
{
    for (size_t i = 0; i < log->n; i++) {
        const struct sim_event *e = &log->ev[i];
        if (e->kind == SIM_EV_SEGMENT && (src < 0 || e->src == src) && flags_match(e->flags, flags) &&
            --n == 0)
            return e;
    }
    return NULL;
}

size_t sim_log_segment_count(const struct sim_log *log, int src, const char *flags)
{
    size_t count = 0;
    for (size_t i = 0; i < log->n; i++) {
        const struct sim_event *e = &log->ev[i];
        if (e->kind == SIM_EV_SEGMENT && (src < 0 || e->src == src) && flags_match(e->flags, flags))
            count++;
    }
    return count;
}

const struct sim_event *sim_log_app_nth(const struct sim_log *log, int host, const char *call, unsigned n)
{
    for (size_t i = 0; i < log->n; i++) {
        const struct sim_event *e = &log->ev[i];
        if (e->kind == SIM_EV_APP && e->host == host && (!call || strcmp(e->call, call) == 0) && --n == 0)
            return e;
    }
    return NULL;
}

const struct sim_event *sim_log_state_nth(const struct sim_log *log, int host, int from, int to, unsigned n)
{
    for (size_t i = 0; i < log->n; i++) {
        const struct sim_event *e = &log->ev[i];
        if (e->kind == SIM_EV_STATE && e->host == host && (from < 0 || (int)e->from == from) &&
            (to < 0 || (int)e->to == to) && --n == 0)
            return e;
    }
    return NULL;
}

static void append(char *buf, size_t cap, size_t *len, const char *s)
{
    if (*len + 1 >= cap)
        return;
    size_t n = strlen(s);
    if (n > cap - 1 - *len)
        n = cap - 1 - *len;
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = '\0';
}

char *sim_log_path(const struct sim_log *log, int host, int remote_port, char *buf, size_t cap)
{
    size_t len = 0;
    int last = -1;
    buf[0] = '\0';
    for (size_t i = 0; i < log->n; i++) {
        const struct sim_event *e = &log->ev[i];
        if (e->kind != SIM_EV_STATE || e->host != host)
            continue;
        bool listener = e->tuple.dport == 0;
        if (remote_port == 0 && !listener)
            continue;
        if (remote_port < 0 && listener)
            continue;
        if (remote_port > 0 && e->tuple.dport != remote_port)
            continue;
        if (last != (int)e->from) {
            if (last >= 0)
                append(buf, cap, &len, " | ");
            append(buf, cap, &len, tcp_state_name(e->from));
        }
        append(buf, cap, &len, ">");
        append(buf, cap, &len, tcp_state_name(e->to));
        last = (int)e->to;
    }
    return buf;
}

char *sim_opts_str(const struct wire_tcp_options *opt, char *buf, size_t cap)
{
    size_t len = 0;
    char item[96];
    buf[0] = '\0';
    if (opt->present & WIRE_OPT_MSS) {
        snprintf(item, sizeof item, "mss %u", opt->mss);
        append(buf, cap, &len, item);
    }
    if (opt->present & WIRE_OPT_SACK_PERM)
        append(buf, cap, &len, len ? ",sackOK" : "sackOK");
    if (opt->present & WIRE_OPT_TIMESTAMP) {
        snprintf(item, sizeof item, "%sTS val %u ecr %u", len ? "," : "", opt->ts_val, opt->ts_ecr);
        append(buf, cap, &len, item);
    }
    if (opt->present & WIRE_OPT_WSCALE) {
        snprintf(item, sizeof item, "%swscale %u", len ? "," : "", opt->wscale);
        append(buf, cap, &len, item);
    }
    if (opt->present & WIRE_OPT_SACK) {
        append(buf, cap, &len, len ? ",sack" : "sack");
        for (unsigned i = 0; i < opt->sack_count && i < WIRE_MAX_SACK_BLOCKS; i++) {
            snprintf(item, sizeof item, " {%u:%u}", opt->sack[i].left, opt->sack[i].right);
            append(buf, cap, &len, item);
        }
    }
    return buf;
}

char *sim_time_str(tcp_time_t t, char *buf, size_t cap)
{
    snprintf(buf, cap, "%llu.%06llu", (unsigned long long)(t / 1000000u), (unsigned long long)(t % 1000000u));
    return buf;
}
