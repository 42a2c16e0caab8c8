/* The invariant checker (tcp_check.h). Each rule names where it comes
 * from; the first one broken is described and the walk stops. Read-only:
 * the table is walked through tcp_host_walk, the SYN-ACK FIFOs, the
 * TIME-WAIT rings and the listener lists are only followed. */
#include "tcp/tcp_check.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "tcp/tcp.h"


struct check {
    char *buf;
    size_t cap;
    bool failed;
};

static const char *entry_kind_name(unsigned kind)
{
    return kind == TCP_ENTRY_CONN ? "conn" : kind == TCP_ENTRY_REQ ? "half-open" : kind == TCP_ENTRY_TW ? "time-wait" : "?";
}

/* A half-open or TIME-WAIT entry as fail() shows it: a tcp_entry head (kind
 * and state) followed by its full tuple. */
struct shown_entry {
    struct tcp_entry e;
    struct wire_tuple t;
};

/* "conn 10.0.0.1:40000 -> 10.0.0.2:80 ESTABLISHED: " then the message. */
static bool fail(struct check *k, const struct tcp_entry *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail(struct check *k, const struct tcp_entry *e, const char *fmt, ...)
{
    if (k->failed)
        return false;
    k->failed = true;
    size_t used = 0;
    if (e) {
        char a[WIRE_ADDR_STRLEN], b[WIRE_ADDR_STRLEN];
        struct wire_tuple t;
        if (e->kind == TCP_ENTRY_CONN) /* the head of a control block */
            tcp_entry_tuple(((const struct tcp_conn *)(const void *)e)->host, e, &t);
        else
            t = ((const struct shown_entry *)(const void *)e)->t;
        int n = snprintf(k->buf, k->cap, "%s %s:%u -> %s:%u %s: ", entry_kind_name(e->kind),
                         wire_addr_str(&t.src, a), t.sport, wire_addr_str(&t.dst, b), t.dport,
                         e->state < TCP_STATE_COUNT ? tcp_state_name(e->state) : "?");
        used = n < 0 ? 0 : (size_t)n < k->cap ? (size_t)n : k->cap - 1;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->buf + used, k->cap - used, fmt, ap);
    va_end(ap);
    return false;
}

static bool state_in(unsigned st, unsigned mask) { return (mask >> st) & 1u; }
#define S(x) (1u << TCP_STATE_##x)

/* ---- buffers ---- */
static bool check_bytebuf(struct check *k, const struct tcp_entry *e, const char *name, const struct bytebuf *b)
{
    const struct bytebuf_ring *r = b->ring;
    if (!r)
        return true;
    if (r->cap == 0 || (r->cap & (r->cap - 1)))
        return fail(k, e, "%s buffer capacity %u is not a power of two", name, r->cap);
    if (r->len == 0)
        return fail(k, e, "%s buffer is empty but its storage is kept", name);
    if (r->len > r->cap || r->head >= r->cap)
        return fail(k, e, "%s buffer holds %u bytes at %u in a ring of %u", name, r->len, r->head, r->cap);
    return true;
}

/* RFC 9293 §3.10.7.4: out-of-order runs lie beyond RCV.NXT, inside the
 * window we advertised, sorted and disjoint; tcp_reass.c's bounds. */
static bool check_ooo(struct check *k, const struct tcp_conn *c)
{
    const struct tcp_entry *e = &c->e;
    uint32_t runs = 0, bytes = 0, edge = seq_max(c->rcv_adv, c->rcv_nxt), prev_end = c->rcv_nxt;
    const struct tcp_ooo_queue *q = c->ooo;
    if (!q)
        return true;
    if (!q->head && !q->fin)
        return fail(k, e, "an empty out-of-order queue is kept");
    for (const struct tcp_ooo *r = q->head; r; r = r->next) {
        if (++runs > TCP_OOO_MAX_SEGS)
            return fail(k, e, "out-of-order queue longer than %d runs", TCP_OOO_MAX_SEGS);
        if (r->len == 0)
            return fail(k, e, "empty out-of-order run at %u", r->seq);
        if (seq_lt(r->seq, prev_end))
            return fail(k, e, "out-of-order run %u+%u overlaps or precedes %u (RCV.NXT %u)", r->seq, r->len,
                        prev_end, c->rcv_nxt);
        if (seq_gt(r->seq + r->len, edge))
            return fail(k, e, "out-of-order run %u+%u beyond the window edge %u", r->seq, r->len, edge);
        prev_end = r->seq + r->len;
        bytes += r->len;
    }
    if (runs != q->segs || bytes != q->bytes)
        return fail(k, e, "out-of-order queue holds %u runs / %u bytes, counted %u / %u", runs, bytes, q->segs,
                    q->bytes);
    return true;
}

/* The SACK scoreboard: sorted, disjoint ranges inside (SND.UNA, SND.MAX]. */
static bool check_sack(struct check *k, const struct tcp_conn *c)
{
    const struct tcp_sack_board *b = c->sack;
    if (!b)
        return true;
    if (b->count > TCP_SACK_RANGES_MAX)
        return fail(k, &c->e, "SACK board holds %u ranges", b->count);
    uint32_t prev = c->snd_una;
    for (unsigned i = 0; i < b->count; i++) {
        const struct wire_sack_block *r = &b->range[i];
        if (!seq_lt(r->left, r->right) || seq_lt(r->left, prev) || seq_gt(r->right, c->snd_max))
            return fail(k, &c->e, "SACK range %u [%u, %u) out of order or outside [SND.UNA %u, SND.MAX %u]", i,
                        r->left, r->right, c->snd_una, c->snd_max);
        prev = r->right;
    }
    return true;
}

/* ---- one control block ---- */
static bool check_timers(struct check *k, const struct tcp_conn *c, bool in_table)
{
    const struct tcp_entry *e = &c->e;
    tcp_time_t at = tcp_conn_deadline(c, TCP_TIMER_RTX);
    if (tcp_conn_deadline(c, TCP_TIMER_DELACK) < at)
        at = tcp_conn_deadline(c, TCP_TIMER_DELACK);
    if (tcp_conn_deadline(c, TCP_TIMER_KEEPALIVE) < at)
        at = tcp_conn_deadline(c, TCP_TIMER_KEEPALIVE);
    const struct tcp_timers *t = tcp_conn_timers(c);
    if (!in_table) {
        if (t)
            return fail(k, e, "a timer is armed on a connection out of the table");
        return true;
    }
    if (c->timer_lost)
        return fail(k, e, "a timer lost for lack of memory outlived the call");
    /* Timers are kept while their one wheel node is armed, and it runs no
     * later than the earliest deadline (lazily earlier: tcp_conn_arm_timer). */
    if (t && t->conn != e->ref)
        return fail(k, e, "its timers belong to reference %#x", t->conn);
    if (t && (!timer_armed(&t->node) || t->node.expires > at))
        return fail(k, e, "timer node %s at %llu, deadlines say %llu", timer_armed(&t->node) ? "armed" : "off",
                    (unsigned long long)t->node.expires, (unsigned long long)at);
    /* RFC 6298 §5.1: a retransmission timer runs while anything is
     * unacknowledged (data, SYN or FIN). */
    if (c->snd_una != c->snd_max && tcp_conn_deadline(c, TCP_TIMER_RTX) == TCP_TIME_NEVER)
        return fail(k, e, "%u octets outstanding (SND.UNA %u SND.MAX %u) and no retransmission timer",
                    c->snd_max - c->snd_una, c->snd_una, c->snd_max);
    /* ...and otherwise only to push data the window holds back (persist,
     * RFC 9293 §3.8.6.1; SWS override, §3.8.6.2.1). */
    if (c->snd_una == c->snd_max && tcp_conn_deadline(c, TCP_TIMER_RTX) != TCP_TIME_NEVER && bytebuf_len(&c->snd) == 0 &&
        !(c->fin_queued && !c->fin_sent))
        return fail(k, e, "retransmission timer armed with nothing outstanding or queued");
    if (tcp_conn_deadline(c, TCP_TIMER_DELACK) != TCP_TIME_NEVER && !c->ack_pending)
        return fail(k, e, "delayed-ACK timer armed with no ACK owed");
    /* keepalive_at: keepalive, or an orphan's FIN-WAIT-2 timeout. */
    if (tcp_conn_deadline(c, TCP_TIMER_KEEPALIVE) != TCP_TIME_NEVER && !c->opt.keepalive &&
        !(c->orphan && e->state == TCP_STATE_FIN_WAIT_2))
        return fail(k, e, "keepalive timer armed without SO_KEEPALIVE, and not an orphan's FIN-WAIT-2 timeout");
    return true;
}

static bool check_conn(struct check *k, const struct tcp_conn *c, bool in_table)
{
    const struct tcp_entry *e = &c->e;
    unsigned st = e->state;
    if (st >= TCP_STATE_COUNT)
        return fail(k, e, "state %u out of range", st);
    if (in_table && state_in(st, S(CLOSED) | S(LISTEN) | S(TIME_WAIT)))
        return fail(k, e, "a control block in the table in this state");
    if (!in_table && st != TCP_STATE_CLOSED)
        return fail(k, e, "a live control block missing from the table");
    /* A control block has a descriptor, waits in an accept queue, or is an orphan. */
    if ((c->sd >= 0 && c->orphan) || (c->sd < 0 && !c->orphan && !c->in_accept_q))
        return fail(k, e, "descriptor %d, orphan=%d, in an accept queue=%d", c->sd, c->orphan, c->in_accept_q);
    if (!check_bytebuf(k, e, "send", &c->snd) || !check_bytebuf(k, e, "receive", &c->rcv))
        return false;
    /* SO_RCVBUF bounds the receive queue (SO_SNDBUF may shrink below what
     * is already queued, as in Linux, so the send side is not checked). */
    if (bytebuf_len(&c->rcv) > c->rcv.limit)
        return fail(k, e, "receive buffer holds %u bytes, limit %u", bytebuf_len(&c->rcv), c->rcv.limit);
    if (!check_timers(k, c, in_table))
        return false;
    if (st == TCP_STATE_CLOSED)
        return true; /* a descriptor's leftover: only the data to read remains */

    /* RFC 9293 §3.3.1: SND.UNA <= SND.NXT <= SND.MAX (modulo 2^32). */
    if (!seq_le(c->snd_una, c->snd_nxt) || !seq_le(c->snd_nxt, c->snd_max))
        return fail(k, e, "SND.UNA %u SND.NXT %u SND.MAX %u out of order", c->snd_una, c->snd_nxt, c->snd_max);
    if (seq_lt(c->snd_una, c->iss))
        return fail(k, e, "SND.UNA %u below ISS %u", c->snd_una, c->iss);
    if (c->mss == 0 || c->rto_us == 0)
        return fail(k, e, "MSS %u RTO %u us", c->mss, c->rto_us);

    if (state_in(st, S(SYN_SENT) | S(SYN_RECEIVED))) {
        /* RFC 9293 §3.10.2: data waits for ESTABLISHED; only the SYN is out. */
        if (c->snd_una != c->iss || c->snd_max != c->iss + 1)
            return fail(k, e, "ISS %u SND.UNA %u SND.MAX %u: more than the SYN sent", c->iss, c->snd_una, c->snd_max);
        if (c->fin_sent || c->fin_rcvd)
            return fail(k, e, "FIN %s before the handshake ended", c->fin_sent ? "sent" : "received");
        if (st == TCP_STATE_SYN_SENT && (bytebuf_len(&c->rcv) || c->ooo))
            return fail(k, e, "data received before the peer's SYN");
        if (st == TCP_STATE_SYN_SENT && c->fin_queued)
            return fail(k, e, "FIN queued in SYN-SENT (shutdown there deletes the TCB)");
        return check_ooo(k, c) && check_sack(k, c);
    }

    /* Synchronized: the SYN is acknowledged, the rest is data plus a FIN. */
    if (!seq_gt(c->snd_una, c->iss))
        return fail(k, e, "SND.UNA %u does not cover our SYN (ISS %u)", c->snd_una, c->iss);
    uint32_t outstanding = c->snd_max - c->snd_una;
    bool fin_acked = c->fin_sent && seq_gt(c->snd_una, c->fin_seq);
    if (outstanding > bytebuf_len(&c->snd) + (c->fin_sent && !fin_acked))
        return fail(k, e, "%u octets outstanding but %u buffered%s", outstanding, bytebuf_len(&c->snd),
                    c->fin_sent ? " plus the FIN" : "");
    if (c->fin_sent) {
        if (!c->fin_queued)
            return fail(k, e, "FIN sent but never queued");
        if (fin_acked) {
            if (c->snd_una != c->fin_seq + 1 || c->snd_max != c->snd_una || bytebuf_len(&c->snd))
                return fail(k, e, "FIN at %u acknowledged, but SND.UNA %u SND.MAX %u and %u bytes buffered",
                            c->fin_seq, c->snd_una, c->snd_max, bytebuf_len(&c->snd));
        } else if (c->fin_seq != c->snd_una + bytebuf_len(&c->snd) || !seq_lt(c->fin_seq, c->snd_max)) {
            return fail(k, e, "FIN at %u, but the data ends at %u and SND.MAX is %u", c->fin_seq,
                        c->snd_una + bytebuf_len(&c->snd), c->snd_max);
        }
    }
    /* RFC 9293 §3.3.2: what each state implies about the two FINs. */
    bool fin_queued_states = state_in(st, S(FIN_WAIT_1) | S(FIN_WAIT_2) | S(CLOSING) | S(LAST_ACK));
    if (fin_queued_states != c->fin_queued)
        return fail(k, e, "fin_queued=%d", c->fin_queued);
    bool fin_rcvd_states = state_in(st, S(CLOSE_WAIT) | S(CLOSING) | S(LAST_ACK));
    if (fin_rcvd_states != c->fin_rcvd)
        return fail(k, e, "fin_rcvd=%d", c->fin_rcvd);
    if (st == TCP_STATE_FIN_WAIT_2 && !fin_acked)
        return fail(k, e, "our FIN is not acknowledged");
    /* The advertised right edge never outruns the largest window offered. */
    if (seq_gt(c->rcv_adv, c->rcv_nxt) && c->rcv_adv - c->rcv_nxt > c->max_rcv_wnd)
        return fail(k, e, "RCV.ADV %u - RCV.NXT %u exceeds the largest window advertised %u", c->rcv_adv,
                    c->rcv_nxt, c->max_rcv_wnd);
    if (c->fin_rcvd)
        return check_sack(k, c); /* runs beyond the FIN are never delivered */
    return check_ooo(k, c) && check_sack(k, c);
}

/* ---- the host ---- */
struct table_walk {
    const struct tcp_host *h;
    struct check *k;
    size_t conns, reqs, tws, timers;
};

static bool listener_known(const struct tcp_host *h, const struct tcp_listener *l)
{
    for (const struct tcp_listener *x = h->listeners; x; x = x->next)
        if (x == l)
            return true;
    return false;
}

/* An entry that is not a control block, as fail() shows it. */
static const struct tcp_entry *shown(struct shown_entry *s, const struct tcp_entry_view *v)
{
    *s = (struct shown_entry){0};
    s->t = v->tuple;
    s->e.kind = (uint8_t)v->kind;
    s->e.state = (uint8_t)v->state;
    return &s->e;
}

static int walk_entry(void *ctx, const struct tcp_entry_view *v)
{
    struct table_walk *w = ctx;
    struct shown_entry e;
    switch (v->kind) {
    case TCP_ENTRY_CONN:
        w->conns++;
        w->timers += v->conn->timers && timer_armed(&tcp_conn_timers(v->conn)->node);
        if (!check_conn(w->k, v->conn, true))
            return 1;
        break;
    case TCP_ENTRY_REQ:
        w->reqs++;
        if (v->state != TCP_STATE_SYN_RECEIVED)
            return !fail(w->k, shown(&e, v), "a half-open entry not in SYN-RECEIVED");
        break;
    case TCP_ENTRY_TW:
        w->tws++;
        if (v->state != TCP_STATE_TIME_WAIT)
            return !fail(w->k, shown(&e, v), "a TIME-WAIT entry in another state");
        break;
    default:
        return !fail(w->k, shown(&e, v), "entry kind %u unknown", (unsigned)v->kind);
    }
    return 0;
}

/* The SYN-ACK timer FIFOs hold every half-open entry once, each FIFO in
 * expiry order, each entry at the level of its retry count, with a live
 * listener; per listener they add up to its SYN queue. */
static bool check_req_fifos(struct check *k, const struct tcp_host *h)
{
    size_t n = 0;
    for (unsigned lv = 0; lv < TCP_REQ_LEVELS; lv++) {
        if (((h->req_levels >> lv) & 1) != (h->req_head[lv] != 0))
            return fail(k, NULL, "SYN-ACK FIFO %u: level bitmap disagrees", lv);
        uint32_t prev = 0;
        tcp_time_t last = 0;
        for (uint32_t ref = h->req_head[lv]; ref; prev = ref, ref = ((const struct tcp_req *)tcp_ref_ptr(h, ref))->qnext) {
            const struct tcp_req *r = tcp_ref_ptr(h, ref);
            struct wire_tuple t;
            tcp_req_get_tuple(r, &t);
            struct shown_entry s = {.e = {.kind = TCP_ENTRY_REQ, .state = r->state}, .t = t};
            const struct tcp_entry *e = &s.e;
            if (++n > h->reqs)
                return fail(k, NULL, "SYN-ACK FIFOs hold more than the %zu half-open entries", h->reqs);
            if (r->qprev != prev)
                return fail(k, e, "SYN-ACK FIFO %u: back link broken", lv);
            if ((r->retries < TCP_REQ_LEVELS ? r->retries : TCP_REQ_LEVELS - 1) != lv)
                return fail(k, e, "in SYN-ACK FIFO %u with %u retries", lv, r->retries);
            if (tcp_req_expires(r) < last)
                return fail(k, e, "SYN-ACK FIFO %u out of order", lv);
            last = tcp_req_expires(r);
            const struct tcp_listener *l = r->listener < h->listener_cap ? h->listener_tab[r->listener] : NULL;
            if (!l || !listener_known(h, l))
                return fail(k, e, "its listener is gone");
            if (tcp_host_lookup(h, &t, tcp_tuple_hash(h, &t)) != ref)
                return fail(k, e, "in a SYN-ACK FIFO but not in the table");
        }
        if (h->req_tail[lv] != prev)
            return fail(k, NULL, "SYN-ACK FIFO %u: tail is not the last entry", lv);
    }
    if (n != h->reqs)
        return fail(k, NULL, "SYN-ACK FIFOs hold %zu entries, the host counts %zu", n, h->reqs);
    return true;
}

/* The TIME-WAIT rings: live entries are those in the table, in expiry order. */
static bool check_tw_rings(struct check *k, const struct tcp_host *h)
{
    size_t live = 0;
    for (int v6 = 0; v6 < 2; v6++) {
        const struct ring *r = &h->tw_ring[v6];
        tcp_time_t last = 0;
        if (!ring_empty(r) && !((const struct tcp_tw *)ring_at(r, r->head))->live)
            return fail(k, NULL, "TIME-WAIT ring %d: a dead entry at the head", v6);
        for (uint32_t i = r->head; i != r->tail; i = (i + 1) & (POOL_INDEX_LIMIT - 1)) {
            const struct tcp_tw *tw = ring_at(r, i);
            if (!tw->live)
                continue;
            uint32_t ref = TCP_REF(v6 ? TCP_REF_TW6 : TCP_REF_TW4, i);
            tcp_time_t at = tcp_tw_expires(h, ref);
            struct wire_tuple t;
            tcp_tw_get_tuple(tw, &t);
            struct shown_entry s = {.e = {.kind = TCP_ENTRY_TW, .state = tw->state}, .t = t};
            const struct tcp_entry *e = &s.e;
            if (at < last)
                return fail(k, e, "TIME-WAIT ring out of order (%llu after %llu)", (unsigned long long)at,
                            (unsigned long long)last);
            last = at;
            if (tcp_host_lookup(h, &t, tcp_tuple_hash(h, &t)) != ref)
                return fail(k, e, "live in a TIME-WAIT ring but not in the table");
            if (++live > h->tws)
                break;
        }
    }
    if (live != h->tws)
        return fail(k, NULL, "TIME-WAIT rings hold %zu live entries, the host counts %zu", live, h->tws);
    return true;
}

static bool check_listeners(struct check *k, const struct tcp_host *h)
{
    for (const struct tcp_listener *l = h->listeners; l; l = l->next) {
        uint32_t queued = 0;
        if (l->idx >= h->listener_cap || h->listener_tab[l->idx] != l)
            return fail(k, NULL, "listener port %u: not at its index %u", l->local.port, l->idx);
        for (const struct tcp_conn *c = l->accept_head; c; c = tcp_conn_at(h, c->accept_next)) {
            if (++queued > l->accept_q_len)
                break;
            if (!c->in_accept_q || c->listener != l->idx || c->sd >= 0)
                return fail(k, &c->e, "in listener %u's accept queue but parent/descriptor disagree", l->local.port);
            if (!check_conn(k, c, c->e.hashed))
                return false;
        }
        if (queued != l->accept_q_len)
            return fail(k, NULL, "listener port %u: accept queue holds %u, counted %u", l->local.port, queued,
                        l->accept_q_len);
        /* Linux sk_acceptq_is_full: the queue may hold backlog + 1. */
        if (l->accept_q_len > l->backlog + 1)
            return fail(k, NULL, "listener port %u: accept queue %u over backlog %u", l->local.port,
                        l->accept_q_len, l->backlog);
        uint32_t n = 0;
        for (unsigned lv = 0; lv < TCP_REQ_LEVELS; lv++)
            for (uint32_t ref = h->req_head[lv]; ref; ref = ((const struct tcp_req *)tcp_ref_ptr(h, ref))->qnext)
                n += ((const struct tcp_req *)tcp_ref_ptr(h, ref))->listener == l->idx;
        if (n != l->syn_q_len || l->syn_q_young > l->syn_q_len)
            return fail(k, NULL, "listener port %u: SYN queue holds %u, counted %u (young %u)", l->local.port, n,
                        l->syn_q_len, l->syn_q_young);
    }
    return true;
}

const char *tcp_check_conn(const struct tcp_conn *c, char *buf, size_t cap)
{
    struct check k = {buf, cap, false};
    if (!cap)
        return NULL;
    buf[0] = 0;
    check_conn(&k, c, c->e.hashed);
    return k.failed ? buf : NULL;
}

const char *tcp_check_host(const struct tcp_host *h, char *buf, size_t cap)
{
    struct check k = {buf, cap, false};
    if (!cap)
        return NULL;
    buf[0] = 0;
    struct table_walk w = {.h = h, .k = &k};
    tcp_host_walk((struct tcp_host *)h, walk_entry, &w); /* read-only */
    if (k.failed)
        return buf;
    /* Accounting: one count per kind of entry, equal to what the table holds. */
    if (w.conns != h->conns || w.reqs != h->reqs || w.tws != h->tws ||
        w.conns + w.reqs + w.tws != hash_table_count(&h->table)) {
        fail(&k, NULL, "host counts conns %zu reqs %zu tws %zu, the table holds %zu / %zu / %zu (%zu entries)",
             h->conns, h->reqs, h->tws, w.conns, w.reqs, w.tws, hash_table_count(&h->table));
        return buf;
    }
    /* Every armed wheel node belongs to a control block (half-open and
     * TIME-WAIT entries run off the wheel). */
    if (w.timers != timer_count(&h->timers)) {
        fail(&k, NULL, "%zu timers armed in the wheel, %zu entries have one", timer_count(&h->timers), w.timers);
        return buf;
    }
    if (!check_req_fifos(&k, h) || !check_tw_rings(&k, h))
        return buf;
    if (!check_listeners(&k, h))
        return buf;
    if (h->graveyard)
        fail(&k, NULL, "orphans left unreaped after the event");
    return k.failed ? buf : NULL;
}
