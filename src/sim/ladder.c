/* Ladder layout: one pass over the log in time order. */
#include "sim/ladder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LADDER_MAX_CONNS 256
#define LADDER_SMALL_RELATIVE 0x10000000u /* beyond this, relative numbers mislead */

struct conn_ids {
    struct wire_tuple t[LADDER_MAX_CONNS];
    int n;
};

/* The same connection seen from either end. */
static bool tuple_same_conn(const struct wire_tuple *a, const struct wire_tuple *b)
{
    if (wire_tuple_eq(a, b))
        return true;
    struct wire_tuple r = wire_tuple_reverse(b);
    return wire_tuple_eq(a, &r);
}

static int conn_id(struct conn_ids *ids, const struct wire_tuple *t, bool add)
{
    for (int i = 0; i < ids->n; i++)
        if (tuple_same_conn(&ids->t[i], t))
            return i + 1;
    if (!add || ids->n == LADDER_MAX_CONNS)
        return 0;
    ids->t[ids->n++] = *t;
    return ids->n;
}

static int column_of(const struct ladder *l, int host)
{
    for (int c = 0; c < 2; c++)
        if (l->host[c] >= 0 && l->host[c] == host)
            return c;
    return -1;
}

static struct ladder_row *new_row(struct ladder *l, enum ladder_row_kind kind, tcp_time_t t)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct ladder_row *rows = realloc(l->rows, cap * sizeof *rows);
        if (!rows) {
            l->failed = true;
            return NULL;
        }
        l->rows = rows;
        l->cap = cap;
    }
    struct ladder_row *r = &l->rows[l->n++];
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->t = t;
    r->ev = -1;
    r->from_col = r->to_col = r->col = -1;
    r->arrive_pos = -1;
    return r;
}

/* ---- labels ---- */

static int isn_dir(const struct ladder_isns *isns, const struct wire_tuple *t)
{
    for (size_t i = 0; i < isns->n; i++)
        if (wire_tuple_eq(&isns->dir[i].tuple, t))
            return (int)i;
    return -1;
}

static void isn_add(struct ladder_isns *isns, const struct wire_tuple *t, uint32_t isn)
{
    int d = isn_dir(isns, t);
    if (d < 0) {
        size_t cap = sizeof isns->dir / sizeof isns->dir[0];
        d = (int)(isns->n < cap ? isns->n++ : cap - 1); /* a flood: the last slot is recycled */
        isns->dir[d].tuple = *t;
        isns->dir[d].count = 0;
        isns->dir[d].next = isn;
    }
    unsigned *count = &isns->dir[d].count;
    uint32_t *list = isns->dir[d].isn;
    for (unsigned i = 0; i < *count; i++)
        if (list[i] == isn)
            return;
    unsigned keep = *count < LADDER_ISNS_PER_DIR ? *count : LADDER_ISNS_PER_DIR - 1;
    memmove(list + 1, list, keep * sizeof *list);
    list[0] = isn;
    *count = keep + 1;
}

/* A number relative to the newest ISN of direction t that reads well
 * (small), else absolute. */
static uint32_t relative(const struct ladder_isns *isns, const struct wire_tuple *t, uint32_t value)
{
    int d = isn_dir(isns, t);
    if (d >= 0)
        for (unsigned i = 0; i < isns->dir[d].count; i++)
            if (value - isns->dir[d].isn[i] < LADDER_SMALL_RELATIVE)
                return value - isns->dir[d].isn[i];
    return value;
}

