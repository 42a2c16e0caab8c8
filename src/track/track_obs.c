/* The observer's inference of both endpoints' RFC 9293 states.
 *
 * For each segment A -> B seen on the wire we apply two kinds of rules:
 *  - sender rules: what A must be in to send this (a SYN-ACK means A had a
 *    SYN and answered it: SYN-RECEIVED; a FIN from CLOSE-WAIT: LAST-ACK...);
 *  - receiver rules: what B does on receiving it, per RFC 9293 §3.10.7,
 *    assuming it is delivered (an ACK of B's FIN moves FIN-WAIT-1 to
 *    FIN-WAIT-2, a FIN moves ESTABLISHED to CLOSE-WAIT...), with the
 *    acceptability tests that decide whether B acts at all (an RST outside
 *    B's window is ignored).
 * A side whose state has no evidence yet is "unknown" (printed "-"): a
 * host that never answered a SYN may not exist. Timer-driven transitions
 * (TIME-WAIT expiry, connect() giving up) leave no trace on the wire and
 * are not applied. */
#include <stdio.h>
#include <string.h>

#include "track/track_internal.h"

/* 3 x the initial RTO: a stateful SYN-RECEIVED has retransmitted by then. */
#define STATELESS_SYNACK_AFTER TCP_SEC(3)

static bool synchronized(uint8_t st)
{
    return st >= TCP_STATE_ESTABLISHED; /* ESTABLISHED .. TIME-WAIT (RFC 9293 §3.3.2) */
}

void track_obs_init(struct track_conn *c, tcp_time_t now)
{
    memset(c->o, 0, sizeof c->o);
    for (int s = 0; s < 2; s++) {
        c->o[s].state = TCP_STATE_CLOSED;
        c->o[s].state_since = now;
    }
}

static double secs(tcp_time_t us)
{
    return (double)us / 1e6;
}

static void tx_record(struct track_tx *tx, tcp_time_t now, bool first)
{
    if (first) {
        memset(tx, 0, sizeof *tx);
        tx->count = 1;
        tx->first = tx->last = now;
        return;
    }
    if (tx->count - 1 < TRACK_TX_INTERVALS) {
        tcp_time_t d = now - tx->last;
        tx->interval_us[tx->count - 1] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    }
    if (tx->count < UINT8_MAX)
        tx->count++;
    tx->last = now;
}

/* "1.000s 2.000s 4.000s" */
static void tx_intervals(const struct track_tx *tx, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i + 1 < tx->count && i < TRACK_TX_INTERVALS && n < cap; i++) {
        int w = snprintf(buf + n, cap - n, "%s%.3fs", i ? " " : "", secs(tx->interval_us[i]));
        if (w < 0)
            break;
        n += (size_t)w;
    }
    if (tx->count - 1 > TRACK_TX_INTERVALS && n < cap)
        snprintf(buf + n, cap - n, " ...");
}

static void report_retransmissions(struct track *t, struct track_conn *c, int s, struct track_tx *tx,
                                   enum track_anomaly_kind kind, const char *what)
{
    if (tx->count < 2 || tx->reported)
        return;
    tx->reported = true;
    char iv[96];
    tx_intervals(tx, iv, sizeof iv);
    track_raise(t, c, kind, tx->last, s, "%s sent its %s %u times, intervals %s", track_role(c, s), what,
                (unsigned)tx->count, iv);
}

void track_obs_set_state(struct track *t, struct track_conn *c, int s, enum tcp_state st, tcp_time_t now)
{
    struct track_obs_side *x = &c->o[s];
    if (x->known && x->state == st)
        return;
    uint8_t old = x->state;
    bool was_known = x->known;
    x->state = (uint8_t)st;
    x->known = true;
    x->state_since = now;
    const struct wire_addr *host = s == 0 ? &c->tuple.src : &c->tuple.dst;
    if (was_known && old == TCP_STATE_TIME_WAIT && x->tw_counted) {
        x->tw_counted = false;
        track_aggr_time_wait(t, host, -1, now);
    }
    if (st == TCP_STATE_TIME_WAIT) {
        x->tw_counted = true;
        track_aggr_time_wait(t, host, +1, now);
    }
    if (was_known && old == TCP_STATE_SYN_SENT)
        report_retransmissions(t, c, s, &x->syn, TRACK_ANOM_SYN_RETRANSMISSION, "SYN");
    if (was_known && old == TCP_STATE_SYN_RECEIVED)
        report_retransmissions(t, c, s, &x->synack, TRACK_ANOM_SYN_ACK_RETRANSMISSION, "SYN-ACK");
}

