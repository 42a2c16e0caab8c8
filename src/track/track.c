/* The tracker: frames in, connections and anomalies out. Decodes the link
 * and IP layers (wire_parse, lenient, checksums verified separately), finds
 * or creates the connection, runs Zeek's endpoint machine and our RFC 9293
 * inference on the segment, and ends connections by reuse, timeout,
 * eviction or end of input. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "track/track_internal.h"

/* The largest IP packet: an IPv6 header and a 65535-byte payload. */
#define SCRATCH_LEN (40u + 65535u)

static inline uint16_t load16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

struct track *track_new(const struct track_config *cfg, const struct track_sink *sink)
{
    struct track *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->cfg = *cfg;
    if (sink)
        t->sink = *sink;
    if (t->cfg.max_conns == 0)
        t->cfg.max_conns = 1;
    if (cfg->watch_uid) {
        snprintf(t->watch_uid, sizeof t->watch_uid, "%s", cfg->watch_uid);
        t->cfg.watch_uid = t->watch_uid;
    }
    /* A connection must live long enough for its thresholds to be seen. */
    tcp_time_t hold = t->cfg.close_wait_leak > t->cfg.fin_wait_2_long ? t->cfg.close_wait_leak
                                                                       : t->cfg.fin_wait_2_long;
    if (t->cfg.timeout[TRACK_TO_CLOSE_WAIT] < hold)
        t->cfg.timeout[TRACK_TO_CLOSE_WAIT] = hold;
    if (t->cfg.timeout[TRACK_TO_FIN_WAIT] < t->cfg.fin_wait_2_long)
        t->cfg.timeout[TRACK_TO_FIN_WAIT] = t->cfg.fin_wait_2_long;
    /* Hash key: only bucket placement depends on it, never the output. */
    uint64_t k0 = splitmix64((uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)t);
    uint64_t k1 = splitmix64(k0 ^ (uint64_t)clock());
    memcpy(t->hash_key, &k0, 8);
    memcpy(t->hash_key + 8, &k1, 8);
    t->scratch = malloc(SCRATCH_LEN);
    if (!t->scratch || track_table_init(t) < 0 || track_aggr_init(t) < 0) {
        track_free(t);
        return NULL;
    }
    return t;
}

void track_free(struct track *t)
{
    if (!t)
        return;
    if (t->buckets)
        track_table_free(t);
    track_aggr_free(t);
    free(t->scratch);
    free(t);
}

const struct track_stats *track_get_stats(const struct track *t)
{
    return &t->stats;
}

const struct track_config *track_get_config(const struct track *t)
{
    return &t->cfg;
}

tcp_time_t track_now(const struct track *t)
{
    return t->now;
}

/* ---- anomalies ---- */

static void side_endpoint(const struct track_conn *c, int s, struct wire_endpoint *ep)
{
    ep->addr = s == 0 ? c->tuple.src : c->tuple.dst;
    ep->port = s == 0 ? c->tuple.sport : c->tuple.dport;
}

static void emit_anomaly(struct track *t, struct track_anomaly *a, const char *fmt, va_list ap)
{
    vsnprintf(a->evidence, sizeof a->evidence, fmt, ap);
    t->stats.anomalies++;
    t->stats.anomalies_by_kind[a->kind]++;
    if (t->sink.anomaly)
        t->sink.anomaly(t->sink.ctx, a);
}

void track_raise(struct track *t, struct track_conn *c, enum track_anomaly_kind kind, tcp_time_t when, int side,
                 const char *fmt, ...)
{
    uint64_t bit = 1ULL << kind;
    if (c->anomalies & bit)
        return; /* once per connection; the first occurrence is the evidence */
    c->anomalies |= bit;
    struct track_anomaly a;
    memset(&a, 0, sizeof a);
    a.kind = kind;
    a.t = when;
    memcpy(a.uid, c->uid, sizeof a.uid);
    side_endpoint(c, c->orig, &a.orig);
    side_endpoint(c, !c->orig, &a.resp);
    a.side = side < 0 ? -1 : (track_is_orig(c, side) ? 0 : 1);
    va_list ap;
    va_start(ap, fmt);
    emit_anomaly(t, &a, fmt, ap);
    va_end(ap);
}

