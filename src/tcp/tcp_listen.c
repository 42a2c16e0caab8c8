/* Passive OPEN: the listener, its SYN (half-open) queue of struct tcp_req
 * and its accept queue, bounded like Linux's (RFC 9293 §3.10.7.2; Linux
 * tcp_conn_request, tcp_check_req, reqsk_timer_handler). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp.h"

static struct wire_tuple listener_tuple(const struct tcp_listener *l)
{
    struct wire_tuple t = {0};
    t.src = l->local.addr;
    t.sport = l->local.port;
    if (wire_addr_is_v4(&l->local.addr))
        t.dst = wire_addr_v4(0);
    return t;
}

static void listener_state(struct tcp_host *h, struct tcp_listener *l, enum tcp_state from,
                           enum tcp_state to, tcp_time_t now)
{
    struct wire_tuple t = listener_tuple(l);
    if (h->ops.state_change)
        h->ops.state_change(h->ops.ctx, l->sd, &t, from, to, now);
}

struct tcp_listener *tcp_listen(struct tcp_host *h, int sd, const struct wire_endpoint *local,
                                int backlog, const struct tcp_sockopts *opt, uint32_t rcvbuf, uint32_t sndbuf,
                                tcp_time_t now)
{
    uint32_t idx = 0;
    while (idx < h->listener_cap && h->listener_tab[idx])
        idx++;
    if (idx == h->listener_cap) {
        uint32_t cap = h->listener_cap ? h->listener_cap * 2 : 8;
        if (cap > 65536)
            return NULL;
        struct tcp_listener **tab = realloc(h->listener_tab, cap * sizeof *tab);
        if (!tab)
            return NULL;
        memset(tab + h->listener_cap, 0, (cap - h->listener_cap) * sizeof *tab);
        h->listener_tab = tab;
        h->listener_cap = cap;
    }
    struct tcp_listener *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->idx = (uint16_t)idx;
    h->listener_tab[idx] = l;
    l->sd = sd;
    l->local = *local;
    /* Linux inet_listen: the backlog is capped by somaxconn. */
    if (backlog < 0)
        backlog = 0;
    if (backlog > h->cfg->somaxconn)
        backlog = (int)h->cfg->somaxconn;
    l->backlog = (uint32_t)backlog;
    l->opt = *opt;
    l->rcvbuf = rcvbuf;
    l->sndbuf = sndbuf;
    l->next = h->listeners;
    h->listeners = l;
    listener_state(h, l, TCP_STATE_CLOSED, TCP_STATE_LISTEN, now);
    return l;
}

struct tcp_listener *tcp_listener_at(const struct tcp_host *h, uint16_t idx)
{
    return h->listener_tab[idx];
}

/* Linux sk_acceptq_is_full: more than `backlog` waiting. */
static bool accept_queue_full(const struct tcp_listener *l) { return l->accept_q_len > l->backlog; }

/* The SYN queue's bound: the backlog, within tcp_max_syn_backlog, at least 1. */
uint32_t tcp_syn_queue_max(const struct tcp_host *h, const struct tcp_listener *l)
{
    uint32_t max = l->backlog;
    if (max > (uint32_t)h->cfg->tcp_max_syn_backlog)
        max = (uint32_t)h->cfg->tcp_max_syn_backlog;
    return max ? max : 1;
}

/* Linux inet_csk_reqsk_queue_is_full. */
static bool syn_queue_full(const struct tcp_host *h, const struct tcp_listener *l)
{
    return l->syn_q_len >= tcp_syn_queue_max(h, l);
}

static uint16_t synack_window(const struct tcp_listener *l)
{
    return (uint16_t)(l->rcvbuf > 65535u ? 65535u : l->rcvbuf);
}

static uint16_t listener_mss(const struct tcp_host *h, const struct tcp_listener *l)
{
    uint32_t mss = (uint32_t)(h->cfg->tcp_mss < 88 ? 88 : h->cfg->tcp_mss > 65495 ? 65495 : h->cfg->tcp_mss);
    if (l->opt.mss_clamp && l->opt.mss_clamp < mss)
        mss = l->opt.mss_clamp;
    return (uint16_t)mss;
}

/* The SYN-ACK of a half-open entry (or of a cookie): options only as the
 * SYN offered them. */
