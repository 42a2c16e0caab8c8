/* Ladder diagrams of one tracked connection. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "track/track_ladder.h"
#include "track/track_log.h"

int track_ladder_format_parse(const char *name)
{
    if (strcmp(name, "text") == 0)
        return TRACK_LADDER_TEXT;
    if (strcmp(name, "mermaid") == 0)
        return TRACK_LADDER_MERMAID;
    if (strcmp(name, "svg") == 0)
        return TRACK_LADDER_SVG;
    return -1;
}

void track_ladder_init(struct track_ladder *l, size_t max)
{
    memset(l, 0, sizeof *l);
    l->max = max ? max : 100000;
}

void track_ladder_free(struct track_ladder *l)
{
    free(l->seg);
    memset(l, 0, sizeof *l);
}

void track_ladder_add_segment(struct track_ladder *l, const struct track_segment_info *s)
{
    if (l->n >= l->max) {
        l->dropped++;
        return;
    }
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        struct track_segment_info *ns = realloc(l->seg, ncap * sizeof *ns);
        if (!ns) {
            l->dropped++;
            return;
        }
        l->seg = ns;
        l->cap = ncap;
    }
    l->seg[l->n++] = *s;
}

void track_ladder_set_conn(struct track_ladder *l, const struct track_conn_info *c)
{
    l->conn = *c;
    l->have_conn = true;
}

static bool ep_eq(const struct wire_endpoint *a, const struct wire_endpoint *b)
{
    return a->port == b->port && wire_addr_eq(&a->addr, &b->addr);
}

/* Relative sequence numbers, as tcpdump prints them: each side's ISN is 0. */
struct bases {
    uint32_t base[2]; /* 0 orig, 1 resp */
    bool known[2];
};

static void find_bases(const struct track_ladder *l, struct bases *b)
{
    memset(b, 0, sizeof *b);
    for (size_t i = 0; i < l->n; i++) {
        const struct track_segment_info *s = &l->seg[i];
        int from = ep_eq(&s->src, &l->conn.orig) ? 0 : 1;
        if (!b->known[from]) {
            b->base[from] = (s->flags & WIRE_SYN) ? s->seq : s->seq - 1;
            b->known[from] = true;
        }
    }
    for (size_t i = 0; i < l->n; i++) {
        const struct track_segment_info *s = &l->seg[i];
        int to = ep_eq(&s->src, &l->conn.orig) ? 1 : 0;
        if (!b->known[to] && (s->flags & WIRE_ACK)) {
            b->base[to] = s->ack - 1;
            b->known[to] = true;
        }
    }
}

/* "[S.] seq 0 ack 1 win 65160" / "[P.] seq 1:101 ack 1 win 502 length 100" */
static void label(const struct track_segment_info *s, int from, const struct bases *b, char *buf, size_t cap)
{
    char flags[WIRE_FLAGS_STRLEN];
    uint32_t seq = s->seq - b->base[from];
    size_t n = (size_t)snprintf(buf, cap, "[%s] seq %" PRIu32, wire_flags_str(s->flags, flags), seq);
    if (s->len && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, ":%" PRIu32, seq + s->len);
    if ((s->flags & WIRE_ACK) && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, " ack %" PRIu32, s->ack - b->base[!from]);
    if (n < cap)
        n += (size_t)snprintf(buf + n, cap - n, " win %u", s->win);
    if (s->len && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, " length %" PRIu32, s->len);
    if (s->bad_checksum && n < cap)
        snprintf(buf + n, cap - n, " (bad checksum)");
}

static void rel_time(tcp_time_t t, tcp_time_t t0, char *buf, size_t cap)
{
    tcp_time_t d = t - t0;
    snprintf(buf, cap, "%" PRIu64 ".%06" PRIu64, d / 1000000u, d % 1000000u);
}

/* States of orig and resp after segment i. */
static void states_after(const struct track_ladder *l, size_t i, int st[2])
{
    const struct track_segment_info *s = &l->seg[i];
    bool from_orig = ep_eq(&s->src, &l->conn.orig);
    st[0] = from_orig ? s->src_state : s->dst_state;
    st[1] = from_orig ? s->dst_state : s->src_state;
}

