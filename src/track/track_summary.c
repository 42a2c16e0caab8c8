/* Summaries: one pass over the table builds per-host state counts in a
 * temporary open-addressing map; counters come from the tracker. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "track/track_log.h"
#include "track/track_summary.h"

#define NSTATES (TCP_STATE_COUNT + 1) /* + unknown */

struct host_row {
    struct wire_addr addr;
    bool used;
    uint64_t total;
    uint64_t by_state[NSTATES];
};

struct track_summary_snapshot {
    struct host_row *rows; /* open addressing while collecting, then sorted */
    size_t cap, n;
    bool failed;
    uint64_t conn_states[TRACK_CS_COUNT]; /* reported + open at snapshot time */
    uint64_t states[NSTATES];
    uint64_t open;
    tcp_time_t at;
};
#define collect track_summary_snapshot

void track_summary_note(struct track_summary_examples *ex, const struct track_anomaly *a)
{
    if (!ex || (unsigned)a->kind >= TRACK_ANOM_COUNT || ex->have[a->kind])
        return;
    ex->have[a->kind] = true;
    ex->first[a->kind] = *a;
}

static uint64_t addr_hash(const struct wire_addr *a)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (int i = 0; i < 16; i++)
        h = (h ^ a->b[i]) * 1099511628211ULL;
    return h;
}

static struct host_row *row_for(struct collect *c, const struct wire_addr *a)
{
    if (c->n * 2 >= c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 256;
        struct host_row *nr = calloc(ncap, sizeof *nr);
        if (!nr) {
            c->failed = true;
            return NULL;
        }
        for (size_t i = 0; i < c->cap; i++) {
            if (!c->rows[i].used)
                continue;
            size_t j = addr_hash(&c->rows[i].addr) & (ncap - 1);
            while (nr[j].used)
                j = (j + 1) & (ncap - 1);
            nr[j] = c->rows[i];
        }
        free(c->rows);
        c->rows = nr;
        c->cap = ncap;
    }
    size_t j = addr_hash(a) & (c->cap - 1);
    while (c->rows[j].used && !wire_addr_eq(&c->rows[j].addr, a))
        j = (j + 1) & (c->cap - 1);
    if (!c->rows[j].used) {
        c->rows[j].used = true;
        c->rows[j].addr = *a;
        c->n++;
    }
    return &c->rows[j];
}

static void collect_conn(void *ctx, const struct track_conn_info *info)
{
    struct collect *c = ctx;
    c->open++;
    c->conn_states[info->conn_state]++; /* as if it ended now */
    const struct wire_addr *hosts[2] = {&info->orig.addr, &info->resp.addr};
    int states[2] = {info->orig_state, info->resp_state};
    for (int i = 0; i < 2; i++) {
        int st = states[i] >= 0 && states[i] <= TCP_STATE_COUNT ? states[i] : TCP_STATE_COUNT;
        c->states[st]++;
        struct host_row *r = row_for(c, hosts[i]);
        if (!r)
            return;
        r->total++;
        r->by_state[st]++;
    }
}

static int row_cmp(const void *a, const void *b)
{
    const struct host_row *x = a, *y = b;
    if (x->total != y->total)
        return x->total > y->total ? -1 : 1;
    return memcmp(x->addr.b, y->addr.b, 16);
}

struct anom_row {
    int kind;
    uint64_t n;
};

static int anom_cmp(const void *a, const void *b)
{
    const struct anom_row *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return x->kind - y->kind;
}

/* Column titles: ss(8) abbreviations (DESIGN.md §2), but CLOSED rather
 * than ss's UNCONN, and "unknown" for sides never seen. */
static const char *const ss_names[NSTATES] = {
#define SS_NAME(id, name, ss) TCP_STATE_##id == TCP_STATE_CLOSED ? name : ss,
    TCP_STATES(SS_NAME)
#undef SS_NAME
    "unknown",
};