void ladder_segment_label(const struct sim_event *seg, struct ladder_isns *isns, char *buf, size_t cap)
{
    char flags[WIRE_FLAGS_STRLEN];
    wire_flags_str(seg->flags, flags);
    struct wire_tuple back = wire_tuple_reverse(&seg->tuple);
    bool syn = seg->flags & WIRE_SYN;
    if (syn && !seg->injected) /* crafted segments do not set the numbering */
        isn_add(isns, &seg->tuple, seg->seq);

    size_t len = 0;
    int n = snprintf(buf, cap, seg->flags ? "[%s]" : "%s", flags); /* "[none]" comes bracketed */
    len = n > 0 && (size_t)n < cap ? (size_t)n : cap - 1;
    /* SYNs show their ISN; a bare RST echoes an ACK field: absolute. */
    bool absolute = syn || (seg->flags & (WIRE_RST | WIRE_ACK)) == WIRE_RST;
    uint32_t seq = absolute ? seg->seq : relative(isns, &seg->tuple, seg->seq);
    /* A pure ACK shows its seq only when it is behind what was sent
     * already (a keepalive probe, RFC 9293 §3.8.4). */
    int d = isn_dir(isns, &seg->tuple);
    bool behind = d >= 0 && seq_lt(seg->seq, isns->dir[d].next);
    uint32_t end = seg->seq + seg->len + !!(seg->flags & WIRE_SYN) + !!(seg->flags & WIRE_FIN);
    if (d >= 0 && !seg->injected && !(seg->flags & WIRE_RST) && seq_gt(end, isns->dir[d].next))
        isns->dir[d].next = end;
    bool show_seq = syn || seg->len || (seg->flags & (WIRE_FIN | WIRE_RST)) || !(seg->flags & WIRE_ACK) || behind;
    if (show_seq && seg->len)
        n = snprintf(buf + len, cap - len, " seq=%u:%u", seq, seq + seg->len);
    else if (show_seq)
        n = snprintf(buf + len, cap - len, " seq=%u", seq);
    else
        n = 0;
    len += n > 0 && (size_t)n < cap - len ? (size_t)n : 0;
    if (seg->flags & WIRE_ACK) {
        n = snprintf(buf + len, cap - len, " ack=%u", syn ? seg->ack : relative(isns, &back, seg->ack));
        len += n > 0 && (size_t)n < cap - len ? (size_t)n : 0;
    }
    /* SACK blocks (RFC 2018 §3), numbered like the ACK field. */
    for (unsigned i = 0; (seg->opt.present & WIRE_OPT_SACK) && i < seg->opt.sack_count; i++) {
        n = snprintf(buf + len, cap - len, "%s%u:%u", i ? "," : " sack=", relative(isns, &back, seg->opt.sack[i].left),
                     relative(isns, &back, seg->opt.sack[i].right));
        len += n > 0 && (size_t)n < cap - len ? (size_t)n : 0;
    }
    if (seg->win == 0 && !(seg->flags & WIRE_RST)) {
        n = snprintf(buf + len, cap - len, " win=0");
        len += n > 0 && (size_t)n < cap - len ? (size_t)n : 0;
    }
    if (seg->malformed[0]) {
        n = snprintf(buf + len, cap - len, " (%s)", seg->malformed);
        len += n > 0 && (size_t)n < cap - len ? (size_t)n : 0;
    }
    if (seg->dup || seg->injected)
        snprintf(buf + len, cap - len, "%s%s", seg->dup ? " (dup)" : "", seg->injected ? " (injected)" : "");
}

void ladder_app_text(const struct sim_event *app, char *buf, size_t cap)
{
    if (app->result[0])
        snprintf(buf, cap, "%s(%s) = %s", app->call, app->args, app->result);
    else
        snprintf(buf, cap, "%s(%s)", app->call, app->args);
}

/* ---- layout ---- */

static void write_state(struct ladder *l, struct ladder_row *r, int col, const struct sim_event *e,
                        struct conn_ids *ids)
{
    int id = e->tuple.dport ? conn_id(ids, &e->tuple, false) : 0;
    if (!e->tuple.dport && e->to != TCP_STATE_LISTEN)
        snprintf(r->state[col], sizeof r->state[col], "%s listener", tcp_state_name(e->to));
    else if (l->multi && id)
        snprintf(r->state[col], sizeof r->state[col], "%s #%d", tcp_state_name(e->to), id);
    else
        snprintf(r->state[col], sizeof r->state[col], "%s", tcp_state_name(e->to));
}

/* The summary row to count flood traffic in: the last row if it is one. */
static struct ladder_row *summary_row(struct ladder *l, tcp_time_t t)
{
    struct ladder_row *last = l->n ? &l->rows[l->n - 1] : NULL;
    if (last && last->kind == LADDER_SUMMARY)
        return last;
    return new_row(l, LADDER_SUMMARY, t);
}