#define ARROW_WIDTH 56

static void render_text(FILE *f, const struct track_ladder *l, const struct bases *b)
{
    const struct track_conn_info *c = &l->conn;
    char o[WIRE_ENDPOINT_STRLEN], r[WIRE_ENDPOINT_STRLEN], ts[TRACK_TIME_STRLEN];
    wire_endpoint_str(&c->orig, o);
    wire_endpoint_str(&c->resp, r);
    fprintf(f, "%s  %s -> %s  %s  history %s  start %s\n\n", c->uid, o, r, track_conn_state_name(c->conn_state),
            c->history[0] ? c->history : "-", track_time_str(c->ts, ts));
    fprintf(f, "%10s  %-13s %*s  %s\n", "time", o, ARROW_WIDTH, "", r);
    int prev[2] = {-1, -1};
    tcp_time_t t0 = l->n ? l->seg[0].t : 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct track_segment_info *s = &l->seg[i];
        int from = ep_eq(&s->src, &c->orig) ? 0 : 1;
        char lab[128], arrow[ARROW_WIDTH + 1], t[32];
        label(s, from, b, lab, sizeof lab);
        size_t ll = strlen(lab);
        if (ll > ARROW_WIDTH - 6)
            ll = ARROW_WIDTH - 6;
        memset(arrow, '-', ARROW_WIDTH);
        arrow[ARROW_WIDTH] = '\0';
        if (from == 0) {
            memcpy(arrow + 3, lab, ll);
            arrow[2] = ' ';
            arrow[3 + ll] = ' ';
            arrow[ARROW_WIDTH - 1] = '>';
        } else {
            size_t at = ARROW_WIDTH - 3 - ll;
            memcpy(arrow + at, lab, ll);
            arrow[at - 1] = ' ';
            arrow[ARROW_WIDTH - 3] = ' ';
            arrow[0] = '<';
        }
        int st[2];
        states_after(l, i, st);
        rel_time(s->t, t0, t, sizeof t);
        fprintf(f, "%10s  %-13s %s  %s\n", t, st[0] != prev[0] ? track_state_name(st[0]) : "", arrow,
                st[1] != prev[1] ? track_state_name(st[1]) : "");
        prev[0] = st[0];
        prev[1] = st[1];
    }
    if (l->dropped)
        fprintf(f, "(%zu more segments not drawn)\n", l->dropped);
    fprintf(f, "\nfinal: %s %s, %s %s", o, track_state_name(c->orig_state), r, track_state_name(c->resp_state));
    if (c->anomalies) {
        fputs("; anomalies:", f);
        for (int k = 0; k < TRACK_ANOM_COUNT; k++)
            if (c->anomalies & (1ULL << k))
                fprintf(f, " %s", track_anomaly_name((enum track_anomaly_kind)k));
    }
    fputc('\n', f);
}

static void render_mermaid(FILE *f, const struct track_ladder *l, const struct bases *b)
{
    const struct track_conn_info *c = &l->conn;
    char o[WIRE_ENDPOINT_STRLEN], r[WIRE_ENDPOINT_STRLEN];
    fprintf(f, "sequenceDiagram\n    participant O as %s\n    participant R as %s\n",
            wire_endpoint_str(&c->orig, o), wire_endpoint_str(&c->resp, r));
    fprintf(f, "    Note over O,R: %s %s history %s\n", c->uid, track_conn_state_name(c->conn_state),
            c->history[0] ? c->history : "-");
    int prev[2] = {-1, -1};
    tcp_time_t t0 = l->n ? l->seg[0].t : 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct track_segment_info *s = &l->seg[i];
        int from = ep_eq(&s->src, &c->orig) ? 0 : 1;
        char lab[128], t[32];
        label(s, from, b, lab, sizeof lab);
        rel_time(s->t, t0, t, sizeof t);
        fprintf(f, "    %s->>%s: %s %s\n", from == 0 ? "O" : "R", from == 0 ? "R" : "O", t, lab);
        int st[2];
        states_after(l, i, st);
        if (st[0] != prev[0])
            fprintf(f, "    Note left of O: %s\n", track_state_name(st[0]));
        if (st[1] != prev[1])
            fprintf(f, "    Note right of R: %s\n", track_state_name(st[1]));
        prev[0] = st[0];
        prev[1] = st[1];
    }
}