static void send_synack_ts(struct tcp_host *h, const struct tcp_req *r, const struct wire_tuple *t,
                           uint32_t ts_val, bool rtx)
{
    const struct tcp_listener *l = tcp_listener_at(h, r->listener);
    struct wire_seg seg;
    tcp_seg_init(&seg, WIRE_SYN | WIRE_ACK, r->iss, r->irs + 1);
    seg.window = synack_window(l);
    seg.opt.present = WIRE_OPT_MSS;
    seg.opt.mss = listener_mss(h, l);
    if (r->peer_wscale != 0xff) {
        seg.opt.present |= WIRE_OPT_WSCALE;
        seg.opt.wscale = tcp_wscale_for(l->rcvbuf);
    }
    if (r->sack_ok)
        seg.opt.present |= WIRE_OPT_SACK_PERM;
    if (r->ts_ok) {
        seg.opt.present |= WIRE_OPT_TIMESTAMP;
        seg.opt.ts_val = ts_val;
        seg.opt.ts_ecr = r->ts_recent;
    }
    tcp_emit_rtx(h, t, &seg, rtx);
}

void tcp_req_get_tuple(const struct tcp_req *r, struct wire_tuple *t)
{
    tcp_tuple_unpack(t, (const uint8_t *)r + offsetof(struct tcp_req, tuple), r->v6);
}

static void send_synack(struct tcp_host *h, const struct tcp_req *r, bool rtx, tcp_time_t now)
{
    struct wire_tuple t;
    tcp_req_get_tuple(r, &t);
    send_synack_ts(h, r, &t, tcp_ts_now(now) + tcp_ts_offset(h, &t), rtx);
}

static tcp_time_t synack_timeout(const struct tcp_host *h, unsigned retries)
{
    tcp_time_t rto = TCP_MSEC(h->cfg->tcp_rto_initial_ms) << (retries > 20 ? 20 : retries);
    tcp_time_t max = TCP_MSEC(h->cfg->tcp_rto_max_ms);
    return rto > max ? max : rto;
}

/* ---- SYN-ACK timers: a FIFO per retry count, each in expiry order (an
 * arm earlier than the tail, after a change of tcp_rto_initial_ms, walks
 * back to its place) ---- */
static struct tcp_req *req_at(const struct tcp_host *h, uint32_t ref)
{
    return tcp_ref_ptr(h, ref);
}

static void req_levels_update(struct tcp_host *h, unsigned lv)
{
    if (h->req_head[lv])
        h->req_levels |= 1u << lv;
    else
        h->req_levels &= ~(1u << lv);
}

static unsigned req_level(const struct tcp_req *r)
{
    return r->retries < TCP_REQ_LEVELS ? r->retries : TCP_REQ_LEVELS - 1;
}

static void req_arm(struct tcp_host *h, uint32_t ref, struct tcp_req *r, tcp_time_t expires)
{
    unsigned lv = req_level(r);
    r->expires_lo = (uint32_t)expires;
    r->expires_hi = (uint32_t)(expires >> 32);
    uint32_t prev = h->req_tail[lv];
    while (prev && tcp_req_expires(req_at(h, prev)) > expires)
        prev = req_at(h, prev)->qprev;
    uint32_t next = prev ? req_at(h, prev)->qnext : h->req_head[lv];
    r->qprev = prev;
    r->qnext = next;
    if (prev)
        req_at(h, prev)->qnext = ref;
    else
        h->req_head[lv] = ref;
    if (next)
        req_at(h, next)->qprev = ref;
    else
        h->req_tail[lv] = ref;
    h->req_levels |= 1u << lv;
}

static void req_disarm(struct tcp_host *h, struct tcp_req *r)
{
    unsigned lv = req_level(r);
    if (r->qprev)
        req_at(h, r->qprev)->qnext = r->qnext;
    else
        h->req_head[lv] = r->qnext;
    if (r->qnext)
        req_at(h, r->qnext)->qprev = r->qprev;
    else
        h->req_tail[lv] = r->qprev;
    r->qnext = r->qprev = 0;
    req_levels_update(h, lv);
}

tcp_time_t tcp_req_next_timer(const struct tcp_host *h)
{
    tcp_time_t next = TCP_TIME_NEVER;
    for (uint32_t m = h->req_levels; m; m &= m - 1) {
        tcp_time_t t = tcp_req_expires(req_at(h, h->req_head[__builtin_ctz(m)]));
        if (t < next)
            next = t;
    }
    return next;
}