static void print_text(FILE *f, const struct track *t, const struct collect *c, struct anom_row *an, int nan,
                       const struct track_summary_examples *ex, const struct track_summary_opts *o)
{
    const struct host_row *rows = c->rows;
    size_t nrows = c->n;
    const struct track_stats *st = track_get_stats(t);
    char ts[TRACK_TIME_STRLEN];
    fprintf(f, "%s at %s\n", o->title ? o->title : "summary", track_time_str(c->at, ts));
    fprintf(f, "Frames: %" PRIu64 " (%" PRIu64 " bytes), %" PRIu64 " TCP segments, %" PRIu64 " not TCP, %" PRIu64
               " not IP, %" PRIu64 " fragments, %" PRIu64 " truncated by snaplen, %" PRIu64 " garbage",
            st->frames, st->frame_bytes, st->segments, st->not_tcp, st->not_ip, st->fragments, st->truncated,
            st->garbage);
    if (st->unsupported_link)
        fprintf(f, ", %" PRIu64 " of an unsupported link type", st->unsupported_link);
    fputc('\n', f);
    if (st->garbage) {
        fputs("Garbage:", f);
        for (int e = 0; e < WIRE_ERR_COUNT; e++)
            if (st->garbage_by_reason[e])
                fprintf(f, " %s %" PRIu64 ";", wire_err_text((enum wire_err)e), st->garbage_by_reason[e]);
        fputc('\n', f);
    }
    if (st->bad_ip_checksum || st->bad_tcp_checksum)
        fprintf(f, "Checksums: %" PRIu64 " bad IPv4, %" PRIu64 " bad TCP (%s)\n", st->bad_ip_checksum,
                st->bad_tcp_checksum,
                track_get_config(t)->verify_checksums ? "dropped, like Zeek"
                                                      : "tracked anyway: checksum offload? --verify-checksums drops them");
    fprintf(f, "Connections: %" PRIu64 " seen, %" PRIu64 " open (peak %zu), %" PRIu64 " expired, %" PRIu64
               " reused, %" PRIu64 " evicted\n",
            st->connections, c->open, st->peak_active, st->expired, st->reused, st->evicted);

    fputs("conn_state:", f);
    bool any = false;
    for (int k = 0; k < TRACK_CS_COUNT; k++) {
        uint64_t n = c->conn_states[k];
        if (n) {
            fprintf(f, " %s %" PRIu64, track_conn_state_name((enum track_conn_state)k), n);
            any = true;
        }
    }
    fputs(any ? "\n" : " none\n", f);

    fprintf(f, "\nTCP states of the %" PRIu64 " open connections, per host:\n", c->open);
    bool col[NSTATES];
    for (int s = 0; s < NSTATES; s++)
        col[s] = c->states[s] > 0;
    fprintf(f, "%-39s %7s", "host", "total");
    for (int s = 0; s < NSTATES; s++)
        if (col[s])
            fprintf(f, " %10s", ss_names[s]);
    fputc('\n', f);
    int max = o->max_hosts > 0 ? o->max_hosts : 20;
    for (size_t i = 0; i < nrows && (int)i < max; i++) {
        char a[WIRE_ADDR_STRLEN];
        fprintf(f, "%-39s %7" PRIu64, wire_addr_str(&rows[i].addr, a), rows[i].total);
        for (int s = 0; s < NSTATES; s++)
            if (col[s])
                fprintf(f, " %10" PRIu64, rows[i].by_state[s]);
        fputc('\n', f);
    }
    if (nrows > (size_t)max)
        fprintf(f, "(%zu more hosts)\n", nrows - (size_t)max);

    fprintf(f, "\nTop anomalies (connections, services or hosts affected):\n");
    if (nan == 0)
        fputs("  none\n", f);
    for (int i = 0; i < nan; i++) {
        fprintf(f, "  %-26s %8" PRIu64 "  %s\n", track_anomaly_name((enum track_anomaly_kind)an[i].kind), an[i].n,
                track_anomaly_help((enum track_anomaly_kind)an[i].kind));
        if (ex && ex->have[an[i].kind]) {
            const struct track_anomaly *e = &ex->first[an[i].kind];
            fprintf(f, "  %-26s %8s  e.g. %s %s%s%s\n", "", "", track_time_str(e->t, ts), e->uid,
                    e->uid[0] ? ": " : "", e->evidence);
        }
    }
}