static void render_svg(FILE *f, const struct track_ladder *l, const struct bases *b)
{
    const struct track_conn_info *c = &l->conn;
    char o[WIRE_ENDPOINT_STRLEN], r[WIRE_ENDPOINT_STRLEN];
    wire_endpoint_str(&c->orig, o);
    wire_endpoint_str(&c->resp, r);
    const int W = 900, XO = 250, XR = 650, TOP = 70, ROW = 30;
    int H = TOP + (int)l->n * ROW + 40;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"monospace\" font-size=\"12\">\n",
            W, H, W, H);
    fputs("<defs><marker id=\"arrow\" markerWidth=\"10\" markerHeight=\"8\" refX=\"9\" refY=\"4\" orient=\"auto\">"
          "<path d=\"M0,0 L10,4 L0,8 z\" fill=\"#333\"/></marker></defs>\n",
          f);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    fprintf(f, "<text x=\"%d\" y=\"20\" text-anchor=\"middle\">%s %s history %s</text>\n", W / 2, c->uid,
            track_conn_state_name(c->conn_state), c->history[0] ? c->history : "-");
    fprintf(f, "<text x=\"%d\" y=\"45\" text-anchor=\"middle\" font-weight=\"bold\">%s</text>\n", XO, o);
    fprintf(f, "<text x=\"%d\" y=\"45\" text-anchor=\"middle\" font-weight=\"bold\">%s</text>\n", XR, r);
    fprintf(f, "<line x1=\"%d\" y1=\"55\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>\n", XO, XO, H - 10);
    fprintf(f, "<line x1=\"%d\" y1=\"55\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>\n", XR, XR, H - 10);
    int prev[2] = {-1, -1};
    tcp_time_t t0 = l->n ? l->seg[0].t : 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct track_segment_info *s = &l->seg[i];
        int from = ep_eq(&s->src, &c->orig) ? 0 : 1;
        char lab[128], t[32];
        label(s, from, b, lab, sizeof lab);
        rel_time(s->t, t0, t, sizeof t);
        int y0 = TOP + (int)i * ROW, y1 = y0 + ROW - 10;
        int x0 = from == 0 ? XO : XR, x1 = from == 0 ? XR : XO;
        fprintf(f, "<text x=\"10\" y=\"%d\" fill=\"#666\">%s</text>\n", y0 + 4, t);
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" marker-end=\"url(#arrow)\"/>\n", x0,
                y0, x1, y1, (s->flags & WIRE_RST) ? "#c00" : "#333");
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", (XO + XR) / 2, (y0 + y1) / 2 - 4,
                lab);
        int st[2];
        states_after(l, i, st);
        if (st[0] != prev[0])
            fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" fill=\"#06c\">%s</text>\n", XO - 8,
                    from == 0 ? y0 + 4 : y1 + 4, track_state_name(st[0]));
        if (st[1] != prev[1])
            fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"#06c\">%s</text>\n", XR + 8, from == 1 ? y0 + 4 : y1 + 4,
                    track_state_name(st[1]));
        prev[0] = st[0];
        prev[1] = st[1];
    }
    fputs("</svg>\n", f);
}

int track_ladder_render(FILE *f, const struct track_ladder *l, enum track_ladder_format fmt)
{
    if (!l->have_conn)
        return -1;
    struct bases b;
    find_bases(l, &b);
    switch (fmt) {
    case TRACK_LADDER_TEXT:
        render_text(f, l, &b);
        break;
    case TRACK_LADDER_MERMAID:
        render_mermaid(f, l, &b);
        break;
    case TRACK_LADDER_SVG:
        render_svg(f, l, &b);
        break;
    }
    return 0;
}