static void req_timer(struct tcp_host *h, uint32_t ref, struct tcp_req *r, tcp_time_t now);

void tcp_req_expire(struct tcp_host *h, tcp_time_t now)
{
    uint32_t best = 0;
    tcp_time_t best_t = now;
    for (uint32_t m = h->req_levels; m; m &= m - 1) {
        uint32_t ref = h->req_head[__builtin_ctz(m)];
        tcp_time_t t = tcp_req_expires(req_at(h, ref));
        if (t < best_t || (t == best_t && !best)) {
            best = ref;
            best_t = t;
        }
    }
    if (best) {
        struct tcp_req *r = req_at(h, best);
        req_disarm(h, r);
        req_timer(h, best, r, now);
    }
}

/* Takes a half-open entry off its listener's SYN queue and its timer FIFO
 * (the table is the caller's: the entry may pass its place to its child). */
static void req_dequeue(struct tcp_host *h, uint32_t ref, struct tcp_req *r)
{
    if (r->qnext || r->qprev || h->req_head[req_level(r)] == ref)
        req_disarm(h, r);
    struct tcp_listener *l = tcp_listener_at(h, r->listener);
    l->syn_q_len--;
    l->syn_q_young -= r->retries == 0;
}

/* Takes a half-open entry out of the table, its queue and its timer. */
static void req_unlink(struct tcp_host *h, uint32_t ref, struct tcp_req *r, struct wire_tuple *t)
{
    tcp_req_get_tuple(r, t);
    tcp_table_remove(h, ref, t);
    req_dequeue(h, ref, r);
}

/* Drops a half-open entry: to LISTEN after a reset (RFC 9293 §3.10.7.4),
 * to CLOSED when it timed out. */
static void req_drop(struct tcp_host *h, uint32_t ref, struct tcp_req *r, enum tcp_state to, tcp_time_t now)
{
    struct wire_tuple t;
    req_unlink(h, ref, r, &t);
    tcp_set_state_raw(h, &r->state, &t, -1, to, now);
    pool_free(&h->req_pool[r->v6], TCP_REF_INDEX(ref));
}

static void req_from_syn(struct tcp_host *h, struct tcp_listener *l, const struct wire_seg *seg,
                         const struct wire_tuple *local, struct tcp_req *r);
static struct tcp_conn *child_conn(struct tcp_host *h, const struct tcp_req *r, uint32_t req_ref,
                                   const struct wire_tuple *t, const struct wire_seg *seg, tcp_time_t now);

/* A stateless SYN-ACK whose ISN is a cookie (RFC 4987 §3.6). */
static void send_cookie_synack(struct tcp_host *h, struct tcp_listener *l, const struct wire_seg *seg,
                               const struct wire_tuple *local, tcp_time_t now)
{
    struct tcp_req r = {0};
    req_from_syn(h, l, seg, local, &r);
    bool v6 = !wire_addr_is_v4(&local->src);
    unsigned index = tcp_cookie_mss_index(r.peer_mss, v6);
    r.iss = tcp_cookie_make(h, local, r.irs, index, now);
    if (!r.ts_ok) { /* without timestamps, window scale and SACK cannot survive */
        r.peer_wscale = 0xff;
        r.sack_ok = false;
    }
    uint32_t ts = tcp_cookie_ts_encode(tcp_ts_now(now) + tcp_ts_offset(h, local),
                                       r.peer_wscale == 0xff ? -1 : r.peer_wscale, r.sack_ok);
    h->stats->SyncookiesSent++;
    send_synack_ts(h, &r, local, ts, false);
}