/* Receive window of side x as a span of sequence space; false when the
 * scale is unknown (the handshake was not seen). RFC 7323 §2.3: the
 * window field of a SYN is never scaled. */
static bool window_of(const struct track_conn *c, int x, uint64_t *wnd)
{
    const struct track_obs_side *a = &c->o[x], *b = &c->o[!x];
    if (!a->ack_known)
        return false;
    if (a->syn.count == 0 && a->synack.count == 0)
        return false; /* handshake not seen: scale unknown */
    if (b->syn.count == 0 && b->synack.count == 0 && a->wscale_offered)
        return false;
    unsigned shift = (a->wscale_offered && b->wscale_offered) ? a->wscale : 0;
    *wnd = (uint64_t)a->wnd << shift;
    return true;
}

enum rst_verdict { RST_ACCEPT, RST_IGNORED, RST_OUT_OF_WINDOW };

/* RFC 9293 §3.10.7.3 (SYN-SENT: acceptable iff it acks our SYN) and
 * §3.10.7.4 (other states: the sequence number must be in the window). */
static enum rst_verdict rst_verdict(const struct track_conn *c, int s, const struct wire_seg *seg,
                                    char *why, size_t whylen)
{
    const struct track_obs_side *b = &c->o[!s];
    if (!b->known)
        return RST_ACCEPT;
    switch (b->state) {
    case TCP_STATE_CLOSED:
    case TCP_STATE_LISTEN:
        return RST_IGNORED;
    case TCP_STATE_SYN_SENT:
        if (!b->isn_known)
            return RST_ACCEPT;
        if ((seg->flags & WIRE_ACK) && seg->ack == b->isn + 1)
            return RST_ACCEPT;
        snprintf(why, whylen, "RST ack %u does not ack %s's SYN %u", seg->ack, track_role(c, !s), b->isn);
        return RST_OUT_OF_WINDOW;
    default: {
        uint64_t wnd;
        if (!window_of(c, !s, &wnd))
            return RST_ACCEPT;
        uint32_t lo = b->last_ack;
        bool ok = wnd == 0 ? seg->seq == lo : (uint32_t)(seg->seq - lo) < (wnd > UINT32_MAX ? UINT32_MAX : wnd);
        if (ok)
            return RST_ACCEPT;
        snprintf(why, whylen, "RST seq %u outside %s's window [%u, %u)", seg->seq, track_role(c, !s), lo,
                 (uint32_t)(lo + wnd));
        return RST_OUT_OF_WINDOW;
    }
    }
}