void track_raise_at(struct track *t, enum track_anomaly_kind kind, tcp_time_t when, const struct wire_endpoint *resp,
                    const char *fmt, ...)
{
    struct track_anomaly a;
    memset(&a, 0, sizeof a);
    a.kind = kind;
    a.t = when;
    a.resp = *resp;
    a.side = -1;
    va_list ap;
    va_start(ap, fmt);
    emit_anomaly(t, &a, fmt, ap);
    va_end(ap);
}

/* ---- connection records ---- */

static void conn_info(const struct track_conn *c, struct track_conn_info *info)
{
    memset(info, 0, sizeof *info);
    int o = c->orig, r = !c->orig;
    memcpy(info->uid, c->uid, sizeof info->uid);
    info->ts = c->start_time;
    side_endpoint(c, o, &info->orig);
    side_endpoint(c, r, &info->resp);
    info->duration = c->last_time - c->start_time;
    info->has_duration = info->duration > 0;
    if (info->has_duration) {
        info->orig_bytes = track_zeek_size(c, o);
        info->resp_bytes = track_zeek_size(c, r);
    }
    info->conn_state = track_zeek_conn_state(c);
    info->missed_bytes = c->missed_bytes;
    memcpy(info->history, c->history, sizeof info->history);
    info->orig_pkts = c->z[o].pkts;
    info->orig_ip_bytes = c->z[o].ip_bytes;
    info->resp_pkts = c->z[r].pkts;
    info->resp_ip_bytes = c->z[r].ip_bytes;
    info->orig_state = c->o[o].known ? c->o[o].state : TRACK_STATE_UNKNOWN;
    info->resp_state = c->o[r].known ? c->o[r].state : TRACK_STATE_UNKNOWN;
    info->has_handshake_rtt = c->has_rtt;
    info->handshake_rtt = c->handshake_rtt;
    info->anomalies = c->anomalies;
    info->watched = c->watched;
}

void track_foreach(const struct track *t, void (*fn)(void *ctx, const struct track_conn_info *c), void *ctx)
{
    struct track_conn_info info;
    for (const struct track_conn *c = t->all.head; c; c = c->all_next) {
        conn_info(c, &info);
        fn(ctx, &info);
    }
}

/* The handshake is answered once both sides are synchronized or a RST
 * ended it. */
static bool handshake_resolved(const struct track_conn *c)
{
    for (int s = 0; s < 2; s++)
        if (c->o[s].reset || (c->o[s].known && c->o[s].state == TCP_STATE_CLOSED && c->o[s].seen))
            return true;
    return c->o[0].known && c->o[1].known && c->o[0].state >= TCP_STATE_ESTABLISHED &&
           c->o[1].state >= TCP_STATE_ESTABLISHED;
}

static void pending_done(struct track *t, struct track_conn *c, bool count_if_unanswered)
{
    if (!c->hs_pending)
        return;
    track_list_unlink(&t->pending, c, TRACK_LINK_PENDING);
    c->hs_pending = false;
    if (count_if_unanswered && !c->hs_counted && !handshake_resolved(c)) {
        c->hs_counted = true;
        track_aggr_unanswered_syn(t, c, c->hs_syn_time);
    }
}

enum end_reason { END_FLUSH, END_EXPIRED, END_EVICTED, END_REUSED };

static void conn_end(struct track *t, struct track_conn *c, enum end_reason why, tcp_time_t when)
{
    if (why == END_EVICTED)
        track_raise(t, c, TRACK_ANOM_EVICTED, when, -1, "table full (%zu connections): evicted after %.3fs idle",
                    t->cfg.max_conns, (double)(when - c->last_activity) / 1e6);
    track_obs_finish(t, c, when);
    pending_done(t, c, true);
    struct track_conn_info info;
    conn_info(c, &info);
    t->stats.conn_states[info.conn_state]++;
    switch (why) {
    case END_EXPIRED:
        t->stats.expired++;
        break;
    case END_EVICTED:
        t->stats.evicted++;
        break;
    case END_REUSED:
        t->stats.reused++;
        break;
    default:
        break;
    }
    track_table_remove(t, c);
    if (t->sink.conn)
        t->sink.conn(t->sink.ctx, &info);
    track_conn_release(t, c);
}

/* Zeek-style uid: "C" and 17 base62 digits, derived from the seed, the
 * connection counter, its start time and tuple (same input, same uids). */
