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
        const char *name = track_anomaly_name((enum track_anomaly_kind)k);
        size_t len = strlen(name);
        if (n + (n ? 1 : 0) + len + 1 > cap)
            break;
        if (n)
            buf[n++] = ',';
        memcpy(buf + n, name, len + 1);
        n += len;
    }
    return n > 0;
}

/* conn.log lines are built in memory and written with one fwrite: at
 * millions of packets per second, printf's parsing was a tenth of the
 * tracker's time. */
struct line {
    char b[2048];
    size_t n;
};

static void line_mem(struct line *l, const char *s, size_t len)
{
    if (len > sizeof l->b - l->n)
        len = sizeof l->b - l->n;
    memcpy(l->b + l->n, s, len);
    l->n += len;
}

static void line_str(struct line *l, const char *s)
{
    line_mem(l, s, strlen(s));
}

static void line_char(struct line *l, char ch)
{
    if (l->n < sizeof l->b)
        l->b[l->n++] = ch;
}

static void line_u64(struct line *l, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    line_mem(l, tmp + i, sizeof tmp - i);
}

/* track_time_str's form: seconds, '.', six digits. */
static void line_time(struct line *l, tcp_time_t t)
{
    line_u64(l, t / 1000000u);
    char frac[7];
    uint64_t us = t % 1000000u;
    for (int i = 6; i >= 1; i--) {
        frac[i] = (char)('0' + us % 10);
        us /= 10;
    }
    frac[0] = '.';
    line_mem(l, frac, sizeof frac);
}

static void line_addr(struct line *l, const struct wire_addr *a)
{
    if (wire_addr_is_v4(a)) {
        for (int i = 12; i < 16; i++) {
            if (i > 12)
                line_char(l, '.');
            line_u64(l, a->b[i]);
        }
        return;
    }
    char buf[WIRE_ADDR_STRLEN];
    line_str(l, wire_addr_str(a, buf));
}

/* tsv_str into the line. */
static void line_tsv_str(struct line *l, const char *s)
{
    if (!*s) {
        line_str(l, "(empty)");
        return;
    }
    static const char hex[] = "0123456789abcdef";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20 || ch >= 0x7f || ch == '\\') {
            char esc[4] = {'\\', 'x', hex[ch >> 4], hex[ch & 15]};
            line_mem(l, esc, sizeof esc);
        } else {
            line_char(l, (char)ch);
        }
    }
}

static void conn_tsv(FILE *f, const struct track_conn_info *c)
{
    struct line l;
    l.n = 0;
    line_time(&l, c->ts);
    line_char(&l, '\t');
    line_str(&l, c->uid);
    line_char(&l, '\t');
    line_addr(&l, &c->orig.addr);
    line_char(&l, '\t');
    line_u64(&l, c->orig.port);
    line_char(&l, '\t');
    line_addr(&l, &c->resp.addr);
    line_char(&l, '\t');
    line_u64(&l, c->resp.port);
    line_str(&l, "\ttcp\t-\t");
    if (c->has_duration) {
        line_time(&l, c->duration);
        line_char(&l, '\t');
        line_u64(&l, c->orig_bytes);
        line_char(&l, '\t');
        line_u64(&l, c->resp_bytes);
        line_char(&l, '\t');
    } else {
        line_str(&l, "-\t-\t-\t");
    }
    line_str(&l, track_conn_state_name(c->conn_state));
    line_str(&l, "\t-\t-\t");
    line_u64(&l, c->missed_bytes);
    line_char(&l, '\t');
    if (c->history[0])
        line_tsv_str(&l, c->history);
    else
        line_char(&l, '-');
    const uint64_t counts[4] = {c->orig_pkts, c->orig_ip_bytes, c->resp_pkts, c->resp_ip_bytes};
    for (int i = 0; i < 4; i++) {
        line_char(&l, '\t');
        line_u64(&l, counts[i]);
    }
    line_str(&l, "\t-\t");
    line_str(&l, track_state_name(c->orig_state));
    line_char(&l, '\t');
    line_str(&l, track_state_name(c->resp_state));
    line_char(&l, '\t');
    if (c->has_handshake_rtt)
        line_time(&l, c->handshake_rtt);
    else
        line_char(&l, '-');
    char set[1024];
    line_char(&l, '\t');
    line_str(&l, anomaly_set(c->anomalies, set, sizeof set) ? set : "-");
    if (l.n == sizeof l.b) /* cannot happen (a line is < 1.5 KiB); keep it a line */
        l.n--;
    line_char(&l, '\n');
    fwrite(l.b, 1, l.n, f);
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
