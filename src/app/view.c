/* ss and nstat views. Column layout follows iproute2's ss: state, the two
 * queues, local and peer address:port, then the extras. */
#include "app/view.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

/* ---- rows from the reply ---- */
int ss_rows_from_reply(const struct json *reply, struct ss_row **rows, size_t *n, char *err, size_t errlen)
{
    *rows = NULL;
    *n = 0;
    if (!json_get_bool(reply, "ok", false)) {
        snprintf(err, errlen, "synack says: %s", json_get_str(reply, "error", "request failed"));
        return -1;
    }
    const struct json *list = json_get(reply, "sockets");
    if (!list || list->type != JSON_ARRAY) {
        snprintf(err, errlen, "bad reply: no \"sockets\" list");
        return -1;
    }
    size_t count = json_count(list);
    struct ss_row *r = calloc(count ? count : 1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t i = 0;
    for (const struct json *s = list->child; s; s = s->next) {
        struct ss_row *row = &r[i];
        int st = tcp_state_parse(json_get_str(s, "state", "?"));
        if (st < 0 || !wire_endpoint_parse(json_get_str(s, "local", ""), &row->local) ||
            !wire_endpoint_parse(json_get_str(s, "remote", ""), &row->remote)) {
            snprintf(err, errlen, "bad reply: socket %zu is malformed", i);
            free(r);
            return -1;
        }
        row->state = (enum tcp_state)st;
        /* A listener's peer is "any" of its own family: 0.0.0.0:* or [::]:*. */
        if (row->remote.port == 0 && wire_addr_is_unspecified(&row->remote.addr))
            row->remote.addr = wire_addr_is_v4(&row->local.addr) ? wire_addr_v4(0) : (struct wire_addr){{0}};
        row->sd = (int)json_get_int(s, "sd", -1);
        row->recv_q = (uint32_t)json_get_int(s, "recv_q", 0);
        row->send_q = (uint32_t)json_get_int(s, "send_q", 0);
        row->syn_q = (uint32_t)json_get_int(s, "syn_q", 0);
        row->syn_q_max = (uint32_t)json_get_int(s, "syn_q_max", 0);
        row->retrans = (uint32_t)json_get_int(s, "retrans", 0);
        row->orphan = json_get_bool(s, "orphan", false);
        const char *timer = json_get_str(s, "timer", "off");
        if (strcmp(timer, "off") != 0) {
            snprintf(row->timer, sizeof row->timer, "%s", timer);
            int64_t e = json_get_int(s, "expires_us", 0);
            row->expires_us = e > 0 ? (uint64_t)e : 0;
        }
        i++;
    }
    *rows = r;
    *n = count;
    return 0;
}

bool ss_row_selected(const struct ss_row *r, unsigned flags)
{
    if (flags & SS_ALL)
        return true;
    if (flags & SS_LISTENING)
        return r->state == TCP_STATE_LISTEN;
    return r->state != TCP_STATE_LISTEN && r->state != TCP_STATE_SYN_RECEIVED &&
           r->state != TCP_STATE_TIME_WAIT && r->state != TCP_STATE_CLOSED;
}

/* iproute2 ss print_ms_timer, with the later fix that writes "9.501sec". */
char *ss_timer_str(uint64_t ms, char *buf, size_t cap)
{
    uint64_t secs = ms / 1000, minutes = secs / 60, msecs = ms % 1000;
    secs %= 60;
    size_t len = 0;
    buf[0] = '\0';
    if (minutes) {
        msecs = 0;
        len += (size_t)snprintf(buf + len, cap - len, "%llumin", (unsigned long long)minutes);
        if (minutes > 9)
            secs = 0;
    }
    if (secs && len < cap) {
        if (secs > 9)
            msecs = 0;
        len += (size_t)snprintf(buf + len, cap - len, "%llu%s", (unsigned long long)secs, msecs ? "." : "sec");
    }
    if (msecs && len < cap)
        snprintf(buf + len, cap - len, "%03llu%s", (unsigned long long)msecs, secs ? "sec" : "ms");
    if (!buf[0])
        snprintf(buf, cap, "0ms");
    return buf;
}

/* "10.77.0.1:http", "[fd77::1]:80", "0.0.0.0:*" */
static void endpoint_text(const struct wire_endpoint *e, bool numeric, char *buf, size_t cap)
{
    char a[WIRE_ADDR_STRLEN], port[32];
    wire_addr_str(&e->addr, a);
    if (e->port == 0) {
        snprintf(port, sizeof port, "*");
    } else {
        struct servent *se = numeric ? NULL : getservbyport(htons(e->port), "tcp");
        if (se)
            snprintf(port, sizeof port, "%s", se->s_name);
        else
            snprintf(port, sizeof port, "%u", e->port);
    }
    if (wire_addr_is_v4(&e->addr))
        snprintf(buf, cap, "%s:%s", a, port);
    else
        snprintf(buf, cap, "[%s]:%s", a, port);
}

static void extras(const struct ss_row *r, unsigned flags, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    if (r->state == TCP_STATE_LISTEN)
        len += (size_t)snprintf(buf, cap, "syn-queue:%u/%u accept-queue:%u/%u", r->syn_q, r->syn_q_max, r->recv_q,
                                r->send_q);
    if ((flags & SS_TIMERS) && r->timer[0] && len < cap) {
        char t[32];
        ss_timer_str((r->expires_us + 999) / 1000, t, sizeof t);
        len += (size_t)snprintf(buf + len, cap - len, "%stimer:(%s,%s,%u)", len ? " " : "", r->timer, t,
                                r->retrans);
    }
    if (r->orphan && len < cap)
        snprintf(buf + len, cap - len, "%sorphan", len ? " " : "");
}

void ss_print_table(FILE *out, const struct ss_row *rows, size_t n, unsigned flags)
{
    int wl = (int)strlen("Local Address:Port"), wp = (int)strlen("Peer Address:Port");
    char a[WIRE_ENDPOINT_STRLEN + 32];
    for (size_t i = 0; i < n; i++) {
        if (!ss_row_selected(&rows[i], flags))
            continue;
        endpoint_text(&rows[i].local, flags & SS_NUMERIC, a, sizeof a);
        if ((int)strlen(a) > wl)
            wl = (int)strlen(a);
        endpoint_text(&rows[i].remote, flags & SS_NUMERIC, a, sizeof a);
        if ((int)strlen(a) > wp)
            wp = (int)strlen(a);
    }
    fprintf(out, "%-11s %-7s %-7s %-*s %-*s\n", "State", "Recv-Q", "Send-Q", wl, "Local Address:Port", wp,
            "Peer Address:Port");
    for (size_t i = 0; i < n; i++) {
        const struct ss_row *r = &rows[i];
        if (!ss_row_selected(r, flags))
            continue;
        char l[WIRE_ENDPOINT_STRLEN + 32], p[WIRE_ENDPOINT_STRLEN + 32], x[160];
        endpoint_text(&r->local, flags & SS_NUMERIC, l, sizeof l);
        endpoint_text(&r->remote, flags & SS_NUMERIC, p, sizeof p);
        extras(r, flags, x, sizeof x);
        char line[512];
        snprintf(line, sizeof line, "%-11s %-7u %-7u %-*s %-*s %s", tcp_state_ss_name(r->state), r->recv_q, r->send_q,
                 wl, l, wp, p, x);
        size_t len = strlen(line);
        while (len && line[len - 1] == ' ')
            line[--len] = '\0';
        fprintf(out, "%s\n", line);
    }
}

void ss_print_json(FILE *out, const struct ss_row *rows, size_t n, unsigned flags)
{
    for (size_t i = 0; i < n; i++) {
        const struct ss_row *r = &rows[i];
        if (!ss_row_selected(r, flags))
            continue;
        char l[WIRE_ENDPOINT_STRLEN], p[WIRE_ENDPOINT_STRLEN];
        struct jbuf b;
        jbuf_init(&b);
        jbuf_printf(&b, "{\"state\":\"%s\",\"recv_q\":%u,\"send_q\":%u,\"local\":", tcp_state_name(r->state),
                    r->recv_q, r->send_q);
        jbuf_str(&b, wire_endpoint_str(&r->local, l));
        jbuf_puts(&b, ",\"peer\":");
        jbuf_str(&b, wire_endpoint_str(&r->remote, p));
        if (r->state == TCP_STATE_LISTEN)
            jbuf_printf(&b, ",\"syn_q\":%u,\"syn_q_max\":%u", r->syn_q, r->syn_q_max);
        if (r->timer[0])
            jbuf_printf(&b, ",\"timer\":\"%s\",\"expires_ms\":%llu,\"retrans\":%u", r->timer,
                        (unsigned long long)((r->expires_us + 999) / 1000), r->retrans);
        jbuf_printf(&b, ",\"orphan\":%s}", r->orphan ? "true" : "false");
        if (!b.failed)
            fprintf(out, "%s\n", b.data);
        jbuf_free(&b);
    }
}

void ss_print_summary(FILE *out, const struct ss_row *rows, size_t n)
{
    size_t per_state[TCP_STATE_COUNT] = {0}, orphaned = 0;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned)rows[i].state < TCP_STATE_COUNT)
            per_state[rows[i].state]++;
        orphaned += rows[i].orphan;
    }
    fprintf(out, "Total: %zu\n", n);
    fprintf(out, "TCP:   %zu (estab %zu, closed %zu, orphaned %zu, timewait %zu)\n\n", n,
            per_state[TCP_STATE_ESTABLISHED], per_state[TCP_STATE_CLOSED], orphaned, per_state[TCP_STATE_TIME_WAIT]);
    fprintf(out, "%-13s %s\n", "State", "Count");
    for (int s = 0; s < TCP_STATE_COUNT; s++)
        if (per_state[s])
            fprintf(out, "%-13s %zu\n", tcp_state_ss_name((enum tcp_state)s), per_state[s]);
}