static void make_uid(struct track *t, const struct wire_tuple *tu, tcp_time_t now, char out[TRACK_UID_LEN])
{
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    uint64_t h = splitmix64(t->cfg.seed ^ splitmix64(++t->conn_counter));
    h = splitmix64(h ^ now);
    for (int i = 0; i < 16; i++)
        h = splitmix64(h ^ tu->src.b[i] ^ ((uint64_t)tu->dst.b[i] << 8));
    uint64_t lo = splitmix64(h ^ ((uint64_t)tu->sport << 16 | tu->dport));
    uint64_t hi = splitmix64(lo);
    out[0] = 'C';
    for (int i = 1; i < 18; i++) {
        uint64_t *w = i < 10 ? &lo : &hi;
        out[i] = digits[*w % 62];
        *w /= 62;
    }
    out[18] = '\0';
}

static void evict_one(struct track *t, tcp_time_t now)
{
    struct track_conn *victim = NULL;
    for (int k = 0; k < TRACK_TO_COUNT; k++) {
        struct track_conn *h = t->lists[k].head;
        if (h && (!victim || h->last_activity < victim->last_activity))
            victim = h;
    }
    if (victim)
        conn_end(t, victim, END_EVICTED, now);
}

static struct track_conn *conn_new(struct track *t, const struct wire_seg *seg, uint64_t hash, tcp_time_t now)
{
    while (t->stats.active >= t->cfg.max_conns && t->stats.active > 0)
        evict_one(t, now);
    struct track_conn *c = track_conn_alloc(t);
    if (!c)
        return NULL;
    c->tuple = seg->tuple;
    c->hash = hash;
    c->start_time = c->last_time = c->last_activity = now;
    make_uid(t, &seg->tuple, now, c->uid);
    c->watched = t->watch_uid[0] && strcmp(t->watch_uid, c->uid) == 0;
    track_zeek_init(c);
    track_obs_init(c, now);
    if (track_zeek_want_flip(seg))
        track_zeek_flip(c); /* Zeek's NewConn: responder guessed by port */
    track_table_insert(t, c);
    t->stats.connections++;
    return c;
}

/* ---- time ---- */

void track_advance(struct track *t, tcp_time_t now)
{
    if (now > t->now || !t->started) {
        t->now = now;
        t->started = true;
    }
    now = t->now;
    while (t->pending.head && t->pending.head->hs_syn_time + t->cfg.syn_answer_timeout <= now)
        pending_done(t, t->pending.head, true);
    for (;;) {
        struct track_conn *victim = NULL;
        tcp_time_t due = 0;
        for (int k = 0; k < TRACK_TO_COUNT; k++) {
            struct track_conn *h = t->lists[k].head;
            if (!h)
                continue;
            tcp_time_t d = h->last_activity + t->cfg.timeout[k];
            if (d <= now && (!victim || d < due)) {
                victim = h;
                due = d;
            }
        }
        if (!victim)
            break;
        conn_end(t, victim, END_EXPIRED, due);
    }
}

void track_flush(struct track *t)
{
    while (t->all.head)
        conn_end(t, t->all.head, END_FLUSH, t->now);
}

/* ---- segments ---- */

static void report_segment(struct track *t, struct track_conn *c, int s, const struct wire_seg *seg, tcp_time_t now,
                           bool bad_checksum)
{
    if (!c->watched || !t->sink.segment)
        return;
    struct track_segment_info si;
    memset(&si, 0, sizeof si);
    si.t = now;
    side_endpoint(c, s, &si.src);
    side_endpoint(c, !s, &si.dst);
    si.flags = seg->flags;
    si.seq = seg->seq;
    si.ack = seg->ack;
    si.len = seg->payload_len;
    si.win = seg->window;
    si.src_state = c->o[s].known ? c->o[s].state : TRACK_STATE_UNKNOWN;
    si.dst_state = c->o[!s].known ? c->o[!s].state : TRACK_STATE_UNKNOWN;
    si.bad_checksum = bad_checksum;
    t->sink.segment(t->sink.ctx, &si);
}

static int side_of(const struct track_conn *c, const struct wire_tuple *tu)
{
    return (tu->sport == c->tuple.sport && tu->dport == c->tuple.dport && wire_addr_eq(&tu->src, &c->tuple.src)) ? 0
                                                                                                                 : 1;
}