static void on_rst(struct track *t, struct track_conn *c, int s, const struct wire_seg *seg, tcp_time_t now)
{
    struct track_obs_side *a = &c->o[s], *b = &c->o[!s];
    char why[96] = "";
    if (seg->payload_len > 0)
        track_raise(t, c, TRACK_ANOM_RST_WITH_DATA, now, s, "%s RST carries %u bytes", track_role(c, s),
                    seg->payload_len);
    enum rst_verdict v = rst_verdict(c, s, seg, why, sizeof why);
    if (v == RST_OUT_OF_WINDOW) {
        track_raise(t, c, TRACK_ANOM_OUT_OF_WINDOW, now, s, "%s", why);
        return;
    }
    if (v == RST_IGNORED) {
        if (!a->known)
            track_obs_set_state(t, c, s, TCP_STATE_CLOSED, now);
        return;
    }
    bool keep_sender = false;
    bool answers_synack = b->known && b->state == TCP_STATE_SYN_RECEIVED && b->ack_known && seg->seq == b->last_ack;
    if (b->known && b->state == TCP_STATE_SYN_RECEIVED &&
        (!a->isn_known || !a->syn.count || b->last_ack != a->isn + 1 ||
         (answers_synack && a->known && a->state == TCP_STATE_SYN_SENT))) {
        /* RFC 9293 §3.5 (Figure 8): the SYN-ACK answers a SYN this side did
         * not send, or not this incarnation's (a side still in SYN-SENT
         * only resets a SYN-ACK it finds unacceptable, §3.10.7.3); it
         * resets the half-open peer and, if opening, stays in SYN-SENT. */
        track_raise(t, c, TRACK_ANOM_STALE_SYN_ACK, now, s,
                    "%s answered %s's SYN-ACK (ack %u) with RST: old duplicate or forged SYN", track_role(c, s),
                    track_role(c, !s), b->last_ack);
        keep_sender = a->known && a->state == TCP_STATE_SYN_SENT;
        if (keep_sender && a->alt_isn_known) {
            if (b->last_ack == a->isn + 1) { /* the SYN-ACK was for this ISN: the other is current */
                uint32_t x = a->isn;
                a->isn = a->alt_isn;
                a->alt_isn = x;
            }
            a->alt_isn_known = false;
        }
    } else if (b->known && b->state == TCP_STATE_SYN_SENT) {
        track_raise(t, c, TRACK_ANOM_CONNECTION_REFUSED, now, s, "%s refused %s's SYN with RST",
                    track_role(c, s), track_role(c, !s));
    } else if (b->known && (b->state == TCP_STATE_ESTABLISHED || b->state == TCP_STATE_FIN_WAIT_1 ||
                            b->state == TCP_STATE_FIN_WAIT_2 || b->state == TCP_STATE_CLOSE_WAIT ||
                            b->state == TCP_STATE_CLOSING)) {
        track_raise(t, c, TRACK_ANOM_CONNECTION_RESET, now, s, "%s reset the connection; %s was in %s",
                    track_role(c, s), track_role(c, !s), track_state_name(b->state));
    }
    if (!keep_sender) {
        track_obs_set_state(t, c, s, TCP_STATE_CLOSED, now);
        a->reset = true;
    }
    /* RFC 9293 §3.10.7.4: a passively opened connection in SYN-RECEIVED
     * returns to LISTEN; any other goes to CLOSED. */
    if (b->known)
        track_obs_set_state(t, c, !s,
                            b->state == TCP_STATE_SYN_RECEIVED && b->syn.count == 0 ? TCP_STATE_LISTEN
                                                                                    : TCP_STATE_CLOSED,
                            now);
}

static void on_syn(struct track *t, struct track_conn *c, int s, const struct wire_seg *seg, tcp_time_t now)
{
    struct track_obs_side *a = &c->o[s], *b = &c->o[!s];
    if (a->known && (a->state == TCP_STATE_SYN_SENT || a->state == TCP_STATE_SYN_RECEIVED) && a->isn_known &&
        seg->seq == a->isn && a->syn.count) {
        tx_record(&a->syn, now, false); /* retransmission (RFC 6298 §5: backoff) */
        return;
    }
    if (a->known && synchronized(a->state))
        return; /* RFC 9293 §3.10.7.4: a SYN in a synchronized state is not acted on */
    if (a->known && a->state == TCP_STATE_SYN_SENT && a->isn_known && seg->seq != a->isn) {
        /* Another ISN: a new attempt, or an old duplicate (RFC 9293 §3.5,
         * Figure 8). Keep both until the peer's SYN-ACK and this side's
         * answer to it tell which one is current. */
        a->alt_isn = a->isn;
        a->alt_isn_known = true;
    }
    a->isn = seg->seq;
    a->isn_known = true;
    tx_record(&a->syn, now, true);
    track_obs_set_state(t, c, s, TCP_STATE_SYN_SENT, now);
    if (b->known && b->state == TCP_STATE_SYN_SENT) {
        /* Simultaneous open (RFC 9293 §3.5, Figure 7): this SYN carries no
         * ACK, so it left before B's SYN arrived; each side then receives
         * the other's SYN in SYN-SENT and enters SYN-RECEIVED. */
        track_raise(t, c, TRACK_ANOM_SIMULTANEOUS_OPEN, now, s, "both sides sent a SYN: ISNs %u and %u", b->isn,
                    a->isn);
        track_obs_set_state(t, c, s, TCP_STATE_SYN_RECEIVED, now);
        track_obs_set_state(t, c, !s, TCP_STATE_SYN_RECEIVED, now);
    }
}

