/* conn.log and anomaly log writers, TSV (Zeek's ASCII writer: header
 * lines, \t separators, "-" unset, "(empty)" empty) and JSON lines. */
#include <inttypes.h>
#include <string.h>

#include "track/track_log.h"

char *track_time_str(tcp_time_t t, char buf[TRACK_TIME_STRLEN])
{
    snprintf(buf, TRACK_TIME_STRLEN, "%" PRIu64 ".%06" PRIu64, t / 1000000u, t % 1000000u);
    return buf;
}

void track_log_init(struct track_log *w, FILE *f, enum track_log_format format, enum track_log_kind kind,
                    time_t open_time)
{
    memset(w, 0, sizeof *w);
    w->f = f;
    w->format = format;
    w->kind = kind;
    w->open_time = open_time;
}

static const char *const conn_fields[] = {
    "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service", "duration",
    "orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp", "missed_bytes", "history",
    "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes", "tunnel_parents",
    /* ours, after Zeek's */
    "orig_state", "resp_state", "handshake_rtt", "anomalies",
};
static const char *const conn_types[] = {
    "time", "string", "addr", "port", "addr", "port", "enum", "string", "interval", "count", "count",
    "string", "bool", "bool", "count", "string", "count", "count", "count", "count", "set[string]",
    "string", "string", "interval", "set[string]",
};
static const char *const anomaly_fields[] = {
    "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "name", "addl", "notice", "peer", "source",
};
static const char *const anomaly_types[] = {
    "time", "string", "addr", "port", "addr", "port", "string", "string", "bool", "string", "string",
};

static void write_row(FILE *f, const char *label, const char *const *v, size_t n)
{
    fputs(label, f);
    for (size_t i = 0; i < n; i++) {
        fputc('\t', f);
        fputs(v[i], f);
    }
    fputc('\n', f);
}

static void date_str(time_t t, char *buf, size_t cap)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%d-%H-%M-%S", &tm);
}

void track_log_header(struct track_log *w)
{
    if (w->header_done)
        return;
    w->header_done = true;
    if (w->format != TRACK_LOG_TSV)
        return;
    bool conn = w->kind == TRACK_LOG_CONN;
    char date[32];
    date_str(w->open_time, date, sizeof date);
    fprintf(w->f, "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t%s\n#open\t%s\n",
            conn ? "conn" : "anomaly", date);
    if (conn) {
        write_row(w->f, "#fields", conn_fields, sizeof conn_fields / sizeof conn_fields[0]);
        write_row(w->f, "#types", conn_types, sizeof conn_types / sizeof conn_types[0]);
    } else {
        write_row(w->f, "#fields", anomaly_fields, sizeof anomaly_fields / sizeof anomaly_fields[0]);
        write_row(w->f, "#types", anomaly_types, sizeof anomaly_types / sizeof anomaly_types[0]);
    }
}

void track_log_close(struct track_log *w, time_t close_time)
{
    track_log_header(w);
    if (w->format == TRACK_LOG_TSV) {
        char date[32];
        date_str(close_time, date, sizeof date);
        fprintf(w->f, "#close\t%s\n", date);
    }
    fflush(w->f);
}

/* JSON strings: our values are ASCII, but escape anyway. */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* TSV values: tabs, newlines and non-printables as \xNN (Zeek's escaping). */
static void tsv_str(FILE *f, const char *s)
{
    if (!*s) {
        fputs("(empty)", f);
        return;
    }
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20 || ch >= 0x7f || ch == '\\')
            fprintf(f, "\\x%02x", ch);
        else
            fputc(ch, f);
    }
}

/* Appends the anomaly names of a mask, comma separated; false if none. */
static bool anomaly_set(uint64_t mask, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int k = 0; k < TRACK_ANOM_COUNT; k++) {
        if (!(mask & (1ULL << k)))
            continue;
        int w = snprintf(buf + n, cap - n, "%s%s", n ? "," : "", track_anomaly_name((enum track_anomaly_kind)k));
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
    }
    return n > 0;
}

static void conn_tsv(FILE *f, const struct track_conn_info *c)
{
    char ts[TRACK_TIME_STRLEN], a[WIRE_ADDR_STRLEN], b[WIRE_ADDR_STRLEN], d[TRACK_TIME_STRLEN];
    fprintf(f, "%s\t%s\t%s\t%u\t%s\t%u\ttcp\t-\t", track_time_str(c->ts, ts), c->uid, wire_addr_str(&c->orig.addr, a),
            c->orig.port, wire_addr_str(&c->resp.addr, b), c->resp.port);
    if (c->has_duration)
        fprintf(f, "%s\t%" PRIu64 "\t%" PRIu64 "\t", track_time_str(c->duration, d), c->orig_bytes, c->resp_bytes);
    else
        fputs("-\t-\t-\t", f);
    fprintf(f, "%s\t-\t-\t%" PRIu64 "\t", track_conn_state_name(c->conn_state), c->missed_bytes);
    if (c->history[0])
        tsv_str(f, c->history);
    else
        fputc('-', f);
    fprintf(f, "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t-\t%s\t%s\t", c->orig_pkts, c->orig_ip_bytes,
            c->resp_pkts, c->resp_ip_bytes, track_state_name(c->orig_state), track_state_name(c->resp_state));
    if (c->has_handshake_rtt)
        fputs(track_time_str(c->handshake_rtt, d), f);
    else
        fputc('-', f);
    char set[1024];
    fprintf(f, "\t%s\n", anomaly_set(c->anomalies, set, sizeof set) ? set : "-");
}