/* SYN to a listener: a half-open entry and a SYN-ACK. */
static void syn_input(struct tcp_host *h, struct tcp_listener *l, const struct wire_seg *seg,
                      const struct wire_tuple *local, tcp_time_t now)
{
    if (accept_queue_full(l)) {
        h->stats->ListenOverflows++;
        h->stats->ListenDrops++;
        return;
    }
    /* tcp_syncookies: 0 never, 1 when the SYN queue is full, 2 always. */
    bool full = syn_queue_full(h, l);
    if (full) {
        l->overflowed = true;
        l->last_overflow = now;
    }
    int64_t cookies = h->cfg->tcp_syncookies;
    if (cookies == 2 || (cookies == 1 && full)) {
        h->stats->TCPReqQFullDoCookies++; /* Linux tcp_syn_flood_action: with =2 too */
        send_cookie_synack(h, l, seg, local, now);
        return;
    }
    if (full) {
        h->stats->TCPReqQFullDrop++;
        h->stats->ListenDrops++;
        return;
    }
    bool v6 = !tcp_tuple_is_v4(local);
    uint32_t index;
    struct tcp_req *r = pool_alloc(&h->req_pool[v6], &index);
    if (!r) {
        h->stats->ListenDrops++;
        return;
    }
    uint32_t ref = TCP_REF(v6 ? TCP_REF_REQ6 : TCP_REF_REQ4, index);
    req_from_syn(h, l, seg, local, r);
    r->v6 = v6;
    tcp_tuple_pack((uint8_t *)r + offsetof(struct tcp_req, tuple), local, v6);
    r->iss = tcp_isn(h, local, now);
    if (h->tw_isn_valid)
        r->iss = h->tw_isn;
    if (tcp_table_insert(h, ref, local) < 0) {
        pool_free(&h->req_pool[v6], index);
        h->stats->ListenDrops++;
        return;
    }
    l->syn_q_len++;
    l->syn_q_young++;
    tcp_set_state_raw(h, &r->state, local, -1, TCP_STATE_SYN_RECEIVED, now);
    send_synack_ts(h, r, local, tcp_ts_now(now) + tcp_ts_offset(h, local), false);
    req_arm(h, ref, r, now + synack_timeout(h, 0));
}

/* What a half-open entry keeps of a SYN. */
static void req_from_syn(struct tcp_host *h, struct tcp_listener *l, const struct wire_seg *seg,
                         const struct wire_tuple *local, struct tcp_req *r)
{
    const struct tcp_config *cfg = h->cfg;
    (void)local;
    r->state = TCP_STATE_LISTEN;
    r->listener = l->idx;
    r->irs = seg->seq;
    r->peer_mss = tcp_peer_mss(seg);
    r->peer_wscale = (cfg->tcp_window_scaling && (seg->opt.present & WIRE_OPT_WSCALE))
                         ? (seg->opt.wscale > WIRE_MAX_WSCALE ? WIRE_MAX_WSCALE : seg->opt.wscale)
                         : 0xff;
    r->sack_ok = cfg->tcp_sack && (seg->opt.present & WIRE_OPT_SACK_PERM);
    r->ts_ok = cfg->tcp_timestamps && (seg->opt.present & WIRE_OPT_TIMESTAMP);
    r->ts_recent = seg->opt.ts_val;
}

/* The final ACK of a cookie handshake: if SEG.ACK-1 is a valid cookie for
 * this 4-tuple and SEG.SEQ-1, the connection is made straight into the
 * accept queue (Linux cookie_v4_check). Returns false if it was not one. */
static bool cookie_ack_input(struct tcp_host *h, struct tcp_listener *l, const struct wire_seg *seg,
                             const struct wire_tuple *local, tcp_time_t now)
{
    int64_t mode = h->cfg->tcp_syncookies;
    /* Mode 1 looks at cookies only after a recent overflow (Linux
     * tcp_synq_no_recent_overflow: two minutes). */
    if (mode == 0 || (mode == 1 && (!l->overflowed || now - l->last_overflow > TCP_SEC(120))))
        return false;
    uint32_t peer_isn = seg->seq - 1;
    int index = tcp_cookie_check(h, local, peer_isn, seg->ack - 1, now);
    int wscale = -1;
    bool sack = false;
    bool has_ts = seg->opt.present & WIRE_OPT_TIMESTAMP;
    if (index < 0 || (has_ts && !tcp_cookie_ts_decode(seg->opt.ts_ecr, &wscale, &sack))) {
        h->stats->SyncookiesFailed++;
        return false; /* answered with a RST, as any stray ACK */
    }
    h->stats->SyncookiesRecv++;
    if (accept_queue_full(l)) {
        h->stats->ListenOverflows++;
        h->stats->ListenDrops++;
        return true;
    }
    bool v6 = !wire_addr_is_v4(&local->src);
    struct tcp_req r = {0};
    r.listener = l->idx;
    r.iss = seg->ack - 1;
    r.irs = peer_isn;
    r.peer_mss = tcp_cookie_mss((unsigned)index, v6);
    r.ts_ok = has_ts && h->cfg->tcp_timestamps;
    r.ts_recent = seg->opt.ts_val;
    r.peer_wscale = wscale >= 0 && h->cfg->tcp_window_scaling ? (uint8_t)wscale : 0xff;
    r.sack_ok = sack && h->cfg->tcp_sack;
    struct tcp_conn *c = child_conn(h, &r, 0, local, seg, now);
    if (!c) {
        h->stats->ListenDrops++;
        return true;
    }
    if (seg->payload_len || (seg->flags & WIRE_FIN))
        tcp_conn_input(c, seg, now); /* data on the cookie ACK is not lost */
    return true;
}

