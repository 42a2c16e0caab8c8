/* The ladder as a self-contained SVG: two lifelines, slanted arrows from the
 * sender at the time it sent to the receiver at the time it received, lost
 * segments ending in a red X, state boxes beside the lifelines, app calls on
 * the lifelines, a time axis on the left. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/ladder.h"
#include "sim/render.h"

#define SVG_WIDTH 980
#define SVG_TOP 110
#define SVG_ROW_H 34
#define SVG_X_LEFT 290
#define SVG_X_RIGHT 750
#define SVG_STATE_W 118
#define SVG_LOST_FRACTION 0.62

static void xml_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

static double row_y(double pos)
{
    return SVG_TOP + pos * SVG_ROW_H;
}

static double col_x(int col)
{
    return col == 1 ? SVG_X_RIGHT : SVG_X_LEFT;
}

static const char *segment_color(const struct sim_event *e)
{
    if (e->lost)
        return "#c62828";
    if (e->flags & WIRE_RST)
        return "#d84315";
    if (e->flags & WIRE_SYN)
        return "#1565c0";
    if (e->flags & WIRE_FIN)
        return "#6a1b9a";
    if (e->len)
        return "#2e7d32";
    return "#455a64";
}

static void state_box(FILE *out, int col, double y, const char *state)
{
    double x = col == 1 ? SVG_X_RIGHT + 10 : SVG_X_LEFT - 10 - SVG_STATE_W;
    fprintf(out,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"20\" rx=\"6\" class=\"state\"/>"
            "<text x=\"%.1f\" y=\"%.1f\" class=\"statetext\">",
            x, y - 10, SVG_STATE_W, x + SVG_STATE_W / 2.0, y + 4);
    xml_text(out, state);
    fputs("</text>\n", out);
}

static void segment(FILE *out, const struct sim_log *log, const struct ladder_row *r, size_t index)
{
    const struct sim_event *e = &log->ev[r->ev];
    int from = r->from_col >= 0 ? r->from_col : 1 - r->to_col;
    int to = r->to_col >= 0 ? r->to_col : 1 - from;
    double x1 = col_x(from), y1 = row_y((double)index), x2 = col_x(to);
    double y2 = r->arrive_pos >= 0 ? row_y(r->arrive_pos) : row_y((double)index + 0.6);
    const char *color = segment_color(e);
    if (e->lost) {
        x2 = x1 + (x2 - x1) * SVG_LOST_FRACTION;
        y2 = y1 + (y2 - y1) * SVG_LOST_FRACTION;
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1.6\" "
                "stroke-dasharray=\"6 3\"/>\n",
                x1, y1, x2, y2, color);
        fprintf(out,
                "<path d=\"M%.1f %.1fl12 12M%.1f %.1fl-12 12\" stroke=\"%s\" stroke-width=\"2.5\"/>\n",
                x2 - 6, y2 - 6, x2 + 6, y2 - 6, color);
    } else {
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1.6\" "
                "marker-end=\"url(#head)\" style=\"color:%s\"/>\n",
                x1, y1, x2, y2, color, color);
    }
    /* The label sits on the arrow's middle (a lost one's too). */
    double lx = (x1 + x2) / 2, ly = (y1 + y2) / 2 - 5;
    fprintf(out,
            "<text x=\"%.1f\" y=\"%.1f\" class=\"label\" fill=\"%s\" stroke=\"#ffffff\" stroke-width=\"4\" "
            "paint-order=\"stroke\">",
            lx, ly, color);
    xml_text(out, r->label);
    if (e->lost) {
        fputs(" lost (", out);
        xml_text(out, e->drop);
        fputc(')', out);
    }
    fputs("</text>\n", out);
}