static void on_syn_ack(struct track *t, struct track_conn *c, int s, const struct wire_seg *seg,
                       tcp_time_t now)
{
    struct track_obs_side *a = &c->o[s], *b = &c->o[!s];
    if (a->known && a->isn_known && seg->seq == a->isn && a->synack.count &&
        (a->state == TCP_STATE_SYN_RECEIVED ||
         (a->state == TCP_STATE_ESTABLISHED && a->nxt_known && a->snd_nxt == a->isn + 1))) {
        /* A retransmitted SYN-ACK: its sender never got the final ACK, so
         * it is (still, or again) in SYN-RECEIVED. */
        tx_record(&a->synack, now, false);
        if (a->state != TCP_STATE_SYN_RECEIVED) {
            a->state = TCP_STATE_SYN_RECEIVED;
            a->state_since = now;
        }
    } else if (!a->known || !synchronized(a->state)) {
        if (!a->isn_known || a->state != TCP_STATE_SYN_RECEIVED) {
            a->isn = seg->seq;
            a->isn_known = true;
        }
        tx_record(&a->synack, now, true);
        track_obs_set_state(t, c, s, TCP_STATE_SYN_RECEIVED, now);
    }
    /* Receiver: RFC 9293 §3.10.7.3, an acceptable ACK of B's SYN moves
     * SYN-SENT (and SYN-RECEIVED after a simultaneous open) to ESTABLISHED. */
    if (!b->known) {
        if (!b->isn_known) {
            b->isn = seg->ack - 1; /* the SYN it answers */
            b->isn_known = true;
        }
        return;
    }
    if (b->alt_isn_known)
        return; /* two candidate ISNs: wait for B's answer (ACK or RST) */
    bool acceptable = !b->isn_known || seg->ack == b->isn + 1;
    if ((b->state == TCP_STATE_SYN_SENT || b->state == TCP_STATE_SYN_RECEIVED) && acceptable)
        track_obs_set_state(t, c, !s, TCP_STATE_ESTABLISHED, now);
}

/* B receives an ACK from A (RFC 9293 §3.10.7.4, fifth: the ACK field). */
static void on_ack_received(struct track *t, struct track_conn *c, int s, const struct wire_seg *seg,
                            tcp_time_t now)
{
    struct track_obs_side *b = &c->o[!s];
    if (!b->known)
        return;
    if (b->state == TCP_STATE_SYN_RECEIVED && (!b->isn_known || seg->ack == b->isn + 1)) {
        /* Handshake RTT: the opener's last SYN to its ACK of the SYN-ACK,
         * both legs of the path wherever the capture is (Karn: the last
         * SYN, as an ambiguous sample is the best there is). */
        if (!c->has_rtt && c->o[s].syn.count && now >= c->o[s].syn.last) {
            c->has_rtt = true;
            c->handshake_rtt = now - c->o[s].syn.last;
        }
        track_obs_set_state(t, c, !s, TCP_STATE_ESTABLISHED, now);
    }
    if (b->fin_sent && seq_ge(seg->ack, b->fin_seq + 1)) {
        switch (b->state) {
        case TCP_STATE_FIN_WAIT_1:
            track_obs_set_state(t, c, !s, TCP_STATE_FIN_WAIT_2, now);
            break;
        case TCP_STATE_CLOSING:
            track_obs_set_state(t, c, !s, TCP_STATE_TIME_WAIT, now);
            break;
        case TCP_STATE_LAST_ACK:
            track_obs_set_state(t, c, !s, TCP_STATE_CLOSED, now);
            break;
        default:
            break;
        }
    }
}