int nstat_print(FILE *out, const struct json *reply, bool zeros, bool json)
{
    if (!json_get_bool(reply, "ok", false))
        return -1;
    const struct json *groups[2] = {json_get(reply, "tcp"), json_get(reply, "link")};
    if (!groups[0] || groups[0]->type != JSON_OBJECT)
        return -1;
    if (json) {
        struct jbuf b;
        jbuf_init(&b);
        jbuf_puts(&b, "{");
        const char *names[2] = {"tcp", "link"};
        bool first_group = true;
        for (int g = 0; g < 2; g++) {
            if (!groups[g] || groups[g]->type != JSON_OBJECT)
                continue;
            jbuf_printf(&b, "%s\"%s\":{", first_group ? "" : ",", names[g]);
            first_group = false;
            bool first = true;
            for (const struct json *c = groups[g]->child; c; c = c->next) {
                if (c->type != JSON_NUMBER)
                    continue;
                jbuf_printf(&b, "%s", first ? "" : ",");
                jbuf_str(&b, c->key);
                jbuf_printf(&b, ":%lld", (long long)(c->integral ? c->integer : (int64_t)c->number));
                first = false;
            }
            jbuf_puts(&b, "}");
        }
        jbuf_puts(&b, "}");
        bool failed = b.failed;
        if (!failed)
            fprintf(out, "%s\n", b.data);
        jbuf_free(&b);
        return failed ? -1 : 0;
    }
    fprintf(out, "#synack\n");
    for (int g = 0; g < 2; g++) {
        if (!groups[g] || groups[g]->type != JSON_OBJECT)
            continue;
        for (const struct json *c = groups[g]->child; c; c = c->next) {
            if (c->type != JSON_NUMBER)
                continue;
            long long v = (long long)(c->integral ? c->integer : (int64_t)c->number);
            if (v || zeros)
                fprintf(out, "%-31s %lld\n", c->key, v);
        }
    }
    return 0;
}