static void print_json(FILE *f, const struct track *t, const struct collect *c, struct anom_row *an, int nan,
                       const struct track_summary_examples *ex)
{
    const struct host_row *rows = c->rows;
    size_t nrows = c->n;
    const struct track_stats *st = track_get_stats(t);
    char ts[TRACK_TIME_STRLEN];
    fprintf(f, "{\"kind\":\"summary\",\"t\":%s", track_time_str(c->at, ts));
    for (int i = 0; i < track_counter_count(); i++)
        fprintf(f, ",\"%s\":%" PRIu64, track_counter_name(i), track_counter_get(st, i));
    fprintf(f, ",\"open\":%" PRIu64 ",\"peak_open\":%zu,\"conn_state\":{", c->open, st->peak_active);
    bool first = true;
    for (int k = 0; k < TRACK_CS_COUNT; k++) {
        uint64_t n = c->conn_states[k];
        if (n) {
            fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",", track_conn_state_name((enum track_conn_state)k), n);
            first = false;
        }
    }
    fputs("},\"garbage_by_reason\":{", f);
    first = true;
    for (int e = 0; e < WIRE_ERR_COUNT; e++)
        if (st->garbage_by_reason[e]) {
            fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",", wire_err_name((enum wire_err)e),
                    st->garbage_by_reason[e]);
            first = false;
        }
    fputs("}}\n", f);
    for (size_t i = 0; i < nrows; i++) {
        char a[WIRE_ADDR_STRLEN];
        fprintf(f, "{\"kind\":\"host\",\"t\":%s,\"host\":\"%s\",\"total\":%" PRIu64 ",\"states\":{",
                track_time_str(c->at, ts), wire_addr_str(&rows[i].addr, a), rows[i].total);
        first = true;
        for (int s = 0; s < NSTATES; s++)
            if (rows[i].by_state[s]) {
                fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",", s < TCP_STATE_COUNT ? track_state_name(s) : "unknown",
                        rows[i].by_state[s]);
                first = false;
            }
        fputs("}}\n", f);
    }
    for (int i = 0; i < nan; i++) {
        fprintf(f, "{\"kind\":\"anomaly_count\",\"name\":\"%s\",\"count\":%" PRIu64,
                track_anomaly_name((enum track_anomaly_kind)an[i].kind), an[i].n);
        if (ex && ex->have[an[i].kind]) {
            const struct track_anomaly *e = &ex->first[an[i].kind];
            fprintf(f, ",\"first_t\":%s", track_time_str(e->t, ts));
            if (e->uid[0])
                fprintf(f, ",\"first_uid\":\"%s\"", e->uid);
        }
        fputs("}\n", f);
    }
}

struct track_summary_snapshot *track_summary_snapshot(const struct track *t)
{
    struct collect *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    track_foreach(t, collect_conn, c);
    if (c->failed) {
        track_summary_snapshot_free(c);
        return NULL;
    }
    const struct track_stats *st = track_get_stats(t);
    for (int k = 0; k < TRACK_CS_COUNT; k++)
        c->conn_states[k] += st->conn_states[k];
    c->at = track_now(t);
    /* Compact the map into a sorted array. */
    size_t n = 0;
    for (size_t i = 0; i < c->cap; i++)
        if (c->rows[i].used)
            c->rows[n++] = c->rows[i];
    c->n = n;
    if (n)
        qsort(c->rows, n, sizeof *c->rows, row_cmp);
    return c;
}

void track_summary_snapshot_free(struct track_summary_snapshot *s)
{
    if (!s)
        return;
    free(s->rows);
    free(s);
}

int track_summary_print(FILE *f, const struct track *t, const struct track_summary_snapshot *snap,
                        const struct track_summary_examples *ex, const struct track_summary_opts *opts)
{
    if (!snap)
        return -1;
    struct track_summary_opts def = {0};
    const struct track_summary_opts *o = opts ? opts : &def;
    const struct track_stats *st = track_get_stats(t);
    struct anom_row an[TRACK_ANOM_COUNT];
    int nan = 0;
    for (int k = 0; k < TRACK_ANOM_COUNT; k++)
        if (st->anomalies_by_kind[k])
            an[nan++] = (struct anom_row){k, st->anomalies_by_kind[k]};
    qsort(an, (size_t)nan, sizeof an[0], anom_cmp);
    int max_an = o->max_anomalies > 0 ? o->max_anomalies : 10;
    if (!o->json && nan > max_an)
        nan = max_an;
    if (o->json)
        print_json(f, t, snap, an, nan, ex);
    else
        print_text(f, t, snap, an, nan, ex, o);
    return 0;
}