static void on_fin(struct track *t, struct track_conn *c, int s, const struct wire_seg *seg, tcp_time_t now)
{
    struct track_obs_side *a = &c->o[s], *b = &c->o[!s];
    uint32_t fin_seq = seg->seq + seg->payload_len + !!(seg->flags & WIRE_SYN);
    if (a->fin_sent && a->fin_seq == fin_seq) {
        if (a->fin.count == 1) {
            tcp_time_t d = now - a->fin.last;
            a->fin.interval_us = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
            track_raise(t, c, TRACK_ANOM_FIN_RETRANSMISSION, now, s, "%s sent its FIN again after %.3fs",
                        track_role(c, s), secs(a->fin.interval_us));
        }
        if (a->fin.count < UINT8_MAX)
            a->fin.count++;
        a->fin.last = now;
        return;
    }
    a->fin_sent = true;
    a->fin_seq = fin_seq;
    a->fin.count = 1;
    a->fin.last = now;
    a->fin.interval_us = 0;
    bool acks_peer_fin = b->fin_sent && (seg->flags & WIRE_ACK) && seq_ge(seg->ack, b->fin_seq + 1);
    switch (a->state) {
    case TCP_STATE_ESTABLISHED:
    case TCP_STATE_SYN_RECEIVED:
    case TCP_STATE_SYN_SENT:
        track_obs_set_state(t, c, s, TCP_STATE_FIN_WAIT_1, now);
        break;
    case TCP_STATE_CLOSE_WAIT:
        if (b->fin_sent && (seg->flags & WIRE_ACK) && !acks_peer_fin) {
            /* This FIN left before B's FIN arrived: A went FIN-WAIT-1 and
             * then CLOSING (RFC 9293 §3.6, Figure 13). */
            track_raise(t, c, TRACK_ANOM_SIMULTANEOUS_CLOSE, now, s, "both sides sent a FIN before the other's arrived");
            track_obs_set_state(t, c, s, TCP_STATE_CLOSING, now);
        } else {
            track_obs_set_state(t, c, s, TCP_STATE_LAST_ACK, now);
        }
        break;
    default:
        break;
    }
    /* Receiver: RFC 9293 §3.10.7.4, eighth: the FIN bit. */
    if (!b->known)
        return;
    switch (b->state) {
    case TCP_STATE_SYN_RECEIVED:
    case TCP_STATE_ESTABLISHED:
        track_obs_set_state(t, c, !s, TCP_STATE_CLOSE_WAIT, now);
        break;
    case TCP_STATE_FIN_WAIT_1:
        /* Its FIN not acked by this segment (else it would be FIN-WAIT-2). */
        track_raise(t, c, TRACK_ANOM_SIMULTANEOUS_CLOSE, now, s, "both sides sent a FIN before the other's arrived");
        track_obs_set_state(t, c, !s, TCP_STATE_CLOSING, now);
        break;
    case TCP_STATE_FIN_WAIT_2:
        track_obs_set_state(t, c, !s, TCP_STATE_TIME_WAIT, now);
        break;
    default:
        break;
    }
}

/* Data checks against the receiver's window (RFC 9293 §3.10.7.4, first:
 * segment acceptability; §3.8.6.1 zero-window probes; §3.8.4 keepalives). */
static void check_data(struct track *t, struct track_conn *c, int s, const struct wire_seg *seg, tcp_time_t now)
{
    struct track_obs_side *a = &c->o[s], *b = &c->o[!s];
    uint8_t f = seg->flags;
    uint64_t wnd = 0;
    bool have_wnd = window_of(c, !s, &wnd);
    bool plain_ack = (f & WIRE_ACK) && !(f & (WIRE_SYN | WIRE_FIN | WIRE_RST));

    /* Linux probes with no data, others with one garbage byte; a one-byte
     * retransmission is told apart by the idle time. */
    bool probe_len = seg->payload_len == 0 || (seg->payload_len == 1 && now - a->last_sent >= TCP_SEC(1));
    if (plain_ack && probe_len && a->nxt_known && seg->seq == a->snd_nxt - 1 && a->known &&
        (a->state == TCP_STATE_ESTABLISHED || a->state == TCP_STATE_CLOSE_WAIT) &&
        !(have_wnd && wnd == 0)) {
        track_raise(t, c, TRACK_ANOM_KEEPALIVE_PROBE, now, s, "%s probed after %.3fs idle (seq %u = SND.NXT - 1)",
                    track_role(c, s), secs(now - a->last_sent), seg->seq);
        return;
    }
    if (seg->payload_len == 0 || !have_wnd || (f & WIRE_SYN))
        return;
    uint32_t lo = b->last_ack;
    if (wnd == 0) {
        if (seg->payload_len > 1 && seq_ge(seg->seq, lo))
            track_raise(t, c, TRACK_ANOM_OUT_OF_WINDOW, now, s, "%s sent %u bytes into %s's zero window",
                        track_role(c, s), seg->payload_len, track_role(c, !s));
        return;
    }
    uint32_t span = wnd > 0x7fffffffu ? 0x7fffffffu : (uint32_t)wnd;
    if (seq_ge(seg->seq, lo + span))
        track_raise(t, c, TRACK_ANOM_OUT_OF_WINDOW, now, s,
                    "%s sent seq %u beyond %s's window [%u, %u)", track_role(c, s), seg->seq, track_role(c, !s),
                    lo, lo + span);
}