/* RFC 9293 §3.10.7.2: LISTEN. */
void tcp_listen_input(struct tcp_host *h, struct tcp_listener *l, const struct wire_seg *seg,
                      const struct wire_tuple *local, tcp_time_t now)
{
    if (seg->flags & WIRE_RST)
        return; /* first: ignore a RST */
    if ((seg->flags & (WIRE_ACK | WIRE_SYN)) == WIRE_ACK && cookie_ack_input(h, l, seg, local, now))
        return;
    if (seg->flags & WIRE_ACK) {
        /* second: any ACK is bad here: <SEQ=SEG.ACK><CTL=RST> */
        h->stats->ListenDrops += !(seg->flags & WIRE_SYN);
        tcp_send_reset_reply(h, seg, now);
        return;
    }
    if (seg->flags & WIRE_SYN)
        syn_input(h, l, seg, local, now);
}

/* Linux reqsk_timer_handler: once the SYN queue is over half full, entries
 * whose SYN-ACKs already timed out get fewer retries (down to 2), the
 * fewer the more of the queue is old: a flood's spoofed entries make way
 * for clients that answer. */
static int synack_retry_limit(const struct tcp_host *h, const struct tcp_listener *l)
{
    int max = (int)h->cfg->tcp_synack_retries;
    uint32_t qlen = l->syn_q_len, floor = l->backlog > 8 ? l->backlog : 8;
    if ((qlen << 1) > floor) {
        uint64_t young = (uint64_t)l->syn_q_young << 1;
        while (max > 2 && qlen >= young) {
            max--;
            young <<= 1;
        }
    }
    return max;
}

/* SYN-ACK retransmission with backoff; after tcp_synack_retries the entry goes. */
static void req_timer(struct tcp_host *h, uint32_t ref, struct tcp_req *r, tcp_time_t now)
{
    struct tcp_listener *l = tcp_listener_at(h, r->listener);
    if (r->retries >= synack_retry_limit(h, l)) {
        h->stats->AttemptFails++;
        req_drop(h, ref, r, TCP_STATE_CLOSED, now);
        return;
    }
    l->syn_q_young -= r->retries == 0;
    r->retries++;
    h->stats->TCPSynRetrans++;
    h->stats->RetransSegs++;
    h->stats->TCPTimeouts++;
    send_synack(h, r, true, now);
    req_arm(h, ref, r, now + synack_timeout(h, r->retries));
}

/* The full connection that the final ACK of a passive open creates, queued
 * for accept(): from the half-open entry r, whose place in the table it
 * takes (req_ref), or from a cookie's reconstruction of one (req_ref 0:
 * inserted; no round-trip sample). */