static void summarize_segment(struct ladder *l, const struct sim_event *e)
{
    struct ladder_row *r = summary_row(l, e->t);
    if (!r)
        return;
    for (unsigned i = 0; i < r->nsum; i++)
        if (r->sum[i].src == e->src && r->sum[i].dst == e->dst && r->sum[i].flags == e->flags) {
            r->sum[i].count++;
            return;
        }
    if (r->nsum == LADDER_SUMMARY_KINDS) {
        r->other_segments++;
        return;
    }
    r->sum[r->nsum].src = e->src;
    r->sum[r->nsum].dst = e->dst;
    r->sum[r->nsum].flags = e->flags;
    r->sum[r->nsum].count = 1;
    r->nsum++;
}

/* A state change of a connection to a host without a column. */
static bool state_of_flood(const struct ladder *l, const struct sim_log *log, const struct sim_event *e)
{
    if (!e->tuple.dport)
        return false; /* a listener */
    for (int c = 0; c < 2; c++)
        if (l->host[c] >= 0 && l->host[c] != e->host && wire_addr_eq(&log->host_addrs[l->host[c]], &e->tuple.dst))
            return false;
    return true;
}

void ladder_summary_text(const struct sim_log *log, const struct ladder_row *r, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < r->nsum && len + 1 < cap; i++) {
        char flags[WIRE_FLAGS_STRLEN];
        int n = snprintf(buf + len, cap - len, "%s%s -> %s: %u [%s]", i ? "; " : "",
                         sim_log_host_name(log, r->sum[i].src),
                         r->sum[i].dst >= 0 ? sim_log_host_name(log, r->sum[i].dst) : "?", r->sum[i].count,
                         wire_flags_str(r->sum[i].flags, flags));
        if (n > 0)
            len = len + (size_t)n < cap ? len + (size_t)n : cap - 1;
    }
    if (r->other_segments && len + 1 < cap) {
        int n = snprintf(buf + len, cap - len, "%s%u more", len ? "; " : "", r->other_segments);
        if (n > 0)
            len = len + (size_t)n < cap ? len + (size_t)n : cap - 1;
    }
    if (r->states && len + 1 < cap)
        snprintf(buf + len, cap - len, "%s%u state changes", len ? "; " : "", r->states);
}

/* Where a state change goes: into the row of the segment that caused it
 * (merged arrival), or of the segment its host sent at that instant just
 * before (the stack reports some changes after the segment they send), or
 * into the last state row at the same instant if that column is free, or a
 * new row. */
static void place_state(struct ladder *l, const struct sim_log *log, const struct sim_event *e,
                        const long *seg_row, struct conn_ids *ids)
{
    int col = column_of(l, e->host);
    if (col < 0)
        return;
    if (l->host[1] >= 0 && state_of_flood(l, log, e)) {
        struct ladder_row *r = summary_row(l, e->t);
        if (r)
            r->states++;
        return;
    }
    struct ladder_row *last = l->n ? &l->rows[l->n - 1] : NULL;
    if (e->cause >= 0 && seg_row[e->cause] >= 0) {
        struct ladder_row *r = &l->rows[seg_row[e->cause]];
        if (r->merged && r->to_col == col) {
            write_state(l, r, col, e, ids);
            return;
        }
    }
    if (last && last->kind == LADDER_SEGMENT && last->t == e->t && last->from_col == col &&
        !last->state[col][0] && !(last->merged && last->to_col == col)) {
        const struct sim_event *seg = &log->ev[last->ev];
        if (seg->src == e->host) {
            write_state(l, last, col, e, ids);
            return;
        }
    }
    if (last && last->kind == LADDER_STATE && last->t == e->t && !last->state[col][0]) {
        write_state(l, last, col, e, ids);
        return;
    }
    struct ladder_row *r = new_row(l, LADDER_STATE, e->t);
    if (r)
        write_state(l, r, col, e, ids);
}