void track_obs_segment(struct track *t, struct track_conn *c, int s, const struct wire_seg *seg,
                       tcp_time_t now, bool first)
{
    struct track_obs_side *a = &c->o[s], *b = &c->o[!s];
    uint8_t f = seg->flags;
    bool syn = f & WIRE_SYN, ack = f & WIRE_ACK;

    track_obs_check_time(t, c, now);
    uint8_t b_before = b->state;
    bool b_known_before = b->known;

    if (first && !syn) {
        /* Mid-stream pickup: the start was not captured; both sides are
         * taken as ESTABLISHED and the segment applied from there. */
        track_obs_set_state(t, c, s, TCP_STATE_ESTABLISHED, now);
        track_obs_set_state(t, c, !s, TCP_STATE_ESTABLISHED, now);
    }
    a->seen = true;
    if (syn) {
        a->wscale_offered = (seg->opt.present & WIRE_OPT_WSCALE) != 0;
        a->wscale = seg->opt.wscale;
    }

    if (f & WIRE_RST) {
        on_rst(t, c, s, seg, now);
    } else {
        if (!syn)
            check_data(t, c, s, seg, now);
        if (syn && !ack) {
            on_syn(t, c, s, seg, now);
        } else if (syn) {
            on_syn_ack(t, c, s, seg, now);
        } else {
            /* Sender rules for a segment without SYN. */
            if (!a->known) {
                track_obs_set_state(t, c, s, TCP_STATE_ESTABLISHED, now);
            } else if (a->state == TCP_STATE_SYN_SENT && ack && (!b->isn_known || seg->ack == b->isn + 1)) {
                /* It acks B's SYN, so it got the SYN-ACK (captured or not);
                 * B, if never seen, sent that SYN-ACK and now gets this ACK. */
                track_obs_set_state(t, c, s, TCP_STATE_ESTABLISHED, now);
                if (!b->known)
                    track_obs_set_state(t, c, !s, TCP_STATE_SYN_RECEIVED, now);
            } else if (a->state == TCP_STATE_SYN_RECEIVED && seg->payload_len > 0) {
                /* Data leaves SYN-RECEIVED only once the handshake's ACK
                 * arrived (RFC 9293 §3.10.7.4): that ACK was not captured. */
                track_obs_set_state(t, c, s, TCP_STATE_ESTABLISHED, now);
                if (!b->known)
                    track_obs_set_state(t, c, !s, TCP_STATE_ESTABLISHED, now);
            }
            if (ack)
                on_ack_received(t, c, s, seg, now);
        }
        if (f & WIRE_FIN)
            on_fin(t, c, s, seg, now);
        if (seg->window == 0 && !syn)
            track_raise(t, c, TRACK_ANOM_ZERO_WINDOW, now, s, "%s advertised a zero window", track_role(c, s));
    }

    /* What A has now sent and acknowledged. */
    uint32_t end = seg->seq + seg->payload_len + !!syn + !!(f & WIRE_FIN);
    if (!(f & WIRE_RST)) {
        if (!a->nxt_known || seq_gt(end, a->snd_nxt)) {
            a->snd_nxt = end;
            a->nxt_known = true;
        }
        if (ack && (!a->ack_known || seq_gt(seg->ack, a->last_ack))) {
            a->last_ack = seg->ack;
            a->ack_known = true;
        }
        a->wnd = seg->window;
    }
    a->last_sent = now;
    /* Delivery evidence (see struct track_obs_side). */
    a->ignored = 0;
    bool asks_answer = seg->payload_len > 0 || (f & (WIRE_SYN | WIRE_FIN)) ||
                       (a->nxt_known && seg->seq == a->snd_nxt - 1 && (f & WIRE_ACK));
    if (asks_answer && !(f & WIRE_RST) && b->seen) {
        if (b->ignored == 0) {
            b->undo_state = b_before;
            b->undo_known = b_known_before;
        }
        if (b->ignored < UINT16_MAX)
            b->ignored++;
    }
}