static void segment_input(struct track *t, const struct wire_seg *seg, tcp_time_t now, uint32_t ip_len,
                          bool bad_checksum)
{
    uint64_t hash = track_tuple_hash(t, &seg->tuple);
    struct track_conn *c = track_table_find(t, &seg->tuple, hash);
    char prev_uid[TRACK_UID_LEN] = "";
    int prev_states[2] = {0, 0};
    tcp_time_t prev_last = 0;
    bool first = false;

    struct track_obs_side carried[2];
    bool carry = false, carry_swapped = false;
    if (c && !bad_checksum && track_zeek_is_reuse(t, c, side_of(c, &seg->tuple), seg, now)) {
        /* Zeek starts a new record even while the old one is open (a SYN
         * with another ISN); the endpoints' TCBs are the same, so is our view. */
        carry = !c->z[0].did_close && !c->z[1].did_close;
        if (carry) {
            memcpy(carried, c->o, sizeof carried);
            carry_swapped = side_of(c, &seg->tuple) == 1;
        }
        memcpy(prev_uid, c->uid, sizeof prev_uid);
        for (int r = 0; r < 2; r++) {
            int s = r == 0 ? c->orig : !c->orig;
            prev_states[r] = c->o[s].known ? c->o[s].state : TRACK_STATE_UNKNOWN;
        }
        prev_last = c->last_activity;
        conn_end(t, c, END_REUSED, now);
        c = NULL;
    }
    if (!c) {
        c = conn_new(t, seg, hash, now);
        if (!c)
            return; /* out of memory: the segment is lost, never the process */
        first = !carry;
        if (carry)
            track_obs_carry_over(t, c, carried, carry_swapped, now);
        if (prev_uid[0] && !carry)
            track_raise(t, c, TRACK_ANOM_PORT_REUSE, now, 0,
                        "4-tuple reused %.3fs after connection %s (orig %s, resp %s)",
                        (double)(now - prev_last) / 1e6, prev_uid, track_state_name(prev_states[0]),
                        track_state_name(prev_states[1]));
    }
    int s = side_of(c, &seg->tuple);

    if (bad_checksum && t->cfg.verify_checksums) {
        /* Zeek's default: the segment is recorded in the history and dropped. */
        track_zeek_bad_checksum(c, s);
        track_raise(t, c, TRACK_ANOM_BAD_TCP_CHECKSUM, now, s, "%s sent a segment with a bad checksum",
                    track_role(c, s));
        report_segment(t, c, s, seg, now, true);
        c->last_activity = now;
        track_table_touch(t, c);
        return;
    }

    track_zeek_segment(t, c, s, seg, now, ip_len);
    track_obs_segment(t, c, s, seg, now, first);

    if (first && (seg->flags & (WIRE_SYN | WIRE_ACK | WIRE_RST)) == WIRE_SYN) {
        c->hs_pending = true;
        c->hs_syn_time = now;
        track_list_push(&t->pending, c, TRACK_LINK_PENDING);
    }
    if (c->hs_pending && handshake_resolved(c))
        pending_done(t, c, false);

    c->last_activity = now;
    track_table_touch(t, c);
    report_segment(t, c, s, seg, now, bad_checksum);
}

static void garbage(struct track *t, enum wire_err why)
{
    t->stats.garbage++;
    t->stats.garbage_by_reason[why]++;
}

/* RFC 1071 over the IPv4 header, and the TCP checksum over the segment. */
static bool checksums_ok(const uint8_t *p, size_t len, const struct wire_seg *seg, struct track_stats *st)
{
    const uint8_t *tcp;
    if ((p[0] >> 4) == 4) {
        size_t ihl = (size_t)(p[0] & 0x0f) * 4;
        if (wire_csum_fold(wire_csum_add(0, p, ihl)) != 0) {
            st->bad_ip_checksum++;
            return false;
        }
        tcp = p + ihl;
    } else if (p[6] == 6) {
        tcp = p + 40;
    } else {
        /* IPv6 extension headers: let the codec find the TCP header. */
        struct wire_seg tmp;
        enum wire_err e = wire_parse(p, len, WIRE_PARSE_LENIENT, &tmp);
        if (e == WIRE_ERR_BAD_TCP_CHECKSUM) {
            st->bad_tcp_checksum++;
            return false;
        }
        return true;
    }
    if (wire_tcp_checksum(&seg->tuple.src, &seg->tuple.dst, tcp, (size_t)(p + len - tcp)) != 0) {
        st->bad_tcp_checksum++;
        return false;
    }
    return true;
}

