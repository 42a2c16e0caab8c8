/* The results: a table with ratios, JSON lines, and the scaling curves as
 * a hand-written SVG (two log-log panels: lifecycles per second and ns per
 * segment against connections held). */
#include <math.h>
#include <string.h>

#include "bench/bench_internal.h"
#include "bench/bench_stream.h"
#include "bench/bench_synflood.h"

const char *const bench_names[] = {"lifecycle", "memory", "scale", "synflood", "stream", NULL};
static const char *const peer_names[BENCH_PEER_COUNT] = {"synack", "lwip", "linux"};

int bench_run(const char *name, const struct bench_opts *o, struct bench_results *r)
{
    if (!strcmp(name, "lifecycle"))
        return bench_lifecycle(o, r);
    if (!strcmp(name, "memory"))
        return bench_memory(o, r);
    if (!strcmp(name, "scale"))
        return bench_scale(o, r);
    if (!strcmp(name, "synflood"))
        return bench_synflood(o, r);
    if (!strcmp(name, "stream"))
        return bench_stream(o, r);
    return -2;
}

/* 1,234,567 for big values, 12.3 / 0.123 for small ones. */
static void format_value(char *buf, size_t len, double v)
{
    if (!isfinite(v)) {
        snprintf(buf, len, "-");
        return;
    }
    if (fabs(v) < 100) {
        snprintf(buf, len, fabs(v) < 10 ? "%.2f" : "%.1f", v);
        return;
    }
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", fabs(v));
    size_t nd = strlen(digits), o = 0;
    if (v < 0 && o + 1 < len)
        buf[o++] = '-';
    for (size_t i = 0; i < nd && o + 2 < len; i++) {
        if (i && (nd - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
}

static void format_ratio(char *buf, size_t len, const struct bench_figure *f, enum bench_peer peer)
{
    if (!f->has[BENCH_SYNACK] || !f->has[peer] || f->value[peer] == 0 || !isfinite(f->value[peer])) {
        snprintf(buf, len, "-");
        return;
    }
    double ratio = f->value[BENCH_SYNACK] / f->value[peer];
    snprintf(buf, len, ratio < 10 ? "%.2fx" : "%.1fx", ratio);
}

void bench_print_table(FILE *out, const struct bench_results *r)
{
    fprintf(out, "%-10s %-26s %-5s %13s %13s %13s %12s %12s  %s\n", "bench", "figure", "unit", "synack", "lwip",
            "linux", "synack/lwip", "synack/linux", "better");
    for (size_t i = 0; i < r->count; i++) {
        const struct bench_figure *f = &r->fig[i];
        char v[BENCH_PEER_COUNT][32], rl[16], rx[16];
        for (int p = 0; p < BENCH_PEER_COUNT; p++) {
            if (f->has[p])
                format_value(v[p], sizeof v[p], f->value[p]);
            else
                snprintf(v[p], sizeof v[p], "-");
        }
        format_ratio(rl, sizeof rl, f, BENCH_LWIP);
        format_ratio(rx, sizeof rx, f, BENCH_LINUX);
        fprintf(out, "%-10s %-26s %-5s %13s %13s %13s %12s %12s  %s\n", f->bench, f->figure, f->unit, v[0], v[1], v[2],
                rl, rx, f->lower_is_better ? "lower" : "higher");
    }
}

static void json_number(FILE *out, double v)
{
    if (fabs(v) >= 1000)
        fprintf(out, "%.0f", v);
    else
        fprintf(out, "%.4g", v);
}

void bench_print_json(FILE *out, const struct bench_results *r)
{
    for (size_t i = 0; i < r->count; i++) {
        const struct bench_figure *f = &r->fig[i];
        fprintf(out, "{\"bench\":\"%s\",\"figure\":\"%s\",\"unit\":\"%s\"", f->bench, f->figure, f->unit);
        for (int p = 0; p < BENCH_PEER_COUNT; p++) {
            if (!f->has[p] || !isfinite(f->value[p]))
                continue;
            fprintf(out, ",\"%s\":", peer_names[p]);
            json_number(out, f->value[p]);
        }
        if (f->series[0])
            fprintf(out, ",\"series\":\"%s\",\"held\":%.0f", f->series, f->held);
        fprintf(out, ",\"better\":\"%s\"}\n", f->lower_is_better ? "lower" : "higher");
    }
}

/* ---- SVG ---- */
#define SVG_W 900      /* the panels' layout */
#define SVG_DOC_W 960  /* the document: room for the legend */
#define SVG_PANEL_H 400
#define SVG_LEFT 80
#define SVG_RIGHT 200
#define SVG_TOP 50
#define SVG_BOTTOM 60

static const char *const peer_colors[BENCH_PEER_COUNT] = {"#d62728", "#1f77b4", "#2ca02c"};

struct svg_axes {
    double x0, x1, y0, y1; /* log10 ranges */
    int top;               /* panel's top in the document */
};

static double svg_x(const struct svg_axes *a, double held)
{
    double w = SVG_W - SVG_LEFT - SVG_RIGHT;
    return SVG_LEFT + (log10(held) - a->x0) / (a->x1 - a->x0) * w;
}

static double svg_y(const struct svg_axes *a, double v)
{
    double h = SVG_PANEL_H - SVG_TOP - SVG_BOTTOM;
    return a->top + SVG_TOP + h - (log10(v) - a->y0) / (a->y1 - a->y0) * h;
}

static void power_label(char *buf, size_t len, int e)
{
    static const char *const names[] = {"1", "10", "100", "1k", "10k", "100k", "1M", "10M", "100M", "1G"};
    if (e >= 0 && e < 10)
        snprintf(buf, len, "%s", names[e]);
    else
        snprintf(buf, len, "1e%d", e);
}

static bool in_panel(const struct bench_figure *f, const char *prefix)
{
    return f->series[0] && !strncmp(f->figure, prefix, strlen(prefix));
}

static void svg_panel(FILE *out, const struct bench_results *r, const char *prefix, const char *title,
                      const char *ylabel, int top)
{
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (size_t i = 0; i < r->count; i++) {
        const struct bench_figure *f = &r->fig[i];
        if (!in_panel(f, prefix))
            continue;
        for (int p = 0; p < BENCH_PEER_COUNT; p++)
            if (f->has[p] && f->value[p] > 0) {
                xmin = fmin(xmin, f->held), xmax = fmax(xmax, f->held);
                ymin = fmin(ymin, f->value[p]), ymax = fmax(ymax, f->value[p]);
            }
    }
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"16\" font-weight=\"bold\">%s</text>\n", SVG_LEFT, top + 28, title);
    if (!isfinite(xmin)) {
        fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"13\">no data (run bench scale)</text>\n", SVG_LEFT,
                top + SVG_PANEL_H / 2);
        return;
    }
    struct svg_axes a = {floor(log10(xmin)), ceil(log10(xmax)), floor(log10(ymin)), ceil(log10(ymax)), top};
    if (a.x1 <= a.x0)
        a.x1 = a.x0 + 1;
    if (a.y1 <= a.y0)
        a.y1 = a.y0 + 1;
    int plot_bottom = top + SVG_PANEL_H - SVG_BOTTOM, plot_right = SVG_W - SVG_RIGHT;
    fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n", SVG_LEFT,
            top + SVG_TOP, plot_right - SVG_LEFT, plot_bottom - top - SVG_TOP);
    char label[16];
    for (int e = (int)a.x0; e <= (int)a.x1; e++) {
        double x = svg_x(&a, pow(10, e));
        power_label(label, sizeof label, e);
        fprintf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n", x, top + SVG_TOP, x,
                plot_bottom);
        fprintf(out, "<text x=\"%.1f\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">%s</text>\n", x,
                plot_bottom + 18, label);
    }
    for (int e = (int)a.y0; e <= (int)a.y1; e++) {
        double y = svg_y(&a, pow(10, e));
        power_label(label, sizeof label, e);
        fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", SVG_LEFT, y, plot_right, y);
        fprintf(out, "<text x=\"%d\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\">%s</text>\n", SVG_LEFT - 6, y + 4,
                label);
    }
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"13\" text-anchor=\"middle\">connections held</text>\n",
            (SVG_LEFT + plot_right) / 2, plot_bottom + 40);
    fprintf(out,
            "<text x=\"18\" y=\"%d\" font-size=\"13\" text-anchor=\"middle\" transform=\"rotate(-90 18 %d)\">%s</text>\n",
            (top + SVG_TOP + plot_bottom) / 2, (top + SVG_TOP + plot_bottom) / 2, ylabel);

    /* One polyline per (peer, series), in the order of the levels. */
    static const char *const series[] = {"est", "tw"};
    int legend = 0;
    for (int p = 0; p < BENCH_PEER_COUNT; p++)
        for (int s = 0; s < 2; s++) {
            int points = 0;
            for (size_t i = 0; i < r->count; i++) {
                const struct bench_figure *f = &r->fig[i];
                if (!in_panel(f, prefix) || strcmp(f->series, series[s]) || !f->has[p] || f->value[p] <= 0)
                    continue;
                if (!points++)
                    fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"",
                            peer_colors[p], s ? " stroke-dasharray=\"6 4\"" : "");
                fprintf(out, "%.1f,%.1f ", svg_x(&a, f->held), svg_y(&a, f->value[p]));
            }
            if (!points)
                continue;
            fprintf(out, "\"/>\n");
            for (size_t i = 0; i < r->count; i++) {
                const struct bench_figure *f = &r->fig[i];
                if (in_panel(f, prefix) && !strcmp(f->series, series[s]) && f->has[p] && f->value[p] > 0)
                    fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n", svg_x(&a, f->held),
                            svg_y(&a, f->value[p]), peer_colors[p]);
            }
            int ly = top + SVG_TOP + 14 + 22 * legend++;
            fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>\n",
                    plot_right + 14, ly - 4, plot_right + 44, ly - 4, peer_colors[p],
                    s ? " stroke-dasharray=\"6 4\"" : "");
            fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"13\">%s, %s held</text>\n", plot_right + 50, ly,
                    peer_names[p], s ? "TIME-WAIT" : "established");
        }
}

int bench_write_svg(FILE *out, const struct bench_results *r)
{
    fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                 "font-family=\"sans-serif\">\n",
            SVG_DOC_W, 2 * SVG_PANEL_H, SVG_DOC_W, 2 * SVG_PANEL_H);
    fprintf(out, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    svg_panel(out, r, "lifecycles_per_s", "Lifecycles per second on one core (higher is better)", "lifecycles/s", 0);
    svg_panel(out, r, "ack_ns", "One segment for a random held connection (lower is better)", "ns per segment",
              SVG_PANEL_H);
    fprintf(out, "</svg>\n");
    return ferror(out) ? -1 : 0;
}