int sim_render_svg(const struct sim_log *log, FILE *out)
{
    struct ladder l;
    if (ladder_build(log, &l) < 0)
        return -1;
    double height = row_y((double)l.n) + 40;
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d %.0f\" "
            "font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"12\">\n",
            SVG_WIDTH, height, SVG_WIDTH, height);
    fputs("<defs><marker id=\"head\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" "
          "markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0 0L10 5L0 10z\" fill=\"context-stroke\"/>"
          "</marker>\n<style>"
          ".state{fill:#fff8e1;stroke:#f9a825}.statetext{text-anchor:middle;font-weight:bold;fill:#5d4037}"
          ".label{text-anchor:middle}"
          ".time{text-anchor:end;fill:#757575}.app{font-style:italic;fill:#37474f}"
          ".note{fill:#424242}.host{text-anchor:middle;font-size:15px;font-weight:bold}"
          "</style></defs>\n",
          out);
    fprintf(out, "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n");
    if (log->name[0]) {
        fputs("<text x=\"20\" y=\"26\" font-size=\"15\" font-weight=\"bold\">synack sim ", out);
        xml_text(out, log->name);
        fputs("</text>\n<text x=\"20\" y=\"46\" fill=\"#616161\">", out);
        xml_text(out, log->description);
        fputs("</text>\n", out);
    }
    fprintf(out, "<text x=\"70\" y=\"%d\" class=\"time\">time (s)</text>\n", SVG_TOP - 30);
    for (int c = 0; c < 2; c++) {
        if (l.host[c] < 0)
            continue;
        char addr[WIRE_ADDR_STRLEN];
        fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"host\">", (int)col_x(c), SVG_TOP - 42);
        xml_text(out, sim_log_host_name(log, l.host[c]));
        fprintf(out, "</text><text x=\"%d\" y=\"%d\" class=\"host\" font-size=\"11\" font-weight=\"normal\">%s</text>\n",
                (int)col_x(c), SVG_TOP - 27, wire_addr_str(&log->host_addrs[l.host[c]], addr));
        fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%.0f\" stroke=\"#212121\" stroke-width=\"2\"/>\n",
                (int)col_x(c), SVG_TOP - 20, (int)col_x(c), height - 20);
    }
    tcp_time_t last_t = TCP_TIME_NEVER;
    for (size_t i = 0; i < l.n; i++) {
        const struct ladder_row *r = &l.rows[i];
        double y = row_y((double)i);
        if (r->t != last_t) {
            fprintf(out, "<text x=\"70\" y=\"%.1f\" class=\"time\">%.3f</text>\n", y + 4, (double)r->t / 1e6);
            fprintf(out, "<line x1=\"76\" y1=\"%.1f\" x2=\"84\" y2=\"%.1f\" stroke=\"#9e9e9e\"/>\n", y, y);
            last_t = r->t;
        }
        switch (r->kind) {
        case LADDER_SEGMENT:
            segment(out, log, r, i);
            break;
        case LADDER_STATE:
            break;
        case LADDER_APP: {
            char text[160];
            ladder_app_text(&log->ev[r->ev], text, sizeof text);
            int col = r->col >= 0 ? r->col : 0;
            fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#37474f\"/>", col_x(col), y);
            fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"app\" text-anchor=\"%s\">", col_x(col) + (col ? -10 : 10),
                    y + 4, col ? "end" : "start");
            xml_text(out, text);
            fputs("</text>\n", out);
            break;
        }
        case LADDER_SUMMARY: {
            char text[256];
            ladder_summary_text(log, r, text, sizeof text);
            fprintf(out,
                    "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"22\" rx=\"4\" fill=\"#ffebee\"/>"
                    "<text x=\"%d\" y=\"%.1f\" class=\"note\">",
                    100, y - 11, SVG_WIDTH - 120, 108, y + 4);
            xml_text(out, text);
            fputs("</text>\n", out);
            break;
        }
        case LADDER_NOTE: {
            const struct sim_event *e = &log->ev[r->ev];
            fprintf(out,
                    "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"22\" rx=\"4\" fill=\"#eceff1\"/>"
                    "<text x=\"%d\" y=\"%.1f\" class=\"note\">",
                    100, y - 11, SVG_WIDTH - 120, 108, y + 4);
            if (e->host >= 0) {
                xml_text(out, sim_log_host_name(log, e->host));
                fputs(": ", out);
            }
            xml_text(out, e->text ? e->text : "");
            fputs("</text>\n", out);
            break;
        }
        }
        for (int c = 0; c < 2; c++) {
            if (!r->state[c][0])
                continue;
            double sy = y;
            if (r->kind == LADDER_SEGMENT && r->merged && r->to_col == c)
                sy = row_y(r->arrive_pos);
            state_box(out, c, sy, r->state[c]);
        }
    }
    fputs("</svg>\n", out);
    ladder_free(&l);
    return ferror(out) ? -1 : 0;
}