static void ip_input(struct track *t, tcp_time_t now, const uint8_t *pkt, size_t caplen, size_t wirelen)
{
    track_advance(t, now);
    now = t->now;
    if (wirelen < caplen)
        wirelen = caplen;
    if (caplen < 1) {
        garbage(t, WIRE_ERR_TRUNCATED_IP);
        return;
    }
    size_t total;
    bool patch_len = false;
    switch (pkt[0] >> 4) {
    case 4:
        if (caplen < 20) {
            garbage(t, WIRE_ERR_TRUNCATED_IP);
            return;
        }
        total = load16(pkt + 2);
        if (total == 0) { /* segmentation offload on the capturing host */
            total = wirelen > 0xffff ? 0xffff : wirelen;
            patch_len = true;
        }
        break;
    case 6:
        if (caplen < 40) {
            garbage(t, WIRE_ERR_TRUNCATED_IP);
            return;
        }
        total = 40 + (size_t)load16(pkt + 4);
        break;
    default:
        garbage(t, WIRE_ERR_BAD_IP_VERSION);
        return;
    }
    if (total > wirelen || total > SCRATCH_LEN) {
        garbage(t, WIRE_ERR_BAD_IP_LENGTH);
        return;
    }
    bool truncated = total > caplen;
    const uint8_t *p = pkt;
    if (truncated || patch_len) {
        /* Pad what was captured to the IP length so the headers parse;
         * the payload is never read. */
        size_t have = caplen < total ? caplen : total;
        memcpy(t->scratch, pkt, have);
        memset(t->scratch + have, 0, total - have);
        if (patch_len) {
            t->scratch[2] = (uint8_t)(total >> 8);
            t->scratch[3] = (uint8_t)total;
        }
        p = t->scratch;
    }
    struct wire_seg seg;
    enum wire_err e = wire_parse(p, total, WIRE_PARSE_LENIENT | WIRE_PARSE_NO_CHECKSUM, &seg);
    switch (e) {
    case WIRE_ERR_OK:
        break;
    case WIRE_ERR_NOT_TCP:
        t->stats.not_tcp++;
        return;
    case WIRE_ERR_IP_FRAGMENT:
        t->stats.fragments++;
        return;
    default:
        garbage(t, e);
        return;
    }
    size_t header_end = (size_t)(seg.payload - p);
    if (truncated && header_end > caplen) {
        garbage(t, WIRE_ERR_TRUNCATED_TCP); /* the TCP header itself was cut */
        return;
    }
    if (seg.tuple.sport == 0 || seg.tuple.dport == 0) {
        garbage(t, WIRE_ERR_PORT_ZERO);
        return;
    }
    bool bad = false;
    if (truncated) {
        t->stats.truncated++;
        t->stats.unchecked++;
    } else if (!patch_len) {
        bad = !checksums_ok(p, total, &seg, &t->stats);
    } else {
        t->stats.unchecked++;
    }
    t->stats.segments++;
    segment_input(t, &seg, now, (uint32_t)total, bad);
}

void track_ip(struct track *t, tcp_time_t now, const uint8_t *pkt, size_t caplen, size_t wirelen)
{
    t->stats.frames++;
    t->stats.frame_bytes += wirelen > caplen ? wirelen : caplen;
    ip_input(t, now, pkt, caplen, wirelen);
}

void track_frame(struct track *t, int dlt, tcp_time_t now, const uint8_t *frame, size_t caplen, size_t wirelen)
{
    t->stats.frames++;
    if (wirelen < caplen)
        wirelen = caplen;
    t->stats.frame_bytes += wirelen;
    int why = 0;
    long off = track_link_ip_offset(dlt, frame, caplen, &why);
    if (off < 0) {
        track_advance(t, now);
        if (why == 0)
            t->stats.not_ip++;
        else if (why == 1)
            garbage(t, WIRE_ERR_TRUNCATED_IP);
        else
            t->stats.unsupported_link++;
        return;
    }
    ip_input(t, now, frame + off, caplen - (size_t)off, wirelen - (size_t)off);
}