static struct tcp_conn *child_conn(struct tcp_host *h, const struct tcp_req *r, uint32_t req_ref,
                                   const struct wire_tuple *t, const struct wire_seg *seg, tcp_time_t now)
{
    bool from_cookie = req_ref == 0;
    struct tcp_listener *l = tcp_listener_at(h, r->listener);
    struct tcp_conn *c = tcp_conn_new(h, t, &l->opt, l->rcvbuf, l->sndbuf);
    if (!c)
        return NULL;
    c->passive = true;
    c->ts_offset = tcp_ts_offset(h, t);
    c->iss = r->iss;
    c->irs = r->irs;
    c->snd_una = c->snd_nxt = c->snd_max = r->iss + 1;
    c->recover = c->snd_sml = r->iss; /* RFC 6582 §3.2 */
    c->rcv_nxt = r->irs + 1;
    c->rcv_adv = c->rcv_nxt + synack_window(l);
    c->max_rcv_wnd = synack_window(l);
    c->last_ack_sent = c->rcv_nxt;
    c->wscale_ok = r->peer_wscale != 0xff;
    c->snd_wscale = c->wscale_ok ? r->peer_wscale : 0;
    if (!c->wscale_ok)
        c->rcv_wscale = 0;
    c->sack_ok = r->sack_ok;
    c->ts_ok = r->ts_ok;
    c->ts_recent = (seg->opt.present & WIRE_OPT_TIMESTAMP) ? seg->opt.ts_val : r->ts_recent;
    uint32_t mss = r->peer_mss < c->adv_mss ? r->peer_mss : c->adv_mss;
    if (c->ts_ok)
        mss -= 12;
    c->mss = (uint16_t)(mss < 64 ? 64 : mss);
    c->cwnd = 10u * c->mss;
    c->snd_wnd = (uint32_t)seg->window << c->snd_wscale;
    c->max_snd_wnd = c->snd_wnd;
    c->snd_wl1 = seg->seq;
    c->snd_wl2 = seg->ack;
    if (from_cookie) {
        /* no sample: keep the initial RTO */
    } else if (r->retries == 0) { /* RFC 6298 §2.2: the first sample, from the SYN-ACK */
        tcp_time_t sent = tcp_req_expires(r) - synack_timeout(h, 0);
        tcp_time_t rtt = now > sent ? now - sent : 1;
        c->srtt_us = (uint32_t)rtt;
        c->rttvar_us = (uint32_t)rtt / 2;
        uint64_t var = 4ull * c->rttvar_us, floor = TCP_MSEC(h->cfg->tcp_rto_min_ms);
        c->rto_us = (uint32_t)(c->srtt_us + (var > floor ? var : floor));
    } else {
        c->rto_us = 3000000; /* RFC 6298 §5.7 */
    }
    c->e.state = TCP_STATE_SYN_RECEIVED;
    if (!from_cookie) {
        tcp_table_replace(h, req_ref, c->e.ref, t); /* Linux inet_ehash_insert(child, req) */
        c->e.hashed = true;
    } else if (tcp_entry_insert(h, &c->e) < 0) {
        tcp_conn_free(c);
        return NULL;
    }
    h->stats->PassiveOpens++;
    tcp_set_state(h, &c->e, -1, TCP_STATE_ESTABLISHED, now);
    c->last_rcv = now;
    tcp_keepalive_reset(c, now);
    c->listener = l->idx;
    c->in_accept_q = true;
    if (l->accept_tail)
        l->accept_tail->accept_next = c->e.ref;
    else
        l->accept_head = c;
    l->accept_tail = c;
    l->accept_q_len++;
    if (h->ops.wake)
        h->ops.wake(h->ops.ctx, l->sd);
    return c;
}

/* Linux tcp_in_window for a half-open entry. */
static bool req_in_window(const struct tcp_host *h, const struct tcp_req *r, const struct wire_seg *seg)
{
    uint32_t s_win = r->irs + 1, e_win = s_win + synack_window(tcp_listener_at(h, r->listener));
    uint32_t seq = seg->seq, end = seg->seq + wire_seg_len(seg);
    if (seq == s_win)
        return true;
    if (seq_gt(end, s_win) && seq_lt(seq, e_win))
        return true;
    return seq == e_win && seq == end;
}