void track_obs_check_time(struct track *t, struct track_conn *c, tcp_time_t now)
{
    const struct track_config *cfg = &t->cfg;
    for (int s = 0; s < 2; s++) {
        struct track_obs_side *x = &c->o[s];
        if (!x->known)
            continue;
        if (x->state == TCP_STATE_CLOSE_WAIT && !x->cw_reported) {
            tcp_time_t since = x->state_since > x->last_sent ? x->state_since : x->last_sent;
            if (now >= since + cfg->close_wait_leak) {
                x->cw_reported = true;
                track_raise(t, c, TRACK_ANOM_CLOSE_WAIT_LEAK, since + cfg->close_wait_leak, s,
                            "%s acked %s's FIN and stayed silent in CLOSE-WAIT for %.1fs without closing",
                            track_role(c, s), track_role(c, !s), secs(now - since));
            }
        }
        if (x->state == TCP_STATE_FIN_WAIT_2 && !x->fw2_reported && now >= x->state_since + cfg->fin_wait_2_long) {
            x->fw2_reported = true;
            track_raise(t, c, TRACK_ANOM_LONG_FIN_WAIT_2, x->state_since + cfg->fin_wait_2_long, s,
                        "%s waited in FIN-WAIT-2 for %.1fs", track_role(c, s), secs(now - x->state_since));
        }
    }
}

void track_obs_finish(struct track *t, struct track_conn *c, tcp_time_t now)
{
    track_obs_check_time(t, c, now);
    /* A side that went silent while its peer retransmitted or probed
     * (twice or more) never received those segments: the host vanished or
     * the path broke. Its state is what its own last segment showed. */
    for (int s = 0; s < 2; s++) {
        struct track_obs_side *x = &c->o[s];
        if (x->seen && x->known && x->undo_known && x->ignored >= 2 && x->state != x->undo_state)
            track_obs_set_state(t, c, s, (enum tcp_state)x->undo_state, now);
        /* A half-open entry retransmits its SYN-ACK after the initial RTO
         * (RFC 6298 §2.1: 1 s; tcp_synack_retries). One that never did,
         * long after, was sent without state: a SYN cookie (RFC 4987
         * §3.6). The connection exists nowhere but in the listener. */
        if (x->known && x->state == TCP_STATE_SYN_RECEIVED && x->synack.count == 1 && x->syn.count == 0 &&
            now >= x->synack.last + STATELESS_SYNACK_AFTER)
            track_obs_set_state(t, c, s, TCP_STATE_LISTEN, now);
    }
    for (int s = 0; s < 2; s++) {
        struct track_obs_side *x = &c->o[s], *peer = &c->o[!s];
        report_retransmissions(t, c, s, &x->syn, TRACK_ANOM_SYN_RETRANSMISSION, "SYN");
        report_retransmissions(t, c, s, &x->synack, TRACK_ANOM_SYN_ACK_RETRANSMISSION, "SYN-ACK");
        if (x->known && x->state == TCP_STATE_SYN_SENT && x->syn.count && !peer->seen)
            track_raise(t, c, TRACK_ANOM_UNANSWERED_SYN, x->syn.last, s, "%s sent %u SYN%s over %.3fs, no answer",
                        track_role(c, s), (unsigned)x->syn.count, x->syn.count > 1 ? "s" : "",
                        secs(x->syn.last - x->syn.first));
        if (x->known && x->state == TCP_STATE_SYN_RECEIVED && x->synack.count)
            track_raise(t, c, TRACK_ANOM_HALF_OPEN, x->synack.last, s,
                        "%s sent %u SYN-ACK%s, the handshake never completed", track_role(c, s),
                        (unsigned)x->synack.count, x->synack.count > 1 ? "s" : "");
        if (x->tw_counted) {
            x->tw_counted = false;
            track_aggr_time_wait(t, s == 0 ? &c->tuple.src : &c->tuple.dst, -1, now);
        }
    }
}

void track_obs_carry_over(struct track *t, struct track_conn *c, const struct track_obs_side old_o[2], bool swapped,
                          tcp_time_t now)
{
    for (int s = 0; s < 2; s++) {
        c->o[s] = old_o[swapped ? !s : s];
        c->o[s].tw_counted = false;
        memset(&c->o[s].fin, 0, sizeof c->o[s].fin);
        c->o[s].cw_reported = c->o[s].fw2_reported = false;
        if (c->o[s].known && c->o[s].state == TCP_STATE_TIME_WAIT) {
            c->o[s].tw_counted = true;
            track_aggr_time_wait(t, s == 0 ? &c->tuple.src : &c->tuple.dst, +1, now);
        }
    }
}
