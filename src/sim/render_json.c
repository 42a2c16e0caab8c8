/* JSON lines, one event per line (DESIGN.md §3). The first line describes
 * the run: {"kind":"scenario","name":..,"hosts":[..]}. */
#include <stdio.h>

#include "sim/render.h"

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        default:
            if (*p < 0x20)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

static void json_host(FILE *out, const struct sim_log *log, int host)
{
    if (host < 0)
        fputs("null", out);
    else
        json_string(out, sim_log_host_name(log, host));
}

static void json_endpoint(FILE *out, const struct wire_addr *a, uint16_t port)
{
    struct wire_endpoint e = {*a, port};
    char buf[WIRE_ENDPOINT_STRLEN];
    json_string(out, wire_endpoint_str(&e, buf));
}

int sim_render_json_event(const struct sim_log *log, const struct sim_event *e, FILE *out)
{
    char t[24], flags[WIRE_FLAGS_STRLEN], opts[160];
    sim_time_str(e->t, t, sizeof t);
    switch (e->kind) {
    case SIM_EV_ARRIVAL:
        return 0;
    case SIM_EV_STATE:
        fprintf(out, "{\"kind\":\"state\",\"t\":%s,\"host\":", t);
        json_host(out, log, e->host);
        fprintf(out, ",\"from\":\"%s\",\"to\":\"%s\",\"local\":", tcp_state_name(e->from), tcp_state_name(e->to));
        json_endpoint(out, &e->tuple.src, e->tuple.sport);
        fputs(",\"remote\":", out);
        json_endpoint(out, &e->tuple.dst, e->tuple.dport);
        fprintf(out, ",\"sd\":%d}", e->sd);
        break;
    case SIM_EV_SEGMENT:
        fprintf(out, "{\"kind\":\"segment\",\"t\":%s,\"src\":", t);
        json_host(out, log, e->src);
        fputs(",\"dst\":", out);
        json_host(out, log, e->dst);
        fprintf(out, ",\"flags\":\"%s\",\"seq\":%u,\"ack\":%u,\"len\":%u,\"win\":%u,\"lost\":%s",
                wire_flags_str(e->flags, flags), e->seq, e->ack, e->len, e->win, e->lost ? "true" : "false");
        if (e->lost) {
            fputs(",\"drop\":", out);
            json_string(out, e->drop);
        } else {
            sim_time_str(e->arrives, t, sizeof t);
            fprintf(out, ",\"arrives\":%s", t);
        }
        sim_opts_str(&e->opt, opts, sizeof opts);
        if (opts[0]) {
            fputs(",\"opts\":", out);
            json_string(out, opts);
        }
        if (e->dup)
            fputs(",\"dup\":true", out);
        if (e->injected)
            fputs(",\"injected\":true", out);
        if (e->malformed[0]) {
            fputs(",\"malformed\":", out);
            json_string(out, e->malformed);
        }
        fputc('}', out);
        break;
    case SIM_EV_APP:
        fprintf(out, "{\"kind\":\"app\",\"t\":%s,\"host\":", t);
        json_host(out, log, e->host);
        fputs(",\"call\":", out);
        json_string(out, e->call);
        if (e->args[0]) {
            fputs(",\"args\":", out);
            json_string(out, e->args);
        }
        fputs(",\"result\":", out);
        json_string(out, e->result);
        fputc('}', out);
        break;
    case SIM_EV_NOTE:
        fprintf(out, "{\"kind\":\"note\",\"t\":%s,\"host\":", t);
        json_host(out, log, e->host);
        fputs(",\"text\":", out);
        json_string(out, e->text ? e->text : "");
        fputc('}', out);
        break;
    }
    return ferror(out) ? -1 : 0;
}

int sim_render_json(const struct sim_log *log, FILE *out)
{
    fputs("{\"kind\":\"scenario\",\"t\":0,\"name\":", out);
    json_string(out, log->name);
    fputs(",\"description\":", out);
    json_string(out, log->description);
    fprintf(out, ",\"seed\":%llu,\"hosts\":[", (unsigned long long)log->seed);
    for (int i = 0; i < log->nhosts; i++) {
        char addr[WIRE_ADDR_STRLEN];
        fprintf(out, "%s{\"name\":", i ? "," : "");
        json_string(out, log->host_names[i]);
        fputs(",\"addr\":", out);
        json_string(out, wire_addr_str(&log->host_addrs[i], addr));
        fputc('}', out);
    }
    fputs("]}\n", out);
    for (size_t i = 0; i < log->n; i++) {
        if (log->ev[i].kind == SIM_EV_ARRIVAL)
            continue;
        if (sim_render_json_event(log, &log->ev[i], out) < 0)
            return -1;
        fputc('\n', out);
    }
    return ferror(out) ? -1 : 0;
}