/* SEGMENT ARRIVES in a passive SYN-RECEIVED (RFC 9293 §3.10.7.4, Linux tcp_check_req). */
void tcp_req_input(struct tcp_host *h, uint32_t ref, const struct wire_seg *seg, tcp_time_t now)
{
    struct tcp_req *r = req_at(h, ref);
    struct tcp_listener *l = tcp_listener_at(h, r->listener);
    struct wire_tuple t;
    tcp_req_get_tuple(r, &t);
    uint8_t flags = seg->flags;
    if ((flags & (WIRE_SYN | WIRE_ACK | WIRE_RST)) == WIRE_SYN && seg->seq == r->irs) {
        /* The peer repeated its SYN: our SYN-ACK was lost. Repeat it. */
        h->stats->RetransSegs++;
        send_synack(h, r, true, now);
        return;
    }
    if (!req_in_window(h, r, seg)) {
        /* Linux tcp_check_req with tcp_oow_rate_limited: at most one answer
         * per tcp_invalid_ratelimit to segments without data. */
        if (!(flags & WIRE_RST) && tcp_oow_ack_allowed(h, &r->last_oow_ack_ms, seg, now)) {
            struct wire_seg ack = {0};
            ack.flags = WIRE_ACK;
            ack.seq = r->iss + 1;
            ack.ack = r->irs + 1;
            ack.window = synack_window(l);
            tcp_emit(h, &t, &ack);
        }
        h->stats->TCPACKSkippedSynRecv++;
        return;
    }
    if ((flags & WIRE_RST) && seg->seq != r->irs + 1) {
        /* RFC 9293 §3.10.7.4 second check with RFC 5961 §3.2, in SYN-RECEIVED
         * too: in window but not exactly RCV.NXT earns a challenge ACK
         * (stricter than Linux's tcp_check_req, which resets). */
        if (tcp_challenge_ack_allowed(h, now)) {
            struct wire_seg ack = {0};
            ack.flags = WIRE_ACK;
            ack.seq = r->iss + 1;
            ack.ack = r->irs + 1;
            ack.window = synack_window(l);
            tcp_emit(h, &t, &ack);
        }
        return;
    }
    if (flags & (WIRE_RST | WIRE_SYN)) {
        /* A reset, or a new SYN inside the window: back to LISTEN (RFC 9293
         * §3.10.7.4 second and fourth checks); Linux answers the SYN with a RST. */
        h->stats->AttemptFails++;
        if (!(flags & WIRE_RST))
            tcp_send_reset_reply(h, seg, now);
        req_drop(h, ref, r, TCP_STATE_LISTEN, now);
        return;
    }
    if (!(flags & WIRE_ACK))
        return;
    if (seg->ack != r->iss + 1) {
        tcp_send_reset_reply(h, seg, now); /* <SEQ=SEG.ACK><CTL=RST> */
        return;
    }
    if (accept_queue_full(l)) {
        h->stats->ListenOverflows++;
        h->stats->ListenDrops++;
        if (!h->cfg->tcp_abort_on_overflow) {
            r->acked = true; /* keep it; the SYN-ACK timer will ask again */
            return;
        }
        tcp_send_reset_reply(h, seg, now);
        req_drop(h, ref, r, TCP_STATE_CLOSED, now);
        return;
    }
    struct tcp_conn *c = child_conn(h, r, ref, &t, seg, now);
    if (!c) {
        h->stats->ListenDrops++;
        return;
    }
    req_dequeue(h, ref, r);
    pool_free(&h->req_pool[r->v6], TCP_REF_INDEX(ref));
    /* Data on the third segment, or a FIN, are processed as in ESTABLISHED. */
    if (seg->payload_len || (flags & WIRE_FIN))
        tcp_conn_input(c, seg, now);
}

struct tcp_conn *tcp_accept(struct tcp_host *h, struct tcp_listener *l, int sd)
{
    struct tcp_conn *c = l->accept_head;
    if (!c)
        return NULL;
    l->accept_head = tcp_conn_at(h, c->accept_next);
    if (!l->accept_head)
        l->accept_tail = NULL;
    l->accept_q_len--;
    c->accept_next = 0;
    c->in_accept_q = false;
    c->sd = sd;
    return c;
}

/* close() on a listener: half-open entries vanish, connections not yet
 * accepted are reset (Linux inet_csk_listen_stop). */
void tcp_listener_close(struct tcp_host *h, struct tcp_listener *l, tcp_time_t now)
{
    for (unsigned lv = 0; lv < TCP_REQ_LEVELS && l->syn_q_len; lv++) {
        for (uint32_t ref = h->req_head[lv], next; ref; ref = next) {
            struct tcp_req *r = req_at(h, ref);
            next = r->qnext;
            if (r->listener == l->idx)
                req_drop(h, ref, r, TCP_STATE_CLOSED, now);
        }
    }
    while (l->accept_head) {
        struct tcp_conn *c = tcp_accept(h, l, -1);
        c->orphan = true;
        if (c->e.state == TCP_STATE_CLOSED)
            tcp_conn_free(c);
        else
            tcp_abort(c, now);
    }
    for (struct tcp_listener **p = &h->listeners; *p; p = &(*p)->next) {
        if (*p == l) {
            *p = l->next;
            break;
        }
    }
    listener_state(h, l, TCP_STATE_LISTEN, TCP_STATE_CLOSED, now);
    h->listener_tab[l->idx] = NULL;
    free(l);
    tcp_host_reap(h);
}