static void place_segment(struct ladder *l, const struct sim_log *log, long index, long *seg_row,
                          struct ladder_isns *isns, struct conn_ids *ids)
{
    const struct sim_event *e = &log->ev[index];
    int from = column_of(l, e->src), to = column_of(l, e->dst);
    if (from < 0 || to < 0) {
        /* A third host (a flood): counted, not drawn. */
        summarize_segment(l, e);
        return;
    }
    struct ladder_row *last = l->n ? &l->rows[l->n - 1] : NULL;
    struct ladder_row *r;
    /* The sender's state changed just before it sent this: same row. */
    if (last && last->kind == LADDER_STATE && last->t == e->t && from >= 0 && last->state[from][0] &&
        !last->state[1 - from][0])
        r = last, r->kind = LADDER_SEGMENT, r->ev = -1;
    else
        r = new_row(l, LADDER_SEGMENT, e->t);
    if (!r)
        return;
    r->ev = index;
    r->from_col = from;
    r->to_col = to;
    seg_row[index] = (long)(r - l->rows);
    char label[80];
    ladder_segment_label(e, isns, label, sizeof label);
    int id = l->multi ? conn_id(ids, &e->tuple, false) : 0;
    if (id)
        snprintf(r->label, sizeof r->label, "#%d %s", id, label);
    else
        snprintf(r->label, sizeof r->label, "%s", label);
}

static void place_arrival(struct ladder *l, const struct sim_log *log, const struct sim_event *e,
                          const long *seg_row)
{
    (void)log;
    if (e->segment < 0 || seg_row[e->segment] < 0)
        return;
    struct ladder_row *r = &l->rows[seg_row[e->segment]];
    if ((size_t)seg_row[e->segment] == l->n - 1 && !r->state[r->to_col < 0 ? 0 : r->to_col][0] &&
        r->to_col >= 0) {
        r->merged = true;
        r->arrive_pos = (double)(l->n - 1) + 0.6;
    } else {
        r->arrive_pos = (double)l->n - 0.4;
    }
}

int ladder_build(const struct sim_log *log, struct ladder *l)
{
    memset(l, 0, sizeof *l);
    l->host[0] = log->nhosts > 0 ? 0 : -1;
    l->host[1] = log->nhosts > 1 ? 1 : -1;
    struct conn_ids *ids = calloc(1, sizeof *ids);
    struct ladder_isns *isns = calloc(1, sizeof *isns);
    long *seg_row = malloc((log->n ? log->n : 1) * sizeof *seg_row);
    if (!ids || !isns || !seg_row) {
        free(ids);
        free(isns);
        free(seg_row);
        return -1;
    }
    for (size_t i = 0; i < log->n; i++) {
        seg_row[i] = -1;
        if (log->ev[i].kind == SIM_EV_STATE && log->ev[i].tuple.dport && !state_of_flood(l, log, &log->ev[i]))
            conn_id(ids, &log->ev[i].tuple, true);
    }
    l->multi = ids->n > 1;

    for (size_t i = 0; i < log->n && !l->failed; i++) {
        const struct sim_event *e = &log->ev[i];
        struct ladder_row *r;
        switch (e->kind) {
        case SIM_EV_SEGMENT:
            place_segment(l, log, (long)i, seg_row, isns, ids);
            break;
        case SIM_EV_ARRIVAL:
            place_arrival(l, log, e, seg_row);
            break;
        case SIM_EV_STATE:
            place_state(l, log, e, seg_row, ids);
            break;
        case SIM_EV_APP:
        case SIM_EV_NOTE:
            if (e->host >= 0 && column_of(l, e->host) < 0 && e->kind == SIM_EV_APP)
                break;
            r = new_row(l, e->kind == SIM_EV_APP ? LADDER_APP : LADDER_NOTE, e->t);
            if (r) {
                r->ev = (long)i;
                r->col = column_of(l, e->host);
            }
            break;
        }
    }
    free(ids);
    free(isns);
    free(seg_row);
    if (l->failed) {
        ladder_free(l);
        return -1;
    }
    return 0;
}

void ladder_free(struct ladder *l)
{
    free(l->rows);
    memset(l, 0, sizeof *l);
}