static void conn_json(FILE *f, const struct track_conn_info *c)
{
    char ts[TRACK_TIME_STRLEN], a[WIRE_ADDR_STRLEN], b[WIRE_ADDR_STRLEN], d[TRACK_TIME_STRLEN];
    fprintf(f, "{\"ts\":%s,\"uid\":\"%s\",\"id.orig_h\":\"%s\",\"id.orig_p\":%u,\"id.resp_h\":\"%s\",\"id.resp_p\":%u,"
               "\"proto\":\"tcp\"",
            track_time_str(c->ts, ts), c->uid, wire_addr_str(&c->orig.addr, a), c->orig.port,
            wire_addr_str(&c->resp.addr, b), c->resp.port);
    if (c->has_duration)
        fprintf(f, ",\"duration\":%s,\"orig_bytes\":%" PRIu64 ",\"resp_bytes\":%" PRIu64,
                track_time_str(c->duration, d), c->orig_bytes, c->resp_bytes);
    fprintf(f, ",\"conn_state\":\"%s\",\"missed_bytes\":%" PRIu64, track_conn_state_name(c->conn_state),
            c->missed_bytes);
    if (c->history[0]) {
        fputs(",\"history\":", f);
        json_str(f, c->history);
    }
    fprintf(f, ",\"orig_pkts\":%" PRIu64 ",\"orig_ip_bytes\":%" PRIu64 ",\"resp_pkts\":%" PRIu64
               ",\"resp_ip_bytes\":%" PRIu64,
            c->orig_pkts, c->orig_ip_bytes, c->resp_pkts, c->resp_ip_bytes);
    if (c->orig_state != TRACK_STATE_UNKNOWN)
        fprintf(f, ",\"orig_state\":\"%s\"", track_state_name(c->orig_state));
    if (c->resp_state != TRACK_STATE_UNKNOWN)
        fprintf(f, ",\"resp_state\":\"%s\"", track_state_name(c->resp_state));
    if (c->has_handshake_rtt)
        fprintf(f, ",\"handshake_rtt\":%s", track_time_str(c->handshake_rtt, d));
    if (c->anomalies) {
        fputs(",\"anomalies\":[", f);
        bool first = true;
        for (int k = 0; k < TRACK_ANOM_COUNT; k++)
            if (c->anomalies & (1ULL << k)) {
                fprintf(f, "%s\"%s\"", first ? "" : ",", track_anomaly_name((enum track_anomaly_kind)k));
                first = false;
            }
        fputc(']', f);
    }
    fputs("}\n", f);
}

void track_log_conn(struct track_log *w, const struct track_conn_info *c)
{
    track_log_header(w);
    if (w->format == TRACK_LOG_TSV)
        conn_tsv(w->f, c);
    else
        conn_json(w->f, c);
    w->records++;
}

void track_log_anomaly(struct track_log *w, const struct track_anomaly *an)
{
    track_log_header(w);
    char ts[TRACK_TIME_STRLEN], a[WIRE_ADDR_STRLEN], b[WIRE_ADDR_STRLEN];
    bool has_conn = an->uid[0] != '\0';
    bool has_port = has_conn || an->resp.port != 0;
    FILE *f = w->f;
    if (w->format == TRACK_LOG_TSV) {
        fprintf(f, "%s\t%s\t", track_time_str(an->t, ts), has_conn ? an->uid : "-");
        if (has_conn)
            fprintf(f, "%s\t%u\t", wire_addr_str(&an->orig.addr, a), an->orig.port);
        else
            fputs("-\t-\t", f);
        fprintf(f, "%s\t", wire_addr_str(&an->resp.addr, b));
        if (has_port)
            fprintf(f, "%u\t", an->resp.port);
        else
            fputs("-\t", f);
        fprintf(f, "%s\t", track_anomaly_name(an->kind));
        tsv_str(f, an->evidence);
        fputs("\tF\t-\tTCP\n", f);
    } else {
        fprintf(f, "{\"ts\":%s", track_time_str(an->t, ts));
        if (has_conn)
            fprintf(f, ",\"uid\":\"%s\",\"id.orig_h\":\"%s\",\"id.orig_p\":%u", an->uid,
                    wire_addr_str(&an->orig.addr, a), an->orig.port);
        fprintf(f, ",\"id.resp_h\":\"%s\"", wire_addr_str(&an->resp.addr, b));
        if (has_port)
            fprintf(f, ",\"id.resp_p\":%u", an->resp.port);
        fprintf(f, ",\"name\":\"%s\",\"addl\":", track_anomaly_name(an->kind));
        json_str(f, an->evidence);
        fputs(",\"notice\":false,\"source\":\"TCP\"}\n", f);
    }
    w->records++;
}
